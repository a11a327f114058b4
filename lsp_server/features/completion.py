"""textDocument/inlineCompletion, the textDocument/completion fallback, and infill/prompt (what the model sees).

Requests are scheduled here: a newer request for a document cancels the one before it, an automatic request
waits for a newer keystroke as long as ``completion.debounce.AdaptiveDebounce`` says (the typing rhythm and the
model's latency, within completion.debounceMs and debounceMaxMs), and a request made while the model loads
waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from typing import Any

from lsprotocol import types

from completion.debounce import AdaptiveDebounce, eagerness
from completion.engine import Alternative, Completion, CompletionRequest
from lsp_server.documents import DocumentEvent
from lsp_server.features.status import StatusFeature
from lsp_server.host import Feature, ServerHost
from lsp_server.methods import PROMPT_REQUEST

_WORD_BEFORE = re.compile(r"[\w$]*\Z")
LOAD_WAIT_S = 60.0  # a completion request made while the model loads waits this long for it at most
CANCEL_POLL_S = 0.1  # ... looking at its cancel flag this often


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
        if event.kind == "change":
            self.debounce.keystroke(event.uri)
        elif event.kind == "close":
            self.server.engine.forget(event.uri)

    def request(self, uri: str, position: types.Position, invoked: bool = False) -> CompletionRequest | None:
        """The engine's request for a position in an open document (None: not open)."""
        document = self.server.text_document(uri)
        if document is None:
            return None
        return CompletionRequest(
            text=document.source,
            offset=self.server.to_offset(uri, position),
            uri=uri,
            language_id=document.language_id,
            path=self.server.document_path(uri),
            document=self.server.syntax_document(uri),
            invoked=invoked,
        )

    async def complete(self, request: CompletionRequest) -> Completion | None:
        """Run the engine for a request; a newer request for the same document cancels this one."""
        pending = _Pending()
        cancel = pending.cancel
        previous = self._pending.get(request.uri)
        if previous is not None:
            previous.stop()
        self._pending[request.uri] = pending
        engine = self.server.engine
        try:
            hit = engine.cached(request)
            if hit is not None:
                return hit
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
