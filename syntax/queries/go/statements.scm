; Statements, the unit a syntax fix must leave parsing cleanly (syntax/fixes.py). Captures: @statement and
; @body (a braced block: a fix in a header is checked up to the body's first line).
(source_file (_) @statement)
(statement_list (_) @statement)
[(block) (field_declaration_list)] @body
