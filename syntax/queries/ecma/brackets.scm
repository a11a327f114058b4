; Bracket tokens shared by JavaScript and TypeScript (TSX), with the `${` that opens a template
; substitution: whether a syntax fix leaves the brackets less balanced than it found them (syntax/fixes.py).
["(" ")" "[" "]" "{" "}" "${"] @punctuation.bracket
