; inherits: c
;; C++ namespace and class bodies, and raw strings, on top of c/shapes.scm.
(declaration_list "}" @block.end) @block
(raw_string_literal) @string
