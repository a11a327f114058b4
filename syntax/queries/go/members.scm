; A type's fields and methods, and the member access at the cursor, for syntax/members.py.
;
; @access with @receiver and @member: `receiver.member` (matched only around the cursor).
; Members are keyed by the type's name (@class.name): the fields of its struct (@definition.field; an
; embedded type is a field named by the type, and a same-file @base whose members are promoted) and every
; method whose receiver is the type, pointer or not (@definition.method).
; @scope.method with @self: a method and its receiver's name.

(selector_expression
  operand: (_) @receiver
  field: (field_identifier) @member) @access

(type_spec
  name: (type_identifier) @class.name
  type: (struct_type
    (field_declaration_list
      (field_declaration
        name: (field_identifier) @name) @definition.field)))

(type_spec
  name: (type_identifier) @class.name
  type: (struct_type
    (field_declaration_list
      (field_declaration
        !name
        type: [
          (type_identifier) @name @base
          (pointer_type (type_identifier) @name @base)
          (generic_type type: (type_identifier) @name @base)
          (pointer_type (generic_type type: (type_identifier) @name @base))
          (qualified_type name: (type_identifier) @name)
          (pointer_type (qualified_type name: (type_identifier) @name))
        ]) @definition.field)))

(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [
        (type_identifier) @class.name
        (pointer_type (type_identifier) @class.name)
        (generic_type type: (type_identifier) @class.name)
        (pointer_type (generic_type type: (type_identifier) @class.name))
      ]))
  name: (field_identifier) @name) @definition.method

(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      name: (identifier) @self
      type: [
        (type_identifier) @class.name
        (pointer_type (type_identifier) @class.name)
        (generic_type type: (type_identifier) @class.name)
        (pointer_type (generic_type type: (type_identifier) @class.name))
      ]))) @scope.method
