; Statements, the unit a syntax fix must leave parsing cleanly (syntax/fixes.py). Captures: @statement and
; @body (a braced block: a fix in a header is checked up to the body's first line).
(program (_) @statement)
(block (_) @statement)
(class_body (_) @statement)
(interface_body (_) @statement)
(enum_body_declarations (_) @statement)
(switch_block_statement_group (_) @statement)
[(block) (class_body) (interface_body) (enum_body) (switch_block)] @body
