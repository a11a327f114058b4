"""LSP front end of infill-ls: the only package that imports pygls; it translates LSP to the engines' types."""

__version__ = "0.1.0"
