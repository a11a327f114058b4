; Definitions, references and imports for the outline and parse context (syntax/outline.py).
; Captures: @definition.<kind> (whole node) with @name and optional @body (the header ends before it).
; Doc comments (/// and //!) are found above the definition by syntax/outline.py.

(function_item
  name: (identifier) @name
  body: (block) @body) @definition.function

(function_signature_item
  name: (identifier) @name) @definition.function

(struct_item
  name: (type_identifier) @name
  body: (_)? @body) @definition.class

(union_item
  name: (type_identifier) @name
  body: (_) @body) @definition.class

(enum_item
  name: (type_identifier) @name
  body: (_) @body) @definition.enum

(trait_item
  name: (type_identifier) @name
  body: (_) @body) @definition.interface

(impl_item
  type: [
    (type_identifier) @name
    (generic_type type: (type_identifier) @name)
    (scoped_type_identifier name: (type_identifier) @name)
  ]
  body: (_) @body) @definition.impl

(mod_item
  name: (identifier) @name
  body: (_) @body) @definition.module

(type_item
  name: (type_identifier) @name) @definition.type

(const_item
  name: (identifier) @name) @definition.constant

(static_item
  name: (identifier) @name) @definition.constant

(macro_definition
  name: (identifier) @name) @definition.macro

; references

(call_expression
  function: [
    (identifier) @name
    (field_expression field: (field_identifier) @name)
    (scoped_identifier name: (identifier) @name)
  ]) @reference.call

(macro_invocation
  macro: (identifier) @name) @reference.call

(type_identifier) @reference.type

(identifier) @reference.identifier

; imports

(use_declaration
  argument: (identifier) @import.name) @import

(use_declaration
  argument: (scoped_identifier
    path: (_) @import.module
    name: (identifier) @import.name)) @import

(use_declaration
  argument: (use_as_clause
    path: [
      (scoped_identifier path: (_) @import.module)
      (identifier) @import.module
    ]
    alias: (identifier) @import.name)) @import

(use_declaration
  argument: (scoped_use_list
    path: (_) @import.module)) @import

(use_declaration
  argument: (scoped_use_list
    list: (use_list [
      (identifier) @import.name
      (use_as_clause alias: (identifier) @import.name)
      (scoped_identifier name: (identifier) @import.name)
    ]))) @import

(use_declaration
  argument: (use_wildcard
    (_) @import.module)) @import
