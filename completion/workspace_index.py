"""The workspace index: definitions, imports and text chunks of every supported file below the workspace
roots, kept fresh by a file watcher, and cross-file retrieval for completion prompts.

Indexing runs on one background thread so completions work from the first second with whatever is indexed
so far; watcher events and open-document edits are debounced and jump ahead of the initial crawl. Open
documents always win over the disk. Retrieval is deterministic for a given file, cursor line and the text
outside that line, so the prompt prefix stays cacheable while the user types on one line.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from completion.workspace.chunks import ChunkStore, identifier_tokens
from completion.workspace.files import IgnoreRules, read_source
from completion.workspace.resolve import (
    PathTable,
    implicit_neighbours,
    resolve_module,
    rust_module_declarations,
)
from syntax.languages import spec_for

__all__ = [
    "IndexOptions",
    "IndexedDefinition",
    "IndexedImport",
    "Retriever",
    "Snippet",
    "WorkspaceIndex",
]

log = logging.getLogger(__name__)

SnippetKind = Literal["definition", "chunk", "recent"]
ProgressCallback = Callable[[int, int], None]


@dataclass
class IndexOptions:
    """Settings of the workspace index and of cross-file retrieval (``settings.index``)."""

    enabled: bool = field(
        default=True, metadata={"description": "Index the workspace so completions can see other files."}
    )
    max_files: int = field(
        default=20000,
        metadata={
            "description": "Most files indexed; the rest are ignored.",
            "minimum": 0,
            "maximum": 1_000_000,
        },
    )
    max_file_bytes: int = field(
        default=1_000_000,
        metadata={"description": "Files larger than this many bytes are not indexed.", "minimum": 1024},
    )
    exclude: list[str] = field(
        default_factory=list,
        metadata={
            "description": "Extra gitignore-style patterns (relative to a workspace folder) never indexed."
        },
    )
    use_gitignore: bool = field(
        default=True, metadata={"description": "Skip files that .gitignore files ignore."}
    )
    watch: bool = field(
        default=True,
        metadata={"description": "Watch the workspace folders for changes made outside the editor."},
    )
    retrieval: bool = field(
        default=True,
        metadata={"description": "Put definitions and similar code from other files into prompts."},
    )
    budget_chars: int = field(
        default=1500,
        metadata={
            "description": "Most characters of cross-file context per prompt.",
            "minimum": 0,
            "maximum": 20000,
        },
    )
    min_similarity: float = field(
        default=0.12,
        metadata={
            "description": "Least identifier overlap (Jaccard) for a similar chunk to be used.",
            "minimum": 0.0,
            "maximum": 1.0,
        },
    )
    chunk_lines: int = field(
        default=20, metadata={"description": "Lines per similarity chunk.", "minimum": 4, "maximum": 200}
    )
    max_chunks: int = field(
        default=400_000,
        metadata={
            "description": "Most similarity chunks kept in memory (bounds memory on huge trees).",
            "minimum": 0,
        },
    )


@dataclass(frozen=True)
class Snippet:
    """Cross-file context for a prompt.

    ``path`` is relative to its workspace folder (``/`` separators) as the prompt shows it; ``start_line`` is
    where ``text`` starts in that file.
    """

    path: str
    text: str
    kind: SnippetKind
    score: float
    start_line: int = 0


class Retriever(Protocol):
    """What the completion engine needs from the index."""

    def retrieve(
        self, path: str, text: str, offset: int, budget_chars: int | None = None
    ) -> list[Snippet]: ...

    def file_text(self, path: str) -> str | None:
        """The whole text of a snippet's file as retrieval sees it (for the privacy policy)."""
        ...


@dataclass(frozen=True, slots=True)
class IndexedDefinition:
    """A definition as the index keeps it (lines 0-based, ``end_line`` inclusive)."""

    name: str
    kind: str
    signature: str
    doc: str
    start_line: int
    end_line: int
    container: str | None


@dataclass(frozen=True, slots=True)
class IndexedImport:
    text: str
    modules: tuple[str, ...]
    names: tuple[str, ...]
    line: int


@dataclass(slots=True)
class _FileRecord:
    language: str
    mtime_ns: int
    size: int
    definitions: tuple[IndexedDefinition, ...]
    imports: tuple[IndexedImport, ...]


@dataclass(slots=True)
class _Candidate:
    path: str
    start_line: int
    end_line: int  # exclusive
    text: str
    kind: SnippetKind
    score: float


_DEBOUNCE_S = 0.15
_MAX_DELAY_S = 0.6
_OPEN_DOCUMENT_DEBOUNCE_S = 0.3
_OPEN_DOCUMENT_MAX_DELAY_S = 1.5  # re-parse a document being typed in at most this often
_BATCH = 8
_PROGRESS_INTERVAL_S = 0.25
_RECENT_FILES = 6
_MEMBER_ACCESS = re.compile(r"([A-Za-z_]\w*)\s*\.\s*\w*\Z")
_MAX_MEMBERS_SHOWN = 24  # after `module.`: this many of its definitions at most (the budget cuts further)
_QUERY_LINES_BEFORE = 15
_QUERY_LINES_AFTER = 5
_SHORT_BODY_LINES = 12
_MAX_DEFINITION_CHARS = 700
_MAX_LISTED_MEMBERS = 12
_CONTAINER_KINDS = frozenset({"class", "struct", "interface", "trait", "impl", "module", "type", "enum"})
_SNIPPET_OVERHEAD = 16  # separator tokens and the path line the engine adds per file


