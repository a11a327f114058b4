; inherits: ecma
; JavaScript's own patterns on top of ecma/identifiers.scm: plain parameters; JSX tag names are not names.

(formal_parameters (identifier) @binding)

(jsx_opening_element name: (identifier) @ignore)
(jsx_closing_element name: (identifier) @ignore)
(jsx_self_closing_element name: (identifier) @ignore)
