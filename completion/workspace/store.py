"""What the index knows: each file's definitions and imports, its similarity chunks, the names the files
define, and the questions the audit of names, retrieval and constrained decoding ask of it (``defines``,
``module_members``, ``member_names``, ``resolve``). One lock (``IndexStore.lock``) guards all of it; it is
never taken on the event loop.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from completion.workspace.chunks import ChunkStore
from completion.workspace.files import is_below
from completion.workspace.resolve import PathTable, resolve_module
from completion.workspace.sources import Sources
from syntax.text import line_starts

if TYPE_CHECKING:
    from syntax.document import ParsedText
    from syntax.outline import ImportRef

__all__ = [
    "FileRecord",
    "IndexStore",
    "IndexedDefinition",
    "IndexedImport",
    "bindings",
    "bound_names",
    "outline_of",
]

log = logging.getLogger(__name__)

_CHANGES_KEPT = 512


@dataclass(frozen=True, slots=True)
class IndexedDefinition:
    """A definition as the index keeps it (lines 0-based, ``end_line`` inclusive; ``body_start`` is the
    (line, column) where its body begins, None when it has none)."""

    name: str
    kind: str
    signature: str
    doc: str
    start_line: int
    end_line: int
    container: str | None
    body_start: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class IndexedImport:
    text: str
    modules: tuple[str, ...]
    names: tuple[str, ...]
    line: int


@dataclass(slots=True)
class FileRecord:
    language: str
    mtime_ns: int
    size: int
    definitions: tuple[IndexedDefinition, ...]
    imports: tuple[IndexedImport, ...]


def outline_of(text: str, language: str) -> tuple[tuple[IndexedDefinition, ...], tuple[IndexedImport, ...]]:
    """Definitions and imports of a file, or nothing when the outline is unavailable or fails on it."""
    try:
        from syntax import outline
        from syntax.document import parse_text

        document = parse_text(text, language)
        starts = line_starts(text)
        # Tree-sitter counts rows at "\n" only; a lone "\r" also ends a line for the editor and the chunks.
        renumber = "\r" in text and text.count("\r") != text.count("\r\n")

        def position(offset: int) -> tuple[int, int]:
            line = bisect_right(starts, offset) - 1
            return line, offset - starts[line]

        definitions = tuple(
            IndexedDefinition(
                d.name,
                d.kind,
                d.signature,
                d.doc,
                position(d.start)[0] if renumber else d.start_line,
                position(d.end)[0] if renumber else d.end_line,
                d.container,
                None if d.body_start is None else position(d.body_start),
            )
            for d in outline.definitions(document)
        )
        return definitions, imports_of(document)
    except Exception:  # an outline bug must never stop indexing; the file still gets chunks
        log.debug("outline failed for a %s file", language, exc_info=True)
        return (), ()


def bound_names(statement: IndexedImport, module: str, receiver: str) -> tuple[str, ...] | None:
    """The names to resolve ``module`` with when ``statement`` binds ``receiver`` to it, else None:
    ``import billing``, ``import pkg.billing as billing``, ``from pkg import billing``, a Go or JS path whose
    last part (or alias) is the name."""
    if receiver in statement.names:
        return (receiver,)  # from pkg import billing: the name may be a module of the package
    if re.search(rf"\bas\s+{re.escape(receiver)}\b", statement.text):
        return statement.names
    last = re.split(r"[./\\]", module.strip("\"'"))[-1]
    return statement.names if last == receiver else None


def bindings(
    imports: Iterable[IndexedImport], receiver: str
) -> Iterator[tuple[IndexedImport, str, tuple[str, ...]]]:
    """Each import that binds ``receiver`` to a module: the statement, the module, and the names to resolve
    it with (``bound_names``), in the document's order."""
    for statement in imports:
        for module in statement.modules:
            bound = bound_names(statement, module, receiver)
            if bound is not None:
                yield statement, module, bound


def imports_of(document: ParsedText) -> tuple[IndexedImport, ...]:
    """The import statements of a parsed document as the index keeps them."""
    from syntax import outline

    return indexed_imports(outline.imports(document))


def indexed_imports(imports: Iterable[ImportRef]) -> tuple[IndexedImport, ...]:
    """Import statements of the outline (``syntax.outline.ImportRef``) as the index keeps them."""
    return tuple(IndexedImport(i.text, tuple(i.modules), tuple(i.names), i.line) for i in imports)


