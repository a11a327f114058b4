; Statements, the unit a syntax fix must leave parsing cleanly (syntax/fixes.py). Captures: @statement and
; @body (a braced block: a fix in a header is checked up to the body's first line).
(source_file (_) @statement)
(block (_) @statement)
(declaration_list (_) @statement)
[(block) (declaration_list) (field_declaration_list)] @body
