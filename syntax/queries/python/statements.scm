; Statements, the unit a syntax fix must leave parsing cleanly (syntax/fixes.py): every child of a module
; or block. Captures: @statement (a statement) and @body (a block: a fix in a header is checked up to the
; body's first line, not through the whole body).
(module (_) @statement)
(block (_) @statement)
(block) @body
