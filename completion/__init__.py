"""Model side of infill-ls: prompts, model loading, generation, scheduling and caching.

Knows nothing about LSP: takes strings, offsets and dataclasses, returns dataclasses.
"""
