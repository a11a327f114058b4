; inherits: c
; C++ namespaces and class bodies on top of c/statements.scm.
(declaration_list (_) @statement)
(declaration_list) @body