def _outline(text: str, language: str) -> tuple[tuple[IndexedDefinition, ...], tuple[IndexedImport, ...]]:
    """Definitions and imports of a file, or nothing when the outline is unavailable or fails on it."""
    try:
        from syntax import outline
        from syntax.document import SyntaxDocument

        document = SyntaxDocument(text, language)
        definitions = tuple(
            IndexedDefinition(
                d.name, d.kind, d.signature, d.doc, d.start_line, d.end_line, getattr(d, "container", None)
            )
            for d in outline.definitions(document)
        )
        imports = tuple(
            IndexedImport(i.text, tuple(i.modules), tuple(i.names), i.line) for i in outline.imports(document)
        )
        return definitions, imports
    except Exception:  # an outline bug must never stop indexing; the file still gets chunks
        log.debug("outline failed for a %s file", language, exc_info=True)
        return (), ()


def _context(text: str, language: str, offset: int) -> tuple[tuple[IndexedImport, ...], list[str]]:
    """Imports of ``text`` and the identifiers referenced near ``offset`` (empty on any failure)."""
    try:
        from syntax import outline
        from syntax.document import SyntaxDocument

        document = SyntaxDocument(text, language)
        imports = tuple(
            IndexedImport(i.text, tuple(i.modules), tuple(i.names), i.line) for i in outline.imports(document)
        )
        return imports, list(outline.references_near(document, offset, lines_before=30, lines_after=5))
    except Exception:
        log.debug("outline failed while retrieving", exc_info=True)
        return (), []


