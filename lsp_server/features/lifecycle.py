"""initialize / initialized / configuration / shutdown: settings and the model's lifecycle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from lsp_server.server import InfillServer


def register(server: InfillServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: InfillServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options, "initializationOptions")
        ls.watch_client(params.process_id)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: InfillServer, params: types.InitializedParams) -> None:
        await ls.pull_configuration()
        ls.start_model_load()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: InfillServer, params: types.DidChangeConfigurationParams) -> None:
        settings: Any = params.settings
        if isinstance(settings, dict) and settings:
            ls.apply_settings(settings, "workspace/didChangeConfiguration")
        else:  # the client only says "something changed": ask for the section
            await ls.pull_configuration()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: InfillServer, params: None) -> None:
        ls.close_model()  # returns at once: the worker drains and exits in the background
