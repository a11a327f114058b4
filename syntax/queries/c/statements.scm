; Statements, the unit a syntax fix must leave parsing cleanly (syntax/fixes.py). Captures: @statement and
; @body (a braced block: a fix in a header is checked up to the body's first line).
(translation_unit (_) @statement)
(compound_statement (_) @statement)
(field_declaration_list (_) @statement)
[(compound_statement) (field_declaration_list)] @body
