;; Shapes around the cursor (syntax/shape.py): @block with its @block.end token (a block a suggestion must
;; not run past), @container (an expression container: inside it only the rest of the line is wanted),
;; @string and @comment.
;; Python blocks are their indentation: the text says where they end, so none is captured here.
(argument_list) @container (parameters) @container (parenthesized_expression) @container (list) @container
(tuple) @container (dictionary) @container (set) @container (subscript) @container
(string) @string (comment) @comment
