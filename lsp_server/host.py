"""What a feature may use of the server, and the lifecycle every feature has.

This module imports neither ``lsp_server.server`` nor any feature: features depend on :class:`ServerHost`, the
server satisfies it, and only the composition root (``lsp_server.app``) knows both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any, Protocol, TypeVar

from lsprotocol import types
from pygls.progress import Progress
from pygls.workspace import TextDocument

from completion.engine import CompletionEngine
from lsp_server.documents import DocumentEvent
from lsp_server.settings import Settings
from syntax.document import SyntaxDocument

T = TypeVar("T")
Handler = TypeVar("Handler", bound=Callable[..., Any])


class ServerHost(Protocol):
    """The server as features see it: open documents, settings, the engine, executors and the client."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> CompletionEngine: ...

    @property
    def syntax_pool(self) -> Executor: ...

    @property
    def client_capabilities(self) -> types.ClientCapabilities: ...

    @property
    def work_done_progress(self) -> Progress: ...

    def feature(self, feature_name: str, options: Any | None = None) -> Callable[[Handler], Handler]:
        """pygls' decorator registering an LSP handler (one per method)."""
        ...

    # documents

    def text_document(self, uri: str) -> TextDocument | None: ...

    def document_text(self, uri: str) -> str | None: ...

    def syntax_document(self, uri: str) -> SyntaxDocument | None: ...

    def document_path(self, uri: str) -> str | None: ...

    def open_uris(self) -> list[str]: ...

    def workspace_roots(self) -> list[str]: ...

    def to_offset(self, uri: str, position: types.Position) -> int: ...

    def to_position(self, uri: str, offset: int) -> types.Position: ...

    # work off the event loop

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def run_model(self, fn: Callable[..., T], *args: Any) -> T: ...

    # settings and the client

    def apply_settings(self, data: Any, source: str) -> None: ...

    def show_message(self, kind: types.MessageType, message: str) -> None: ...

    def notify(self, method: str, params: object) -> None: ...

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None: ...

    def workspace_diagnostic_refresh(
        self, params: None, callback: Callable[[None], None] | None = None
    ) -> Future[None]: ...

    async def workspace_configuration_async(
        self, params: types.ConfigurationParams
    ) -> Sequence[Any | None]: ...

    async def client_register_capability_async(self, params: types.RegistrationParams) -> None: ...


class Lifecycle(Protocol):
    """What the lifecycle feature tells the composition root, which passes it on to every feature."""

    def settings_changed(self) -> None: ...

    async def initialized(self) -> None: ...

    async def shutdown(self) -> None: ...


class Feature:
    """One feature of the server. The composition root calls these hooks, feature by feature in its order; a
    feature overrides those it needs (the others do nothing)."""

    def register(self) -> None:
        """Register this feature's LSP handlers (once, before the server serves). A handler takes ``params``
        only: pygls would pass the server first to one whose first parameter is named ``ls`` or annotated
        with a type the server is an instance of (``object``)."""

    def on_settings(self) -> None:
        """The settings changed (``initialize``, a configuration pull or change)."""

    def on_document(self, event: DocumentEvent) -> None:
        """A document was opened, edited or closed (the server's text and tree are already updated)."""

    async def on_initialized(self) -> None:
        """The client sent ``initialized`` (its configuration is pulled by then)."""

    async def on_shutdown(self) -> None:
        """The client sent ``shutdown``: stop background work without blocking on the model."""
