; Plain names with their roles and the structure around them, shared by JavaScript and TypeScript (TSX);
; each inherits these patterns (`; inherits: ecma`) and adds its own. Read by `syntax.unknown_names`.
; Name patterns: @binding, @reference and @reference.call (a plain name used, called) and @ignore (an
; identifier that is not a local name: an exported alias, the imported name of `{a as b}`).
; Structure patterns: @import with @import.module, @import.name and @import.alias (a namespace import);
; @attribute with @attribute.object and @attribute.name; @module (the file is a module: its names come
; from imports, not from other scripts); @export and @export.star (what a module exports).

; --- bindings -----------------------------------------------------------------------------------------------

(variable_declarator name: (identifier) @binding)
(object_pattern (shorthand_property_identifier_pattern) @binding)
(pair_pattern value: (identifier) @binding)
(array_pattern (identifier) @binding)
(assignment_pattern left: (identifier) @binding)
(rest_pattern (identifier) @binding)
(arrow_function parameter: (identifier) @binding)
(function_declaration name: (identifier) @binding)
(generator_function_declaration name: (identifier) @binding)
(function_expression name: (identifier) @binding)
(class_declaration name: (_) @binding)
(class name: (_) @binding)
(catch_clause parameter: (identifier) @binding)
(for_in_statement left: (identifier) @binding)
(import_clause (identifier) @binding)
(namespace_import (identifier) @binding)
(import_specifier alias: (identifier) @binding)
(import_specifier name: (identifier) @binding !alias)

; --- not local names ----------------------------------------------------------------------------------------

(import_specifier name: (identifier) @ignore alias: (_))
(export_specifier alias: (_) @ignore)

; --- uses ---------------------------------------------------------------------------------------------------

(call_expression function: (identifier) @reference.call)
(identifier) @reference
(shorthand_property_identifier) @reference

; --- imports ------------------------------------------------------------------------------------------------

(import_statement
  (import_clause (named_imports (import_specifier name: (identifier) @import.name)))
  source: (string (string_fragment) @import.module)) @import
(import_statement
  (import_clause (namespace_import (identifier) @import.alias))
  source: (string (string_fragment) @import.module)) @import

; --- members of a namespace (`ns.f`) ------------------------------------------------------------------------

(member_expression object: (identifier) @attribute.object property: (property_identifier) @attribute.name) @attribute

; --- what kind of file ------------------------------------------------------------------------------------

(program (import_statement) @module)
(program (export_statement) @module)

; --- exports ------------------------------------------------------------------------------------------------

(export_statement declaration: (function_declaration name: (_) @export))
(export_statement declaration: (generator_function_declaration name: (_) @export))
(export_statement declaration: (class_declaration name: (_) @export))
(export_statement declaration: (lexical_declaration (variable_declarator name: (identifier) @export)))
(export_statement declaration: (variable_declaration (variable_declarator name: (identifier) @export)))
(export_statement (export_clause (export_specifier name: (_) @export !alias)))
(export_statement (export_clause (export_specifier alias: (_) @export)))
(export_statement (namespace_export (_) @export))
(export_statement "default" @export)
(export_statement "*" @export.star)
