;; Syntax errors: tokens tree-sitter could not place (ERROR) and tokens it had to invent (MISSING).
(ERROR) @error
(MISSING) @missing
