"""The completion feature's scheduling, with a stand-in server and engine: keystrokes and model latencies
reach the adaptive debounce, a newer request ends an older one's wait at once, every ranked suggestion
becomes an InlineCompletionItem (the most likely first), and background work (warm-up, the next suggestion)
starts in idle time and yields to a request at once."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from lsprotocol import types

from completion.debounce import MIN_GAPS, AdaptiveDebounce
from completion.engine import Alternative, Completion, CompletionOptions, CompletionRequest
from lsp_server.documents import DocumentEvent
from lsp_server.features.completion import CompletionFeature
from lsp_server.features.status import StatusFeature
from lsp_server.methods import DID_FOCUS, DidFocusParams

URI = "file:///w/a.py"
TEXT = "def f(x):\n    return x\n"
AT_X = TEXT.index("x\n")  # the end of `return x`


def x_plus_one() -> Completion:
    """The suggestion shown at AT_X: ``x`` completed to ``x + 1``."""
    return Completion("x + 1", AT_X, AT_X + 1, False, False)


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
        self.warmed: list[CompletionRequest] = []
        self.prefetched: list[tuple[CompletionRequest, Completion]] = []
        self.on_warm: Callable[[threading.Event], None] = lambda cancel: None
        self.on_prefetch: Callable[[threading.Event], None] = lambda cancel: None
        self.after_first: Callable[[threading.Event], None] = lambda cancel: None  # between the two phases
        self.cache: dict[tuple[str, int], Completion] = {}  # what prefetch_next worked out
        self.next_phases = ("  # next", "  # best")  # what prefetch_next keeps ("": nothing to show)

    def cached(self, request: CompletionRequest) -> Completion | None:
        return self.cache.get((request.text, request.offset))

    def complete(self, request: CompletionRequest, cancel: Any) -> Completion | None:
        self.runs.append(request)
        self.clock.now += self.run_s
        return self.answer

    def warm_up(self, request: CompletionRequest, cancel: threading.Event) -> None:
        self.warmed.append(request)
        self.on_warm(cancel)

    def prefetch_next(
        self, request: CompletionRequest, completion: Completion, cancel: Any, ready: Callable[[], None]
    ) -> None:
        """The first phase keeps "  # next", calls ``ready``; the second (after ``after_first``) "  # best"
        (``next_phases``; no ``ready`` for nothing to show)."""
        self.prefetched.append((request, completion))
        self.on_prefetch(cancel)
        target = self.accepted(request, completion)
        for phase, text in enumerate(self.next_phases):
            if cancel.is_set():
                return
            self.cache[(target.text, target.offset)] = Completion(
                text, target.offset, target.offset, False, True
            )
            if phase == 0:
                if text:
                    ready()
                self.after_first(cancel)

    def accepted(self, request: CompletionRequest, completion: Completion) -> CompletionRequest:
        text = request.text[: completion.start] + completion.text + request.text[completion.end :]
        return CompletionRequest(text, completion.start + len(completion.text), request.uri)


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
    status = SimpleNamespace(state="ready", client_focuses=False)
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
    offset = AT_X
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


# --- background work ----------------------------------------------------------------------------------------

GATE_S = 10.0  # a gate never opened fails the test after this long instead of hanging it


class ThreadedServer(FakeServer):
    """Runs the engine on a thread, as the server's model pool does, so a call can block on a gate."""

    async def run_model(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)


def threaded_feature(engine: FakeEngine, clock: Clock, **options: object) -> CompletionFeature:
    feature = feature_for(engine, clock, **options)
    feature.server = ThreadedServer(engine, feature.server.settings.completion)  # type: ignore[attr-defined]
    return feature


async def test_did_focus_warms_the_document_at_its_last_request() -> None:
    clock = Clock()
    engine = FakeEngine(clock, None)
    feature = feature_for(engine, clock, debounce_ms=0)
    status = StatusFeature(feature.server)  # type: ignore[arg-type]
    status.focus_listeners.append(feature.on_focus)  # as lsp_server.app wires them
    status.register()
    feature.server.handlers[DID_FOCUS](DidFocusParams(types.TextDocumentIdentifier(URI)))  # type: ignore[attr-defined]
    assert feature.background is not None
    await feature.background
    assert [(r.uri, r.offset, r.text) for r in engine.warmed] == [
        (URI, len(TEXT), TEXT)
    ]  # never asked: its end
    await feature.complete(at(5, invoked=True))
    feature.on_focus(URI)
    assert feature.background is not None
    await feature.background
    assert [r.offset for r in engine.warmed] == [len(TEXT), 5]  # then where the user last was
    # the client says where the cursor is (infill-ls's editors): the warm-up works there
    focus = DidFocusParams(types.TextDocumentIdentifier(URI), types.Position(1, 4))
    feature.server.handlers[DID_FOCUS](focus)  # type: ignore[attr-defined]
    assert feature.background is not None
    await feature.background
    assert [r.offset for r in engine.warmed][-1] == TEXT.index("return")


