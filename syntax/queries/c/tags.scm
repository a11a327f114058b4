; Definitions, references and imports for the outline and parse context (syntax/outline.py).
; Captures: @definition.<kind> (whole node) with @name and optional @body (the header ends before it).
; Doc comments are found above the definition by syntax/outline.py.

(function_definition
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
    (pointer_declarator
      declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))
  ]
  body: (_) @body) @definition.function

(declaration
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
  ]) @definition.function

(struct_specifier
  name: (type_identifier) @name
  body: (_) @body) @definition.class

(union_specifier
  name: (type_identifier) @name
  body: (_) @body) @definition.class

(enum_specifier
  name: (type_identifier) @name
  body: (_) @body) @definition.enum

(type_definition
  declarator: (type_identifier) @name) @definition.type

(preproc_def
  name: (identifier) @name) @definition.constant

(preproc_function_def
  name: (identifier) @name) @definition.macro

(declaration
  (type_qualifier) @_const
  declarator: (init_declarator
    declarator: (identifier) @name)
  (#eq? @_const "const")) @definition.constant

; references

(call_expression
  function: [
    (identifier) @name
    (field_expression field: (field_identifier) @name)
  ]) @reference.call

(type_identifier) @reference.type

(identifier) @reference.identifier

; imports

(preproc_include
  path: (_) @import.module) @import
