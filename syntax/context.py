"""Parse context for the prompt: what the model cannot see in its prefix window but needs.

Three kinds of blocks, each written as code of the document's language so a prompt can show them above the
window: the headers of the enclosing scopes (outermost first), stubs of the file's own definitions that are
referenced near the cursor, and the file's imports. Only items whose text lies outside the visible window
``[window_start, offset)`` are given, within a budget of characters (scopes first, then definitions, then
imports).

The result sits in the cached part of the prompt, so it must not change while the user types on one line.
It is therefore computed from the document with the cursor's line blanked (kept to its indentation): the
line's text, and any syntax error it contains, cannot reach the result. That blanked outline
(``CursorOutline``: enclosing scopes, names referenced nearby, the file's definitions and imports) is also
what cross-file retrieval starts from; it is computed once per cursor line and cached per document, so
typing on a line costs one string comparison after the first call.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from syntax.document import ParsedText, SyntaxDocument
from syntax.languages import spec_by_name
from syntax.outline import (
    Definition,
    ImportRef,
    collapse_lines,
    definitions,
    enclosing_definitions,
    imports,
    outline_range,
    references_near,
)

__all__ = ["CursorOutline", "ParseContext", "context_blocks", "cursor_outline", "parse_context"]

_REFERENCE_LINES_BEFORE = 30
_REFERENCE_LINES_AFTER = 5
_MAX_DEFINITIONS = 12
_MAX_IMPORT_LINES = 8
# Above this size only the outline near the cursor (and the imports at the top) is used.
_FULL_OUTLINE_BYTES = 300_000
_NEAR_CHARS_BEFORE = 120_000
_NEAR_CHARS_AFTER = 30_000
_HEAD_CHARS = 30_000
_MAX_PER_NAME = 2  # a name defined in several classes: the first two are enough
_NOT_STUBS = frozenset({"module", "impl"})  # containers whose stub (``mod x { ... }``) says nothing


@dataclass(frozen=True)
class ParseContext:
    """Code blocks for the prompt (each may span lines, none ends with a newline)."""

    imports: tuple[str, ...]  # import statements of the file (text)
    scopes: tuple[str, ...]  # headers of enclosing scopes, outermost first: signature + docstring first line
    definitions: tuple[str, ...]  # stubs (signature + doc first line) of local definitions referenced nearby

    def is_empty(self) -> bool:
        return not (self.imports or self.scopes or self.definitions)


EMPTY = ParseContext((), (), ())


@dataclass(frozen=True)
class CursorOutline:
    """The outline around the cursor, read from the document with the cursor's line blanked (kept to its
    indentation, Python's ``pass`` after a block opener), so that typing on that line cannot change it: what
    the parse context and cross-file retrieval both start from."""

    language: str
    blanked_text: str
    line_start: int  # start of the cursor line (same in the blanked text)
    cursor: int  # end of the kept indentation on the blanked line
    scopes: tuple[Definition, ...]  # enclosing definitions, outermost first
    referenced: tuple[str, ...]  # names used in the lines around the cursor, nearest before it first
    definitions: tuple[Definition, ...]  # the file's (near the cursor only, in a very large file)
    imports: tuple[ImportRef, ...]  # the file's (those at its top and near the cursor, in a very large file)


_cache_lock = threading.Lock()
_line_views: weakref.WeakKeyDictionary[object, CursorOutline] = weakref.WeakKeyDictionary()


def cursor_outline(doc: SyntaxDocument | ParsedText, offset: int, *, owner: object = None) -> CursorOutline:
    """The outline of ``doc`` around ``offset`` with the cursor's line blanked, cached per ``owner`` (by
    default ``doc`` itself): a caller that passes a new snapshot of one document per request names the
    document as the owner, so that typing on a line reuses the outline instead of computing it again.

    Offsets refer to ``doc.text`` as it is when called; the document may be edited from another thread
    meanwhile (the work uses one snapshot of it)."""
    current = doc.snapshot(parse=False)  # a typed-on line needs no tree: the cached outline answers
    offset = max(0, min(offset, len(current.text)))
    return _line_view(doc if owner is None else owner, current, offset)


def parse_context(
    doc: SyntaxDocument | ParsedText, offset: int, window_start: int, budget_chars: int = 1200
) -> ParseContext:
    """The parse context at ``offset`` for a prompt whose prefix window starts at ``window_start``.

    Offsets refer to ``doc.text`` as it is when called; the document may be edited from another thread
    meanwhile (the work uses one snapshot of it)."""
    if budget_chars <= 0:
        return EMPTY
    return context_blocks(cursor_outline(doc, offset), window_start, budget_chars)


def context_blocks(view: CursorOutline, window_start: int, budget_chars: int = 1200) -> ParseContext:
    """The parse context of a cursor's outline for a prompt whose prefix window starts at ``window_start``."""
    if budget_chars <= 0:
        return EMPTY
    window_start = max(0, min(window_start, view.line_start))
    style = _Style(spec_by_name(view.language).line_comment, view.language == "python")
    budget = _Budget(budget_chars)
    scopes = _scope_blocks(view, window_start, style, budget)
    definitions = _definition_blocks(view, window_start, style, budget)
    imports = _import_blocks(view, window_start, budget)
    return ParseContext(imports, scopes, definitions)