async def test_a_request_stops_the_warm_up_at_once() -> None:
    clock = Clock()
    engine = FakeEngine(clock, None)
    inside, stopped = threading.Event(), threading.Event()

    def hold(cancel: threading.Event) -> None:
        inside.set()
        if cancel.wait(GATE_S):
            stopped.set()

    engine.on_warm = hold
    feature = threaded_feature(engine, clock, debounce_ms=0)
    feature.on_document(DocumentEvent("open", URI))
    assert await asyncio.to_thread(inside.wait, GATE_S)
    assert await feature.complete(at(len(TEXT) - 1, invoked=True)) is None
    assert len(engine.runs) == 1 and feature.background is not None
    await asyncio.wait_for(feature.background, GATE_S / 2)  # back well before its gate would give up
    assert stopped.is_set()


async def test_no_background_work_starts_beside_a_request_or_when_turned_off() -> None:
    clock = Clock()
    engine = FakeEngine(clock, None)
    feature = feature_for(engine, clock, debounce_ms=600_000, debounce_max_ms=600_000)
    waiting = asyncio.ensure_future(feature.complete(at(len(TEXT) - 1)))
    await asyncio.sleep(0)  # waiting out its debounce now
    feature.on_focus(URI)
    assert feature.background is None
    await feature.complete(at(len(TEXT) - 1, invoked=True))  # ends the wait
    await asyncio.wait_for(waiting, GATE_S)
    off = feature_for(engine, clock, warm_up=False, prefetch_next=False)
    off.on_focus(URI)
    offset = AT_X
    engine.answer = x_plus_one()
    assert await off.complete(at(offset, invoked=True)) is not None
    assert off.background is None and engine.warmed == [] and engine.prefetched == []


async def test_a_shown_suggestion_starts_work_on_the_next_one() -> None:
    clock = Clock()
    offset = AT_X
    answer = x_plus_one()
    engine = FakeEngine(clock, answer)
    feature = feature_for(engine, clock, debounce_ms=0)
    request = at(offset, invoked=True)
    assert await feature.complete(request) == answer
    assert feature.background is not None
    await feature.background
    assert engine.prefetched == [(request, answer)]


async def test_edits_that_pause_warm_the_end_of_the_last_edited_line_unless_a_suggestion_came() -> None:
    clock = Clock()
    engine = FakeEngine(clock, None)
    feature = feature_for(engine, clock, debounce_ms=0)
    feature.idle_warm_s = 0.0
    feature.on_document(DocumentEvent("change", URI, (0, 0)))
    while feature.background is None:  # the idle timer fires on the loop's next turn
        await asyncio.sleep(0)
    await feature.background
    assert [r.offset for r in engine.warmed] == [TEXT.index(":\n") + 1]  # the end of line 0
    feature.background = None
    # a request that showed nothing (its prompt may have been cut to fit): the whole prompt there, in idle time
    feature.on_document(DocumentEvent("change", URI, (1, 1)))
    await feature.complete(at(3, invoked=True))
    while feature.background is None:
        await asyncio.sleep(0)
    await feature.background
    assert [r.offset for r in engine.warmed] == [TEXT.index(":\n") + 1, 3]
    feature.background = None
    # a shown suggestion: the user is here, and the work is on the next suggestion instead
    offset = AT_X
    engine.answer = x_plus_one()
    feature.on_document(DocumentEvent("change", URI, (1, 1)))
    await feature.complete(at(offset, invoked=True))
    assert feature.background is not None
    await feature.background
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(engine.warmed) == 2 and len(engine.prefetched) == 1


async def held_next_suggestion(
    engine: FakeEngine, clock: Clock
) -> tuple[CompletionFeature, CompletionRequest, threading.Event]:
    """A suggestion shown at AT_X (an invoke), its next one being worked out and held inside the job until
    the gate returned is set."""
    inside, go = threading.Event(), threading.Event()

    def hold(cancel: threading.Event) -> None:
        inside.set()
        assert go.wait(GATE_S)

    engine.on_prefetch = hold
    feature = threaded_feature(engine, clock, debounce_ms=0)
    request = at(AT_X, invoked=True)
    await feature.complete(request)
    assert await asyncio.to_thread(inside.wait, GATE_S)
    return feature, request, go


