; inherits: ecma
; JavaScript's own patterns on top of ecma/identifiers.scm: JSX tag names are not plain names.

(jsx_opening_element name: (identifier) @ignore)
(jsx_closing_element name: (identifier) @ignore)
(jsx_self_closing_element name: (identifier) @ignore)
