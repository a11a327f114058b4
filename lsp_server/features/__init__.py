"""LSP features: each an object with thin handlers and lifecycle hooks (``lsp_server.host.Feature``), built and
wired by ``lsp_server.app``."""
