; inherits: ecma
; JavaScript's class fields and heritage on top of ecma/members.scm.

(_
  (class_heritage (identifier) @base)
  body: (class_body)) @class

(_
  body: (class_body
    (field_definition
      property: (_) @name) @definition.field)) @class

(_
  body: (class_body
    (field_definition
      "static" @static
      property: (_) @name) @definition.field)) @class

(_
  body: (class_body
    (field_definition) @scope.method)) @class

(_
  body: (class_body
    (field_definition
      "static" @static) @scope.method)) @class
