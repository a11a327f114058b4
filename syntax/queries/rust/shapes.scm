;; Shapes around the cursor (syntax/shape.py): @block with its @block.end token (a block a suggestion must
;; not run past), @container (an expression container: inside it only the rest of the line is wanted),
;; @string and @comment.
(block "}" @block.end) @block (declaration_list "}" @block.end) @block
(field_declaration_list "}" @block.end) @block (match_block "}" @block.end) @block
(arguments) @container (parameters) @container (array_expression) @container (tuple_expression) @container
(string_literal) @string (raw_string_literal) @string (line_comment) @comment (block_comment) @comment
