; A class's members, and the member access at the cursor, for syntax/members.py.
;
; @access with @receiver and @member: `receiver.member` (matched only around the cursor).
; @class with @class.name: a class (its members are keyed by it); @base: a base class named in its header.
; @definition.<kind> with @name: a member written in the class body (@decorator: its decorators), or, with
; @receiver, an attribute assigned through a method's first parameter anywhere in the class's methods.
; @scope.method with @self: a method and the parameter that is the instance (a @decorator may say it is not).

(attribute
  object: (_) @receiver
  attribute: (identifier) @member) @access

(class_definition
  name: (identifier) @class.name) @class

(class_definition
  name: (identifier) @class.name
  superclasses: (argument_list (identifier) @base)) @class

(class_definition
  name: (identifier) @class.name
  body: (block
    (function_definition
      name: (identifier) @name) @definition.method)) @class

(class_definition
  name: (identifier) @class.name
  body: (block
    (decorated_definition
      (decorator)* @decorator
      definition: (function_definition
        name: (identifier) @name)) @definition.method)) @class

; x = 1, x: int, x: int = 1 in the class body
(class_definition
  name: (identifier) @class.name
  body: (block
    (expression_statement
      (assignment
        left: (identifier) @name) @definition.attribute))) @class

; self.x = ..., self.x: T = ..., self.a, self.b = ...
(assignment
  left: (attribute
    object: (identifier) @receiver
    attribute: (identifier) @name)) @definition.attribute

(assignment
  left: [
    (pattern_list (attribute object: (identifier) @receiver attribute: (identifier) @name))
    (tuple_pattern (attribute object: (identifier) @receiver attribute: (identifier) @name))
  ]) @definition.attribute

(class_definition
  name: (identifier) @class.name
  body: (block
    (function_definition
      parameters: (parameters . [
        (identifier) @self
        (typed_parameter . (identifier) @self)
        (default_parameter name: (identifier) @self)
      ])) @scope.method)) @class

(class_definition
  name: (identifier) @class.name
  body: (block
    (decorated_definition
      (decorator)* @decorator
      definition: (function_definition
        parameters: (parameters . [
          (identifier) @self
          (typed_parameter . (identifier) @self)
          (default_parameter name: (identifier) @self)
        ])) @scope.method))) @class
