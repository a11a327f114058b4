; Definitions, references and imports for the outline and parse context (syntax/outline.py).
; Captures: @definition.<kind> (whole node) with @name, optional @body (the header ends before it) and
; @container (the table a function is stored in). Doc comments (---) are found by syntax/outline.py.

(function_declaration
  name: (identifier) @name
  body: (_)? @body) @definition.function

(function_declaration
  name: (dot_index_expression
    table: (_) @container
    field: (identifier) @name)
  body: (_)? @body) @definition.function

(function_declaration
  name: (method_index_expression
    table: (_) @container
    method: (identifier) @name)
  body: (_)? @body) @definition.method

(assignment_statement
  (variable_list
    name: [
      (identifier) @name
      (dot_index_expression table: (_) @container field: (identifier) @name)
    ])
  (expression_list
    value: (function_definition body: (_)? @body))) @definition.function

(variable_declaration
  (assignment_statement
    (variable_list name: (identifier) @name)
    (expression_list value: (function_definition body: (_)? @body)))) @definition.function

(variable_declaration
  (assignment_statement
    (variable_list name: (identifier) @name)
    (expression_list value: (table_constructor)))) @definition.module

(variable_declaration
  (assignment_statement
    (variable_list name: (identifier) @name)
    (expression_list value: (_)))
  (#match? @name "^_*[A-Z][A-Z0-9_]*$")) @definition.constant

; references

(function_call
  name: [
    (identifier) @name
    (dot_index_expression field: (identifier) @name)
    (method_index_expression method: (identifier) @name)
  ]) @reference.call

(identifier) @reference.identifier

; imports

(variable_declaration
  (assignment_statement
    (variable_list name: (identifier) @import.name)
    (expression_list
      value: (function_call
        name: (identifier) @_require
        arguments: (arguments (string content: (_) @import.module)))))
  (#eq? @_require "require")) @import
