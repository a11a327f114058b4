"""A scripted stand-in for infill-ls, so the Neovim UI logic can be tested without a model.

Answers `textDocument/inlineCompletion` from the text before the cursor:
- ends with "return " -> "a + b" on that line plus a second line "# done" (exercises virtual lines);
- ends with "slow"    -> holds the answer until the client sends `fake/release` (or cancels), then
                         notifies `fake/answered` and answers "_STALE" (a model busy for a long time);
- anything else       -> no items.
Every request is announced with `fake/requested` {"count": n}. After `initialized` it reports
`infill/status` ready, like the real server (without `warnings`, as older servers did); a client's
`fake/status` {"json": "..."} notification makes it send that JSON, as it is, as the next `infill/status`
(JSON text, so malformed fields and nulls reach the client unchanged).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("fake-infill-ls", "0")
release = asyncio.Event()
requests = 0


@server.feature(types.INITIALIZED)
def on_initialized(ls: LanguageServer, _params: types.InitializedParams) -> None:
    ls.protocol.notify(
        "infill/status", {"state": "ready", "message": "fake model loaded", "model": "fake-model"}
    )


@server.feature("fake/status")
def on_fake_status(ls: LanguageServer, params: Any) -> None:
    ls.protocol.notify("infill/status", json.loads(params.json))


@server.feature("fake/release")
def on_release(_ls: LanguageServer, _params: Any) -> None:
    release.set()


# pygls advertises inlineCompletionProvider only when options are given (its default is None).
@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def on_inline_completion(
    ls: LanguageServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList:
    global requests
    requests += 1
    ls.protocol.notify("fake/requested", {"count": requests})
    document = ls.workspace.get_text_document(params.text_document.uri)
    line = document.lines[params.position.line] if params.position.line < len(document.lines) else ""
    prefix = line[: params.position.character]
    here = types.Range(params.position, params.position)
    if prefix.endswith("return "):
        return types.InlineCompletionList([types.InlineCompletionItem("a + b\n# done", range=here)])
    if prefix.endswith("slow"):
        await release.wait()
        release.clear()
        ls.protocol.notify("fake/answered", {})
        return types.InlineCompletionList([types.InlineCompletionItem("_STALE", range=here)])
    return types.InlineCompletionList([])


if __name__ == "__main__":
    server.start_io()