@dataclass(frozen=True)
class _Style:
    line_comment: str
    python: bool


def _visible(view: CursorOutline, window_start: int, start: int) -> bool:
    """Whether text starting at ``start`` is inside the prefix window (the model already sees it)."""
    return window_start <= start <= view.line_start


def _scope_blocks(view: CursorOutline, window_start: int, style: _Style, budget: _Budget) -> tuple[str, ...]:
    """Headers of the enclosing scopes above the window; the innermost are kept when not all fit."""
    blocks: list[str] = []
    for scope in reversed(view.scopes):
        if _visible(view, window_start, scope.start):
            continue
        block = _scope_block(view.blanked_text, scope, style)
        if not budget.take(block):
            break
        blocks.insert(0, block)
    return tuple(blocks)


def _definition_blocks(
    view: CursorOutline, window_start: int, style: _Style, budget: _Budget
) -> tuple[str, ...]:
    """Stubs of the file's definitions named near the cursor (nearest first), unless visible or a scope."""
    scope_starts = {scope.start for scope in view.scopes}
    by_name: dict[str, list[Definition]] = {}
    for definition in view.definitions:
        if definition.kind not in _NOT_STUBS:
            by_name.setdefault(definition.name, []).append(definition)
    blocks: list[str] = []
    for name in view.referenced:
        for definition in by_name.get(name, [])[:_MAX_PER_NAME]:
            if len(blocks) >= _MAX_DEFINITIONS:
                return tuple(blocks)
            if definition.start in scope_starts or _visible(view, window_start, definition.start):
                continue
            block = _definition_block(view.blanked_text, definition, style)
            if block not in blocks and budget.take(block):
                blocks.append(block)
    return tuple(blocks)


def _import_blocks(view: CursorOutline, window_start: int, budget: _Budget) -> tuple[str, ...]:
    """Imports outside the window, in source order; those binding names used nearby get budget first."""
    text = view.blanked_text
    window_line = text.count("\n", 0, window_start)
    if window_start > 0 and text[window_start - 1] != "\n":
        window_line += 1  # the window shows only the end of its first line
    cursor_line = text.count("\n", 0, view.line_start)
    candidates = [item for item in view.imports if not window_line <= item.line <= cursor_line]
    referenced = set(view.referenced)
    preferred = [
        item for item in candidates if referenced.intersection(item.names + _last_parts(item.modules))
    ]
    preferred_lines = {item.line for item in preferred}
    chosen: set[int] = set()
    for item in preferred + [item for item in candidates if item.line not in preferred_lines]:
        if budget.take(_import_block(item)):
            chosen.add(item.line)
    return tuple(_import_block(item) for item in candidates if item.line in chosen)


class _Budget:
    """Characters left for blocks (each block also costs its newline)."""

    def __init__(self, chars: int) -> None:
        self.left = chars

    def take(self, block: str) -> bool:
        cost = len(block) + 1
        if cost > self.left:
            return False
        self.left -= cost
        return True


# --- the blanked-line outline ----------------------------------------------------------------------------


def _line_view(owner: object, current: ParsedText, offset: int) -> CursorOutline:
    """The blanked-line outline of ``current``, cached on ``owner`` for the next call."""
    text = current.text
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    if line_end < 0:
        line_end = len(text)
    line = text[line_start:line_end]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    filler = indent
    if current.language == "python" and _opens_block(text, line_start):
        filler = indent + "pass"  # keep the block that the previous line opened well-formed
    blanked_text = text[:line_start] + filler + text[line_end:]
    with _cache_lock:
        cached = _line_views.get(owner)
    if (
        cached is not None
        and cached.line_start == line_start
        and cached.language == current.language
        and cached.blanked_text == blanked_text
    ):
        return cached
    blanked = current.with_edit(line_start, line_end, filler)
    cursor = line_start + len(indent)
    found_definitions, found_imports = _outline_near(blanked, line_start)
    view = CursorOutline(
        language=current.language,
        blanked_text=blanked_text,
        line_start=line_start,
        cursor=cursor,
        scopes=tuple(enclosing_definitions(blanked, cursor)),
        referenced=tuple(references_near(blanked, cursor, _REFERENCE_LINES_BEFORE, _REFERENCE_LINES_AFTER)),
        definitions=found_definitions,
        imports=found_imports,
    )
    with _cache_lock:
        _line_views[owner] = view
    return view


