"""Cross-file context for a completion prompt: the imported definitions the code near the cursor uses, after
``module.`` that module's members, similar chunks of other files, and the lines edited last.

Retrieval is deterministic for a given file, cursor line and the text outside that line (the cursor line is
left out of everything), so the prompt prefix stays cacheable while the user types on one line.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from completion.workspace.chunks import identifier_tokens
from completion.workspace.options import IndexOptions
from completion.workspace.render import definition_text, member_stub
from completion.workspace.resolve import implicit_neighbours, rust_module_declarations
from completion.workspace.store import (
    IndexedDefinition,
    IndexedImport,
    IndexStore,
    bindings,
    indexed_imports,
)
from syntax.languages import spec_for
from syntax.members import from_import_module

if TYPE_CHECKING:
    from syntax.context import CursorOutline
    from syntax.document import ParsedText, SyntaxDocument

__all__ = ["Retrieval", "Snippet"]

log = logging.getLogger(__name__)

SnippetKind = Literal["definition", "chunk", "recent"]


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


@dataclass(slots=True)
class _Candidate:
    path: str
    start_line: int
    end_line: int  # exclusive
    text: str
    kind: SnippetKind
    score: float


_MEMBER_ACCESS = re.compile(r"([A-Za-z_]\w*)\s*\.\s*\w*\Z")
_TYPED_WORD = re.compile(r"\w+\Z")
_MAX_MEMBERS_SHOWN = 24  # after `module.`: this many of its definitions at most (the budget cuts further)
_QUERY_LINES_BEFORE = 15
_QUERY_LINES_AFTER = 5
_SNIPPET_OVERHEAD = 16  # separator tokens and the path line the engine adds per file
_CACHED_RETRIEVALS = 64


class Retrieval:
    """Retrieval over an ``IndexStore``, with a cache of recent answers. Thread-safe."""

    def __init__(self, store: IndexStore) -> None:
        self._store = store
        self._sources = store.sources
        self._cache: OrderedDict[tuple[Any, ...], tuple[int, list[Snippet]]] = OrderedDict()

    def retrieve(
        self,
        options: IndexOptions,
        path: str,
        text: str,
        offset: int,
        budget_chars: int | None = None,
        document: SyntaxDocument | ParsedText | None = None,
        outline: CursorOutline | None = None,
    ) -> list[Snippet]:
        """Cross-file context for a completion at ``offset`` of ``text`` (the document at ``path``).

        The imports and the names referenced near the cursor come from ``outline``, the cursor's
        ``syntax.context.cursor_outline`` of ``text`` at ``offset`` (the one the parse context reads), when
        the caller has it; else from ``document``'s, while that is still ``text``; else from a parse of
        ``text``.

        Returns snippets in prompt order: grouped by file, files ordered from the weakest to the strongest
        best snippet (the strongest ends up nearest the current file), lines in file order within a group.
        Empty when retrieval is off or nothing scores well enough.
        """
        budget = options.budget_chars if budget_chars is None else budget_chars
        if not (options.enabled and options.retrieval) or budget <= 0:
            return []
        store = self._store
        path = store.absolute(path)
        offset = max(0, min(offset, len(text)))
        line_start = text.rfind("\n", 0, offset) + 1
        line_end = text.find("\n", offset)
        # The cursor line is left out of everything, so typing on it never changes the result.
        context = text[:line_start] + ("" if line_end < 0 else text[line_end + 1 :])
        line = text.count("\n", 0, line_start)
        access = _member_access(text[line_start:offset])  # `billing.` on the cursor line
        key = (path, line, hash(context), budget, access, options.min_similarity)
        with store.lock:
            cached = self._cache.get(key)
            if cached is not None and store.only_changed(path, cached[0]):
                self._cache.move_to_end(key)
                return list(cached[1])
            generation = store.generation
        try:
            if outline is None or outline.line_start != line_start:
                outline = _outline(text, offset, path, document)
            snippets = self._retrieve(options, path, context, line, budget, access, outline)
        except Exception:  # retrieval is an optional extra: never fail the completion
            log.exception("retrieval failed")
            return []
        with store.lock:
            self._cache[key] = (generation, snippets)
            while len(self._cache) > _CACHED_RETRIEVALS:
                self._cache.popitem(last=False)
        return list(snippets)

    def _retrieve(
        self,
        options: IndexOptions,
        path: str,
        context: str,
        line: int,
        budget: int,
        access: _MemberAccess | None,
        outline: CursorOutline | None,
    ) -> list[Snippet]:
        spec = spec_for(path=path)
        lines = context.split("\n")
        window = "\n".join(lines[max(0, line - _QUERY_LINES_BEFORE) : line + _QUERY_LINES_AFTER])
        query = identifier_tokens(window)
        candidates: list[_Candidate] = []
        if spec is not None:
            imports = indexed_imports(outline.imports) if outline is not None else ()
            references = outline.referenced if outline is not None else ()
            if spec.name == "rust":
                declared = rust_module_declarations(context)
                imports += tuple(IndexedImport(f"mod {name};", (name,), (), -1) for name in declared)
            candidates.extend(self._definition_candidates(path, spec.name, imports, references, window))
            if access is not None:
                candidates.extend(self._member_candidates(path, spec.name, imports, access))
        store = self._store
        with store.lock:
            hits = store.chunks.search(query, limit=8, exclude_path=path)
        for hit in hits:
            if hit.jaccard >= options.min_similarity:
                body = self._lines(hit.path, hit.start_line, hit.end_line)
                if body.strip():
                    candidates.append(
                        _Candidate(hit.path, hit.start_line, hit.end_line, body, "chunk", hit.jaccard)
                    )
        for rank, (edited, (first, last, _stamp)) in enumerate(self._sources.recent_edits(path)[:3]):
            start, end = max(0, first - 3), min(last + 4, first + 12)
            body = self._lines(edited, start, end)
            tokens = identifier_tokens(body)
            similarity = len(tokens & query) / max(1, len(tokens | query))
            if body.strip() and similarity >= options.min_similarity / 2:
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
        store = self._store
        with store.lock:
            files: dict[str, set[str]] = {}  # resolved file -> names imported from it explicitly
            for statement in imports:
                for module in statement.modules:
                    for resolved in store.resolve(language, module, statement.names, statement.text, path):
                        if resolved != path:
                            files.setdefault(resolved, set()).update(statement.names)
            for neighbour in implicit_neighbours(language, path, store.table):
                files.setdefault(neighbour, set())
            own = {d.name for d in store.files[path].definitions} if path in store.files else set()
            imported = set().union(*files.values())
            # Names defined here, and dunders like __init__, would match half the workspace.
            wanted = {
                name for name in referenced - own if not (name.startswith("__") and name.endswith("__"))
            }
            chosen: list[tuple[str, IndexedDefinition, float]] = []
            covered: set[str] = set()
            for resolved in sorted(files):
                record = store.files.get(resolved)
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
                definers = store.definers.get(name, set()) - {path}
                if len(name) >= 4 and 0 < len(definers) <= 2:
                    for definer in sorted(definers):
                        for definition in store.files[definer].definitions:
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
        self, path: str, language: str, imports: Iterable[IndexedImport], access: _MemberAccess
    ) -> list[_Candidate]:
        """After ``receiver.`` where ``receiver`` is an imported workspace module (or after a Python ``from
        module import ``): its public top-level definitions (signature and first docstring line), in file
        order, above every other snippet: what can follow is exactly these names."""
        store = self._store
        with store.lock:
            files: list[str] = []
            if access.module:
                files = [
                    found for found in store.resolve(language, access.name, (), "", path)[:1] if found != path
                ]
            for statement, module, bound in () if access.module else bindings(imports, access.name):
                for resolved in store.resolve(language, module, bound, statement.text, path):
                    if resolved != path and resolved not in files:
                        files.append(resolved)
            chosen = [
                (resolved, definition)
                for resolved in files
                if (record := store.files.get(resolved)) is not None
                for definition in record.definitions
                if definition.container is None and not definition.name.startswith("_")
            ][:_MAX_MEMBERS_SHOWN]
        return [
            _Candidate(
                definer,
                definition.start_line,
                definition.start_line + 1,
                member_stub(definer, definition),
                "definition",
                2.0 - rank / 1000,
            )
            for rank, (definer, definition) in enumerate(chosen)
        ]

    def _definition_text(self, path: str, definition: IndexedDefinition) -> str:
        return definition_text(path, definition, self._store.definitions(path), self._sources.lines(path))

    def _lines(self, path: str, start: int, end: int) -> str:
        return "\n".join(self._sources.lines(path)[start:end]).rstrip()

    def _select(self, candidates: list[_Candidate], budget: int) -> list[Snippet]:
        """Best first within the budget, no overlaps, then arranged in prompt order."""
        display_path = self._store.display_path
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
            cost = len(candidate.text) + len(display_path(candidate.path)) + _SNIPPET_OVERHEAD
            if cost > remaining:
                room = remaining - (cost - len(candidate.text))
                cut = candidate.text.rfind("\n", 0, max(0, room))
                if candidate.kind == "recent" or cut < 0 or candidate.text.count("\n", 0, cut) < 2:
                    continue
                candidate.text = candidate.text[:cut]
                cost = len(candidate.text) + len(display_path(candidate.path)) + _SNIPPET_OVERHEAD
            seen_texts.add(candidate.text)
            chosen.append(candidate)
            remaining -= cost
        best_of_file: dict[str, float] = {}
        for candidate in chosen:
            best_of_file[candidate.path] = max(best_of_file.get(candidate.path, 0.0), candidate.score)
        chosen.sort(key=lambda c: (best_of_file[c.path], c.path, c.start_line))
        return [
            Snippet(display_path(c.path), c.text, c.kind, round(c.score, 4), c.start_line) for c in chosen
        ]


def _outline(
    text: str, offset: int, path: str, document: SyntaxDocument | ParsedText | None
) -> CursorOutline | None:
    """The cursor's outline when the caller has none: from ``document`` while it holds ``text`` (cached on
    it), else from a parse of ``text``; None for a language without a grammar or on any failure."""
    spec = spec_for(path=path)
    if spec is None:
        return None
    try:
        from syntax.context import cursor_outline
        from syntax.document import parse_text

        if document is not None and document.language == spec.name:
            parsed = document.snapshot(parse=False)  # one version of it
            if parsed.text == text:
                return cursor_outline(parsed, offset, owner=document)
        return cursor_outline(parse_text(text, spec.name), offset)
    except Exception:
        log.debug("outline failed while retrieving", exc_info=True)
        return None


@dataclass(frozen=True)
class _MemberAccess:
    """What the cursor line asks the members of: ``name`` is a receiver (``billing.``), or with ``module``
    the module of a Python ``from billing import ``."""

    name: str
    module: bool = False


def _member_access(before_cursor: str) -> _MemberAccess | None:
    """The member access the cursor line ends in (``billing.``, ``billing.cha``, ``from billing import ``)."""
    module = from_import_module(_TYPED_WORD.sub("", before_cursor))
    if module is not None:
        return _MemberAccess(module, module=True)
    match = _MEMBER_ACCESS.search(before_cursor)
    return _MemberAccess(match.group(1)) if match else None


def _proximity(name: str, window: str) -> float:
    """0..0.5: higher when ``name`` occurs in the last lines of the query window (nearest the cursor)."""
    occurrences = list(re.finditer(rf"\b{re.escape(name)}\b", window))
    if not occurrences:
        return 0.0
    lines_after = window.count("\n", occurrences[-1].start())
    return 0.5 / (1 + lines_after / 5)
