; inherits: ecma
;; TypeScript's own blocks on top of ecma/shapes.scm.
(interface_body "}" @block.end) @block (enum_body "}" @block.end) @block
