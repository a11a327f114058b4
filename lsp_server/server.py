"""The language server: the protocol, open documents, settings, executors and messages to the client.

It knows no feature: ``lsp_server.app`` builds it with its features, which see it as
:class:`lsp_server.host.ServerHost`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import threading
import time
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

from completion.engine import CompletionEngine
from completion.privacy import PrivacyPolicy
from lsp_server import __version__, transport
from lsp_server.documents import DocumentEvent, LspWorkspace, line_of_offset
from lsp_server.methods import MESSAGE_TYPES
from lsp_server.settings import Settings, settings_from_dict
from syntax.document import SyntaxDocument

log = logging.getLogger(__name__)
T = TypeVar("T")
ERROR_MESSAGE_QUIET_S = 300.0  # an internal error of one kind is shown once in this long


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
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: types.DidCloseTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from super().lsp_text_document__did_close(params)
        self._server._document_closed(params.text_document.uri)


class InfillServer(LanguageServer):
    """pygls' server with infill-ls' protocol and transport; features come from ``lsp_server.app``."""

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
        self.document_listeners: list[Callable[[DocumentEvent], None]] = []  # features, in the root's order
        self.exit_hooks: list[Callable[[], None]] = []  # run when the server ends, before its pools stop
        # Engine requests wait on the model worker and parsing/diagnosis is CPU work: each has its own bounded
        # pool, so neither can starve pygls' pool, which reads stdin (and so $/cancelRequest).
        self.model_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="infill-model")
        self.syntax_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="infill-syntax")
        self._syntax: dict[str, SyntaxDocument] = {}
        self._error_shown: dict[tuple[str, str], float] = {}  # when each kind of internal error was shown

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

    def open_uris(self) -> list[str]:
        return list(self.workspace.text_documents)

    def workspace_roots(self) -> list[str]:
        """The workspace folders' paths, else the root's (``rootUri``); none for a client without either."""
        folders = [to_fs_path(folder.uri) for folder in self.workspace.folders.values()]
        root = self.workspace.root_path
        return [path for path in folders if path] or ([root] if root else [])

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
        self._notify_listeners(DocumentEvent("close", uri))

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

    # --- settings ----------------------------------------------------------------------------------------------

    def apply_settings(self, data: Any, source: str) -> None:
        """Settings from the client, checked and merged with the command line's, handed to the engine (the root
        then tells the features)."""
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

    # --- the client ---------------------------------------------------------------------------------------------

    @property
    def client_capabilities(self) -> types.ClientCapabilities:
        return self.protocol.client_capabilities

    def show_message(self, kind: types.MessageType, message: str) -> None:
        log.log(logging.WARNING if kind <= types.MessageType.Warning else logging.INFO, message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def notify(self, method: str, params: object) -> None:
        self.protocol.notify(method, params)

    @property
    def shutdown_requested(self) -> bool:
        """The client asked for ``shutdown`` (the exit status is 0 only then, as the spec says)."""
        return bool(getattr(self.protocol, "_shutdown", False))

    def shutdown(self) -> None:
        """pygls' end of the server: the exit hooks (the model's close) and our pools, without waiting on model
        calls."""
        for hook in self.exit_hooks:
            hook()
        for pool in (self.model_pool, self.syntax_pool):
            pool.shutdown(wait=False, cancel_futures=True)
        super().shutdown()  # type: ignore[no-untyped-call]


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
