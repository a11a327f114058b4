;; Shapes around the cursor (syntax/shape.py): @block with its @block.end token (a block a suggestion must
;; not run past), @container (an expression container: inside it only the rest of the line is wanted),
;; @string and @comment.
;; Shared by JavaScript and TypeScript (TSX).
(statement_block "}" @block.end) @block (class_body "}" @block.end) @block (switch_body "}" @block.end) @block
(arguments) @container (formal_parameters) @container (array) @container (object) @container
(string) @string (template_string) @string (comment) @comment
