"""The workspace index in the server: built on `initialized` with `$/progress`, kept fresh by watchdog, the
client's file events and open documents, handed to the engine as its retriever, stopped on `shutdown`."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from completion.workspace.index import WorkspaceIndex
from lsp_server.documents import DocumentEvent
from lsp_server.host import Feature, ServerHost
from lsp_server.loop import on_loop
from syntax.languages import LANGUAGES

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 5.0
INDEX_STATUS_REQUEST = "infill/indexStatus"
# Options the running index reads on every call; any other change needs a fresh index.
_LIVE_OPTIONS = frozenset({"retrieval", "budget_chars", "min_similarity"})
_NOT_RUNNING: dict[str, Any] = {"running": False, "files": 0, "chunks": 0, "definitions": 0, "idle": True}


class WorkspaceIndexFeature(Feature):
    """The running index (None before `initialized`, after `shutdown`, or when disabled) and its restarts."""

    def __init__(self, server: ServerHost) -> None:
        self.server = server
        self.index: WorkspaceIndex | None = None
        self._initialized = False  # past `initialized`: settings changes restart the index from then on
        self._restart_lock = asyncio.Lock()  # restarts never interleave
        self._restarts: set[asyncio.Future[None]] = set()

    def register(self) -> None:
        server = self.server

        @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
        def did_change_watched_files(params: types.DidChangeWatchedFilesParams) -> None:
            index = self.index
            if index is None:
                return
            for change in params.changes:
                path = to_fs_path(change.uri)
                if path is None:
                    continue
                if change.type == types.FileChangeType.Deleted:
                    index.file_deleted(path)
                else:
                    index.file_changed(path)

        @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
        async def did_change_workspace_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
            index = self.index
            if index is None:
                return
            for folder in params.event.removed:
                if path := to_fs_path(folder.uri):
                    await server.run_blocking(index.remove_root, path)  # drops its files: off the loop
            for folder in params.event.added:
                if path := to_fs_path(folder.uri):
                    await server.run_blocking(index.add_root, path)  # starts watching it: off the loop

        @server.feature(INDEX_STATUS_REQUEST)
        async def index_status(params: Any) -> dict[str, Any]:
            """What the index holds and whether it is still working: for users' bug reports and for tests."""
            index = self.index
            if index is None:
                return {**_NOT_RUNNING, "roots": []}
            return {"running": True, **await server.run_blocking(index.status)}  # takes the index lock

    async def on_initialized(self) -> None:
        self._initialized = True
        await self.start()

    async def on_shutdown(self) -> None:
        await self.stop()

    def on_settings(self) -> None:
        if not self._initialized:
            return  # settings from `initialize`: `initialized` starts the index with them
        index = self.index
        new = self.server.settings.index
        if index is None and not new.enabled:
            return
        if index is not None:
            old = index.options
            changed = {name for name in vars(new) if getattr(new, name) != getattr(old, name)}
            if changed <= _LIVE_OPTIONS:
                index.options = dataclasses.replace(new)
                return
        task = asyncio.ensure_future(self._restart())
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    def on_document(self, event: DocumentEvent) -> None:
        """Open documents win over the disk: mirror the editor's text into the index."""
        index = self.index
        path = to_fs_path(event.uri) if event.uri.startswith("file:") else None
        if index is None or path is None:
            return
        if event.kind in ("open", "change"):
            text = self.server.document_text(event.uri)
            if text is not None:
                index.set_open_document(path, text, event.lines)
        elif event.kind == "close":
            index.close_open_document(path)

    async def _restart(self) -> None:
        """Stop and start with the current settings."""
        async with self._restart_lock:
            await self.stop()
            await self.start()

    async def start(self) -> None:
        """Index the workspace folders (or rootUri) in the background and make the engine retrieve from it."""
        options = self.server.settings.index
        if not options.enabled or self.index is not None:
            return
        roots = self.server.workspace_roots()
        if not roots:
            return
        index = WorkspaceIndex(roots, options)
        self.index = index
        self.server.engine.retriever = index
        for uri in self.server.open_uris():  # documents opened before `initialized` was handled
            self.on_document(DocumentEvent("open", uri))
        index.start(await _progress(self.server))
        await _watch_files_through_client(self.server)

    async def stop(self) -> None:
        """Stop the watcher and the indexer thread (joined off the event loop)."""
        index, self.index = self.index, None
        if index is None:
            return
        engine = self.server.engine
        if engine.retriever is index:
            engine.retriever = None
        await self.server.run_blocking(index.stop, _STOP_TIMEOUT_S)
        log.info("workspace index stopped; index threads left: %s", WorkspaceIndex.live_threads())


async def _progress(ls: ServerHost) -> Callable[[int, int], None] | None:
    """A thread-safe ``progress(done, total)`` reporting `$/progress`; None if the client can't show it."""
    window = ls.client_capabilities.window
    if not (window and window.work_done_progress):
        return None
    token = f"infill-index-{uuid.uuid4()}"
    try:
        await ls.work_done_progress.create_async(token)
    except Exception:
        log.debug("client refused a progress token", exc_info=True)
        return None
    ls.work_done_progress.begin(
        token,
        types.WorkDoneProgressBegin(title="infill-ls: indexing workspace", percentage=0, cancellable=False),
    )
    loop = asyncio.get_running_loop()
    ended = False

    def report(done: int, total: int) -> None:
        nonlocal ended
        if ended:
            return
        if done >= total:
            ended = True
            end = types.WorkDoneProgressEnd(message=f"{total} files indexed")
            on_loop(loop, ls.work_done_progress.end, token, end)
        else:
            value = types.WorkDoneProgressReport(
                message=f"{done}/{total} files", percentage=done * 100 // total
            )
            on_loop(loop, ls.work_done_progress.report, token, value)

    return report


async def _watch_files_through_client(ls: ServerHost) -> None:
    """Ask the client for file events too (a fallback when inotify runs out of watches)."""
    workspace = ls.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    if not (watched and watched.dynamic_registration):
        return
    extensions = ",".join(sorted({ext.lstrip(".") for spec in LANGUAGES for ext in spec.extensions}))
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern=f"**/*.{{{extensions}}}")]
    )
    registration = types.Registration(
        id=f"infill-index-{uuid.uuid4()}",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=options,
    )
    try:
        await ls.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
    except Exception:
        log.debug("client refused file watching", exc_info=True)
