; Definitions, references, imports and docstrings for the outline and parse context (syntax/outline.py).
; Captures: @definition.<kind> (whole node) with @name, optional @body (the header ends before it) and @doc.

(class_definition
  name: (identifier) @name
  body: (block . (expression_statement (string) @doc)?) @body) @definition.class

(function_definition
  name: (identifier) @name
  body: (block . (expression_statement (string) @doc)?) @body) @definition.function

(assignment
  left: (identifier) @name
  type: (type (identifier) @_alias)
  (#eq? @_alias "TypeAlias")) @definition.type

(type_alias_statement
  left: (type (identifier) @name)) @definition.type

(expression_statement
  (assignment
    left: (identifier) @name
    right: (_)) @definition.constant
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))

; references

(call
  function: [
    (identifier) @name
    (attribute attribute: (identifier) @name)
  ]) @reference.call

(type (identifier) @name) @reference.type

(identifier) @reference.identifier

(class_definition
  superclasses: (argument_list (identifier) @name) @reference.class)

; imports

(import_statement
  name: [
    (dotted_name) @import.module
    (aliased_import name: (dotted_name) @import.module alias: (identifier) @import.name)
  ]) @import

(import_from_statement
  module_name: (_) @import.module
  name: [
    (dotted_name) @import.name
    (aliased_import alias: (identifier) @import.name)
  ]?) @import

(future_import_statement) @import
