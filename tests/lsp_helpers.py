"""Helpers for end-to-end tests: the real server over stdio (pytest-lsp) with Neovim / VS Code capabilities."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

SERVER_COMMAND = [sys.executable, "-m", "lsp_server"]
REPO = Path(__file__).resolve().parent.parent


def capabilities(client: str) -> types.ClientCapabilities:
    """Capabilities of a real client; 'neovim' and 'vscode' also announce LSP 3.18 inline completion.

    Neovim >= 0.12 (vim.lsp.inline_completion) and VS Code (through our extension) both ask for inline
    completions; 'plain' is a client that only knows textDocument/completion.
    """
    spec = {"neovim": "neovim@v0.11.0", "vscode": "visual-studio-code", "plain": "neovim@v0.10.0"}[client]
    caps = client_capabilities(spec)
    if client != "plain":
        assert caps.text_document is not None
        caps.text_document.inline_completion = types.InlineCompletionClientCapabilities(
            dynamic_registration=False
        )
    return caps


class StatusClient(LanguageClient):  # type: ignore[misc]
    """A pytest-lsp client that also records infill/status notifications."""

    def __init__(self) -> None:
        super().__init__(converter_factory=default_converter)
        register_lsp_features(self)
        self.statuses: list[dict[str, Any]] = []  # state changes (a route-only update changes the last one)
        self.routes: list[dict[str, Any] | None] = []  # each route the status showed, in order
        self.status_changed = asyncio.Event()
        self.initialize_result: types.InitializeResult | None = None

        @self.feature("infill/status")
        def on_status(ls: StatusClient, params: Any) -> None:
            status = {
                "state": params.state,
                "message": params.message,
                "model": params.model,
                "warnings": list(getattr(params, "warnings", None) or []),
            }
            route = getattr(params, "route", None)
            route = route._asdict() if route else None
            if route != (ls.routes[-1] if ls.routes else None):
                ls.routes.append(route)
            if ls.statuses and {**ls.statuses[-1], "route": None} == {**status, "route": None}:
                ls.statuses[-1]["route"] = route  # only the route changed: not a new state
            else:
                ls.statuses.append({**status, "route": route})
            ls.status_changed.set()

    async def wait_for_status(self, *states: str, timeout: float = 120, after: int = 0) -> dict[str, Any]:
        """The latest status in one of `states`, waiting for one; only statuses from index `after` on count
        (pass ``len(client.statuses)`` taken before an action to wait for a status the action caused)."""

        async def wait() -> dict[str, Any]:
            while True:
                for status in reversed(self.statuses[after:]):
                    if status["state"] in states:
                        return status
                self.status_changed.clear()
                await self.status_changed.wait()

        return await asyncio.wait_for(wait(), timeout)


@contextlib.asynccontextmanager
async def lsp_session(
    client_kind: str = "neovim",
    initialization_options: dict[str, Any] | None = None,
    root: Path | None = None,
    configuration: dict[str, Any] | None = None,
    wait_for_model: bool = True,
    server_args: list[str] | None = None,
    position_encodings: list[str] | None = None,
    env: dict[str, str] | None = None,
    shutdown: bool = True,
    process_id: int | None = None,
) -> AsyncIterator[StatusClient]:
    """Start the real server over stdio, initialize it like `client_kind`, shut it down at the end.

    `env` is merged over this process' environment for the server (and so its model worker); `process_id` is
    the client process the server watches (default: this one). With
    `shutdown=False` the test ends the server itself (kill, exit, closed stdin); whatever still runs is
    shut down or killed on the way out.
    """
    config = ClientServerConfig(
        server_command=SERVER_COMMAND + (server_args or []),
        client_factory=StatusClient,
        server_env={**os.environ, **env} if env is not None else None,
    )
    client: StatusClient = await config.start()
    if configuration is not None:
        client.set_configuration(configuration)
    try:
        caps = capabilities(client_kind)
        if configuration is None and caps.workspace is not None:
            caps.workspace.configuration = False
        if position_encodings is not None:
            caps.general = types.GeneralClientCapabilities(position_encodings=position_encodings)
        # tests assert behaviour, never speed; background model work (warm-up, the next suggestion) only
        # where a test asks for it, so a worker is idle and a request's evaluated tokens are its own otherwise
        options = {"completion": {"timeBudgetMs": 120_000, "warmUp": False, "prefetchNext": False}}
        for group, values in (initialization_options or {}).items():
            options[group] = {**options.get(group, {}), **values} if isinstance(values, dict) else values
        client.initialize_result = await client.initialize_session(
            types.InitializeParams(
                process_id=process_id if process_id is not None else os.getpid(),
                capabilities=caps,
                initialization_options=options,
                root_uri=root.as_uri() if root else None,
                workspace_folders=[types.WorkspaceFolder(root.as_uri(), root.name)] if root else None,
            )
        )
        if wait_for_model:
            await client.wait_for_status("ready", "error")
        yield client
        if shutdown:
            await client.shutdown_session()
    finally:
        server = client._server
        if server is not None and server.returncode is None and client.capabilities is not None:
            try:  # a failed test skipped the shutdown: ask, then insist
                await asyncio.wait_for(client.shutdown_session(), 10)
            except Exception:
                server.kill()
        await client.stop()


def open_document(client: LanguageClient, path: Path, text: str, language_id: str = "python") -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)
        )
    )
    return uri


async def next_publish(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    """The next diagnostics the server pushes for ``uri`` (pushes for other documents are skipped)."""
    while True:
        params = await asyncio.wait_for(
            client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), timeout=30
        )
        if params.uri == uri:
            return list(params.diagnostics)
