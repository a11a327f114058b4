"""End to end over stdio with the embedded default model: lifecycle, inline completion, fallback, settings."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import lsp_session, open_document
from lsprotocol import types

pytestmark = pytest.mark.default_model

FUNCTION = 'def add(a, b):\n    """Return the sum of a and b."""\n    return '


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri),
        position=types.Position(line, character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
    )


async def prompt_text(client: Any, uri: str, line: int, character: int) -> str:
    result = await client.protocol.send_request_async(
        "infill/prompt", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    )
    return str(result.prompt) + str(result.healed)  # token healing holds back the partial word


@pytest.mark.parametrize("client_kind", ["neovim", "vscode"])
async def test_initialize_answers_before_the_model_is_loaded(client_kind: str, workspace: Path) -> None:
    async with lsp_session(client_kind, wait_for_model=False, root=workspace) as client:
        # initialize has returned: capabilities are there while the model may still be loading
        assert client.statuses == [] or client.statuses[0]["state"] == "loading"
        status = await client.wait_for_status("ready", "error")
        assert status["state"] == "ready", status
        assert "Gemma" in status["message"]
        progress = [value for reports in client.progress_reports.values() for value in reports]
        assert any(isinstance(value, types.WorkDoneProgressEnd) for value in progress)


async def test_capabilities_advertise_inline_completion(workspace: Path) -> None:
    async with lsp_session("vscode", wait_for_model=False) as client:  # announces no positionEncodings
        assert client.initialize_result is not None
        caps = client.initialize_result.capabilities
        assert caps.inline_completion_provider is not None
        assert caps.completion_provider is not None
        sync = caps.text_document_sync
        assert isinstance(sync, types.TextDocumentSyncOptions)
        assert sync.change == types.TextDocumentSyncKind.Incremental
        assert caps.position_encoding == types.PositionEncodingKind.Utf16


@pytest.mark.parametrize("client_kind", ["neovim", "vscode"])
async def test_inline_completion_after_open_and_change(client_kind: str, workspace: Path) -> None:
    async with lsp_session(client_kind, root=workspace) as client:
        uri = open_document(client, workspace / "calc.py", "def add(a, b):\n    pass\n")
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=2, uri=uri),
                [
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(1, 4), types.Position(1, 8)),
                        text='"""Return the sum of a and b."""\n    return ',
                    )
                ],
            )
        )
        result = await client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        assert result is not None and len(result.items) == 1
        item = result.items[0]
        assert item.range is not None and item.range.start == types.Position(2, 11)
        assert isinstance(item.insert_text, str) and item.insert_text.strip()
        assert "\n" not in item.insert_text.strip()  # mid-statement: the rest of the line only
        assert "<" not in item.insert_text or "<start_of" not in item.insert_text
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
        after_close = await client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        assert after_close is None or len(after_close.items) == 0


async def test_completion_fallback_for_clients_without_inline_completion(workspace: Path) -> None:
    async with lsp_session("plain", root=workspace) as client:
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        result = await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(2, 11))
        )
        assert isinstance(result, types.CompletionList) and len(result.items) == 1
        item = result.items[0]
        assert isinstance(item.text_edit, types.TextEdit)
        assert item.text_edit.range.start == types.Position(2, 11)
        assert item.text_edit.new_text.strip()


async def test_no_completion_popup_for_clients_with_inline_completion(workspace: Path) -> None:
    async with lsp_session("vscode", root=workspace) as client:
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        result = await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(2, 11))
        )
        assert result is None


async def test_non_ascii_text_round_trips_in_utf16(workspace: Path) -> None:
    line0 = 'greeting = "héllo 👋 wörld"  # 中文'
    options = {"completion": {"maxTokens": 16}}
    async with lsp_session("vscode", initialization_options=options, root=workspace) as client:  # UTF-16
        uri = open_document(client, workspace / "hi.py", line0 + "\nprint(greeting)\n")
        # replace "wörld" (after an emoji: a surrogate pair, 2 UTF-16 units) with "мир"
        start = len('greeting = "héllo 👋 '.encode("utf-16-le")) // 2
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=2, uri=uri),
                [
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(0, start), types.Position(0, start + 5)), text="мир"
                    )
                ],
            )
        )
        end_of_line0 = len('greeting = "héllo 👋 мир"  # 中文'.encode("utf-16-le")) // 2
        prompt = await prompt_text(client, uri, 0, end_of_line0)
        assert prompt.endswith('greeting = "héllo 👋 мир"  # 中文')
        result = await client.text_document_inline_completion_async(inline_params(uri, 0, end_of_line0))
        if result is not None and result.items:
            assert result.items[0].range is not None
            assert result.items[0].range.start == types.Position(0, end_of_line0)


async def test_utf8_position_encoding_is_honoured(workspace: Path) -> None:
    async with lsp_session("neovim", position_encodings=["utf-8", "utf-16"]) as client:
        assert client.initialize_result is not None
        assert client.initialize_result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
        line0 = "é = 'ü'"
        uri = open_document(client, workspace / "u.py", line0 + "\n")
        prompt = await prompt_text(client, uri, 0, len(line0.encode("utf-8")))
        assert prompt.endswith(line0)


async def test_newer_request_for_the_same_document_supersedes_the_running_one(workspace: Path) -> None:
    options = {"completion": {"debounceMs": 300}}
    async with lsp_session("neovim", initialization_options=options, root=workspace) as client:
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        first = client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        second = client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        superseded, latest = await asyncio.gather(first, second)
        assert superseded is not None and len(superseded.items) == 0
        assert latest is not None and len(latest.items) == 1


async def test_cancelled_request_leaves_the_model_usable(workspace: Path) -> None:
    options = {"completion": {"debounceMs": 0, "multiline": "always", "maxTokens": 512}}
    async with lsp_session("neovim", initialization_options=options, root=workspace) as client:
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        params = inline_params(uri, 2, 11)
        pending = []
        for number in range(3):
            msg_id = f"to-cancel-{number}"
            pending.append(
                client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id)
            )
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        for (
            future
        ) in pending:  # each ends: cancelled (an error response) or answered before the cancel arrived
            try:
                await asyncio.wrap_future(future)
            except Exception as error:
                assert "cancel" in str(error).lower(), error
        result = await client.text_document_inline_completion_async(params)
        assert result is not None and len(result.items) == 1


async def test_configuration_change_disables_and_reenables_completion(workspace: Path) -> None:
    async with lsp_session("vscode", root=workspace) as client:
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"infill": {"completion": {"enabled": False}}})
        )
        disabled = await client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        assert disabled is not None and len(disabled.items) == 0
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"infill": {"completion": {"enabled": True, "timeBudgetMs": 120_000}}}
            )
        )
        enabled = await client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        assert enabled is not None and len(enabled.items) == 1


async def test_workspace_configuration_is_pulled_on_initialized(workspace: Path) -> None:
    configuration = {"infill": {"completion": {"enabled": False}}}
    async with lsp_session("vscode", root=workspace, configuration=configuration) as client:
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        result = await client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        assert result is not None and len(result.items) == 0


async def test_invalid_settings_are_reported_and_defaults_used(workspace: Path) -> None:
    options = {"completion": {"maxTokens": "lots", "debounceMs": -5}, "bogus": 1}
    async with lsp_session("neovim", initialization_options=options, root=workspace) as client:
        warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
        assert any("maxTokens" in m and "debounceMs" in m and "bogus" in m for m in warnings), warnings
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        result = await client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        assert result is not None and len(result.items) == 1


@pytest.mark.parametrize("bad_path", ["missing.gguf", "not-a-model.gguf", "a-directory"])
async def test_bad_model_path_reports_error_and_server_stays_up(bad_path: str, workspace: Path) -> None:
    (workspace / "not-a-model.gguf").write_text("hello")
    (workspace / "a-directory").mkdir()
    options = {"model": {"path": str(workspace / bad_path)}}
    async with lsp_session("neovim", initialization_options=options, root=workspace) as client:
        status = await client.wait_for_status("error")
        assert bad_path in status["message"]
        errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
        assert any(bad_path in m for m in errors), errors
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        result = await client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        assert result is None or len(result.items) == 0
        # a later configuration change to a good model recovers without a restart
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"infill": {"model": {"path": ""}}})
        )
        ready = await client.wait_for_status("ready")
        assert "Gemma" in ready["message"]


async def test_malformed_requests_do_not_kill_the_server(workspace: Path) -> None:
    async with lsp_session("neovim", root=workspace) as client:
        unknown = await client.text_document_inline_completion_async(
            inline_params("file:///nowhere.py", 0, 0)
        )
        assert unknown is None or len(unknown.items) == 0
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        beyond = await client.text_document_inline_completion_async(inline_params(uri, 99, 99))
        assert beyond is None or isinstance(beyond, types.InlineCompletionList)
        with pytest.raises(Exception):  # noqa: B017 - any JSON-RPC error is fine, the server must survive
            await client.protocol.send_request_async("infill/prompt", {"nonsense": True})
        result = await client.text_document_inline_completion_async(inline_params(uri, 2, 11))
        assert result is not None and len(result.items) == 1


async def test_several_ranked_suggestions_come_back_as_several_items(workspace: Path) -> None:
    # a blank line in a body: greedy and sampled candidates, ranked; the best of each is one item
    options = {"completion": {"debounceMs": 0, "multiline": "never", "maxTokens": 24, "maxItems": 3}}
    text = "import random\n\n\ndef roll_dice(sides):\n    \n"
    async with lsp_session("neovim", initialization_options=options, root=workspace) as client:
        uri = open_document(client, workspace / "dice.py", text)
        result = await client.text_document_inline_completion_async(inline_params(uri, 4, 4))
        assert result is not None and 2 <= len(result.items) <= 3, result
        texts = [item.insert_text for item in result.items]
        assert len(set(texts)) == len(texts) and all(isinstance(t, str) and t.strip() for t in texts), texts
        assert all(
            item.range is not None and item.range.start == types.Position(4, 4) for item in result.items
        )
        # asked again at the same place: the same items, from the cache
        again = await client.text_document_inline_completion_async(inline_params(uri, 4, 4))
        assert again is not None and [item.insert_text for item in again.items] == texts


async def background_counts(client: Any, done: Any) -> Any:
    """infill/stats' background counts once ``done(counts)`` holds (asked again until then, at most 120 s)."""

    async def poll() -> Any:
        while True:
            counts = (await client.protocol.send_request_async("infill/stats", {})).background
            if done(counts):
                return counts
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), 120)


