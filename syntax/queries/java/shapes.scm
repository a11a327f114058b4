;; Shapes around the cursor (syntax/shape.py): @block with its @block.end token (a block a suggestion must
;; not run past), @container (an expression container: inside it only the rest of the line is wanted),
;; @string and @comment.
(block "}" @block.end) @block (class_body "}" @block.end) @block (interface_body "}" @block.end) @block
(enum_body "}" @block.end) @block (constructor_body "}" @block.end) @block (switch_block "}" @block.end) @block
(argument_list) @container (formal_parameters) @container (array_initializer) @container
(string_literal) @string (line_comment) @comment (block_comment) @comment
