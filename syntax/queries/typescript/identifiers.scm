; inherits: ecma
; TypeScript's own patterns on top of ecma/identifiers.scm: declarations, type names (used, never judged)
; and what a module exports.

(function_signature name: (identifier) @binding)
(enum_declaration name: (identifier) @binding)
(internal_module name: (identifier) @binding)
(required_parameter pattern: (identifier) @binding)
(optional_parameter pattern: (identifier) @binding)
(type_identifier) @reference.type

(export_statement declaration: (abstract_class_declaration name: (_) @export))
(export_statement declaration: (interface_declaration name: (_) @export))
(export_statement declaration: (type_alias_declaration name: (_) @export))
(export_statement declaration: (enum_declaration name: (_) @export))
(export_statement declaration: (internal_module name: (_) @export))
(export_statement declaration: (function_signature name: (_) @export))
(export_statement declaration: (ambient_declaration (function_signature name: (_) @export)))
(export_statement declaration: (ambient_declaration (lexical_declaration (variable_declarator name: (identifier) @export))))
(export_statement declaration: (ambient_declaration (variable_declaration (variable_declarator name: (identifier) @export))))
(export_statement declaration: (ambient_declaration (class_declaration name: (_) @export)))
