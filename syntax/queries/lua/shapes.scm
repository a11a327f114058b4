;; Shapes around the cursor (syntax/shape.py): @block with its @block.end token (a block a suggestion must
;; not run past), @container (an expression container: inside it only the rest of the line is wanted),
;; @string and @comment.
(function_declaration "end" @block.end) @block (function_definition "end" @block.end) @block
(if_statement "end" @block.end) @block (for_statement "end" @block.end) @block
(while_statement "end" @block.end) @block (do_statement "end" @block.end) @block
(repeat_statement "until" @block.end) @block
(arguments) @container (parameters) @container (table_constructor) @container
(string) @string (comment) @comment
