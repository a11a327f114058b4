"""LSP features; each module exports register(server) and keeps its handlers thin."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lsp_server.server import InfillServer


def register_all(server: InfillServer) -> None:
    from lsp_server.features import completion, diagnostics, lifecycle, workspace

    for feature in (lifecycle, completion, diagnostics, workspace):
        feature.register(server)
