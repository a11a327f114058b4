; Statements, the unit a syntax fix must leave parsing cleanly (syntax/fixes.py). Captures: @statement and
; @body (a block: a fix in a header is checked up to the body's first line).
(chunk (_) @statement)
(block (_) @statement)
(block) @body
