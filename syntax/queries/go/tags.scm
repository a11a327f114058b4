; Definitions, references and imports for the outline and parse context (syntax/outline.py).
; Captures: @definition.<kind> (whole node) with @name, optional @body (the header ends before it) and
; @container (a method's receiver type). Doc comments are found above the definition by syntax/outline.py.

(function_declaration
  name: (identifier) @name
  body: (block) @body) @definition.function

(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [
        (type_identifier) @container
        (pointer_type (type_identifier) @container)
        (generic_type type: (type_identifier) @container)
        (pointer_type (generic_type type: (type_identifier) @container))
      ]))
  name: (field_identifier) @name
  body: (block) @body) @definition.method

(type_spec
  name: (type_identifier) @name
  type: (struct_type (field_declaration_list) @body)) @definition.class

(type_spec
  name: (type_identifier) @name
  type: (interface_type)) @definition.interface

(type_spec
  name: (type_identifier) @name
  type: (_)) @definition.type

(type_alias
  name: (type_identifier) @name) @definition.type

(method_elem
  name: (field_identifier) @name) @definition.method

(const_spec
  name: (identifier) @name) @definition.constant

; references

(call_expression
  function: [
    (identifier) @name
    (selector_expression field: (field_identifier) @name)
  ]) @reference.call

(type_identifier) @reference.type

(identifier) @reference.identifier

; imports

(import_declaration
  (import_spec
    name: (_)? @import.name
    path: (_) @import.module)) @import

(import_declaration
  (import_spec_list
    (import_spec
      name: (_)? @import.name
      path: (_) @import.module))) @import