async def test_a_request_for_the_next_suggestion_under_way_waits_for_it() -> None:
    clock = Clock()
    answer = x_plus_one()
    engine = FakeEngine(clock, answer)
    feature, request, go = await held_next_suggestion(engine, clock)
    accepted = engine.accepted(request, answer)
    asking = asyncio.ensure_future(feature.complete(dataclasses.replace(accepted, invoked=True)))
    await asyncio.sleep(0)
    assert not asking.done() and feature._job is not None and not feature._job.cancel.is_set()
    go.set()  # the background job finishes: the request takes its answer
    served = await asyncio.wait_for(asking, GATE_S)
    assert served is not None and served.text == "  # best" and engine.runs == [request]


async def test_a_request_for_the_next_suggestion_that_has_nothing_to_show_gets_nothing_at_once() -> None:
    """The job found nothing to show after accepting: the request that waited for it runs no model, and
    does not stop the job (in the engine it may still be growing a cut prompt back)."""
    clock = Clock()
    answer = x_plus_one()
    engine = FakeEngine(clock, answer)
    engine.next_phases = ("",)
    feature, request, go = await held_next_suggestion(engine, clock)
    job = feature._job
    asking = asyncio.ensure_future(feature.complete(engine.accepted(request, answer)))
    await asyncio.sleep(0)
    assert not asking.done()
    go.set()
    assert await asyncio.wait_for(asking, GATE_S) is None and engine.runs == [request]
    assert job is not None and not job.cancel.is_set()  # nothing was shown: the job's work goes on


async def test_a_request_for_the_next_suggestion_takes_its_first_line_without_waiting_for_the_rest() -> None:
    clock = Clock()
    offset = AT_X
    answer = x_plus_one()
    engine = FakeEngine(clock, answer)
    inside, rest = threading.Event(), threading.Event()

    def ranking(cancel: threading.Event) -> None:  # the second phase runs until a request stops it
        inside.set()
        assert cancel.wait(GATE_S)
        rest.set()

    engine.after_first = ranking
    feature = threaded_feature(engine, clock, debounce_ms=0)
    request = at(offset, invoked=True)
    await feature.complete(request)
    accepted = engine.accepted(request, answer)
    served = await asyncio.wait_for(feature.complete(dataclasses.replace(accepted, invoked=True)), GATE_S)
    assert served is not None and served.text == "  # next" and engine.runs == [request]
    assert await asyncio.to_thread(inside.wait, GATE_S)
    assert await asyncio.to_thread(rest.wait, GATE_S)  # shown: the rest of the job stops


async def test_typing_into_the_suggestion_keeps_the_work_on_its_next_one() -> None:
    clock = Clock()
    offset = AT_X
    engine = FakeEngine(clock, x_plus_one())
    feature, request, go = await held_next_suggestion(engine, clock)
    job = feature._job
    # the user typed "x" into the suggestion: served from the cache, the same text once accepted
    typed = CompletionRequest(TEXT[:offset] + "x" + TEXT[offset:], offset + 1, URI, "python", "a.py")
    engine.cache[(typed.text, typed.offset)] = Completion(" + 1", offset + 1, offset + 2, False, True)
    feature.server.text_document = lambda uri: SimpleNamespace(source=typed.text, language_id="python")  # type: ignore[attr-defined]
    assert await feature.complete(typed) is not None
    assert feature._job is job and job is not None and not job.cancel.is_set()
    go.set()
    assert feature.background is not None
    await feature.background
    assert len(engine.prefetched) == 1 and engine.runs == [request]


async def test_a_client_that_sends_did_focus_warms_what_it_focuses_not_all_it_opens() -> None:
    clock = Clock()
    engine = FakeEngine(clock, None)
    feature = feature_for(engine, clock, debounce_ms=0)
    feature.status.client_focuses = True  # type: ignore[attr-defined]
    feature.on_document(DocumentEvent("open", URI))  # e.g. VS Code opening a file for a peek or a diff
    assert feature.background is None and engine.warmed == []
    feature.on_focus(URI)
    assert feature.background is not None
    await feature.background
    assert [r.uri for r in engine.warmed] == [URI]