async def test_warm_up_on_focus_and_the_next_suggestion_served_after_acceptance(workspace: Path) -> None:
    options = {
        "completion": {
            "debounceMs": 0,
            "candidates": 1,
            "maxTokens": 24,
            "warmUp": True,
            "prefetchNext": True,
        }
    }
    text = "numbers = [1, 2, 3]\nfor n in numbers:\n    print(n)\n\ntotal = "
    async with lsp_session("neovim", initialization_options=options, root=workspace) as client:
        uri = open_document(client, workspace / "sums.py", text)
        cursor = {"line": 4, "character": 8}  # where the client says the cursor is
        client.protocol.notify("textDocument/didFocus", {"textDocument": {"uri": uri}, "position": cursor})
        await background_counts(client, lambda counts: counts.warmUps >= 1)
        # the warm-up evaluated the prompt at the cursor and worked out the suggestion there: the first
        # request there is answered with no model run
        shown = await client.text_document_inline_completion_async(inline_params(uri, 4, 8))
        assert shown is not None and shown.items and isinstance(shown.items[0].insert_text, str), shown
        first = (await client.protocol.send_request_async("infill/stats", {})).completions
        assert [entry.cached for entry in first] == [True], first

        # the suggestion shown: its next one is worked out in the background; the client accepts it
        await background_counts(client, lambda counts: counts.prefetched >= 1)
        inserted = shown.items[0].insert_text
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=2, uri=uri),
                [
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(4, 8), types.Position(4, 8)), text=inserted
                    )
                ],
            )
        )
        lines = inserted.split("\n")
        cursor = (4 + len(lines) - 1, (8 if len(lines) == 1 else 0) + len(lines[-1]))
        following = await client.text_document_inline_completion_async(inline_params(uri, *cursor))
        assert following is not None and following.items, following
        history = (await client.protocol.send_request_async("infill/stats", {})).completions
        assert [entry.cached for entry in history] == [True], history  # no model run after acceptance