class WorkspaceIndex:
    """Index of the files below ``roots``; see the module docstring. All public methods are thread-safe."""

    def __init__(self, roots: Sequence[str], options: IndexOptions | None = None) -> None:
        self.options = options or IndexOptions()
        self._roots: list[str] = list(dict.fromkeys(os.path.abspath(root) for root in roots))
        self._rules: dict[str, IgnoreRules] = {}
        self._lock = threading.RLock()
        self._files: dict[str, _FileRecord] = {}
        self._table = PathTable()
        self._package_listings: dict[str, tuple[int, frozenset[str]]] = {}  # directory -> (generation, names)
        self._chunks = ChunkStore(
            self.options.chunk_lines, max(1, self.options.chunk_lines // 2), self.options.max_chunks
        )
        self._definers: dict[str, set[str]] = {}
        self._open: dict[str, str] = {}
        self._recent: OrderedDict[str, tuple[int, int, float]] = OrderedDict()
        self._source_cache: OrderedDict[str, list[str]] = OrderedDict()
        self._retrieval_cache: OrderedDict[tuple[Any, ...], tuple[int, list[Snippet]]] = OrderedDict()
        self._change_log: deque[tuple[int, str]] = deque(maxlen=512)
        self.generation = 0
        self._updated = threading.Condition()
        # work queue (guarded by _queue)
        self._queue = threading.Condition(threading.Lock())
        self._pending: dict[str, tuple[str, float, float]] = {}  # path -> (action, first, due)
        self._crawl_roots: deque[str] = deque()
        self._backlog: deque[str] = deque()
        self._progress: ProgressCallback | None = None
        self._crawl_done = 0
        self._crawl_total = 0
        self._last_progress = 0.0
        self._busy = False
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._observer: Any = None
        self._watches: dict[str, Any] = {}

    # --- lifecycle ----------------------------------------------------------------------------------------

    @property
    def roots(self) -> list[str]:
        with self._lock:
            return list(self._roots)

    def start(self, progress: ProgressCallback | None = None) -> None:
        """Crawl the roots in the background and watch them; ``progress(done, total)`` runs on the worker."""
        if self._worker is not None or not self.options.enabled:
            return
        self._progress = progress
        with self._queue:
            self._crawl_roots.extend(self._roots)
        self._worker = threading.Thread(target=self._run, name="infill-index", daemon=True)
        self._worker.start()
        if self.options.watch:
            self._start_observer()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the watcher and the worker and wait for their threads to end."""
        with self._queue:
            self._stopping = True
            self._queue.notify_all()
        observer, self._observer = self._observer, None
        if observer is not None:
            try:
                observer.stop()
                observer.join(timeout)
            except Exception:
                log.warning("file watcher did not stop cleanly", exc_info=True)
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the crawl and every queued change are indexed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._queue:
            while self._busy or self._pending or self._backlog or self._crawl_roots:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping or self._worker is None:
                    return False
                self._queue.wait(remaining)
        return True

    @staticmethod
    def live_threads() -> list[str]:
        """Names of the indexer and file-watcher threads alive in this process (none after every stop())."""
        return sorted(
            thread.name
            for thread in threading.enumerate()
            if thread.name.startswith("infill-index") or type(thread).__module__.startswith("watchdog")
        )

    @property
    def idle(self) -> bool:
        """True when the crawl is over and no change waits to be indexed."""
        with self._queue:
            return not (self._busy or self._pending or self._backlog or self._crawl_roots)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds, re-checking after every index update; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            generation = self.generation
            if predicate():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._updated:
                if self.generation == generation:
                    self._updated.wait(remaining)

    def add_root(self, root: str) -> None:
        root = os.path.abspath(root)
        with self._lock:
            if root in self._roots:
                return
            self._roots.append(root)
        with self._queue:
            if self._worker is not None:
                self._crawl_roots.append(root)
                self._queue.notify_all()
        if self._observer is not None:
            self._watch(root)

    def remove_root(self, root: str) -> None:
        root = os.path.abspath(root)
        with self._lock:
            if root not in self._roots:
                return
            self._roots.remove(root)
            self._rules.pop(root, None)
            doomed = [p for p in self._files if _is_below(p, root) and self._root_of(p) is None]
        watch = self._watches.pop(root, None)
        if watch is not None and self._observer is not None:
            try:
                self._observer.unschedule(watch)
            except Exception:
                log.debug("unschedule failed", exc_info=True)
        for path in doomed:
            self._remove(path)

    # --- change notifications -----------------------------------------------------------------------------

    def file_changed(self, path: str) -> None:
        """A file was created or modified on disk (from the watcher or the client's file watcher)."""
        path = os.path.abspath(path)
        if os.path.basename(path) == ".gitignore":
            self._gitignore_changed(path)
            return
        if spec_for(path=path) is None:
            return
        self._schedule(path, "change", _DEBOUNCE_S)

    def file_deleted(self, path: str) -> None:
        path = os.path.abspath(path)
        with self._lock:
            below = [p for p in self._files if _is_below(p, path)]
        for indexed in below:  # a deleted directory
            self._schedule(indexed, "delete", _DEBOUNCE_S)
        if spec_for(path=path) is not None:
            self._schedule(path, "delete", _DEBOUNCE_S)

    def file_moved(self, source: str, destination: str) -> None:
        source, destination = os.path.abspath(source), os.path.abspath(destination)
        self.file_deleted(source)
        if os.path.isdir(destination):
            self.add_directory(destination)
        else:
            self.file_changed(destination)

    def add_directory(self, path: str) -> None:
        """A directory appeared (created or moved in): index what it holds."""
        path = os.path.abspath(path)
        with self._queue:
            if self._worker is not None:
                self._crawl_roots.append(path)
                self._queue.notify_all()

    def set_open_document(self, path: str, text: str, edited_lines: tuple[int, int] | None = None) -> None:
        """The editor's text of ``path``: it replaces the disk version until closed. ``edited_lines``: the
        lines the change touched, when the editor said (else they are found by comparing the texts)."""
        path = os.path.abspath(path)
        with self._lock:
            previous = self._open.get(path)
            self._open[path] = text
            self._source_cache.pop(path, None)
            if edited_lines is not None:
                self._note_edited_lines(path, *edited_lines)
            elif previous is not None and previous != text:
                self._note_edit(path, previous, text)
        if previous != text and spec_for(path=path) is not None:
            self._schedule(path, "change", _OPEN_DOCUMENT_DEBOUNCE_S, _OPEN_DOCUMENT_MAX_DELAY_S)

    def close_open_document(self, path: str) -> None:
        """The editor closed ``path``: index the disk version again."""
        path = os.path.abspath(path)
        with self._lock:
            if self._open.pop(path, None) is None:
                return
            self._source_cache.pop(path, None)
        self._schedule(path, "change", 0.0)

    # --- queries ------------------------------------------------------------------------------------------

    def indexed_paths(self) -> list[str]:
        with self._lock:
            return sorted(self._files)

    def definitions(self, path: str) -> tuple[IndexedDefinition, ...]:
        with self._lock:
            record = self._files.get(os.path.abspath(path))
            return record.definitions if record else ()

    def imports(self, path: str) -> tuple[IndexedImport, ...]:
        with self._lock:
            record = self._files.get(os.path.abspath(path))
            return record.imports if record else ()

    def find_definitions(self, name: str) -> list[tuple[str, IndexedDefinition]]:
        """Every indexed definition called ``name`` with its file, in path order."""
        with self._lock:
            return [
                (path, definition)
                for path in sorted(self._definers.get(name, ()))
                for definition in self._files[path].definitions
                if definition.name == name
            ]

    def defines(self, name: str) -> bool:
        """Some indexed file defines ``name`` at its top level (for the unknown-name audit: a method of that
        name does not make a bare call to it right)."""
        with self._lock:
            paths = list(self._definers.get(name, ()))
            return any(
                definition.name == name and definition.container is None
                for path in paths
                for definition in self._files[path].definitions
            )

    def module_members(self, module: str, importer: str | None = None) -> frozenset[str] | None:
        """The names a workspace Python module binds (``pkg.mod``; ``.mod`` relative to ``importer``), or
        None when the module is not a file of the workspace (or its names cannot be told). The module is
        found as retrieval finds imports (``resolve_module``)."""
        from syntax.unknown_names import module_names

        roots = self.roots
        if importer is None and not roots:
            return None
        current = self._absolute(importer) if importer else os.path.join(roots[0], "__untitled__.py")
        with self._lock:
            found = resolve_module("python", module, (), "", current, self._table, roots)
        if not found:
            return None
        path = found[0]
        is_package = os.path.basename(path).startswith("__init__.")
        parts = [part for part in module.lstrip(".").split(".") if part]
        package = ".".join(parts if is_package else parts[:-1]) or None
        lines = self._source(path)
        names = module_names("\n".join(lines), "python", package) if lines != [""] else frozenset()
        if names is None or not is_package:
            return names
        return names | self._package_modules(os.path.dirname(path))  # `from package import module`

    def _package_modules(self, directory: str) -> frozenset[str]:
        """The modules and subpackages in a package's directory, listed once per index generation (the
        audit asks for each candidate)."""
        with self._lock:
            known = self._package_listings.get(directory)
            if known is not None and known[0] == self.generation:
                return known[1]
            generation = self.generation
        names = _package_modules(directory)
        with self._lock:
            self._package_listings[directory] = (generation, names)
        return names

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "files": len(self._files),
                "chunks": self._chunks.live_chunks,
                "definitions": sum(len(r.definitions) for r in self._files.values()),
                "open_documents": len(self._open),
            }

    # --- worker -------------------------------------------------------------------------------------------

    def _schedule(self, path: str, action: str, delay: float, max_delay: float = _MAX_DELAY_S) -> None:
        """Queue ``action`` for ``path`` ``delay`` seconds after its last event, at most ``max_delay`` after
        its first (a burst of events becomes one update)."""
        if not self.options.enabled:
            return
        now = time.monotonic()
        with self._queue:
            previous = self._pending.get(path)
            first = previous[1] if previous else now
            self._pending[path] = (action, first, min(first + max_delay, now + delay))
            self._queue.notify_all()
        if self._worker is None:  # not started (tests, or indexing disabled): apply synchronously
            self._drain_pending(force=True)

    def _run(self) -> None:
        try:
            while True:
                with self._queue:
                    while True:
                        if self._stopping:
                            return
                        now = time.monotonic()
                        due = any(entry[2] <= now for entry in self._pending.values())
                        if due or self._backlog or self._crawl_roots:
                            self._busy = True
                            break
                        self._busy = False
                        self._queue.notify_all()
                        wake = min((entry[2] for entry in self._pending.values()), default=None)
                        self._queue.wait(None if wake is None else max(0.0, wake - now))
                    root = self._crawl_roots.popleft() if (not due and self._crawl_roots) else None
                if due:
                    self._drain_pending(force=False)
                elif root is not None:
                    self._crawl(root)
                else:
                    self._index_batch()
        except Exception:
            log.exception("workspace indexer stopped")
        finally:
            with self._queue:
                self._busy = False
                self._pending.clear()
                self._backlog.clear()
                self._crawl_roots.clear()
                self._queue.notify_all()

    def _drain_pending(self, force: bool) -> None:
        now = time.monotonic()
        with self._queue:
            ready = sorted(p for p, entry in self._pending.items() if force or entry[2] <= now)
            actions = [(path, self._pending.pop(path)[0]) for path in ready]
        for path, action in actions:
            if action == "delete" and path not in self._open and not os.path.exists(path):
                self._remove(path)
            else:
                self._index_safely(path)

    def _crawl(self, directory: str) -> None:
        with self._lock:
            root = self._root_of(directory)
            budget = self.options.max_files - len(self._files)
            known = {p: (r.mtime_ns, r.size) for p, r in self._files.items()}
        if root is None:
            return
        rules = self._rules_for(root)
        found: list[str] = []
        for path, size, mtime_ns in rules.walk(self.options.max_file_bytes, start=directory):
            if self._stopping or len(found) >= budget:
                break
            if known.get(path) != (mtime_ns, size):
                found.append(path)
        with self._queue:
            self._backlog.extend(found)
            self._crawl_total += len(found)
            walked_all = not self._crawl_roots
        if walked_all:
            self._report_progress(force=True)

    def _index_batch(self) -> None:
        with self._queue:
            batch = [self._backlog.popleft() for _ in range(min(_BATCH, len(self._backlog)))]
        for path in batch:
            with self._lock:
                full = path not in self._files and len(self._files) >= self.options.max_files
            if not full:
                self._index_safely(path)
        with self._queue:
            self._crawl_done += len(batch)
        self._report_progress(force=not self._backlog)

    def _index_safely(self, path: str) -> None:
        """Index one file; a failure loses that file, never the indexer thread."""
        try:
            self._index(path)
        except Exception:
            log.exception("could not index %s", path)

    def _report_progress(self, force: bool) -> None:
        now = time.monotonic()
        if self._progress is None or not (force or now - self._last_progress >= _PROGRESS_INTERVAL_S):
            return
        self._last_progress = now
        try:
            self._progress(self._crawl_done, self._crawl_total)
        except Exception:
            log.debug("progress callback failed", exc_info=True)

    def _rules_for(self, root: str) -> IgnoreRules:
        with self._lock:
            rules = self._rules.get(root)
            if rules is None:
                rules = IgnoreRules(root, self.options.exclude, self.options.use_gitignore)
                self._rules[root] = rules
            return rules

    def _root_of(self, path: str) -> str | None:
        """The innermost root containing ``path``."""
        below = [root for root in self._roots if _is_below(path, root)]
        return max(below, key=len) if below else None

    def _indexable(self, path: str) -> bool:
        with self._lock:
            root = self._root_of(path)
        if root is None or spec_for(path=path) is None:
            return False
        return not self._rules_for(root).ignored(path, is_dir=False)

    def _gitignore_changed(self, path: str) -> None:
        with self._lock:
            rules = list(self._rules.values())
        for rule in rules:
            rule.forget(os.path.dirname(path))
        with self._lock:
            stale = [p for p in self._files if _is_below(p, os.path.dirname(path))]
        for indexed in stale:  # newly ignored files leave the index
            if not self._indexable(indexed):
                self._schedule(indexed, "delete", _DEBOUNCE_S)

    def _index(self, path: str) -> None:
        """(Re)index one file from its open text or the disk; remove it when it is gone or not indexable."""
        with self._lock:
            text = self._open.get(path)
        spec = spec_for(path=path)
        if spec is None:
            return
        mtime_ns = size = 0
        if text is None:
            if not self._indexable(path):
                self._remove(path)
                return
            try:
                stat = os.stat(path)
                mtime_ns, size = stat.st_mtime_ns, stat.st_size
            except OSError:
                self._remove(path)
                return
            text = read_source(path, self.options.max_file_bytes)
            if text is None:
                self._remove(path)
                return
        if len(text) > self.options.max_file_bytes:  # an open document as large as that is not indexed either
            self._remove(path)
            return
        definitions, imports = _outline(text, spec.name)
        with self._lock:
            if path not in self._files and len(self._files) >= self.options.max_files:
                return
            opened = self._open.get(path)
            if opened is not None and opened != text:
                return  # opened or edited meanwhile: the open text wins (its change is queued)
            old = self._files.get(path)
            if old is not None:
                self._forget_names(path, old)
            self._files[path] = _FileRecord(spec.name, mtime_ns, size, definitions, imports)
            for definition in definitions:
                self._definers.setdefault(definition.name, set()).add(path)
            self._table.add(path)
            self._chunks.add_file(path, text)
            self._source_cache.pop(path, None)
            self._changed(path)

    def _remove(self, path: str) -> None:
        with self._lock:
            record = self._files.pop(path, None)
            if record is None:
                return
            self._forget_names(path, record)
            self._table.discard(path)
            self._chunks.remove_file(path)
            self._source_cache.pop(path, None)
            self._recent.pop(path, None)
            self._changed(path)

    def _forget_names(self, path: str, record: _FileRecord) -> None:
        for definition in record.definitions:
            definers = self._definers.get(definition.name)
            if definers is not None:
                definers.discard(path)
                if not definers:
                    del self._definers[definition.name]

    def _changed(self, path: str) -> None:
        self.generation += 1
        self._change_log.append((self.generation, path))
        with self._updated:  # never held while taking _lock (see wait_for), so no lock-order cycle
            self._updated.notify_all()

    def _note_edit(self, path: str, before: str, after: str) -> None:
        """Remember which lines of ``path`` were just edited (common prefix/suffix of the two texts)."""
        start = _common_prefix(before, after)
        end = _common_prefix(before[start:][::-1], after[start:][::-1])
        self._note_edited_lines(path, after.count("\n", 0, start), after.count("\n", 0, len(after) - end))

    def _note_edited_lines(self, path: str, first: int, last: int) -> None:
        self._recent[path] = (first, last, time.monotonic())
        self._recent.move_to_end(path)
        while len(self._recent) > _RECENT_FILES:
            self._recent.popitem(last=False)

    def _start_observer(self) -> None:
        try:
            from watchdog.observers import Observer
        except ImportError:
            log.warning("watchdog is not installed: the index will not see changes made outside the editor")
            return
        self._observer = Observer()
        self._observer.name = "infill-index-watch"
        self._observer.daemon = True
        for root in self.roots:
            self._watch(root)
        try:
            self._observer.start()
        except Exception:
            log.warning("cannot watch the workspace (too many files for inotify?)", exc_info=True)
            self._observer = None

    def _watch(self, root: str) -> None:
        from completion.workspace.watch import IndexEventHandler

        if not os.path.isdir(root) or self._observer is None:
            return
        try:
            self._watches[root] = self._observer.schedule(IndexEventHandler(self), root, recursive=True)
        except Exception:
            log.warning("cannot watch %s", root, exc_info=True)

    # --- retrieval ----------------------------------------------------------------------------------------

    def retrieve(self, path: str, text: str, offset: int, budget_chars: int | None = None) -> list[Snippet]:
        """Cross-file context for a completion at ``offset`` of ``text`` (the document at ``path``).

        Returns snippets in prompt order: grouped by file, files ordered from the weakest to the strongest
        best snippet (the strongest ends up nearest the current file), lines in file order within a group.
        Empty when retrieval is off or nothing scores well enough.
        """
        budget = self.options.budget_chars if budget_chars is None else budget_chars
        if not (self.options.enabled and self.options.retrieval) or budget <= 0:
            return []
        path = self._absolute(path)
        offset = max(0, min(offset, len(text)))
        line_start = text.rfind("\n", 0, offset) + 1
        line_end = text.find("\n", offset)
        # The cursor line is left out of everything, so typing on it never changes the result.
        context = text[:line_start] + ("" if line_end < 0 else text[line_end + 1 :])
        line = text.count("\n", 0, line_start)
        receiver = _member_access(text[line_start:offset])  # `billing.` on the cursor line
        key = (path, line, hash(context), budget, receiver)
        with self._lock:
            cached = self._retrieval_cache.get(key)
            if cached is not None and self._still_valid(cached[0], path):
                self._retrieval_cache.move_to_end(key)
                return list(cached[1])
            generation = self.generation
        try:
            snippets = self._retrieve(path, context, line_start, line, budget, receiver)
        except Exception:  # retrieval is an optional extra: never fail the completion
            log.exception("retrieval failed")
            return []
        with self._lock:
            self._retrieval_cache[key] = (generation, snippets)
            while len(self._retrieval_cache) > 64:
                self._retrieval_cache.popitem(last=False)
        return list(snippets)

    def file_text(self, path: str) -> str | None:
        """The whole text of an indexed file (its open document's, else the disk's); None when unreadable."""
        lines = self._source(self._absolute(path))
        return "\n".join(lines) if lines != [""] else None

    def _absolute(self, path: str) -> str:
        """``path`` made absolute; a relative one is taken as relative to the root that holds it."""
        if os.path.isabs(path):
            return os.path.normpath(path)
        with self._lock:
            candidates = [os.path.normpath(os.path.join(root, path)) for root in self._roots]
            for candidate in candidates:
                if candidate in self._files or candidate in self._open:
                    return candidate
        return candidates[0] if candidates else os.path.abspath(path)

    def _still_valid(self, generation: int, path: str) -> bool:
        """True when no file other than ``path`` changed since ``generation``."""
        if generation == self.generation:
            return True
        if not self._change_log or self._change_log[0][0] > generation + 1:
            return False
        return all(changed == path for stamp, changed in self._change_log if stamp > generation)

    def _retrieve(
        self, path: str, context: str, cursor: int, line: int, budget: int, receiver: str | None = None
    ) -> list[Snippet]:
        spec = spec_for(path=path)
        lines = context.split("\n")
        window = "\n".join(lines[max(0, line - _QUERY_LINES_BEFORE) : line + _QUERY_LINES_AFTER])
        query = identifier_tokens(window)
        candidates: list[_Candidate] = []
        if spec is not None:
            imports, references = _context(context, spec.name, cursor)
            if spec.name == "rust":
                declared = rust_module_declarations(context)
                imports += tuple(IndexedImport(f"mod {name};", (name,), (), -1) for name in declared)
            candidates.extend(self._definition_candidates(path, spec.name, imports, references, window))
            if receiver is not None:
                candidates.extend(self._member_candidates(path, spec.name, imports, receiver))
        with self._lock:
            hits = self._chunks.search(query, limit=8, exclude_path=path)
            recent = [(p, edit) for p, edit in reversed(self._recent.items()) if p != path]
        for hit in hits:
            if hit.jaccard >= self.options.min_similarity:
                body = self._lines(hit.path, hit.start_line, hit.end_line)
                if body.strip():
                    candidates.append(
                        _Candidate(hit.path, hit.start_line, hit.end_line, body, "chunk", hit.jaccard)
                    )
        for rank, (edited, (first, last, _stamp)) in enumerate(recent[:3]):
            start, end = max(0, first - 3), min(last + 4, first + 12)
            body = self._lines(edited, start, end)
            tokens = identifier_tokens(body)
            similarity = len(tokens & query) / max(1, len(tokens | query))
            if body.strip() and similarity >= self.options.min_similarity / 2:
                candidates.append(
                    _Candidate(edited, start, end, body, "recent", similarity + 0.05 / (rank + 1))
                )
        return self._select(candidates, budget)

    def _definition_candidates(
        self,
        path: str,
        language: str,
        imports: Iterable[IndexedImport],
        references: Sequence[str],
        window: str,
    ) -> list[_Candidate]:
        referenced = set(references)
        with self._lock:
            roots = list(self._roots)
            files: dict[str, set[str]] = {}  # resolved file -> names imported from it explicitly
            for statement in imports:
                for module in statement.modules:
                    for resolved in resolve_module(
                        language, module, statement.names, statement.text, path, self._table, roots
                    ):
                        if resolved != path:
                            files.setdefault(resolved, set()).update(statement.names)
            for neighbour in implicit_neighbours(language, path, self._table):
                files.setdefault(neighbour, set())
            own = {d.name for d in self._files[path].definitions} if path in self._files else set()
            imported = set().union(*files.values())
            # Names defined here, and dunders like __init__, would match half the workspace.
            wanted = {
                name for name in referenced - own if not (name.startswith("__") and name.endswith("__"))
            }
            chosen: list[tuple[str, IndexedDefinition, float]] = []
            covered: set[str] = set()
            for resolved in sorted(files):
                record = self._files.get(resolved)
                if record is None:
                    continue
                modules = {d.name for d in record.definitions if d.kind == "module"}  # Lua tables, namespaces
                for definition in record.definitions:
                    name, container = definition.name, definition.container
                    if container is not None and not (
                        container in referenced or container in imported or container in modules
                    ):
                        continue  # a method of a type this code does not mention
                    if name in wanted:
                        chosen.append((resolved, definition, 1.0 + _proximity(name, window)))
                        covered.add(name)
                    elif name in files[resolved] and container is None:
                        chosen.append((resolved, definition, 0.6))
                        covered.add(name)
            for name in sorted(wanted - covered):  # unresolved imports: unambiguous names only
                definers = self._definers.get(name, set()) - {path}
                if len(name) >= 4 and 0 < len(definers) <= 2:
                    for definer in sorted(definers):
                        for definition in self._files[definer].definitions:
                            if definition.name == name and (
                                definition.container is None or definition.container in referenced
                            ):
                                chosen.append((definer, definition, 0.5 + _proximity(name, window) / 2))
        candidates = []
        for definer, definition, score in chosen:
            body = self._definition_text(definer, definition)
            if body:
                candidates.append(
                    _Candidate(
                        definer, definition.start_line, definition.end_line + 1, body, "definition", score
                    )
                )
        return candidates

    def _member_candidates(
        self, path: str, language: str, imports: Iterable[IndexedImport], receiver: str
    ) -> list[_Candidate]:
        """After ``receiver.`` where ``receiver`` is an imported workspace module: its public top-level
        definitions (signature and first docstring line), in file order, above every other snippet: what
        can follow the dot is exactly these names."""
        with self._lock:
            roots = list(self._roots)
            files: list[str] = []
            for statement in imports:
                for module in statement.modules:
                    bound = _binds(statement, module, receiver)
                    if bound is None:
                        continue
                    for resolved in resolve_module(
                        language, module, bound, statement.text, path, self._table, roots
                    ):
                        if resolved != path and resolved not in files:
                            files.append(resolved)
            chosen = [
                (resolved, definition)
                for resolved in files
                if (record := self._files.get(resolved)) is not None
                for definition in record.definitions
                if definition.container is None and not definition.name.startswith("_")
            ][:_MAX_MEMBERS_SHOWN]
        candidates = []
        for rank, (definer, definition) in enumerate(chosen):
            body = definition.signature
            if definition.doc:
                body += "\n" + "    " + _doc_line(definer, definition.doc)
            candidates.append(
                _Candidate(
                    definer,
                    definition.start_line,
                    definition.start_line + 1,
                    body,
                    "definition",
                    2.0 - rank / 1000,
                )
            )
        return candidates

    def _definition_text(self, path: str, definition: IndexedDefinition) -> str:
        """A short function whole; a long one as signature and docstring; a class as its skeleton."""
        with self._lock:
            record = self._files.get(path)
            siblings = record.definitions if record is not None else ()
        members = (
            [d for d in siblings if d.container == definition.name and d is not definition]
            if definition.kind in _CONTAINER_KINDS
            else []
        )
        inside = [m for m in members if definition.start_line <= m.start_line <= definition.end_line]
        # Go methods, Lua `function M.f`, C++ out-of-line members: declared elsewhere in the file; list their
        # signatures unless another block of the same name (a Rust impl) already shows them.
        elsewhere = [
            m.signature
            for m in members
            if m not in inside
            and not any(
                other.name == definition.name and other.start_line <= m.start_line <= other.end_line
                for other in siblings
            )
        ][:_MAX_LISTED_MEMBERS]
        source = self._source(path)
        lines = source[definition.start_line : definition.end_line + 1]
        if not lines:
            return definition.signature
        signature_lines = _signature_end(lines, definition.signature)
        if members:
            kept = [*_skeleton(lines, definition.start_line, inside), *elsewhere]
        elif len(lines) <= _SHORT_BODY_LINES:
            kept = lines
        else:
            kept = lines[:signature_lines]
            indent = (
                _indent_of(lines[signature_lines] if len(lines) > signature_lines else lines[0]) or "    "
            )
            if definition.doc:
                kept = [*kept, f"{indent}{_doc_line(path, definition.doc)}"]
            kept.append(f"{indent}...")
            if _is_closer(lines[-1]):
                kept.append(lines[-1])
        text = "\n".join(kept)
        if len(text) > _MAX_DEFINITION_CHARS:
            text = (
                text[: text.rfind("\n", 0, _MAX_DEFINITION_CHARS)]
                if "\n" in text
                else text[:_MAX_DEFINITION_CHARS]
            )
        return _dedent(text)

    def _source(self, path: str) -> list[str]:
        with self._lock:
            cached = self._source_cache.get(path)
            if cached is not None:
                self._source_cache.move_to_end(path)
                return cached
            text = self._open.get(path)
        if text is None:
            text = read_source(path, self.options.max_file_bytes) or ""
        lines = text.split("\n")
        with self._lock:
            self._source_cache[path] = lines
            while len(self._source_cache) > 64:
                self._source_cache.popitem(last=False)
        return lines

    def _lines(self, path: str, start: int, end: int) -> str:
        return "\n".join(self._source(path)[start:end]).rstrip()

    def _select(self, candidates: list[_Candidate], budget: int) -> list[Snippet]:
        """Best first within the budget, no overlaps, then arranged in prompt order."""
        candidates.sort(key=lambda c: (-c.score, c.path, c.start_line, c.kind))
        chosen: list[_Candidate] = []
        seen_texts: set[str] = set()
        remaining = budget
        for candidate in candidates:
            if candidate.text in seen_texts or any(
                c.path == candidate.path
                and c.start_line < candidate.end_line
                and candidate.start_line < c.end_line
                for c in chosen
            ):
                continue
            cost = len(candidate.text) + len(self._display_path(candidate.path)) + _SNIPPET_OVERHEAD
            if cost > remaining:
                room = remaining - (cost - len(candidate.text))
                cut = candidate.text.rfind("\n", 0, max(0, room))
                if candidate.kind == "recent" or cut < 0 or candidate.text.count("\n", 0, cut) < 2:
                    continue
                candidate.text = candidate.text[:cut]
                cost = len(candidate.text) + len(self._display_path(candidate.path)) + _SNIPPET_OVERHEAD
            seen_texts.add(candidate.text)
            chosen.append(candidate)
            remaining -= cost
        best_of_file: dict[str, float] = {}
        for candidate in chosen:
            best_of_file[candidate.path] = max(best_of_file.get(candidate.path, 0.0), candidate.score)
        chosen.sort(key=lambda c: (best_of_file[c.path], c.path, c.start_line))
        return [
            Snippet(self._display_path(c.path), c.text, c.kind, round(c.score, 4), c.start_line)
            for c in chosen
        ]

    def _display_path(self, path: str) -> str:
        with self._lock:
            root = self._root_of(path)
        shown = os.path.relpath(path, root) if root else path
        return shown.replace(os.sep, "/")


def _common_prefix(first: str, second: str) -> int:
    """Length of the common prefix, by bisection over slice comparisons (C speed on big documents)."""
    low, high = 0, min(len(first), len(second))
    while low < high:
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _package_modules(directory: str) -> frozenset[str]:
    """The modules and subpackages in a package's directory (``from package import module``)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return frozenset()
    names = set()
    for entry in entries:
        stem = entry.name.split(".", 1)[0]
        if not stem.isidentifier():
            continue
        if entry.is_dir(follow_symlinks=False) or entry.name.endswith((".py", ".pyi", ".so", ".pyd")):
            names.add(stem)
    return frozenset(names)


def _is_below(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _proximity(name: str, window: str) -> float:
    """0..0.5: higher when ``name`` occurs in the last lines of the query window (nearest the cursor)."""
    occurrences = list(re.finditer(rf"\b{re.escape(name)}\b", window))
    if not occurrences:
        return 0.0
    lines_after = window.count("\n", occurrences[-1].start())
    return 0.5 / (1 + lines_after / 5)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _is_closer(line: str) -> bool:
    return line.strip() in ("}", "};", "end", "})", "});")


_DOC_COMMENT = {"python": '"""{}"""', "lua": "-- {}"}


def _member_access(before_cursor: str) -> str | None:
    """The name before the dot the cursor follows (``billing.`` or ``billing.cha``), or None."""
    match = _MEMBER_ACCESS.search(before_cursor)
    return match.group(1) if match else None


def _binds(statement: IndexedImport, module: str, receiver: str) -> tuple[str, ...] | None:
    """The names to resolve ``module`` with when ``statement`` binds ``receiver`` to it, else None:
    ``import billing``, ``import pkg.billing as billing``, ``from pkg import billing``, a Go or JS path whose
    last part (or alias) is the name."""
    if receiver in statement.names:
        return (receiver,)  # from pkg import billing: the name may be a module of the package
    if re.search(rf"\bas\s+{re.escape(receiver)}\b", statement.text):
        return statement.names
    last = re.split(r"[./\\]", module.strip("\"'"))[-1]
    return statement.names if last == receiver else None


def _doc_line(path: str, doc: str) -> str:
    spec = spec_for(path=path)
    language = spec.name if spec else ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return _DOC_COMMENT.get(language, "// {}").format(first)


def _skeleton(lines: list[str], first_line: int, members: list[IndexedDefinition]) -> list[str]:
    """A class with its members' bodies elided: fields and member signatures stay."""
    starts = {member.start_line - first_line: member for member in members}
    kept: list[str] = []
    index = 0
    while index < len(lines):
        member = starts.get(index)
        if member is None:
            kept.append(lines[index])
            index += 1
            continue
        span = lines[index : member.end_line - first_line + 1]
        head = _signature_end(span, member.signature)
        kept.extend(span[:head])
        if head < len(span):
            kept.append(f"{_indent_of(span[head]) or _indent_of(span[0]) + '    '}...")
            if _is_closer(span[-1]):
                kept.append(span[-1])
        index += max(1, len(span))
    return kept


def _signature_end(lines: list[str], signature: str) -> int:
    """How many of a definition's lines (decorators and attributes included) its signature reaches."""
    first = signature.split("\n", 1)[0].strip()[:24]
    start = next((i for i, line in enumerate(lines) if first and line.strip().startswith(first)), 0)
    return min(len(lines), start + signature.count("\n") + 1)


def _dedent(text: str) -> str:
    lines = text.split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines) if cut else text
