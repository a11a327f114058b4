"""initialize / initialized / configuration / shutdown, and the client's process: the server's lifecycle, told to
the composition root, which passes each step on to every feature."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from lsprotocol import types

from lsp_server.host import Feature, Lifecycle, ServerHost
from lsp_server.settings import SECTION

log = logging.getLogger(__name__)
CLIENT_POLL_S = 1.0  # how often the client's process is checked


class LifecycleFeature(Feature):
    """pygls allows one handler per method: this feature has the lifecycle's, and ``root`` fans them out."""

    def __init__(self, server: ServerHost, root: Lifecycle, client_gone: Callable[[], None]) -> None:
        self.server = server
        self.root = root
        self.client_gone = client_gone  # run (on a watcher thread) before exiting when the client is gone

    def register(self) -> None:
        server = self.server

        @server.feature(types.INITIALIZE)
        def initialize(params: types.InitializeParams) -> None:
            self.apply_settings(params.initialization_options, "initializationOptions")
            self.watch_client(params.process_id)

        @server.feature(types.INITIALIZED)
        async def initialized(params: types.InitializedParams) -> None:
            await self.pull_configuration()
            await self.root.initialized()

        @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
        async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
            settings: Any = params.settings
            if isinstance(settings, dict) and settings:
                self.apply_settings(settings, "workspace/didChangeConfiguration")
            else:  # the client only says "something changed": ask for the section
                await self.pull_configuration()

        @server.feature(types.SHUTDOWN)
        async def shutdown(params: None) -> None:
            await self.root.shutdown()  # never blocks on the model: its worker drains in the background

    def apply_settings(self, data: Any, source: str) -> None:
        self.server.apply_settings(data, source)
        self.root.settings_changed()

    async def pull_configuration(self) -> None:
        capabilities = self.server.client_capabilities.workspace
        if not (capabilities and capabilities.configuration):
            return
        try:
            result = await self.server.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
        except Exception as error:
            log.warning("workspace/configuration failed: %s", error)
            return
        if result and isinstance(result[0], dict):
            self.apply_settings(result[0], "workspace/configuration")

    def watch_client(self, pid: object) -> None:
        """Exit when the client process (``initialize``'s ``processId``) is gone, as the spec asks: its pipe
        may stay open in another process, so end-of-input alone does not tell."""
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid == os.getpid():
            return

        def watch() -> None:
            while _process_alive(pid):
                time.sleep(CLIENT_POLL_S)
            log.warning("the client process %d is gone: exiting", pid)
            self.client_gone()  # the worker sees end-of-pipe and exits too
            logging.shutdown()
            os._exit(1)

        threading.Thread(target=watch, name="infill-client-watch", daemon=True).start()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
