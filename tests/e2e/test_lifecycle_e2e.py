"""The server's lifecycle and document edges, end to end: paths that need percent-encoding, edits for
documents that are not open, text UTF-8 cannot encode, the exit status, and a client process that dies."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from lsp_helpers import lsp_session, next_publish, open_document
from lsprotocol import types

from tests.e2e.test_worker_e2e import (
    alive,
    custom_request,
    fake_model,
    inline,
    inline_params,
    server_process,
    stats,
)
from tests.worker.fakes import SESSION_ENV

FAST = {"completion": {"debounceMs": 0, "candidates": 1}, "diagnostics": {"debounceMs": 20}}


async def test_a_path_with_spaces_and_accents_gets_everything(tmp_path: Path) -> None:
    root = tmp_path / "my project ünï"
    root.mkdir()
    session = lsp_session("vscode", FAST, root=root, server_args=fake_model(root), env=SESSION_ENV)
    async with session as client:
        uri = open_document(client, root / "café.py", "import os\n\n")
        assert "%20" in uri and "%C3%A9" in uri  # as editors send it
        assert await inline(client, uri, 1, 0) == ["value = 1"]
        prompt: Any = await custom_request(
            client, "infill/prompt", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}}
        )
        assert prompt is not None and "import os" in prompt.prompt
        broken = open_document(client, root / "broken file.py", "def f(:\n    pass\n")
        assert await next_publish(client, broken)  # pushed diagnostics reach the encoded URI


async def test_an_edit_for_a_document_that_is_not_open_is_ignored(workspace: Path) -> None:
    session = lsp_session("neovim", FAST, root=workspace, server_args=fake_model(workspace), env=SESSION_ENV)
    async with session as client:
        for uri in ("file:///dev/stdin", "file:///dev/zero", (workspace / "never-opened.py").as_uri()):
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                    [types.TextDocumentContentChangeWholeDocument(text="x = 1\n")],
                )
            )
        assert (await stats(client)).worker.state == "ready"  # still answering
        assert await inline(client, (workspace / "never-opened.py").as_uri(), 0, 0) == []


async def test_text_utf8_cannot_encode_still_completes(workspace: Path) -> None:
    session = lsp_session("neovim", FAST, root=workspace, server_args=fake_model(workspace), env=SESSION_ENV)
    async with session as client:
        uri = open_document(client, workspace / "odd.py", "name = '\udc80'\n\n")
        assert await inline(client, uri, 1, 0) == ["value = 1"]


async def test_exit_status_follows_the_spec(workspace: Path) -> None:
    for shutdown_first, expected in ((True, 0), (False, 1)):
        session = lsp_session(
            "neovim", FAST, root=workspace, server_args=fake_model(workspace), env=SESSION_ENV, shutdown=False
        )
        async with session as client:
            process = server_process(client)
            if shutdown_first:
                await client.protocol.send_request_async(types.SHUTDOWN, None)
            client.protocol.notify(types.EXIT, None)
            assert await asyncio.wait_for(process.wait(), 30) == expected


async def test_the_server_exits_when_its_client_process_dies(workspace: Path) -> None:
    client_process = subprocess.Popen(["sleep", "600"])
    session = lsp_session(
        "neovim",
        FAST,
        root=workspace,
        server_args=fake_model(workspace),
        env=SESSION_ENV,
        shutdown=False,
        process_id=client_process.pid,
    )
    async with session as client:
        server = server_process(client)
        worker = int((await stats(client)).worker.pid)
        client_process.kill()
        client_process.wait()
        assert await asyncio.wait_for(server.wait(), 30) == 1
        deadline = time.monotonic() + 30
        while alive(worker):
            assert time.monotonic() < deadline, "the worker outlived the server"
            await asyncio.sleep(0.05)
    assert alive(os.getpid()) is not False


SEPARATORS = ["\x0c", "\u2028", "\u2029", "\x85", "\x0b", "\x1c", "\r\n", "\n", "\r", "😀", "🇩🇪", "👍🏽"]


def lsp_position(text: str, offset: int) -> types.Position:
    """The client's view: lines end only at \\n, \\r\\n or \\r; characters are UTF-16 units."""
    before = text[:offset]
    line = before.count("\n") + before.count("\r") - before.count("\r\n")
    start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return types.Position(line, len(before[start:].encode("utf-16-le")) // 2)


async def test_random_edits_with_every_kind_of_line_break_stay_in_sync(workspace: Path) -> None:
    import random

    rng = random.Random(7)
    settings = {
        **FAST,
        "completion": {**FAST["completion"], "parseContext": False},
        "index": {"enabled": False},
    }
    session = lsp_session(
        "vscode", settings, root=workspace, server_args=fake_model(workspace), env=SESSION_ENV
    )
    async with session as client:
        text = "def f(x):\n    return x\n"
        uri = open_document(client, workspace / "sync.py", text)
        for version in range(2, 122):
            start = rng.randrange(len(text) + 1)
            end = min(len(text), start + rng.choice([0, 0, 1, 3]))
            if text[start - 1 : start + 1] == "\r\n" or text[end - 1 : end + 1] == "\r\n":
                continue  # a position inside a CRLF pair does not exist for the client either
            inserted = "".join(rng.choice([*SEPARATORS, "a", "b", " "]) for _ in range(rng.randrange(4)))
            edit = types.Range(lsp_position(text, start), lsp_position(text, end))
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    [types.TextDocumentContentChangePartial(range=edit, text=inserted)],
                )
            )
            text = text[:start] + inserted + text[end:]
            if version % 15 == 0:  # a checkpoint: the server's copy, as the prompt shows it, is the client's
                end_position = lsp_position(text, len(text))
                prompt: Any = await custom_request(
                    client, "infill/prompt", {"textDocument": {"uri": uri}, "position": end_position}
                )
                assert prompt.prompt.endswith(text), (version, prompt.prompt[-200:], text[-200:])


async def test_a_request_made_while_the_model_loads_waits_for_it(workspace: Path) -> None:
    """Neovim does not ask again until the user types: an empty answer during the load lost the first
    suggestion. The load here waits for a file the test creates, so "still loading" is a fact, not a race."""
    gate = workspace.parent / "load-gate"
    env = {**SESSION_ENV, "INFILL_FAKE_LOAD_GATE": str(gate)}
    session = lsp_session(
        "neovim", FAST, root=workspace, server_args=fake_model(workspace), env=env, wait_for_model=False
    )
    async with session as client:
        await client.wait_for_status("loading")
        uri = open_document(client, workspace / "early.py", "import os\n\n")
        pending = asyncio.ensure_future(
            client.text_document_inline_completion_async(inline_params(uri, 1, 0))
        )
        assert not pending.done() and client.statuses[-1]["state"] == "loading"
        gate.touch()
        answer = await asyncio.wait_for(pending, 30)
        assert [item.insert_text for item in answer.items] == ["value = 1"]
