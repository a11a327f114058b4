"""The diagnostics feature's push policy, with a stand-in server and a recorded (never real) debounce."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from lsprotocol import types

from lsp_server.documents import DocumentEvent
from lsp_server.features.diagnostics import DiagnosticsFeature
from syntax.diagnostics import DiagnosticsOptions
from syntax.document import SyntaxDocument

URI = "file:///w/a.py"


class FakeServer:
    """Just what DiagnosticsFeature uses of InfillServer."""

    def __init__(self, text: str, pull: bool = False) -> None:
        self.settings = SimpleNamespace(diagnostics=DiagnosticsOptions(debounce_ms=400))
        self.document = SyntaxDocument(text, "python")
        self.published: list[types.PublishDiagnosticsParams] = []
        capability = types.DiagnosticClientCapabilities() if pull else None
        self.client_capabilities = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(diagnostic=capability)
        )
        self.engine = SimpleNamespace(model_ready=False)

    def syntax_document(self, uri: str) -> SyntaxDocument:
        return self.document

    def document_text(self, uri: str) -> str:
        return self.document.text

    def to_position(self, uri: str, offset: int) -> types.Position:
        text = self.document.text
        return types.Position(text.count("\n", 0, offset), offset - (text.rfind("\n", 0, offset) + 1))

    def to_offset(self, uri: str, position: types.Position) -> int:
        lines = self.document.text.split("\n")
        return sum(len(line) + 1 for line in lines[: position.line]) + position.character

    async def run_blocking(self, fn: Any, *args: Any) -> Any:
        return fn(*args)

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None:
        self.published.append(params)


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)  # the feature's debounce; the test never waits
    return recorded


async def run_change(server: FakeServer, edited_line: int) -> DiagnosticsFeature:
    feature = DiagnosticsFeature(server)  # type: ignore[arg-type]
    feature.on_document(DocumentEvent("change", URI, (edited_line, edited_line)))
    await feature.pending[URI]
    return feature


async def test_error_only_on_the_line_being_typed_waits_three_times_as_long(delays: list[float]) -> None:
    server = FakeServer("x = 1\ny = foo(\n")
    await run_change(server, 1)  # from "y = foo"
    assert delays == [0.4, 0.8]
    (published,) = server.published
    assert [d.message for d in published.diagnostics] == ["unclosed '('"]
    assert published.diagnostics[0].source == "infill-ls"


async def test_error_elsewhere_is_published_after_the_plain_debounce(delays: list[float]) -> None:
    server = FakeServer("x = foo(\ny = 2\n")
    await run_change(server, 1)  # from "y = 1"
    assert delays == [0.4]
    assert [d.message for d in server.published[0].diagnostics] == ["unclosed '('"]


async def test_cleared_errors_are_published_without_the_typing_delay(delays: list[float]) -> None:
    server = FakeServer("x = foo()\n")
    await run_change(server, 0)  # from "x = foo("
    assert delays == [0.4] and server.published[0].diagnostics == []


async def test_open_publishes_at_once_and_a_pulling_client_gets_no_push(delays: list[float]) -> None:
    server = FakeServer("x = (\n")
    feature = DiagnosticsFeature(server)  # type: ignore[arg-type]
    feature.on_document(DocumentEvent("open", URI))
    await feature.pending[URI]
    assert delays == [0.0] and len(server.published) == 1
    pulling = FakeServer("x = (\n", pull=True)
    feature = DiagnosticsFeature(pulling)  # type: ignore[arg-type]
    feature.on_document(DocumentEvent("open", URI))
    assert feature.pending == {} and pulling.published == []


async def test_a_newer_change_cancels_the_pending_push(delays: list[float]) -> None:
    server = FakeServer("x = (\n")
    feature = DiagnosticsFeature(server)  # type: ignore[arg-type]
    feature.on_document(DocumentEvent("open", URI))
    first = feature.pending[URI]
    feature.on_document(DocumentEvent("change", URI, (0, 0)))
    second = feature.pending[URI]
    await asyncio.gather(first, second, return_exceptions=True)
    assert first.cancelled() and len(server.published) == 1


async def test_disabling_in_settings_clears_published_diagnostics(delays: list[float]) -> None:
    server = FakeServer("x = (\n")
    feature = DiagnosticsFeature(server)  # type: ignore[arg-type]
    feature.on_document(DocumentEvent("open", URI))
    await feature.pending[URI]
    assert len(server.published[-1].diagnostics) == 1
    server.settings.diagnostics.enabled = False
    feature.on_settings()
    await feature.pending[URI]
    assert server.published[-1].diagnostics == []


async def test_one_quick_fix_per_diagnostic_is_preferred() -> None:
    server = FakeServer("def f():\n    return compute(1))\n\n\ndef g():\n    return [1, 2 3]\n")
    feature = DiagnosticsFeature(server)  # type: ignore[arg-type]
    everything = types.Range(types.Position(0, 0), types.Position(6, 0))
    params = types.CodeActionParams(
        types.TextDocumentIdentifier(URI), everything, types.CodeActionContext(diagnostics=[])
    )
    actions = await feature.code_actions(params)
    assert actions is not None
    by_diagnostic: dict[str, list[bool]] = {}
    for action in actions:
        assert action.diagnostics is not None
        by_diagnostic.setdefault(action.diagnostics[0].message, []).append(bool(action.is_preferred))
    assert by_diagnostic == {"unexpected ')'": [True, False], "unexpected '3'": [True, False]}
    preferred = [a.title for a in actions if a.is_preferred]
    assert preferred == ["Remove ')'", "Insert ','"]
