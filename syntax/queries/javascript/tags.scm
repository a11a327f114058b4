; inherits: ecma
; JavaScript's own patterns on top of ecma/tags.scm.

(class_heritage (identifier) @name) @reference.class
