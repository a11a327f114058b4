"""End to end over stdio: syntax error -> diagnostic -> code action -> applied edit -> diagnostic cleared.

The model path is deliberately wrong: syntax diagnostics and rule-based fixes must not depend on the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsp_helpers import lsp_session, next_publish, open_document
from lsprotocol import types

BAD_MODEL = ["--model", "/nonexistent/model.gguf"]
FAST = {"diagnostics": {"debounceMs": 20}}
BROKEN = "def area(w, h)\n    return w * h\n"


def apply(text: str, edit: types.TextEdit) -> str:
    lines = text.split("\n")

    def offset(position: types.Position) -> int:
        return sum(len(line) + 1 for line in lines[: position.line]) + position.character

    return text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]


async def quick_fixes(client: Any, uri: str, diagnostic: types.Diagnostic) -> list[types.CodeAction]:
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic], only=[types.CodeActionKind.QuickFix]),
        )
    )
    return [action for action in actions or [] if isinstance(action, types.CodeAction)]


async def pull(client: Any, uri: str) -> list[types.Diagnostic]:
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    return list(report.items)


def only_edit(action: types.CodeAction, uri: str) -> types.TextEdit:
    assert action.edit is not None and action.edit.changes is not None
    (edit,) = action.edit.changes[uri]
    return edit


def change(client: Any, uri: str, version: int, edit: types.TextEdit) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)],
        )
    )


async def test_pushed_diagnostic_quick_fix_clears_it_without_a_model(workspace: Path) -> None:
    async with lsp_session("vscode", FAST, root=workspace, server_args=BAD_MODEL) as client:
        assert (await client.wait_for_status("error"))["state"] == "error"  # the model is unavailable
        uri = open_document(client, workspace / "area.py", BROKEN)
        diagnostics = await next_publish(client, uri)
        assert [(d.message, d.source, d.range.start.line, d.range.start.character) for d in diagnostics] == [
            ("expected ':'", "infill-ls", 0, 14)
        ]
        actions = await quick_fixes(client, uri, diagnostics[0])
        assert actions and actions[0].kind == types.CodeActionKind.QuickFix and actions[0].is_preferred
        assert actions[0].diagnostics is not None and actions[0].diagnostics[0].message == "expected ':'"
        edit = only_edit(actions[0], uri)
        assert apply(BROKEN, edit) == "def area(w, h):\n    return w * h\n"
        change(client, uri, 2, edit)
        assert await next_publish(client, uri) == []


async def test_pulled_diagnostics_and_fix_in_a_non_ascii_line(workspace: Path) -> None:
    text = 'naïve = "größe" + (1\nprint(naïve)\n'
    session = lsp_session(
        "neovim",
        FAST,
        root=workspace,
        server_args=BAD_MODEL,
        wait_for_model=False,
        position_encodings=["utf-16"],
    )
    async with session as client:
        assert client.initialize_result is not None
        caps = client.initialize_result.capabilities
        assert caps.diagnostic_provider is not None and caps.code_action_provider is not None
        uri = open_document(client, workspace / "size.py", text)
        (diagnostic,) = await pull(client, uri)
        assert diagnostic.message == "unclosed '('"
        assert diagnostic.range.start == types.Position(0, 18)  # UTF-16 columns
        actions = await quick_fixes(client, uri, diagnostic)
        edit = only_edit(actions[0], uri)
        assert apply(text, edit) == 'naïve = "größe" + (1)\nprint(naïve)\n'
        change(client, uri, 2, edit)
        assert await pull(client, uri) == []


async def test_unsupported_language_gets_no_diagnostics(workspace: Path) -> None:
    async with lsp_session(
        "neovim", FAST, root=workspace, server_args=BAD_MODEL, wait_for_model=False
    ) as client:
        uri = open_document(client, workspace / "notes.txt", "(((", language_id="plaintext")
        assert await pull(client, uri) == []
