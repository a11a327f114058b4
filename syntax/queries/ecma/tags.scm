; Definitions, references and imports shared by JavaScript and TypeScript (TSX); each of them inherits
; these patterns (`; inherits: ecma`, see syntax/languages.py) and adds its own.
; Captures: @definition.<kind> (whole node) with @name and optional @body (the header ends before it).
; Doc comments are the comments right above a definition (found by syntax/outline.py, not here).

(function_declaration
  name: (identifier) @name
  body: (_) @body) @definition.function

(generator_function_declaration
  name: (identifier) @name
  body: (_) @body) @definition.function

(class_declaration
  name: (_) @name
  body: (_) @body) @definition.class

(method_definition
  name: (_) @name
  body: (_) @body) @definition.method

(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [
      (arrow_function body: (_) @body)
      (function_expression body: (_) @body)
      (generator_function body: (_) @body)
    ])) @definition.function

(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [
      (arrow_function body: (_) @body)
      (function_expression body: (_) @body)
    ])) @definition.function

(lexical_declaration
  "const"
  (variable_declarator
    name: (identifier) @name
    value: (_))
  (#match? @name "^_*[A-Z][A-Z0-9_]*$")) @definition.constant

; references

(call_expression
  function: [
    (identifier) @name
    (member_expression property: (property_identifier) @name)
  ]) @reference.call

(new_expression
  constructor: (identifier) @name) @reference.class

(identifier) @reference.identifier

; imports

(import_statement
  source: (string (string_fragment) @import.module)) @import

(import_statement
  (import_clause [
    (identifier) @import.name
    (namespace_import (identifier) @import.name)
    (named_imports (import_specifier alias: (_) @import.name))
    (named_imports (import_specifier name: (_) @import.name !alias))
  ])) @import

; const x = require("m"), var x = require("m"): the declaration holding the declarator
(_
  (variable_declarator
    name: (_) @import.name
    value: (call_expression
      function: (identifier) @_require
      arguments: (arguments . (string (string_fragment) @import.module))))
  (#eq? @_require "require")) @import
