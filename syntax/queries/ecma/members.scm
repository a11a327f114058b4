; A class's members, and the member access at the cursor, shared by JavaScript and TypeScript
; (syntax/members.py; each of them inherits these patterns and adds its own).
;
; @access with @receiver and @member: `receiver.member` (matched only around the cursor).
; @class with @class.name: a class (its members are keyed by it); @base: the class it extends.
; @definition.<kind> with @name: a member declared in the class body, or, with @receiver, a field assigned
; through `this` in its methods; @static marks a static member or scope.
; @scope.method: a method (or field initializer) of a class, where `this` is the instance;
; @scope.function: a function that binds `this` to something else (arrow functions do not).

(member_expression
  object: (_) @receiver
  property: [(property_identifier) (private_property_identifier)] @member) @access

(class_declaration
  name: (_) @class.name) @class

(class
  name: (_) @class.name) @class

(class) @class

(_
  body: (class_body
    (method_definition
      name: (_) @name) @definition.method)) @class

(_
  body: (class_body
    (method_definition
      ["get" "set"]
      name: (_) @name) @definition.property)) @class

(_
  body: (class_body
    (method_definition
      "static" @static
      name: (_) @name) @definition.method)) @class

(assignment_expression
  left: (member_expression
    object: (this) @receiver
    property: [(property_identifier) (private_property_identifier)] @name)) @definition.attribute

(_
  body: (class_body
    (method_definition) @scope.method)) @class

(_
  body: (class_body
    (method_definition
      "static" @static) @scope.method)) @class

[
  (function_declaration)
  (function_expression)
  (generator_function_declaration)
  (generator_function)
] @scope.function

(object
  (method_definition) @scope.function)
