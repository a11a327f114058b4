"""The workspace index: definitions, imports and text chunks of every supported file below the workspace
roots, kept fresh by a file watcher, and cross-file retrieval for completion prompts.

``WorkspaceIndex`` is what the server and the engine hold; its rooms are ``store`` (what is known, and the
questions asked of it), ``indexer`` (the background thread, its queue and the file watcher), ``sources``
(open documents win over the disk), ``retrieval`` (what a prompt gets) and ``render`` (how a definition reads
there). Indexing runs on one background thread, so completions work from the first second with whatever is
indexed so far; change notifications (watcher events, open-document edits) are debounced, jump ahead of the
initial crawl, and never take the store's lock, so the event loop may send them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from completion.workspace.indexer import THREAD_PREFIX, Indexer, ProgressCallback
from completion.workspace.options import IndexOptions
from completion.workspace.retrieval import Retrieval, Snippet
from completion.workspace.sources import Sources
from completion.workspace.store import IndexedDefinition, IndexedImport, IndexStore, imports_of
from syntax.languages import spec_for

if TYPE_CHECKING:
    from syntax.context import CursorOutline
    from syntax.document import ParsedText, SyntaxDocument

__all__ = ["WorkspaceIndex"]

_OPEN_DOCUMENT_DEBOUNCE_S = 0.3
_OPEN_DOCUMENT_MAX_DELAY_S = 1.5  # re-parse a document being typed in at most this often


class WorkspaceIndex:
    """Index of the files below ``roots``; see the module docstring. All public methods are thread-safe.

    ``options`` may be replaced while it runs; retrieval reads it on every call (the rest needs a new index).
    """

    def __init__(self, roots: Sequence[str], options: IndexOptions | None = None) -> None:
        self.options = options or IndexOptions()
        sources = Sources(self.options.max_file_bytes)
        self._store = IndexStore(roots, sources, self.options.chunk_lines, self.options.max_chunks)
        self._indexer = Indexer(self._store, self.options, lambda path: self._index(path))
        self._retrieval = Retrieval(self._store)

    # --- lifecycle ----------------------------------------------------------------------------------------

    @property
    def roots(self) -> list[str]:
        return self._store.roots

    @property
    def generation(self) -> int:
        """Counts the index's updates."""
        return self._store.generation

    def start(self, progress: ProgressCallback | None = None) -> None:
        """Crawl the roots in the background and watch them; ``progress(done, total)`` runs on the worker."""
        self._indexer.start(progress)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the watcher and the worker and wait for their threads to end."""
        self._indexer.stop(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the crawl and every queued change are indexed; False on timeout."""
        return self._indexer.wait_idle(timeout)

    @property
    def idle(self) -> bool:
        """True when the crawl is over and no change waits to be indexed."""
        return self._indexer.idle

    @staticmethod
    def live_threads() -> list[str]:
        """Names of the indexer and file-watcher threads alive in this process (none after every stop())."""
        return sorted(
            thread.name
            for thread in threading.enumerate()
            if thread.name.startswith(THREAD_PREFIX) or type(thread).__module__.startswith("watchdog")
        )

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds, re-checking after every index update; False on timeout."""
        return self._store.wait_for(predicate, timeout)

    def add_root(self, root: str) -> None:
        """A workspace folder was added: crawl and watch it (watching walks the tree: not on the event loop)."""
        root = os.path.abspath(root)
        if self._store.add_root(root):
            self._indexer.add_root(root)

    def remove_root(self, root: str) -> None:
        """A workspace folder was removed: its files leave the index (costly: not on the event loop)."""
        root = os.path.abspath(root)
        doomed = self._store.remove_root(root)
        if doomed is None:
            return
        self._indexer.forget_root(root)
        for path in doomed:
            self._store.remove(path)

    # --- change notifications (they only queue work) ------------------------------------------------------

    def file_changed(self, path: str) -> None:
        """A file was created or modified on disk (from the watcher or the client's file watcher)."""
        self._indexer.file_changed(path)

    def file_deleted(self, path: str) -> None:
        """A file or a directory was deleted on disk."""
        self._indexer.file_deleted(path)

    def file_moved(self, source: str, destination: str) -> None:
        self._indexer.file_moved(source, destination)

    def add_directory(self, path: str) -> None:
        """A directory appeared (created or moved in): index what it holds."""
        self._indexer.add_directory(path)

    def set_open_document(self, path: str, text: str, edited_lines: tuple[int, int] | None = None) -> None:
        """The editor's text of ``path``: it replaces the disk version until closed. ``edited_lines``: the
        lines the change touched, when the editor said (else they are found by comparing the texts)."""
        path = os.path.abspath(path)
        if self._store.sources.set_open(path, text, edited_lines) and spec_for(path=path) is not None:
            self._indexer.schedule(path, "change", _OPEN_DOCUMENT_DEBOUNCE_S, _OPEN_DOCUMENT_MAX_DELAY_S)

    def close_open_document(self, path: str) -> None:
        """The editor closed ``path``: index the disk version again."""
        path = os.path.abspath(path)
        if self._store.sources.close(path):
            self._indexer.schedule(path, "change", 0.0)

    def _index(self, path: str) -> None:
        """(Re)index one file: the indexer calls it through here, so a test can make one file fail."""
        self._indexer.index_file(path)

    # --- queries ------------------------------------------------------------------------------------------

    def definitions(self, path: str) -> tuple[IndexedDefinition, ...]:
        return self._store.definitions(os.path.abspath(path))

    def imports(self, path: str) -> tuple[IndexedImport, ...]:
        return self._store.imports(os.path.abspath(path))

    def find_definitions(self, name: str) -> list[tuple[str, IndexedDefinition]]:
        """Every indexed definition called ``name`` with its file, in path order."""
        return self._store.find_definitions(name)

    def defines(self, name: str) -> bool:
        """Some indexed file defines ``name`` at its top level (for the unknown-name audit)."""
        return self._store.defines(name)

    def module_members(self, module: str, importer: str | None = None) -> frozenset[str] | None:
        """The names a workspace Python module binds, or None when it is not a workspace file (see
        ``IndexStore.module_members``)."""
        return self._store.module_members(module, importer)

    def member_names(
        self, path: str, text: str, receiver: str, document: SyntaxDocument | ParsedText | None = None
    ) -> frozenset[str] | None:
        """Every name that can follow ``receiver.`` in ``text`` (the document at ``path``; ``document``: its
        parse), when ``receiver`` is an imported workspace module whose names can all be told, else None
        (see ``IndexStore.member_names``)."""
        from syntax.document import parsed_for

        spec = spec_for(path=path)
        if spec is None:
            return None
        return self._store.member_names(
            path, spec.name, imports_of(parsed_for(text, spec.name, document)), receiver
        )

    def stats(self) -> dict[str, int]:
        return self._store.stats()

    def status(self) -> dict[str, Any]:
        """Roots, sizes and whether work is queued (``infill/indexStatus``): takes the store's lock."""
        return {"roots": self.roots, **self.stats(), "idle": self.idle}

    # --- retrieval ----------------------------------------------------------------------------------------

    def retrieve(
        self,
        path: str,
        text: str,
        offset: int,
        budget_chars: int | None = None,
        document: SyntaxDocument | ParsedText | None = None,
        outline: CursorOutline | None = None,
    ) -> list[Snippet]:
        """Cross-file context for a completion at ``offset`` of ``text``, the document at ``path``
        (``document``: its parse, ``outline``: the cursor's outline, when the caller has them); see
        ``Retrieval.retrieve``."""
        return self._retrieval.retrieve(self.options, path, text, offset, budget_chars, document, outline)

    def file_text(self, path: str) -> str | None:
        """The whole text of an indexed file (its open document's, else the disk's); None when unreadable."""
        return self._store.sources.text(self._store.absolute(path)) or None
