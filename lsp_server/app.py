"""The composition root: builds the server and its features, wires them together, and passes the server's
lifecycle on to every feature in one order. The only module that knows both the server and the features."""

from __future__ import annotations

import logging

from lsp_server.features.completion import CompletionFeature
from lsp_server.features.diagnostics import DiagnosticsFeature
from lsp_server.features.lifecycle import LifecycleFeature
from lsp_server.features.model import ModelFeature
from lsp_server.features.status import StatusFeature
from lsp_server.features.workspace import WorkspaceIndexFeature
from lsp_server.host import Feature
from lsp_server.server import InfillServer
from lsp_server.settings import Settings

log = logging.getLogger(__name__)


class InfillApp:
    """The server and its features. Hooks run in the features' order: the model loads before the index
    starts (which waits on the client), and the status hears of a document last."""

    def __init__(self, default_settings: Settings | None = None) -> None:
        self.server = server = InfillServer(default_settings)
        status = StatusFeature(server)
        self.model = ModelFeature(server, status)
        completion = CompletionFeature(server, status)
        status.focus_listeners.append(completion.on_focus)  # a focused document's prompt is warmed
        self.features: tuple[Feature, ...] = (
            LifecycleFeature(server, self, client_gone=self.model.close),
            completion,
            DiagnosticsFeature(server),
            self.model,
            WorkspaceIndexFeature(server),
            status,
        )
        for feature in self.features:
            feature.register()
            server.document_listeners.append(feature.on_document)
        server.exit_hooks.append(self.model.close)  # the end of input or `exit` without `shutdown`, too

    def settings_changed(self) -> None:
        for feature in self.features:
            try:
                feature.on_settings()
            except Exception:
                log.exception("%s failed on new settings", type(feature).__name__)

    async def initialized(self) -> None:
        for feature in self.features:
            await feature.on_initialized()

    async def shutdown(self) -> None:
        for feature in self.features:
            await feature.on_shutdown()


def create_server(default_settings: Settings | None = None) -> InfillServer:
    """The server with every feature registered, ready for ``start_io``."""
    return InfillApp(default_settings).server
