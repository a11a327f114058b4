"""infill/status: the models' state (set by the model feature) and the active document's route.

The route is the document the user is in (``textDocument/didFocus``; else the last one opened, edited or
completed in, for clients that never send didFocus), worked out off the event loop by ``CompletionEngine.route``
and sent again when it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from lsprotocol import types

from completion.engine import DocumentRoute
from lsp_server.documents import DocumentEvent
from lsp_server.host import Feature, ServerHost
from lsp_server.loop import on_loop
from lsp_server.methods import DID_FOCUS, STATUS_NOTIFICATION, DidFocusParams

log = logging.getLogger(__name__)
ROUTE_SETTLE_S = 0.5  # the active document's route is looked at again once edits pause this long


class StatusFeature(Feature):
    """What ``infill/status`` last said, and the active document whose route it shows."""

    def __init__(self, server: ServerHost) -> None:
        self.server = server
        self.status: dict[str, Any] = {
            "state": "loading",
            "message": "starting",
            "model": None,
            "warnings": [],
            "route": None,
        }
        self._changed = asyncio.Event()
        self._active_uri: str | None = None
        self._client_focuses = False  # the client sends textDocument/didFocus (else: the last one touched)
        self._route_timer: asyncio.TimerHandle | None = None
        # told of each didFocus, with the cursor where the client says (the warm-up)
        self.focus_listeners: list[Callable[[str, types.Position | None], None]] = []

    def register(self) -> None:
        @self.server.feature(DID_FOCUS)
        def did_focus(params: DidFocusParams) -> None:
            """The editor the user is in changed (VS Code: active editor; Neovim: BufEnter)."""
            uri = params.text_document.uri
            if self.server.text_document(uri) is not None:
                self.focus(uri)
                for listener in self.focus_listeners:
                    listener(uri, params.position)

    @property
    def client_focuses(self) -> bool:
        """The client has sent textDocument/didFocus: it tells which document the user is in."""
        return self._client_focuses

    @property
    def state(self) -> str:
        state: str = self.status["state"]
        return state

    def set(self, state: str, message: str, model: str | None = None, warnings: tuple[str, ...] = ()) -> None:
        """A new state of the models; the route is unknown until it is worked out again for them."""
        self.status = {"state": state, "message": message, "model": model, "warnings": list(warnings)}
        self.status["route"] = None
        self.server.notify(STATUS_NOTIFICATION, self.status)
        self._changed.set()  # wakes requests waiting for the model (CompletionFeature)
        self._changed = asyncio.Event()
        self.refresh_route()

    async def next_change(self, timeout: float) -> None:
        """Wait for the next :meth:`set`, at most ``timeout`` seconds."""
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    # --- the active document's route ------------------------------------------------------------------------

    def on_document(self, event: DocumentEvent) -> None:
        if event.kind == "open":
            self.focus(event.uri, focused=False)
        elif event.kind == "change":
            self.focus(event.uri, focused=False)
            if event.uri == self._active_uri:
                self.refresh_route(ROUTE_SETTLE_S)  # a secret typed or deleted changes it
        elif event.kind == "close" and event.uri == self._active_uri:
            self._active_uri = None
            self.refresh_route()

    def focus(self, uri: str, focused: bool = True) -> None:
        """``uri`` is the document the user is in (``focused``: the client said so)."""
        self._client_focuses = self._client_focuses or focused
        if focused or not self._client_focuses:
            changed = uri != self._active_uri
            self._active_uri = uri
            if changed:
                self.refresh_route()

    def refresh_route(self, delay: float = 0.0) -> None:
        """Work out the active document's route off the event loop (a first secret scan costs), and send the
        status again when it changed. ``delay``: after edits, once they pause."""
        if self._route_timer is not None:
            self._route_timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not serving (tests of pieces)
        self._route_timer = loop.call_later(delay, self._start_route, loop)

    def _start_route(self, loop: asyncio.AbstractEventLoop) -> None:
        self._route_timer = None
        uri = self._active_uri
        document = self.server.text_document(uri) if uri is not None else None
        if uri is None or document is None or self.state == "loading":
            self._route_known(uri, None)  # while loading, no route yet: the models are not known
            return
        engine = self.server.engine
        future = self.server.syntax_pool.submit(engine.route, self.server.document_path(uri), document.source)
        future.add_done_callback(lambda done: on_loop(loop, self._route_done, uri, done))

    def _route_done(self, uri: str, done: Future[DocumentRoute]) -> None:
        try:
            route = done.result()
        except Exception:
            log.exception("could not work out the route of %s", uri)
            return
        self._route_known(
            uri, {"uri": uri, "target": route.target, "reason": route.reason, "text": route.text}
        )

    def _route_known(self, uri: str | None, route: dict[str, str] | None) -> None:
        if uri != self._active_uri or route == self.status.get("route"):
            return
        self.status["route"] = route
        self.server.notify(STATUS_NOTIFICATION, self.status)