def _outline_near(doc: ParsedText, line_start: int) -> tuple[tuple[Definition, ...], tuple[ImportRef, ...]]:
    """The whole outline, or for a very large file the part around the cursor plus the imports at the top,
    so that a new cursor line costs a bounded query rather than one over megabytes."""
    if len(doc.source) <= _FULL_OUTLINE_BYTES:
        return tuple(definitions(doc)), tuple(imports(doc))
    text_length = len(doc.text)
    near, near_imports = outline_range(
        doc, max(0, line_start - _NEAR_CHARS_BEFORE), min(text_length, line_start + _NEAR_CHARS_AFTER)
    )
    _, head_imports = outline_range(doc, 0, min(text_length, _HEAD_CHARS))
    by_line = {item.line: item for item in head_imports + near_imports}
    return tuple(near), tuple(by_line[line] for line in sorted(by_line))


def _opens_block(text: str, line_start: int) -> bool:
    """Whether the last non-blank line before ``line_start`` ends with ``:`` (a Python block opener)."""
    end = line_start
    while end > 0:
        previous_start = text.rfind("\n", 0, end - 1) + 1
        previous = text[previous_start : end - 1].split("#", 1)[0].rstrip()
        if previous:
            return previous.endswith(":")
        end = previous_start
    return False


def _last_parts(modules: tuple[str, ...]) -> tuple[str, ...]:
    parts: list[str] = []
    for module in modules:
        for separator in ("::", ".", "/"):
            module = module.rsplit(separator, 1)[-1]
        parts.append(module)
    return tuple(parts)


# --- blocks ----------------------------------------------------------------------------------------------


def _indent_of(text: str, start: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    prefix = text[line_start:start]
    return prefix if not prefix.strip() else prefix[: len(prefix) - len(prefix.lstrip(" \t"))]


def _indented(lines: str, indent: str) -> str:
    return "\n".join(indent + line for line in lines.splitlines())


def _body_indent(text: str, scope: Definition, indent: str) -> str:
    """The indentation of the body's first line (as the file writes it), or four more spaces."""
    if scope.body_start is not None:
        body_indent = _indent_of(text, scope.body_start)
        if (
            len(body_indent) > len(indent)
            and not text[text.rfind("\n", 0, scope.body_start) + 1 : scope.body_start].strip()
        ):
            return body_indent
    return indent + "    "


def _opener(text: str, definition: Definition) -> str:
    """The body's opening brace, when the body starts with one (``{``); Python headers end in ``:``."""
    if definition.body_start is not None and text[definition.body_start : definition.body_start + 1] == "{":
        return " {"
    return ""


def _scope_block(text: str, scope: Definition, style: _Style) -> str:
    """An enclosing scope's header as code: its signature (with ``{``) and the first line of its doc."""
    indent = _indent_of(text, scope.start)
    header = _indented(scope.signature, indent) + _opener(text, scope)
    if not scope.doc:
        return header
    if style.python:
        return f'{header}\n{_body_indent(text, scope, indent)}"""{scope.doc}"""'
    return f"{indent}{style.line_comment} {scope.doc}\n{header}"


def _definition_block(text: str, definition: Definition, style: _Style) -> str:
    """A referenced definition as a stub: doc comment (with its class), signature, elided body."""
    label = f"{definition.container}.{definition.name}" if definition.container else ""
    comment = ": ".join(part for part in (label, definition.doc) if part)
    signature = definition.signature
    if definition.body_start is not None:
        if style.python:
            signature += " ..."
        elif _opener(text, definition):
            signature += " { ... }"
        else:
            signature += " ..."
    return f"{style.line_comment} {comment}\n{signature}" if comment else signature


def _import_block(item: ImportRef) -> str:
    """The import as written; a long multi-line one (``from x import (...)``) collapsed."""
    return collapse_lines(item.text, 3) if item.text.count("\n") >= _MAX_IMPORT_LINES else item.text
