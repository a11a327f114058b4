; Definitions, references and imports for the outline and parse context (syntax/outline.py).
; Captures: @definition.<kind> (whole node) with @name and optional @body (the header ends before it).
; The C patterns plus classes, namespaces, methods (in-class, out-of-line with @container), aliases.
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

(declaration
  (type_qualifier) @_const
  declarator: (init_declarator
    declarator: (identifier) @name)
  (#eq? @_const "constexpr")) @definition.constant

(class_specifier
  name: (type_identifier) @name
  body: (_) @body) @definition.class

(namespace_definition
  name: (_) @name
  body: (_) @body) @definition.module

(alias_declaration
  name: (type_identifier) @name) @definition.type

(function_definition
  declarator: [
    (function_declarator declarator: [(field_identifier) (destructor_name) (operator_name)] @name)
    (reference_declarator (function_declarator declarator: (identifier) @name))
    (pointer_declarator declarator: (function_declarator declarator: (field_identifier) @name))
  ]
  body: (_) @body) @definition.function

(function_definition
  declarator: (function_declarator
    declarator: [
      (qualified_identifier
        scope: (_) @container
        name: [(identifier) (destructor_name) (operator_name)] @name)
      (qualified_identifier
        name: (qualified_identifier
          scope: (_) @container
          name: [(identifier) (destructor_name) (operator_name)] @name))
    ])
  body: (_) @body) @definition.method

(field_declaration
  declarator: (function_declarator
    declarator: [(field_identifier) (destructor_name) (operator_name)] @name)) @definition.method

; references

(call_expression
  function: [
    (identifier) @name
    (field_expression field: (field_identifier) @name)
    (qualified_identifier name: (identifier) @name)
  ]) @reference.call

(type_identifier) @reference.type

(namespace_identifier) @reference.type

(identifier) @reference.identifier

; imports

(preproc_include
  path: (_) @import.module) @import

(using_declaration
  (_) @import.module) @import
