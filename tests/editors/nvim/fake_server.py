"""A scripted stand-in for infill-ls, so the Neovim UI logic can be tested without a model.

Answers `textDocument/inlineCompletion` from the text before the cursor:
- ends with "return " -> "a + b" on that line plus a second line "# done" (exercises virtual lines);
- ends with "pick "   -> three items, "one(1)", "two(2)", "three(3)" (cycling);
- ends with "slow"    -> holds the answer until the client sends `fake/release` (or cancels), then
                         notifies `fake/answered` and answers "_STALE" (a model busy for a long time);
- anything else       -> no items.
Every request is announced with `fake/requested` {"count": n}. After `initialized` it reports
`infill/status` ready, like the real server (without `warnings` or `route`, as older servers did); a client's
`fake/status` {"json": "..."} notification makes it send that JSON, as it is, as the next `infill/status`
(JSON text, so malformed fields and nulls reach the client unchanged).

`textDocument/didFocus` {"textDocument": {"uri"}} is recorded (the request `fake/focuses` returns the URIs in
order). With INFILL_FAKE_ROUTES=1 in its environment, each is answered with an `infill/status` whose route is
that document's, its URI echoed unquoted as pygls stores URIs: "local" (kept local, "matches *secret*") for a
file whose name holds "secret", else "remote" (without it the statuses stay the scripted ones).

`fake_server.py [--settings FILE] doctor` stands in for `infill-ls doctor`: it prints the settings it was given
and a report with one problem, and exits 1 as doctor does when it finds problems.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("fake-infill-ls", "0")
release = asyncio.Event()
requests = 0
focuses: list[str] = []
positions: list[list[int] | None] = []  # the cursor each didFocus said


@server.feature(types.INITIALIZED)
def on_initialized(ls: LanguageServer, _params: types.InitializedParams) -> None:
    ls.protocol.notify(
        "infill/status", {"state": "ready", "message": "fake model loaded", "model": "fake-model"}
    )


@server.feature("fake/status")
def on_fake_status(ls: LanguageServer, params: Any) -> None:
    ls.protocol.notify("infill/status", json.loads(params.json))


@server.feature("textDocument/didFocus")
def on_did_focus(ls: LanguageServer, params: Any) -> None:
    uri = params.textDocument.uri
    focuses.append(uri)
    position = getattr(params, "position", None)
    positions.append(None if position is None else [position.line, position.character])
    if os.environ.get("INFILL_FAKE_ROUTES") != "1":
        return
    unquoted = urllib.parse.unquote(uri)
    if "secret" in unquoted.rsplit("/", 1)[-1]:
        route = {"target": "local", "reason": "matches *secret*", "text": "local only: matches *secret*"}
    else:
        route = {"target": "remote", "reason": "", "text": "remote: fake-coder via openai, local fallback"}
    status = {"state": "ready", "message": "fake model loaded", "model": "fake-model", "warnings": []}
    ls.protocol.notify("infill/status", {**status, "route": {"uri": unquoted, **route}})


@server.feature("fake/focuses")
def on_focuses(_ls: LanguageServer, _params: Any) -> list[str]:
    return focuses


@server.feature("fake/focus_positions")
def on_focus_positions(_ls: LanguageServer, _params: Any) -> list[list[int] | None]:
    """The cursor each didFocus said, [line, character] (None: none said)."""
    return positions


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
    if prefix.endswith("pick "):
        texts = ["one(1)", "two(2)", "three(3)"]
        return types.InlineCompletionList([types.InlineCompletionItem(text, range=here) for text in texts])
    if prefix.endswith("slow"):
        await release.wait()
        release.clear()
        ls.protocol.notify("fake/answered", {})
        return types.InlineCompletionList([types.InlineCompletionItem("_STALE", range=here)])
    return types.InlineCompletionList([])


def doctor(argv: list[str]) -> int:
    settings = (
        json.loads(Path(argv[argv.index("--settings") + 1]).read_text()) if "--settings" in argv else None
    )
    print("fake-infill-ls 0 on Python (a stand-in for infill-ls doctor)")
    print(f"settings: {json.dumps(settings, sort_keys=True)}")
    files = argv[argv.index("--") + 1 :] if "--" in argv else []
    print(f"routes: {json.dumps([Path(name).name for name in files])}")
    print("model: fake-model")
    print("problems:")
    print("  - model: the fake model has no weights")
    return 1


if __name__ == "__main__":
    if "doctor" in sys.argv[1:]:
        sys.exit(doctor(sys.argv[1:]))
    server.start_io()
