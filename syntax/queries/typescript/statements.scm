; inherits: ecma
; TypeScript's declaration bodies on top of ecma/statements.scm.
(interface_body (_) @statement)
(enum_body (_) @statement)
[(interface_body) (enum_body)] @body
