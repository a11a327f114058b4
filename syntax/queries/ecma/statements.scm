; Statements shared by JavaScript and TypeScript (TSX), the unit a syntax fix must leave parsing cleanly
; (syntax/fixes.py). Captures: @statement (a child of a statement list or class body) and @body (a braced
; body: a fix in a header is checked up to the body's first line, not through the whole body).
(program (_) @statement)
(statement_block (_) @statement)
(class_body (_) @statement)
(switch_body (_) @statement)
(switch_case body: (_) @statement)
(switch_default body: (_) @statement)
[(statement_block) (class_body) (switch_body)] @body
