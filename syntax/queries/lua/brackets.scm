; Bracket tokens (strings and comments are tokens of their own, so their brackets are not here): whether a
; syntax fix leaves the brackets of a file less balanced than it found them (syntax/fixes.py).
["(" ")" "[" "]" "{" "}"] @punctuation.bracket
