"""The completion feature's scheduling, with a stand-in server and engine: keystrokes and model latencies
reach the adaptive debounce, a newer request ends an older one's wait at once, and every ranked suggestion
becomes an InlineCompletionItem (the most likely first)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from lsprotocol import types

from completion.debounce import MIN_GAPS, AdaptiveDebounce
from completion.engine import Alternative, Completion, CompletionOptions, CompletionRequest
from lsp_server.documents import DocumentEvent
from lsp_server.features.completion import CompletionFeature

URI = "file:///w/a.py"
TEXT = "def f(x):\n    return x\n"


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


class FakeEngine:
    """Answers every request with ``answer``; each run takes ``run_s`` on the fake clock."""

    def __init__(self, clock: Clock, answer: Completion | None, run_s: float = 0.0) -> None:
        self.clock, self.answer, self.run_s = clock, answer, run_s
        self.runs: list[CompletionRequest] = []

    def cached(self, request: CompletionRequest) -> Completion | None:
        return None

    def complete(self, request: CompletionRequest, cancel: Any) -> Completion | None:
        self.runs.append(request)
        self.clock.now += self.run_s
        return self.answer


class FakeServer:
    """Just what CompletionFeature uses of InfillServer."""

    def __init__(self, engine: FakeEngine, options: CompletionOptions) -> None:
        self.engine = engine
        self.settings = SimpleNamespace(completion=options)
        self.handlers: dict[str, Any] = {}

    def feature(self, method: str, options: object = None) -> Any:
        def register(handler: Any) -> Any:
            self.handlers[method] = handler
            return handler

        return register

    def text_document(self, uri: str) -> Any:
        return SimpleNamespace(source=TEXT, language_id="python")

    def to_offset(self, uri: str, position: types.Position) -> int:
        lines = TEXT.split("\n")
        return sum(len(line) + 1 for line in lines[: position.line]) + position.character

    def to_position(self, uri: str, offset: int) -> types.Position:
        return types.Position(TEXT.count("\n", 0, offset), offset - (TEXT.rfind("\n", 0, offset) + 1))

    def document_path(self, uri: str) -> str:
        return "a.py"

    def syntax_document(self, uri: str) -> None:
        return None

    async def run_model(self, fn: Any, *args: Any) -> Any:
        return fn(*args)


def feature_for(engine: FakeEngine, clock: Clock, **options: object) -> CompletionFeature:
    server = FakeServer(engine, CompletionOptions(**options))  # type: ignore[arg-type]
    status = SimpleNamespace(state="ready")
    feature = CompletionFeature(server, status)  # type: ignore[arg-type]
    feature.debounce = AdaptiveDebounce(clock=clock)
    feature.on_settings()
    feature.register()
    return feature


def at(offset: int, invoked: bool = False) -> CompletionRequest:
    return CompletionRequest(TEXT, offset, URI, "python", "a.py", invoked=invoked)


async def test_keystrokes_and_model_latency_reach_the_debounce() -> None:
    clock = Clock()
    engine = FakeEngine(clock, None, run_s=0.25)
    feature = feature_for(engine, clock, debounce_ms=0)
    for _ in range(MIN_GAPS + 1):
        clock.now += 0.12
        feature.on_document(DocumentEvent("change", URI, (1, 1)))
    feature.on_document(DocumentEvent("open", "file:///w/b.py"))
    assert feature.debounce.rhythm_s is not None and abs(feature.debounce.rhythm_s - 0.12) < 1e-9
    assert await feature.complete(at(len(TEXT) - 1, invoked=True)) is None
    assert len(engine.runs) == 1 and abs(feature.debounce.latency_s - 0.25) < 1e-9


async def test_the_settings_bound_the_wait() -> None:
    clock = Clock()
    feature = feature_for(FakeEngine(clock, None), clock, debounce_ms=40, debounce_max_ms=200)
    assert (feature.debounce.floor_s, feature.debounce.ceiling_s) == (0.04, 0.2)


async def test_a_newer_request_ends_the_older_ones_wait_at_once() -> None:
    clock = Clock()
    engine = FakeEngine(clock, None)
    feature = feature_for(engine, clock, debounce_ms=600_000, debounce_max_ms=600_000)  # ten minutes
    older = asyncio.ensure_future(feature.complete(at(len(TEXT) - 1)))
    await asyncio.sleep(0)  # the older one is waiting now
    newer = await feature.complete(at(len(TEXT) - 1, invoked=True))  # an invoke: no wait
    assert newer is None and len(engine.runs) == 1
    assert await asyncio.wait_for(older, 5) is None  # superseded: it never ran the model
    assert len(engine.runs) == 1


async def test_each_suggestion_is_one_inline_item_the_most_likely_first() -> None:
    clock = Clock()
    offset = TEXT.index("x\n")
    answer = Completion(
        "x + 1", offset, offset + 1, False, False, alternatives=(Alternative("x * 2", offset),)
    )
    feature = feature_for(FakeEngine(clock, answer), clock, debounce_ms=0)
    handler = feature.server.handlers[types.TEXT_DOCUMENT_INLINE_COMPLETION]  # type: ignore[attr-defined]
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(URI),
        position=types.Position(1, 11),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )
    result = await handler(params)
    assert [(item.insert_text, item.range) for item in result.items] == [
        ("x + 1", types.Range(types.Position(1, 11), types.Position(1, 12))),
        ("x * 2", types.Range(types.Position(1, 11), types.Position(1, 11))),
    ]
