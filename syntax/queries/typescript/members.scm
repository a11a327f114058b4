; inherits: ecma
; TypeScript's property declarations, signatures, parameter properties and heritage on top of
; ecma/members.scm.

(abstract_class_declaration
  name: (_) @class.name) @class

(_
  (class_heritage (extends_clause value: (identifier) @base))
  body: (class_body)) @class

(_
  body: (class_body
    (public_field_definition
      name: (_) @name) @definition.field)) @class

(_
  body: (class_body
    (public_field_definition
      "static" @static
      name: (_) @name) @definition.field)) @class

(_
  body: (class_body
    [(method_signature name: (_) @name) (abstract_method_signature name: (_) @name)] @definition.method)) @class

; constructor(private readonly x: number): a field declared by its parameter
(_
  body: (class_body
    (method_definition
      name: (_) @_constructor
      parameters: (formal_parameters
        [(required_parameter (accessibility_modifier) pattern: (identifier) @name)
         (optional_parameter (accessibility_modifier) pattern: (identifier) @name)
         (required_parameter "readonly" pattern: (identifier) @name)
         (optional_parameter "readonly" pattern: (identifier) @name)] @definition.field)
      (#eq? @_constructor "constructor")))) @class

(_
  body: (class_body
    (public_field_definition) @scope.method)) @class

(_
  body: (class_body
    (public_field_definition
      "static" @static) @scope.method)) @class
