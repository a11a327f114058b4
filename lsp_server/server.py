"""The language server: document state, settings, model lifecycle and status; features live in features/."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Generator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import FeatureRequestError
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from completion.backend import BackendState, ModelInfo, ModelLoadError, ModelUnavailable
from completion.backends import BackendChoice, OpenedBackends, open_backends
from completion.engine import CompletionEngine, CompletionRequest, DocumentRoute
from completion.model import ModelOptions
from completion.privacy import PrivacyPolicy
from lsp_server import __version__, transport
from lsp_server.documents import DocumentEvent, LspWorkspace, line_of_offset
from lsp_server.loop import on_loop
from lsp_server.methods import MESSAGE_TYPES, STATUS_NOTIFICATION
from lsp_server.settings import SECTION, Settings, settings_from_dict
from syntax.document import SyntaxDocument

log = logging.getLogger(__name__)
T = TypeVar("T")
CLIENT_POLL_S = 1.0  # how often the client's process is checked
ERROR_MESSAGE_QUIET_S = 300.0  # an internal error of one kind is shown once in this long
LOAD_WAIT_S = 60.0  # a completion request made while the model loads waits this long for it at most
CANCEL_POLL_S = 0.1  # ... looking at its cancel flag this often
ROUTE_SETTLE_S = 0.5  # the active document's route is looked at again once edits pause this long


class InfillProtocol(LanguageServerProtocol):
    """Keeps each open document's tree-sitter tree in step with pygls' text, edit by edit (incremental reparse),
    in documents that break lines as LSP does (``lsp_server.documents``)."""

    _server: InfillServer

    def get_message_type(self, method: str) -> type[Any] | None:  # type: ignore[override]  # pygls: lru_cache
        return MESSAGE_TYPES.get(method) or super().get_message_type(method)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        result = yield from super().lsp_initialize(params)
        workspace = self._workspace
        assert workspace is not None  # made by pygls' initialize
        workspace.__class__ = LspWorkspace  # pygls builds its Workspace itself; documents come later
        assert isinstance(workspace, LspWorkspace)
        workspace.use_lsp_positions()
        return result

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(
        self, params: types.DidOpenTextDocumentParams
    ) -> Generator[Any, Any, None]:
        if not isinstance(params.text_document.language_id, str):  # lsprotocol lets a number through
            params.text_document.language_id = ""
        yield from super().lsp_text_document__did_open(params)
        self._server._document_opened(params.text_document.uri)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        uri = params.text_document.uri
        if self._server.text_document(uri) is None:
            # pygls would read the path from disk (a FIFO or /dev/stdin hangs it, /dev/zero fills memory)
            log.warning("didChange for %s, which is not open: ignored", uri)
            return
        lines: tuple[int, int] | None = None
        for number, change in enumerate(params.content_changes):
            edited = self._server._apply_change(uri, change)
            lines = _union(lines, edited) if number else edited
        self.workspace.get_text_document(uri).version = params.text_document.version
        self._server._notify_listeners(DocumentEvent("change", uri, lines))
        self._server.document_edited(uri)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: types.DidCloseTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from super().lsp_text_document__did_close(params)
        self._server._document_closed(params.text_document.uri)


class InfillServer(LanguageServer):
    def __init__(self, default_settings: Settings | None = None) -> None:
        super().__init__(
            "infill-ls",
            __version__,
            protocol_cls=InfillProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            max_workers=4,
        )
        self.default_settings = default_settings or Settings()
        self.settings = self.default_settings
        self.engine = CompletionEngine(self.settings.completion)
        self.document_listeners: list[Callable[[DocumentEvent], None]] = []
        self.settings_listeners: list[Callable[[], None]] = []
        self.status: dict[str, Any] = {
            "state": "loading",
            "message": "starting",
            "model": None,
            "warnings": [],
            "route": None,
        }
        # Engine requests wait on the model worker and parsing/diagnosis is CPU work: each has its own bounded
        # pool, so neither can starve pygls' pool, which reads stdin (and so $/cancelRequest).
        self.model_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="infill-model")
        self.syntax_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="infill-syntax")
        self._syntax: dict[str, SyntaxDocument] = {}
        self._pending: dict[str, threading.Event] = {}
        self._model_generation = 0
        self._loaded_choice: BackendChoice | None = None
        self._backends: OpenedBackends | None = None  # what the engine uses now
        self._announced: OpenedBackends | None = None  # ... once its first readiness was reported
        self._error_shown: dict[tuple[str, str], float] = {}  # when each kind of internal error was shown
        self._active_uri: str | None = None  # the document whose route the status shows
        self._client_focuses = False  # the client sends textDocument/didFocus (else: the last one touched)
        self._route_timer: asyncio.TimerHandle | None = None
        self._status_changed = asyncio.Event()

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """pygls' stdio server with our reader (``lsp_server.transport``): malformed frames are skipped, and
        every request is answered once."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(
                transport.serve(self._stop_event, stdin or sys.stdin.buffer, self.protocol, self.thread_pool)
            )
        except BrokenPipeError:
            log.error("the connection to the client is lost: shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls shows every failed notification handler in a pop-up; one per kind of failure per
        :data:`ERROR_MESSAGE_QUIET_S` is enough (the log has each one)."""
        if source is FeatureRequestError:
            return  # answered in the response
        kind = (type(error).__name__, getattr(source, "__name__", str(source)))
        now = time.monotonic()
        if now - self._error_shown.get(kind, -ERROR_MESSAGE_QUIET_S) < ERROR_MESSAGE_QUIET_S:
            return
        self._error_shown[kind] = now
        self.show_message(types.MessageType.Error, f"infill-ls: internal error: {error} (details in the log)")

    # --- documents ----------------------------------------------------------------------------------------------

    def text_document(self, uri: str) -> TextDocument | None:
        """An open document; never one pygls would read from disk. pygls keys documents by the unquoted URI,
        while clients send percent-encoded ones (``my%20project``)."""
        try:
            documents: dict[str, TextDocument] = self.workspace.text_documents
        except RuntimeError:  # not initialized
            return None
        return documents.get(unquote(uri)) if isinstance(uri, str) else None

    def document_text(self, uri: str) -> str | None:
        document = self.text_document(uri)
        return document.source if document is not None else None

    def syntax_document(self, uri: str) -> SyntaxDocument | None:
        return self._syntax.get(uri)

    def to_offset(self, uri: str, position: types.Position) -> int:
        document = self.workspace.get_text_document(uri)
        return min(document.offset_at_position(position), len(document.source))

    def to_position(self, uri: str, offset: int) -> types.Position:
        """Offset to position in the negotiated encoding (pygls' own is off by a line at the end of the text)."""
        document = self.workspace.get_text_document(uri)
        text = document.source
        offset = max(0, min(offset, len(text)))
        line, line_start = line_of_offset(text, offset)
        units = document.position_codec.client_num_units(text[line_start:offset])
        return types.Position(line=line, character=units)

    def document_path(self, uri: str) -> str | None:
        """A path for the model to see: relative to the workspace root where possible."""
        path = to_fs_path(uri)
        if path is None:
            return None
        root = self.workspace.root_path
        if root:
            try:
                return str(Path(path).relative_to(root))
            except ValueError:
                pass
        return path

    def _document_opened(self, uri: str) -> None:
        document = self.workspace.get_text_document(uri)
        try:
            syntax = SyntaxDocument.for_document(document.source, document.language_id, to_fs_path(uri))
        except Exception:  # a grammar failure must not lose the document
            log.exception("could not parse %s", uri)
            syntax = None
        if syntax is not None:
            self._syntax[uri] = syntax
        self._notify_listeners(DocumentEvent("open", uri))
        self.focus(uri, focused=False)

    def _apply_change(self, uri: str, change: types.TextDocumentContentChangeEvent) -> tuple[int, int] | None:
        """Apply one change to pygls' text and the tree; the lines it touched in the new text (None: all)."""
        document = self.workspace.get_text_document(uri)
        syntax = self._syntax.get(uri)
        if not isinstance(change, types.TextDocumentContentChangePartial):
            document.apply_change(change)
            if syntax is not None:
                syntax.replace_all(document.source)
            return None
        start = document.offset_at_position(change.range.start)
        end = document.offset_at_position(change.range.end)
        document.apply_change(change)
        text = document.source
        first = change.range.start.line  # LSP's line numbers are the server's (lsp_server.documents)
        breaks = change.text.count("\n") + change.text.count("\r") - change.text.count("\r\n")
        edited = (first, first + breaks)
        if syntax is None:
            return edited
        try:
            syntax.edit(start, end, change.text)
        except Exception:  # keep going on a bad range: reparse from the text pygls holds
            log.exception("incremental edit failed for %s; reparsing", uri)
            syntax.replace_all(text)
        return edited

    def _document_closed(self, uri: str) -> None:
        self._syntax.pop(uri, None)
        self.engine.forget(uri)
        self._notify_listeners(DocumentEvent("close", uri))
        if uri == self._active_uri:
            self._active_uri = None
            self.refresh_route()

    def _notify_listeners(self, event: DocumentEvent) -> None:
        for listener in list(self.document_listeners):
            try:
                listener(event)
            except Exception:
                log.exception("document listener failed on %s", event)

    # --- work off the event loop --------------------------------------------------------------------------------

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Parsing, diagnosis, fixes and index work, off the event loop on the syntax pool."""
        return await self._run_in(self.syntax_pool, fn, *args)

    async def run_model(self, fn: Callable[..., T], *args: Any) -> T:
        """Engine work (which waits on the model worker), off the event loop on the model pool."""
        return await self._run_in(self.model_pool, fn, *args)

    async def _run_in(self, pool: Executor, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, functools.partial(fn, *args))

    def completion_request(
        self, uri: str, position: types.Position, invoked: bool = False
    ) -> CompletionRequest | None:
        document = self.text_document(uri)
        if document is None:
            return None
        return CompletionRequest(
            text=document.source,
            offset=self.to_offset(uri, position),
            uri=uri,
            language_id=document.language_id,
            path=self.document_path(uri),
            document=self._syntax.get(uri),
            invoked=invoked,
        )

    async def complete(self, request: CompletionRequest) -> Any:
        """Run the engine for a request; a newer request for the same document cancels this one."""
        cancel = threading.Event()
        previous = self._pending.get(request.uri)
        if previous is not None:
            previous.set()
        self._pending[request.uri] = cancel
        try:
            hit = self.engine.cached(request)
            if hit is not None:
                return hit
            if self.settings.completion.debounce_ms:
                await asyncio.sleep(self.settings.completion.debounce_ms / 1000)
            await self._while_loading(cancel)
            if cancel.is_set():
                return None
            return await self.run_model(self.engine.complete, request, cancel)
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            if self._pending.get(request.uri) is cancel:
                del self._pending[request.uri]

    async def _while_loading(self, cancel: threading.Event) -> None:
        """A request made while the model loads waits for it (at most LOAD_WAIT_S; a newer request or the
        client's cancel ends the wait): Neovim's client does not ask again until the user types, so an empty
        answer lost the first suggestion after start-up."""
        deadline = time.monotonic() + LOAD_WAIT_S
        while self.status["state"] == "loading" and not cancel.is_set() and time.monotonic() < deadline:
            changed = self._status_changed
            with contextlib.suppress(TimeoutError):  # the next status, or a look at the cancel flag again
                await asyncio.wait_for(changed.wait(), CANCEL_POLL_S)

    # --- settings ----------------------------------------------------------------------------------------------

    def apply_settings(self, data: Any, source: str) -> None:
        settings, errors = settings_from_dict(data)
        if errors:
            self.show_message(
                types.MessageType.Warning,
                f"infill-ls: invalid settings from {source}, defaults used for them: " + "; ".join(errors),
            )
        self.settings = self._merge_defaults(settings)
        self.engine.options = self.settings.completion
        self.engine.routing = self.settings.routing
        self.engine.audit = self.settings.audit
        self.engine.privacy = PrivacyPolicy(self.settings.privacy, self.engine.privacy.scanner_if_made)
        self.engine.clear_cache()
        for listener in list(self.settings_listeners):
            try:
                listener()
            except Exception:
                log.exception("settings listener failed")
        if self._loaded_choice is not None and (
            self.backend_choice() != self._loaded_choice or self.status["state"] == "error"
        ):
            self.start_model_load()  # a new model or server, or another try after a failure

    def _merge_defaults(self, settings: Settings) -> Settings:
        """Command-line values (--model, --remote, --remote-api, --remote-model) hold unless the client sets
        another than the built-in default (editors send their schema's defaults for everything)."""
        builtin = Settings()
        for group, name in _COMMAND_LINE_SETTINGS:
            holder = settings if group is None else getattr(settings, group)
            given = _setting(self.default_settings, group, name)
            default = _setting(builtin, group, name)
            if given != default and getattr(holder, name) == default:
                setattr(holder, name, given)
        return settings

    async def pull_configuration(self) -> None:
        capabilities = self.client_capabilities.workspace
        if not (capabilities and capabilities.configuration):
            return
        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
        except Exception as error:
            log.warning("workspace/configuration failed: %s", error)
            return
        if result and isinstance(result[0], dict):
            self.apply_settings(result[0], "workspace/configuration")

    # --- status and model ---------------------------------------------------------------------------------------

    @property
    def client_capabilities(self) -> types.ClientCapabilities:
        return self.protocol.client_capabilities

    def show_message(self, kind: types.MessageType, message: str) -> None:
        log.log(logging.WARNING if kind <= types.MessageType.Warning else logging.INFO, message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def set_status(
        self, state: str, message: str, model: str | None = None, warnings: tuple[str, ...] = ()
    ) -> None:
        # the models changed, and so may the route: none until it is worked out again for them
        self.status = {"state": state, "message": message, "model": model, "warnings": list(warnings)}
        self.status["route"] = None
        self.protocol.notify(STATUS_NOTIFICATION, self.status)
        self._status_changed.set()  # wakes requests waiting for the model (_while_loading)
        self._status_changed = asyncio.Event()
        self.refresh_route()

    # --- the active document's route ------------------------------------------------------------------------

    def focus(self, uri: str, focused: bool = True) -> None:
        """``uri`` is the document the user is in (didFocus; else the last one opened, edited or completed in,
        for clients that never send didFocus): the status shows its route."""
        self._client_focuses = self._client_focuses or focused
        if focused or not self._client_focuses:
            changed = uri != self._active_uri
            self._active_uri = uri
            if changed:
                self.refresh_route()

    def document_edited(self, uri: str) -> None:
        self.focus(uri, focused=False)
        if uri == self._active_uri:
            self.refresh_route(ROUTE_SETTLE_S)  # a secret typed or deleted changes it

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
        document = self.text_document(uri) if uri is not None else None
        if uri is None or document is None or self.status["state"] == "loading":
            self._route_known(uri, None)  # while loading, no route yet: the models are not known
            return
        future = self.syntax_pool.submit(self.engine.route, self.document_path(uri), document.source)
        future.add_done_callback(lambda done: on_loop(loop, self._route_done, uri, done))

    def _route_done(self, uri: str, done: Any) -> None:
        try:
            route: DocumentRoute = done.result()
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
        self.protocol.notify(STATUS_NOTIFICATION, self.status)

    def backend_choice(self) -> BackendChoice:
        """The settings that decide which backends run (a copy: later settings changes do not alter it)."""
        settings = self.settings
        return BackendChoice(
            settings.backend, ModelOptions(**vars(settings.model)), dataclasses.replace(settings.remote)
        )

    def start_model_load(self) -> None:
        """Open the configured backends in a thread, with $/progress and infill/status; the server stays up."""
        self._model_generation += 1
        generation = self._model_generation
        choice = self.backend_choice()
        self._loaded_choice = choice
        loop = asyncio.get_running_loop()
        token = str(uuid.uuid4())
        progress = self._progress_reporter(loop, token)
        self.set_status(
            "loading", "connecting to the remote server" if choice.backend == "remote" else "loading model"
        )
        threading.Thread(
            target=self._load_model,
            args=(choice, generation, loop, progress),
            name="infill-model-load",
            daemon=True,
        ).start()

    def _progress_reporter(
        self, loop: asyncio.AbstractEventLoop, token: str
    ) -> Callable[[str, int | None], None]:
        capabilities = self.client_capabilities.window
        if not (capabilities and capabilities.work_done_progress):
            return lambda message, percentage: None
        self.work_done_progress.create(token)
        self.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(title="infill-ls: loading model", percentage=0, cancellable=False),
        )

        def report(message: str, percentage: int | None) -> None:
            if percentage is None:
                value: Any = types.WorkDoneProgressEnd(message=message)
                on_loop(loop, self.work_done_progress.end, token, value)
            else:
                value = types.WorkDoneProgressReport(message=message, percentage=percentage)
                on_loop(loop, self.work_done_progress.report, token, value)

        return report

    def _load_model(
        self,
        choice: BackendChoice,
        generation: int,
        loop: asyncio.AbstractEventLoop,
        progress: Callable[[str, int | None], None],
    ) -> None:
        """Open the backends for ``choice`` (a local worker self-checks before it answers) and hand them to the
        engine. Whatever happens, the progress started for this load ends exactly once, before the status says
        ready."""
        outcome, loaded = "failed", None
        try:
            loaded = self._open(choice, generation, loop, progress)
            outcome = "ready" if loaded is not None else "superseded by newer settings"
        except (ModelLoadError, ModelUnavailable) as error:
            if generation == self._model_generation:
                self.engine.set_model(None)
                message = f"infill-ls: model unavailable: {str(error).rstrip('.')}."
                if "keep working" not in message:
                    message += " Syntax features keep working."
                on_loop(loop, self._report_load_failure, message)
        except Exception as error:  # never let a loader bug kill the server
            log.exception("model load crashed")
            on_loop(loop, self._report_load_failure, f"infill-ls: model load failed: {error}")
        finally:
            progress(outcome, None)
        if loaded is not None:
            on_loop(loop, self._model_loaded, loaded)

    def _open(
        self,
        choice: BackendChoice,
        generation: int,
        loop: asyncio.AbstractEventLoop,
        progress: Callable[[str, int | None], None],
    ) -> OpenedBackends | None:
        """The opened backends, installed in the engine; None when a newer settings change superseded them."""
        progress("connecting" if choice.backend == "remote" else "loading the model", 30)

        def on_state(source: object, state: BackendState) -> None:
            on_loop(loop, self._backend_state_changed, source, state)

        opened = open_backends(choice, on_state, strict=False)
        if generation != self._model_generation:  # superseded by a newer settings change
            opened.close()
            return None
        self.engine.set_model(opened.primary, fallback=opened.fallback)
        self._backends = opened
        return opened

    def _model_loaded(self, opened: OpenedBackends) -> None:
        if opened is not self._backends:
            return
        self._announced = opened  # from now on its state changes are news
        for info in self._infos(opened):
            for warning in info.warnings:  # once per load, not again on every restart
                self.show_message(types.MessageType.Warning, f"infill-ls: {warning}")
        if opened.remote_error is not None and opened.local is None:
            self._report_load_failure(f"infill-ls: {opened.remote_error}")
            return
        if opened.remote_error is not None:
            self.show_message(
                types.MessageType.Warning, f"infill-ls: {opened.remote_error}; using the local model"
            )
        self._report_ready()

    @staticmethod
    def _infos(opened: OpenedBackends) -> list[ModelInfo]:
        return [backend.info for backend in (opened.remote, opened.local) if backend is not None]

    def _report_ready(self) -> None:
        opened = self._backends
        if opened is None:
            return
        parts: list[str] = []
        warnings: list[str] = []
        path: str | None = None
        if opened.remote is not None:
            info = opened.remote.info
            down = opened.remote_error is not None or opened.remote.failing is not None
            where = f"{info.name} via {info.api} at {info.path} ({info.family})"
            parts.append(f"remote {where}" + (" - unavailable, retrying" if down else ""))
            warnings += info.warnings
            path = info.path
        if opened.local is not None:
            info = opened.local.info
            local = f"{info.name} ({info.family}, {info.size_bytes / 1e6:.0f} MB)"
            parts.append(f"local model {local}" if opened.remote is not None else local)
            warnings += info.warnings
            path = path or info.path
        message = "; ".join(parts)
        if warnings:
            message += " - warning: " + "; ".join(warnings)
        self.set_status("ready", message, path, tuple(warnings))

    def _backend_state_changed(self, source: object, state: BackendState) -> None:
        """A backend crashed, restarted, gave up, went idle, or (remote) failed or recovered: tell the user."""
        opened = self._announced
        if opened is None or opened is not self._backends or source is None:
            return  # the first start reports itself (_model_loaded); a replaced backend's news is old news
        if source is opened.remote:
            opened.remote_error = None
            if state.state == "failed" and opened.local is None:
                self._report_load_failure(f"infill-ls: {state.message}")
            elif state.state == "failed":
                self.show_message(
                    types.MessageType.Warning, f"infill-ls: {state.message}; using the local model"
                )
                self._report_ready()
            else:
                self._report_ready()
        elif opened.local is not None and source is opened.local:
            info = opened.local.info
            if state.state == "ready":
                self._report_ready()
            elif state.state == "idle":
                self.set_status("ready", state.message, info.path, info.warnings)
            elif state.state in ("restarting", "starting"):
                self.set_status("loading", state.message, info.path)
            elif state.state == "failed":
                self._report_load_failure(f"infill-ls: model unavailable: {state.message}")

    def _report_load_failure(self, message: str) -> None:
        self.show_message(types.MessageType.Error, message)  # first: a client acting on the status has it
        self.set_status("error", message)

    @property
    def shutdown_requested(self) -> bool:
        """The client asked for ``shutdown`` (the exit status is 0 only then, as the spec says)."""
        return bool(getattr(self.protocol, "_shutdown", False))

    def watch_client(self, pid: object) -> None:
        """Exit when the client process (``initialize``'s ``processId``) is gone, as the spec asks: its pipe
        may stay open in another process, so end-of-input alone does not tell."""
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid == os.getpid():
            return

        def watch() -> None:
            while _process_alive(pid):
                time.sleep(CLIENT_POLL_S)
            log.warning("the client process %d is gone: exiting", pid)
            self.close_model()  # the worker sees end-of-pipe and exits too
            logging.shutdown()
            os._exit(1)

        threading.Thread(target=watch, name="infill-client-watch", daemon=True).start()

    def close_model(self) -> None:
        """Stop using the backends; a local worker drains and exits in the background (never blocks the loop)."""
        self._model_generation += 1
        self._backends = self._announced = None
        self.engine.set_model(None)

    def shutdown(self) -> None:
        """pygls' end of the server: stop the worker and our pools too, without waiting on model calls."""
        self.close_model()
        for pool in (self.model_pool, self.syntax_pool):
            pool.shutdown(wait=False, cancel_futures=True)
        super().shutdown()  # type: ignore[no-untyped-call]

    def model_stats(self) -> dict[str, Any]:
        """The model worker's process and state, for infill/stats (and tests that crash it on purpose)."""
        local = self._backends.local if self._backends is not None else None
        if local is None:
            return {"state": "none", "pid": None, "restarts": 0, "message": self.status["message"]}
        state = local.state
        return {"state": state.state, "pid": local.pid, "restarts": state.restarts, "message": state.message}

    def remote_stats(self) -> dict[str, Any] | None:
        """The remote server in use and its health, for infill/stats; None without one."""
        remote = self._backends.remote if self._backends is not None else None
        if remote is None:
            return None
        info = remote.info
        return {"url": remote.url, "api": info.api, "model": info.name, "failing": remote.failing}


# what the command line can set: (group or None for a top-level setting, field)
_COMMAND_LINE_SETTINGS = (
    (None, "backend"),
    ("model", "path"),
    ("remote", "url"),
    ("remote", "api"),
    ("remote", "model"),
)


def _union(first: tuple[int, int] | None, second: tuple[int, int] | None) -> tuple[int, int] | None:
    if first is None or second is None:
        return None
    return min(first[0], second[0]), max(first[1], second[1])


def _setting(settings: Settings, group: str | None, name: str) -> Any:
    return getattr(settings if group is None else getattr(settings, group), name)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def create_server(default_settings: Settings | None = None) -> InfillServer:
    from lsp_server import features

    server = InfillServer(default_settings)
    features.register_all(server)
    return server
