"""Tree-sitter side of infill-ls: parsing, structure queries, checks and fixes.

Knows nothing about LSP: takes strings, byte/char offsets and dataclasses, returns dataclasses.
"""
