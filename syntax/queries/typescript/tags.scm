; inherits: ecma
; TypeScript declarations (interfaces, types, enums, namespaces, signatures) on top of ecma/tags.scm.

(abstract_class_declaration
  name: (_) @name
  body: (_) @body) @definition.class

(interface_declaration
  name: (_) @name
  body: (_) @body) @definition.interface

(type_alias_declaration
  name: (_) @name) @definition.type

(enum_declaration
  name: (_) @name
  body: (_) @body) @definition.enum

(internal_module
  name: (_) @name
  body: (_) @body) @definition.module

(module
  name: (_) @name
  body: (_) @body) @definition.module

(function_signature
  name: (_) @name) @definition.function

(method_signature
  name: (_) @name) @definition.method

(abstract_method_signature
  name: (_) @name) @definition.method
; references

(extends_clause value: (identifier) @name) @reference.class

(implements_clause (type_identifier) @name) @reference.class

(type_identifier) @reference.type
