"""The methods infill-ls speaks beyond LSP, with the message types pygls structures their params into.

Without a type pygls hands a handler untyped namedtuples, and a request with the wrong shape fails inside the
handler; with one, :func:`lsp_server.transport.dispatch` answers it with -32602 before any handler runs.
"""

from __future__ import annotations

from typing import Any

import attrs
from lsprotocol import types

PROMPT_REQUEST = "infill/prompt"  # what the model would see for a position
STATS_REQUEST = "infill/stats"  # recent completions and the backends' state
STATUS_NOTIFICATION = "infill/status"  # server -> client: state, model, warnings, the active file's route
DID_FOCUS = "textDocument/didFocus"  # client -> server (the Copilot language server's): the active editor


@attrs.define
class PromptRequest:
    id: int | str = attrs.field()
    params: types.TextDocumentPositionParams = attrs.field()
    method: str = PROMPT_REQUEST
    jsonrpc: str = attrs.field(default="2.0")


@attrs.define
class DidFocusParams:
    text_document: types.TextDocumentIdentifier = attrs.field()
    # infill-ls's own addition (VS Code extension, Neovim plugin): where the cursor is, so the warm-up works
    # out the suggestion there; Copilot's clients leave it out (the warm-up then takes the last edit)
    position: types.Position | None = attrs.field(default=None)


@attrs.define
class DidFocusNotification:
    params: DidFocusParams = attrs.field()
    method: str = DID_FOCUS
    jsonrpc: str = attrs.field(default="2.0")


MESSAGE_TYPES: dict[str, type[Any]] = {
    PROMPT_REQUEST: PromptRequest,
    DID_FOCUS: DidFocusNotification,
}
