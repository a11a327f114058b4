"""textDocument/inlineCompletion, the textDocument/completion fallback, and infill/prompt (what the model sees).

Requests are scheduled here: a newer request for a document cancels the one before it, an automatic request
waits for a newer keystroke as long as ``completion.debounce.AdaptiveDebounce`` says (completion.debounceMs;
with debounceMaxMs above it, the typing rhythm and the model's latency within the two), and a request made while
the model loads waits for it.

In idle time, one background job at a time runs on the model pool (never beside a request; a request stops it
at once): the warm-up of a document's place (``CompletionEngine.warm_up``) when it is opened or focused, or when
its edits pause with no request, and after a suggestion is shown the one that follows it once accepted
(``CompletionEngine.prefetch_next``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from lsprotocol import types

from completion.debounce import AdaptiveDebounce, eagerness
from completion.engine import Alternative, Completion, CompletionRequest
from lsp_server.documents import DocumentEvent
from lsp_server.features.status import StatusFeature
from lsp_server.host import Feature, ServerHost
from lsp_server.methods import PROMPT_REQUEST

log = logging.getLogger(__name__)
_WORD_BEFORE = re.compile(r"[\w$]*\Z")
LOAD_WAIT_S = 60.0  # a completion request made while the model loads waits this long for it at most
CANCEL_POLL_S = 0.1  # ... looking at its cancel flag this often
IDLE_WARM_S = 0.6  # edits that pause this long with no request: warm the prompt at the last one


class _Job:
    """The background job in flight: what it is for (``key``), its cancel flag (the engine's), and the news
    that it has kept a first answer (``ready``: set on the event loop, from the model pool)."""

    def __init__(self, key: tuple[object, ...]) -> None:
        self.key = key
        self.cancel = threading.Event()
        self.ready = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def answered(self) -> None:
        """Called from the model pool when the job has kept an answer a request can take."""
        self._loop.call_soon_threadsafe(self.ready.set)


class _Pending:
    """A request in flight: the engine's cancel flag, and the same news for its wait on the event loop."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.superseded = asyncio.Event()

    def stop(self) -> None:
        self.cancel.set()
        self.superseded.set()


class CompletionFeature(Feature):
    """The completion handlers and the requests in flight, one per document."""

    def __init__(self, server: ServerHost, status: StatusFeature) -> None:
        self.server = server
        self.status = status
        self._pending: dict[str, _Pending] = {}  # each document's request in flight
        self.debounce = AdaptiveDebounce()  # keystrokes and model latencies seen, the wait they call for
        self.idle_warm_s = IDLE_WARM_S
        self._job: _Job | None = None  # the background job in flight (one at most)
        self._queued: tuple[_Job, Callable[..., Any], tuple[Any, ...]] | None = None  # starts when it ends
        self.background: asyncio.Future[None] | None = None  # the job's task (tests await it)
        # per document: the last request's offset, or the end of the last edit (where a warm-up evaluates)
        self._cursor: dict[str, int] = {}
        self._idle: dict[str, asyncio.TimerHandle] = {}  # per document: the warm-up once edits pause

    def register(self) -> None:
        server = self.server

        @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
        async def inline_completion(
            params: types.InlineCompletionParams,
        ) -> types.InlineCompletionList | None:
            invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
            request = self.request(params.text_document.uri, params.position, invoked)
            if request is None:
                return None
            completion = await self.complete(request)
            if completion is None:
                return types.InlineCompletionList(items=[])
            uri = params.text_document.uri
            start = server.to_position(uri, completion.start)
            items = (Alternative(completion.text, completion.end), *completion.alternatives)
            return types.InlineCompletionList(  # the most likely first; editors cycle the others
                items=[
                    types.InlineCompletionItem(
                        item.text, range=types.Range(start, server.to_position(uri, item.end))
                    )
                    for item in items
                ]
            )

        @server.feature(
            types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "])
        )
        async def completion(params: types.CompletionParams) -> types.CompletionList | None:
            """For clients without inline completion: the suggestion as one completion item."""
            capabilities = server.client_capabilities.text_document
            if capabilities is not None and capabilities.inline_completion is not None:
                return None  # the client shows ghost text instead; don't duplicate it in the popup
            request = self.request(params.text_document.uri, params.position)
            if request is None:
                return None
            result = await self.complete(request)
            if result is None:
                return types.CompletionList(is_incomplete=True, items=[])
            return types.CompletionList(
                is_incomplete=True, items=[_completion_item(server, params, request.text, result)]
            )

        @server.feature(PROMPT_REQUEST)
        async def prompt(params: types.TextDocumentPositionParams) -> dict[str, Any] | None:
            """The prompt the engine would send for a position: for debugging and for tests of context
            building."""
            request = self.request(params.text_document.uri, params.position)
            if request is None:
                return None
            # on the syntax pool: building a prompt never waits for the model
            built = await server.run_blocking(server.engine.build_prompt, request)
            return {"prompt": built.text(), "windowStart": built.window_start, "healed": built.healed}

    def on_settings(self) -> None:
        options = self.server.settings.completion
        self.debounce.configure(options.debounce_ms / 1000, options.debounce_max_ms / 1000)

    def on_document(self, event: DocumentEvent) -> None:
        uri = event.uri
        if event.kind == "open":
            self._cursor.pop(uri, None)
            if not self.status.client_focuses:  # else its didFocus tells whether the user is in it
                self.warm_up(uri)
        elif event.kind == "change":
            self.debounce.keystroke(uri)
            self._edited_at(uri, event.lines)
            self._warm_when_idle(uri)
        elif event.kind == "close":
            self.server.engine.forget(uri)
            self._cursor.pop(uri, None)
            self._stop_idle(uri)
            if self._job is not None and self._job.key[1] == uri:
                self._job.cancel.set()

    def on_focus(self, uri: str, position: types.Position | None = None) -> None:
        """The user is in this document now (textDocument/didFocus), with the cursor at ``position`` where
        the client says: warm its prompt there (else at the last request or edit)."""
        if position is not None and self.server.text_document(uri) is not None:
            self._cursor[uri] = self.server.to_offset(uri, position)
        self.warm_up(uri)

    async def on_shutdown(self) -> None:
        for timer in self._idle.values():
            timer.cancel()
        self._idle.clear()
        self._interrupt()

    def request(self, uri: str, position: types.Position, invoked: bool = False) -> CompletionRequest | None:
        """The engine's request for a position in an open document (None: not open)."""
        return self.request_at(uri, None, position, invoked)

    def request_at(
        self, uri: str, offset: int | None, position: types.Position | None = None, invoked: bool = False
    ) -> CompletionRequest | None:
        """The engine's request at ``offset`` (else ``position``) in an open document (None: not open)."""
        document = self.server.text_document(uri)
        if document is None:
            return None
        if offset is None:
            assert position is not None
            offset = self.server.to_offset(uri, position)
        return CompletionRequest(
            text=document.source,
            offset=offset,
            uri=uri,
            language_id=document.language_id,
            path=self.server.document_path(uri),
            document=self.server.syntax_document(uri),
            invoked=invoked,
        )

    async def complete(self, request: CompletionRequest) -> Completion | None:
        """Run the engine for a request; a newer request for the same document cancels this one. A shown
        suggestion starts the work on the one that follows it once accepted; after none, the prompt here is
        warmed when edits pause (a prompt cut to fit the cold-prompt time grows back either way)."""
        self._stop_idle(request.uri)  # the user is here: this request is the warm-up
        self._cursor[request.uri] = request.offset
        completion = await self._complete(request)
        if completion is not None and completion.text:
            self.prefetch(request, completion)  # with the whole prompt, which a cut one grows back to
            return completion
        self._warm_when_idle(request.uri)  # nothing shown: the whole prompt here once the user pauses
        return None  # (a cached answer with no text: the model had nothing to show here before)

    async def _complete(self, request: CompletionRequest) -> Completion | None:
        pending = _Pending()
        cancel = pending.cancel
        previous = self._pending.get(request.uri)
        if previous is not None:
            previous.stop()
        self._pending[request.uri] = pending
        engine = self.server.engine
        try:
            hit = engine.cached(request)
            if hit is None:
                hit = await self._joined(request, pending)
            if hit is not None:
                return hit
            self._interrupt()  # the model is wanted: background work yields at once
            delay = self.debounce.delay(request.uri, eagerness(request.text, request.offset), request.invoked)
            if delay > 0:  # a newer request ends the wait at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(pending.superseded.wait(), delay)
            await self._while_loading(cancel)
            if cancel.is_set():
                return None
            started = self.debounce.now()
            completion = await self.server.run_model(engine.complete, request, cancel)
            if not cancel.is_set() and (completion is None or not completion.cached):
                self.debounce.latency(self.debounce.now() - started)
            return completion
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            if self._pending.get(request.uri) is pending:
                del self._pending[request.uri]

    async def _while_loading(self, cancel: threading.Event) -> None:
        """A request made while the model loads waits for it (at most LOAD_WAIT_S; a newer request or the
        client's cancel ends the wait): Neovim's client does not ask again until the user types, so an empty
        answer lost the first suggestion after start-up."""
        deadline = time.monotonic() + LOAD_WAIT_S
        while self.status.state == "loading" and not cancel.is_set() and time.monotonic() < deadline:
            await self.status.next_change(CANCEL_POLL_S)  # or a look at the cancel flag again

    # --- background work in idle time ---------------------------------------------------------------------

    def warm_up(self, uri: str) -> None:
        """Evaluate the prompt at the document's last request or edit (else its end) in the background."""
        if not self.server.settings.completion.warm_up:
            return
        document = self.server.text_document(uri)
        if document is None:
            return
        offset = min(self._cursor.get(uri, len(document.source)), len(document.source))
        request = self.request_at(uri, offset)
        if request is not None:
            self._start(_Job(("warm-up", uri)), self.server.engine.warm_up, (request,))

    def prefetch(self, request: CompletionRequest, completion: Completion) -> None:
        """Work out the suggestion after ``completion`` is accepted, unless that is under way already."""
        document = self.server.text_document(request.uri)
        if not self.server.settings.completion.prefetch_next or document is None:
            return
        if document.source != request.text:
            return  # edited since: the suggestion is no longer shown as it was
        target = self.server.engine.accepted(request, completion)
        key = ("next", request.uri, hash(target.text), target.offset)
        if self._job is not None and self._job.key == key and not self._job.cancel.is_set():
            return  # the user types into the suggestion: its next one is being worked out
        job = _Job(key)
        self._start(
            job,
            functools.partial(self.server.engine.prefetch_next, ready=job.answered),
            (request, completion),
        )

    def _start(self, job: _Job, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Run ``work(*args, job.cancel)`` on the model pool once the job in flight has stopped; never while
        a request is in flight."""
        if self._pending:
            return
        if self._job is not None:  # the newer job wins: the older stops, this one starts when it has
            self._job.cancel.set()
            self._queued = (job, work, args)
            return
        self._job = job
        self.background = asyncio.ensure_future(self._run(job, work, args))

    async def _run(self, job: _Job, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            await self._while_loading(job.cancel)
            if not job.cancel.is_set():
                await self.server.run_model(work, *args, job.cancel)
        except Exception:
            log.exception("background work %s failed", job.key[0])
        finally:
            self._job = None
            queued, self._queued = self._queued, None
            if queued is not None:
                self._start(*queued)

    async def _joined(self, request: CompletionRequest, pending: _Pending) -> Completion | None:
        """The answer of the next-suggestion job in flight when it is working out this very request (the
        user accepted before it was done): its first answer (the greedy first line, where the whole one
        takes longer) waited for (a newer request ends the wait), from the cache."""
        job, task = self._job, self.background
        key = ("next", request.uri, hash(request.text), request.offset)
        if job is None or task is None or job.cancel.is_set() or job.key != key:
            return None
        superseded: asyncio.Future[Any] = asyncio.ensure_future(pending.superseded.wait())
        ready: asyncio.Future[Any] = asyncio.ensure_future(job.ready.wait())
        waiters: set[asyncio.Future[Any]] = {asyncio.shield(task), superseded, ready}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            superseded.cancel()
            ready.cancel()
        if pending.cancel.is_set():
            return None
        hit = self.server.engine.cached(request)
        if hit is not None and hit.text:
            job.cancel.set()  # shown: the rest of its work (the whole answer here) would not be
            # (nothing to show: the job goes on growing the prompt, until the next request)
        return hit

    def _interrupt(self) -> None:
        """A request wants the model: the job in flight stops, the one queued is dropped."""
        self._queued = None
        if self._job is not None:
            self._job.cancel.set()

    def _edited_at(self, uri: str, lines: tuple[int, int] | None) -> None:
        """Where the warm-up of an edited document evaluates: the end of the last line edited."""
        document = self.server.text_document(uri)
        if lines is None or document is None:
            self._cursor.pop(uri, None)
            return
        text = document.source
        start = self.server.to_offset(uri, types.Position(lines[1], 0))
        ends = [end for end in (text.find("\n", start), text.find("\r", start)) if end >= 0]
        self._cursor[uri] = min(ends, default=len(text))

    def _warm_when_idle(self, uri: str) -> None:
        self._stop_idle(uri)
        if not self.server.settings.completion.warm_up:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not serving (tests of pieces)
        self._idle[uri] = loop.call_later(self.idle_warm_s, self._idle_warm, uri)

    def _idle_warm(self, uri: str) -> None:
        self._idle.pop(uri, None)
        self.warm_up(uri)

    def _stop_idle(self, uri: str) -> None:
        timer = self._idle.pop(uri, None)
        if timer is not None:
            timer.cancel()


def _completion_item(
    server: ServerHost, params: types.CompletionParams, text: str, result: Completion
) -> types.CompletionItem:
    """Replace from the start of the word being typed, so clients' prefix filtering keeps the item."""
    word = _WORD_BEFORE.search(text, max(0, result.start - 256), result.start)
    word_start = word.start() if word else result.start
    new_text = text[word_start : result.start] + result.text
    uri = params.text_document.uri
    edit_range = types.Range(server.to_position(uri, word_start), server.to_position(uri, result.end))
    first_line = new_text.strip().splitlines()[0] if new_text.strip() else new_text
    return types.CompletionItem(
        label=first_line[:60] + ("…" if len(first_line) > 60 or "\n" in new_text.strip() else ""),
        kind=types.CompletionItemKind.Text,
        detail="infill-ls",
        documentation=types.MarkupContent(types.MarkupKind.Markdown, f"```\n{new_text}\n```"),
        filter_text=new_text,
        sort_text="0",
        text_edit=types.TextEdit(edit_range, new_text),
        insert_text_format=types.InsertTextFormat.PlainText,
    )
