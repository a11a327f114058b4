; inherits: shared
;; Blocks, checked for consistent indentation (tree-sitter-python accepts any indentation).
(block) @block
;; Clauses, which must line up with the statement they belong to.
[(elif_clause) (else_clause) (except_clause) (finally_clause)] @clause
