"""The workspace index in the server: built on `initialized` with `$/progress`, kept fresh by watchdog, the
client's file events and open documents, handed to the engine as its retriever, stopped on `shutdown`.

`initialized` and `shutdown` already have handlers (lifecycle.py) and pygls allows one per method, so this
module chains its own step after the existing one (or registers it when there is none).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import uuid
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from completion.workspace.index import WorkspaceIndex
from lsp_server.documents import DocumentEvent
from lsp_server.loop import on_loop
from syntax.languages import LANGUAGES

if TYPE_CHECKING:
    from lsp_server.server import InfillServer

log = logging.getLogger(__name__)

_INDEXES: weakref.WeakKeyDictionary[InfillServer, WorkspaceIndex] = weakref.WeakKeyDictionary()
_STOP_TIMEOUT_S = 5.0
INDEX_STATUS_REQUEST = "infill/indexStatus"


def index_of(server: InfillServer) -> WorkspaceIndex | None:
    """The server's running index (None before `initialized`, after `shutdown`, or when disabled)."""
    return _INDEXES.get(server)


def register(server: InfillServer) -> None:
    _after(server, types.INITIALIZED, start_index)
    _after(server, types.SHUTDOWN, stop_index)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: InfillServer, params: types.DidChangeWatchedFilesParams) -> None:
        index = index_of(ls)
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
    async def did_change_workspace_folders(
        ls: InfillServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        index = index_of(ls)
        if index is None:
            return
        for folder in params.event.removed:
            if path := to_fs_path(folder.uri):
                await ls.run_blocking(index.remove_root, path)  # drops that folder's files: off the loop
        for folder in params.event.added:
            if path := to_fs_path(folder.uri):
                await ls.run_blocking(index.add_root, path)  # starts watching it: off the loop

    @server.feature(INDEX_STATUS_REQUEST)
    async def index_status(ls: InfillServer, params: Any) -> dict[str, Any]:
        """What the index holds and whether it is still working: for users' bug reports and for tests."""
        index = index_of(ls)
        if index is None:
            return {"running": False, "roots": [], "files": 0, "chunks": 0, "definitions": 0, "idle": True}
        return {"running": True, **await ls.run_blocking(index.status)}  # takes the index lock

    server.document_listeners.append(lambda event: _document_event(server, event))
    server.settings_listeners.append(lambda: _settings_changed(server))


# Options the running index reads on every call; any other change needs a fresh index.
_LIVE_OPTIONS = frozenset({"retrieval", "budget_chars", "min_similarity"})
_RESTARTS: set[asyncio.Future[None]] = set()
_RESTART_LOCKS: weakref.WeakKeyDictionary[InfillServer, asyncio.Lock] = weakref.WeakKeyDictionary()
_INITIALIZED: weakref.WeakSet[InfillServer] = weakref.WeakSet()  # servers past `initialized`


def _settings_changed(server: InfillServer) -> None:
    if server not in _INITIALIZED:
        return  # settings from `initialize`: `initialized` starts the index with them
    index = index_of(server)
    new = server.settings.index
    if index is None and not new.enabled:
        return
    if index is not None:
        old = index.options
        changed = {name for name in vars(new) if getattr(new, name) != getattr(old, name)}
        if changed <= _LIVE_OPTIONS:
            index.options = dataclasses.replace(new)
            return
    task = asyncio.ensure_future(_restart(server))
    _RESTARTS.add(task)
    task.add_done_callback(_RESTARTS.discard)


async def _restart(ls: InfillServer) -> None:
    """Stop and start with the current settings; restarts never interleave."""
    lock = _RESTART_LOCKS.setdefault(ls, asyncio.Lock())
    async with lock:
        await stop_index(ls)
        await start_index(ls)


def _document_event(server: InfillServer, event: DocumentEvent) -> None:
    """Open documents win over the disk: mirror the editor's text into the index."""
    index = index_of(server)
    path = to_fs_path(event.uri) if event.uri.startswith("file:") else None
    if index is None or path is None:
        return
    if event.kind in ("open", "change"):
        text = server.document_text(event.uri)
        if text is not None:
            index.set_open_document(path, text, event.lines)
    elif event.kind == "close":
        index.close_open_document(path)


async def start_index(ls: InfillServer, params: Any = None) -> None:
    """Index the workspace folders (or rootUri) in the background and make the engine retrieve from it."""
    _INITIALIZED.add(ls)
    options = ls.settings.index
    if not options.enabled or index_of(ls) is not None:
        return
    folders = [to_fs_path(folder.uri) for folder in ls.workspace.folders.values()]
    roots = [root for root in folders if root] or ([ls.workspace.root_path] if ls.workspace.root_path else [])
    if not roots:
        return
    index = WorkspaceIndex(roots, options)
    _INDEXES[ls] = index
    ls.engine.retriever = index
    for uri in list(ls.workspace.text_documents):  # documents opened before `initialized` was handled
        _document_event(ls, DocumentEvent("open", uri))
    index.start(await _progress(ls))
    await _watch_files_through_client(ls)


async def stop_index(ls: InfillServer, params: Any = None) -> None:
    """Stop the watcher and the indexer thread (joined off the event loop)."""
    index = _INDEXES.pop(ls, None)
    if index is None:
        return
    if ls.engine.retriever is index:
        ls.engine.retriever = None
    await ls.run_blocking(index.stop, _STOP_TIMEOUT_S)
    log.info("workspace index stopped; index threads left: %s", WorkspaceIndex.live_threads())


async def _progress(ls: InfillServer) -> Callable[[int, int], None] | None:
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


async def _watch_files_through_client(ls: InfillServer) -> None:
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


def _after(server: InfillServer, method: str, step: Callable[..., Any]) -> None:
    """Run ``step(server, params)`` after the handler already registered for ``method`` (if any)."""
    features = server.protocol.fm.features
    previous = features.get(method)
    if previous is None:
        server.feature(method)(step)
        return

    async def chained(*args: Any) -> Any:
        result = previous(*args)
        if inspect.isawaitable(result):
            result = await result
        await step(server, *args)
        return result

    features[method] = chained
