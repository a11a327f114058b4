; inherits: c
; C++ on top of c/tags.scm: classes, namespaces, methods (in-class, out-of-line with @container),
; aliases, constexpr constants, qualified calls, using declarations.

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
  function: (qualified_identifier name: (identifier) @name)) @reference.call

(namespace_identifier) @reference.type

; imports

(using_declaration
  (_) @import.module) @import
