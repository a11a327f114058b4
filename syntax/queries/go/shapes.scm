;; Shapes around the cursor (syntax/shape.py): @block with its @block.end token (a block a suggestion must
;; not run past), @container (an expression container: inside it only the rest of the line is wanted),
;; @string and @comment.
(block "}" @block.end) @block (field_declaration_list "}" @block.end) @block
(argument_list) @container (parameter_list) @container (literal_value) @container
(interpreted_string_literal) @string (raw_string_literal) @string (comment) @comment
