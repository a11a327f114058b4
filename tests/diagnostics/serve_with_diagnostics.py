"""The real server (the ``infill-ls`` command line) with the diagnostics feature registered in any case.

The end-to-end tests start this script instead of ``python -m lsp_server`` so that they exercise
``lsp_server.features.diagnostics`` whether or not ``features.register_all`` lists it yet; once it does,
this script changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lsprotocol import types

from lsp_server import server as server_module
from lsp_server.cli import main
from lsp_server.features import diagnostics
from lsp_server.settings import Settings

_create_server = server_module.create_server

# lsprotocol 2025 renamed TextDocumentContentChangeEvent_Type1 to TextDocumentContentChangePartial; server.py
# (at commit 8873980) still uses the old name, so every incremental didChange fails. Until server.py
# is fixed, alias it here so these tests exercise diagnostics rather than that bug (reported to the lead).
if not hasattr(types, "TextDocumentContentChangeEvent_Type1"):
    setattr(types, "TextDocumentContentChangeEvent_Type1", types.TextDocumentContentChangePartial)  # noqa: B010


def create_server_with_diagnostics(default_settings: Settings | None = None) -> server_module.InfillServer:
    server = _create_server(default_settings)
    if types.TEXT_DOCUMENT_CODE_ACTION not in server.protocol.fm.features:
        diagnostics.register(server)
    return server


server_module.create_server = create_server_with_diagnostics

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
