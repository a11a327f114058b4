; Plain names: where they are bound and where they are used. `syntax.names` reads the code after the cursor
; with it to find the names a hole at the cursor has to define (used below, bound nowhere before).

; Bound in order: the statement binds before later lines use the name.
(assignment left: (identifier) @binding)
(assignment left: (pattern_list (identifier) @binding))
(assignment left: (tuple_pattern (identifier) @binding))
(for_statement left: (identifier) @binding)
(for_statement left: (pattern_list (identifier) @binding))
(for_statement left: (tuple_pattern (identifier) @binding))
(for_statement left: (pattern_list (tuple_pattern (identifier) @binding)))
(named_expression name: (identifier) @binding)
(as_pattern_target (identifier) @binding)
(function_definition name: (identifier) @binding)
(class_definition name: (identifier) @binding)
(parameters (identifier) @binding)
(default_parameter name: (identifier) @binding)
(typed_parameter (identifier) @binding)
(typed_default_parameter name: (identifier) @binding)
(list_splat_pattern (identifier) @binding)
(dictionary_splat_pattern (identifier) @binding)
(global_statement (identifier) @binding)
(nonlocal_statement (identifier) @binding)
(aliased_import alias: (identifier) @binding)
(import_statement name: (dotted_name . (identifier) @binding))
(import_from_statement name: (dotted_name (identifier) @binding))

; Bound for an expression that may use them first (`[x for x in xs]`, `lambda x: x`).
(for_in_clause left: (identifier) @local)
(for_in_clause left: (pattern_list (identifier) @local))
(for_in_clause left: (tuple_pattern (identifier) @local))
(lambda_parameters (identifier) @local)
(lambda_parameters (default_parameter name: (identifier) @local))

; Not plain names: members and keyword arguments.
(attribute attribute: (identifier) @member)
(keyword_argument name: (identifier) @member)

(call function: (identifier) @call)
(identifier) @use
