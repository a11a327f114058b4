;; Shapes around the cursor (syntax/shape.py): @block with its @block.end token (a block a suggestion must
;; not run past), @container (an expression container: inside it only the rest of the line is wanted),
;; @string and @comment.
(compound_statement "}" @block.end) @block (field_declaration_list "}" @block.end) @block
(enumerator_list "}" @block.end) @block
(argument_list) @container (parameter_list) @container (initializer_list) @container
(string_literal) @string (char_literal) @string (comment) @comment