class IndexStore:
    """The indexed files below the workspace roots. Thread-safe; the fields are guarded by ``lock``."""

    def __init__(self, roots: Sequence[str], sources: Sources, chunk_lines: int, max_chunks: int) -> None:
        self.lock = threading.RLock()
        self.sources = sources
        # Replaced, never changed in place, so reading the roots needs no lock.
        self._roots: tuple[str, ...] = tuple(dict.fromkeys(os.path.abspath(root) for root in roots))
        self.files: dict[str, FileRecord] = {}
        self.definers: dict[str, set[str]] = {}  # name -> files defining it (at any level)
        self.table = PathTable()
        self.chunks = ChunkStore(chunk_lines, max(1, chunk_lines // 2), max_chunks)
        self._package_listings: dict[str, tuple[int, frozenset[str]]] = {}  # directory -> (generation, names)
        self.generation = 0
        self._change_log: deque[tuple[int, str]] = deque(maxlen=_CHANGES_KEPT)
        self._updated = threading.Condition()

    # --- roots --------------------------------------------------------------------------------------------

    @property
    def roots(self) -> list[str]:
        return list(self._roots)

    def add_root(self, root: str) -> bool:
        """Add a workspace folder; False when it already is one."""
        with self.lock:
            if root in self._roots:
                return False
            self._roots = (*self._roots, root)
            return True

    def remove_root(self, root: str) -> list[str] | None:
        """Remove a workspace folder; the indexed files no other root holds (None when it was not one)."""
        with self.lock:
            if root not in self._roots:
                return None
            self._roots = tuple(other for other in self._roots if other != root)
            return [path for path in self.files if is_below(path, root) and self.root_of(path) is None]

    def root_of(self, path: str) -> str | None:
        """The innermost root containing ``path``."""
        below = [root for root in self._roots if is_below(path, root)]
        return max(below, key=len) if below else None

    def absolute(self, path: str) -> str:
        """``path`` made absolute; a relative one is taken as relative to the root that holds it."""
        if os.path.isabs(path):
            return os.path.normpath(path)
        with self.lock:
            candidates = [os.path.normpath(os.path.join(root, path)) for root in self._roots]
            for candidate in candidates:
                if candidate in self.files or self.sources.is_open(candidate):
                    return candidate
        return candidates[0] if candidates else os.path.abspath(path)

    def display_path(self, path: str) -> str:
        """``path`` as a prompt shows it: relative to its root, ``/`` separators."""
        root = self.root_of(path)
        shown = os.path.relpath(path, root) if root else path
        return shown.replace(os.sep, "/")

    # --- updates ------------------------------------------------------------------------------------------

    def put(self, path: str, record: FileRecord, text: str, max_files: int) -> None:
        """Store ``path``'s record and chunks, unless the index is full or the editor's text of it is no
        longer ``text`` (the open text wins; its change is queued)."""
        with self.lock:
            if path not in self.files and len(self.files) >= max_files:
                return
            opened = self.sources.open_text(path)
            if opened is not None and opened != text:
                return
            old = self.files.get(path)
            if old is not None:
                self._forget_names(path, old)
            self.files[path] = record
            for definition in record.definitions:
                self.definers.setdefault(definition.name, set()).add(path)
            self.table.add(path)
            self.chunks.add_file(path, text)
            self.sources.forget(path)
            self._changed(path)

    def remove(self, path: str) -> None:
        with self.lock:
            record = self.files.pop(path, None)
            if record is None:
                return
            self._forget_names(path, record)
            self.table.discard(path)
            self.chunks.remove_file(path)
            self.sources.forget(path)
            self.sources.forget_edits(path)
            self._changed(path)

    def _forget_names(self, path: str, record: FileRecord) -> None:
        for definition in record.definitions:
            definers = self.definers.get(definition.name)
            if definers is not None:
                definers.discard(path)
                if not definers:
                    del self.definers[definition.name]

    def _changed(self, path: str) -> None:
        self.generation += 1
        self._change_log.append((self.generation, path))
        with self._updated:  # never held while taking the lock (see wait_for), so no lock-order cycle
            self._updated.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds, re-checking after every update; False on timeout."""
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

    def only_changed(self, path: str, since: int) -> bool:
        """True when no file other than ``path`` changed since generation ``since``."""
        if since == self.generation:
            return True
        with self.lock:
            if not self._change_log or self._change_log[0][0] > since + 1:
                return False
            return all(changed == path for stamp, changed in self._change_log if stamp > since)

    # --- queries ------------------------------------------------------------------------------------------

    def definitions(self, path: str) -> tuple[IndexedDefinition, ...]:
        with self.lock:
            record = self.files.get(path)
            return record.definitions if record else ()

    def imports(self, path: str) -> tuple[IndexedImport, ...]:
        with self.lock:
            record = self.files.get(path)
            return record.imports if record else ()

    def find_definitions(self, name: str) -> list[tuple[str, IndexedDefinition]]:
        """Every indexed definition called ``name`` with its file, in path order."""
        with self.lock:
            return [
                (path, definition)
                for path in sorted(self.definers.get(name, ()))
                for definition in self.files[path].definitions
                if definition.name == name
            ]

    def resolve(
        self, language: str, module: str, names: Sequence[str], statement: str, current: str
    ) -> list[str]:
        """The indexed files an import of ``module`` in ``current`` names, nearest first (``resolve_module``)."""
        with self.lock:
            return resolve_module(language, module, names, statement, current, self.table, self._roots)

    def defines(self, name: str) -> bool:
        """Some indexed file defines ``name`` at its top level (for the unknown-name audit: a method of that
        name does not make a bare call to it right)."""
        with self.lock:
            return any(
                definition.name == name and definition.container is None
                for path in self.definers.get(name, ())
                for definition in self.files[path].definitions
            )

    def module_members(self, module: str, importer: str | None = None) -> frozenset[str] | None:
        """The names a workspace Python module binds (``pkg.mod``; ``.mod`` relative to ``importer``), or
        None when the module is not a file of the workspace (or its names cannot be told). The module is
        found as retrieval finds imports (``resolve_module``)."""
        from syntax.unknown_names import module_names

        roots = self.roots
        if importer is None and not roots:
            return None
        current = self.absolute(importer) if importer else os.path.join(roots[0], "__untitled__.py")
        found = self.resolve("python", module, (), "", current)
        if not found:
            return None
        path = found[0]
        is_package = os.path.basename(path).startswith("__init__.")
        parts = [part for part in module.lstrip(".").split(".") if part]
        package = ".".join(parts if is_package else parts[:-1]) or None
        text = self.sources.text(path)
        names = module_names(text, "python", package) if text else frozenset()
        if names is None or not is_package:
            return names
        return names | self._package_modules(os.path.dirname(path))  # `from package import module`

    def member_names(
        self, importer: str, language: str, imports: Iterable[IndexedImport], receiver: str
    ) -> frozenset[str] | None:
        """Every name that can follow ``receiver.`` in ``importer``, when one of its ``imports`` binds
        ``receiver`` to workspace modules whose names can all be told, else None: constrained decoding must
        never narrow the choice on a guess. Python: what the module binds (a package's modules too);
        JavaScript/TypeScript: what it exports, through ``import * as receiver`` only (a default or named
        import is some value); Go: the exported names of the package's files."""
        from syntax.unknown_names import module_names

        current = self.absolute(importer)
        for statement, module, bound in bindings(imports, receiver):
            if language == "python":
                if receiver in statement.names and statement.text.lstrip().startswith("from"):
                    # from pkg import billing: pkg.billing, if it is a module
                    module = module + ("" if module.endswith(".") else ".") + receiver
                return self.module_members(module, current)
            if language in ("javascript", "typescript", "tsx") and not re.search(
                rf"\*\s*as\s+{re.escape(receiver)}\b", statement.text
            ):
                return None
            files = self.resolve(language, module, bound, statement.text, current)
            if not files or current in files:
                return None
            names: set[str] = set()
            for path in files:
                text = self.sources.text(path)
                found = module_names(text, language) if text else None
                if found is None:
                    return None
                names |= found
            if language == "go":
                return frozenset(name for name in names if name[:1].isupper())
            return frozenset(names)
        return None

    def _package_modules(self, directory: str) -> frozenset[str]:
        """The modules and subpackages in a package's directory, listed once per index generation (the
        audit asks for each candidate)."""
        with self.lock:
            known = self._package_listings.get(directory)
            if known is not None and known[0] == self.generation:
                return known[1]
            generation = self.generation
        names = _package_modules(directory)
        with self.lock:
            self._package_listings[directory] = (generation, names)
        return names

    def stats(self) -> dict[str, int]:
        with self.lock:
            return {
                "files": len(self.files),
                "chunks": self.chunks.live_chunks,
                "definitions": sum(len(r.definitions) for r in self.files.values()),
                "open_documents": self.sources.open_count,
            }


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
