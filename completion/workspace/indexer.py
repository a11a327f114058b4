"""The indexer: one background thread that keeps the store fresh, so completions work from the first second
with whatever is indexed so far.

It crawls the roots, and applies changes (from the file watcher, the client's file events and open documents)
once they have been quiet for a moment; changes jump ahead of the crawl. Telling it of a change only touches
its queue, never the store's lock, so the server may do that from the event loop. The file watcher is
started on this thread too: watching a large tree walks all of it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from completion.workspace.files import IgnoreRules, is_below, read_source
from completion.workspace.options import IndexOptions
from completion.workspace.store import FileRecord, IndexStore, outline_of
from syntax.languages import spec_for

__all__ = ["THREAD_PREFIX", "Indexer", "ProgressCallback"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
_Action = Literal["change", "delete", "gitignore"]

_DEBOUNCE_S = 0.15
_MAX_DELAY_S = 0.6
_BATCH = 8
_PROGRESS_INTERVAL_S = 0.25
THREAD_PREFIX = "infill-index"


class Indexer:
    """The worker and its queue. ``index_file(path)`` (re)indexes one file; it is a parameter so that the
    index can route it through itself."""

    def __init__(self, store: IndexStore, options: IndexOptions, index_file: Callable[[str], None]) -> None:
        self._store = store
        self._sources = store.sources
        self._options = options
        self._index_file = index_file
        self._rules: dict[str, IgnoreRules] = {}
        self._queue = threading.Condition(threading.Lock())  # guards everything below
        self._pending: dict[str, tuple[_Action, float, float]] = {}  # path -> (action, first, due)
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

    def start(self, progress: ProgressCallback | None) -> None:
        if self._worker is not None or not self._options.enabled:
            return
        self._progress = progress
        with self._queue:
            self._crawl_roots.extend(self._store.roots)
        self._worker = threading.Thread(target=self._run, name=THREAD_PREFIX, daemon=True)
        self._worker.start()

    def stop(self, timeout: float) -> None:
        with self._queue:
            self._stopping = True
            self._queue.notify_all()
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None
        with self._queue:
            observer, self._observer = self._observer, None
        if observer is not None:
            _stop_observer(observer, timeout)

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._queue:
            while self._has_work():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping or self._worker is None:
                    return False
                self._queue.wait(remaining)
        return True

    @property
    def idle(self) -> bool:
        with self._queue:
            return not self._has_work()

    def _has_work(self) -> bool:
        return bool(self._busy or self._pending or self._backlog or self._crawl_roots)

    # --- roots and changes (cheap: they only touch the queue) ---------------------------------------------

    def add_root(self, root: str) -> None:
        """Crawl and watch a new root (the store has it already)."""
        self.add_directory(root)
        if self._observer is not None:
            self._watch(root)

    def forget_root(self, root: str) -> None:
        """Stop watching a root that was removed and drop its ignore rules."""
        with self._queue:
            self._rules.pop(root, None)
            watch = self._watches.pop(root, None)
            observer = self._observer
        if watch is not None and observer is not None:
            try:
                observer.unschedule(watch)
            except Exception:
                log.debug("unschedule failed", exc_info=True)

    def add_directory(self, path: str) -> None:
        """A directory appeared (created or moved in): index what it holds."""
        with self._queue:
            if self._worker is not None:
                self._crawl_roots.append(os.path.abspath(path))
                self._queue.notify_all()

    def file_changed(self, path: str) -> None:
        """A file was created or modified on disk (from the watcher or the client's file watcher)."""
        path = os.path.abspath(path)
        if os.path.basename(path) == ".gitignore":
            self.schedule(path, "gitignore")
        elif spec_for(path=path) is not None:
            self.schedule(path, "change")

    def file_deleted(self, path: str) -> None:
        """A file or a directory was deleted."""
        self.schedule(os.path.abspath(path), "delete")

    def file_moved(self, source: str, destination: str) -> None:
        self.file_deleted(source)
        if os.path.isdir(destination):
            self.add_directory(destination)
        else:
            self.file_changed(destination)

    def schedule(
        self, path: str, action: _Action, delay: float = _DEBOUNCE_S, max_delay: float = _MAX_DELAY_S
    ) -> None:
        """Queue ``action`` for ``path`` ``delay`` seconds after its last event, at most ``max_delay`` after
        its first (a burst of events becomes one update)."""
        if not self._options.enabled:
            return
        now = time.monotonic()
        with self._queue:
            if self._stopping:
                return
            previous = self._pending.get(path)
            first = previous[1] if previous else now
            self._pending[path] = (action, first, min(first + max_delay, now + delay))
            self._queue.notify_all()  # before start() (documents already open) the worker finds it when it starts

    def index_file(self, path: str) -> None:
        """(Re)index one file from its open text or the disk; remove it when it is gone or not indexable."""
        text = self._sources.open_text(path)
        spec = spec_for(path=path)
        if spec is None:
            return
        options = self._options
        mtime_ns = size = 0
        if text is None:
            if not self._indexable(path):
                self._store.remove(path)
                return
            try:
                stat = os.stat(path)
                mtime_ns, size = stat.st_mtime_ns, stat.st_size
            except OSError:
                self._store.remove(path)
                return
            text = read_source(path, options.max_file_bytes)
            if text is None:
                self._store.remove(path)
                return
        if len(text) > options.max_file_bytes:  # an open document as large as that is not indexed either
            self._store.remove(path)
            return
        definitions, imports = outline_of(text, spec.name)
        self._store.put(
            path, FileRecord(spec.name, mtime_ns, size, definitions, imports), text, options.max_files
        )

    # --- the worker thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._options.watch:
                self._start_observer()
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
                    self._drain_pending()
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

    def _drain_pending(self) -> None:
        now = time.monotonic()
        with self._queue:
            ready = sorted(p for p, entry in self._pending.items() if entry[2] <= now)
            actions = [(path, self._pending.pop(path)[0]) for path in ready]
        for path, action in actions:
            if action == "gitignore":
                self._gitignore_changed(path)
            elif action == "delete":
                self._deleted(path)
            else:
                self._index_safely(path)

    def _deleted(self, path: str) -> None:
        """``path`` (a file or a directory) was deleted: drop what is gone, re-index what is still there."""
        store = self._store
        with store.lock:
            below = [p for p in store.files if is_below(p, path)]
        if path not in below and spec_for(path=path) is not None:
            below.append(path)
        for indexed in below:
            if not self._sources.is_open(indexed) and not os.path.exists(indexed):
                store.remove(indexed)
            else:
                self._index_safely(indexed)

    def _crawl(self, directory: str) -> None:
        store = self._store
        root = store.root_of(directory)
        with store.lock:
            budget = self._options.max_files - len(store.files)
            known = {p: (r.mtime_ns, r.size) for p, r in store.files.items()}
        if root is None:
            return
        rules = self._rules_for(root)
        found: list[str] = []
        for path, size, mtime_ns in rules.walk(self._options.max_file_bytes, start=directory):
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
        store = self._store
        for path in batch:
            with store.lock:
                full = path not in store.files and len(store.files) >= self._options.max_files
            if not full:
                self._index_safely(path)
        with self._queue:
            self._crawl_done += len(batch)
        self._report_progress(force=not self._backlog)

    def _index_safely(self, path: str) -> None:
        """Index one file; a failure loses that file, never the indexer thread."""
        try:
            self._index_file(path)
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

    # --- ignore rules -------------------------------------------------------------------------------------

    def _rules_for(self, root: str) -> IgnoreRules:
        with self._queue:
            rules = self._rules.get(root)
            if rules is None:
                options = self._options
                rules = IgnoreRules(root, options.exclude, options.use_gitignore)
                self._rules[root] = rules
            return rules

    def _indexable(self, path: str) -> bool:
        root = self._store.root_of(path)
        if root is None or spec_for(path=path) is None:
            return False
        return not self._rules_for(root).ignored(path, is_dir=False)

    def _gitignore_changed(self, path: str) -> None:
        with self._queue:
            rules = list(self._rules.values())
        directory = os.path.dirname(path)
        for rule in rules:
            rule.forget(directory)
        with self._store.lock:
            stale = [p for p in self._store.files if is_below(p, directory)]
        for indexed in stale:  # newly ignored files leave the index
            if not self._indexable(indexed):
                self.schedule(indexed, "delete")

    # --- the file watcher ---------------------------------------------------------------------------------

    def _start_observer(self) -> None:
        try:
            from watchdog.observers import Observer
        except ImportError:
            log.warning("watchdog is not installed: the index will not see changes made outside the editor")
            return
        observer = Observer()
        observer.name = f"{THREAD_PREFIX}-watch"
        observer.daemon = True
        try:
            observer.start()
        except Exception:
            log.warning("cannot watch the workspace (too many files for inotify?)", exc_info=True)
            return
        with self._queue:
            stopping = self._stopping
            if not stopping:
                self._observer = observer
        if stopping:
            _stop_observer(observer, 5.0)
            return
        for root in self._store.roots:
            self._watch(root)

    def _watch(self, root: str) -> None:
        from completion.workspace.watch import IndexEventHandler

        observer = self._observer
        if not os.path.isdir(root) or observer is None or root in self._watches:
            return
        try:
            watch = observer.schedule(IndexEventHandler(self), root, recursive=True)
        except Exception:
            log.warning("cannot watch %s", root, exc_info=True)
            return
        with self._queue:
            self._watches[root] = watch


def _stop_observer(observer: Any, timeout: float) -> None:
    try:
        observer.stop()
        observer.join(timeout)
    except Exception:
        log.warning("file watcher did not stop cleanly", exc_info=True)
