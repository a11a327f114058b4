; Plain names with their roles and the structure around them, read by `syntax.unknown_names`.
; Name patterns: @binding, @reference and @reference.call (a plain name used, called), @reference.type
; (a type name: used, never judged). Structure patterns: @import with @import.module and @import.alias (the
; name it binds) or @import.star (a dot import: the package's names come in unqualified); @attribute with
; @attribute.object and @attribute.name (`pkg.Name`); @export (what a file declares at package level).

; --- bindings -----------------------------------------------------------------------------------------------

(short_var_declaration left: (expression_list (identifier) @binding))
(var_spec name: (identifier) @binding)
(const_spec name: (identifier) @binding)
(parameter_declaration name: (identifier) @binding)
(variadic_parameter_declaration name: (identifier) @binding)
(range_clause left: (expression_list (identifier) @binding))
(function_declaration name: (identifier) @binding)
(type_switch_statement alias: (expression_list (identifier) @binding))
(receive_statement left: (expression_list (identifier) @binding))
(type_parameter_declaration name: (identifier) @binding)
(import_spec name: (package_identifier) @binding)

; --- uses ---------------------------------------------------------------------------------------------------

(call_expression function: (identifier) @reference.call)
(identifier) @reference
(type_identifier) @reference.type

; --- imports ------------------------------------------------------------------------------------------------

(import_spec
  name: (package_identifier)? @import.alias
  path: (interpreted_string_literal (interpreted_string_literal_content) @import.module)) @import
(import_spec
  name: (dot) @import.star
  path: (interpreted_string_literal (interpreted_string_literal_content) @import.module)) @import

; --- package members (`pkg.Name`) --------------------------------------------------------------------------

(selector_expression operand: (identifier) @attribute.object field: (field_identifier) @attribute.name) @attribute

; --- what a file declares at package level ------------------------------------------------------------------

(source_file (function_declaration name: (identifier) @export))
(source_file (type_declaration (type_spec name: (type_identifier) @export)))
(source_file (type_declaration (type_alias name: (type_identifier) @export)))
(source_file (var_declaration (var_spec name: (identifier) @export)))
(source_file (var_declaration (var_spec_list (var_spec name: (identifier) @export))))
(source_file (const_declaration (const_spec name: (identifier) @export)))
