"""A file's outline from its tags query: definitions, imports, enclosing scopes and nearby references.

``syntax/queries/<language>/tags.scm`` says what is what: @definition.<kind> with @name and optional
@body, @doc, @container; @reference.<kind>; @import with @import.module and @import.name.
Its patterns are split in two compiled queries, so listing definitions never pays for the (many) reference
matches, and references are only matched in the few lines around the cursor.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from tree_sitter import Node, Query, QueryCursor

from syntax.document import ParsedText, SyntaxDocument
from syntax.languages import grammar, query_source

log = logging.getLogger(__name__)

__all__ = [
    "Definition",
    "ImportRef",
    "definitions",
    "enclosing_definitions",
    "imports",
    "outline_range",
    "references_near",
]


@dataclass(frozen=True)
class Definition:
    """A named definition; offsets are str offsets, lines 0-based."""

    name: str
    kind: str  # "function" | "method" | "class" | "interface" | "type" | "constant" | "module" | "impl" ...
    signature: str  # the header up to (not including) the body, whitespace-collapsed, at most 3 lines
    doc: str  # first line of its docstring / leading doc comment, "" if none
    start: int
    end: int
    start_line: int
    end_line: int
    container: str | None  # the enclosing definition's name (a method's class/impl), None at top level
    body_start: int | None = None  # str offset where the body begins (after the signature), None if none


@dataclass(frozen=True)
class ImportRef:
    """One import statement: its text, the modules it names and the names it binds."""

    text: str
    modules: tuple[str, ...]
    names: tuple[str, ...]
    line: int


# Kinds whose function members are methods.
_CLASS_LIKE = frozenset({"class", "interface", "impl", "trait", "struct", "enum", "object"})
# Kinds a more specific pattern for the same node overrides.
_GENERIC_KINDS = frozenset({"type", "function", "constant"})
# Inside these kinds, constants and tables (Lua ``local t = {}``) are locals, not outline entries.
_FUNCTION_LIKE = frozenset({"function", "method"})
_LOCAL_IN_FUNCTIONS = frozenset({"constant", "module"})
# Nodes that wrap one definition and belong to it (decorators, export, template<>, a single `type X ...`).
_WRAPPERS = frozenset(
    {
        "decorated_definition",
        "export_statement",
        "template_declaration",
        "ambient_declaration",
        "type_declaration",
        "const_declaration",
        "var_declaration",
    }
)
_MAX_SIGNATURE_LINE = 200
_COMMENT_MARKERS = re.compile(r"^\s*(?:///?!?|/\*+!?|\*+/?|--+(?:\[=*\[)?|#+!?|;+)?\s?")
_SPACE_AFTER_OPEN = re.compile(r"([(\[{<]) ")
_SPACE_BEFORE_CLOSE = re.compile(r" ([)\]}>])")
_ANNOTATION = re.compile(r"attribute|annotation|decorator")
_STRING_PREFIX = re.compile(r"^[rRbBuUfF]{1,2}(?=[\"'])")
_COMMENT_TAIL = re.compile(r"\s*(?:\*+/|\]=*\])\s*$")


@dataclass(frozen=True)
class _TagQueries:
    definitions: Query | None  # definition and import patterns
    references: Query | None


@cache
def _tag_queries(language: str) -> _TagQueries:
    """tags.scm split by pattern into definition/import patterns and reference patterns."""
    try:
        source = query_source(language, "tags")
        if source is None:
            return _TagQueries(None, None)
        whole = Query(grammar(language), source)
        data = source.encode("utf-8")
        definition_parts: list[str] = []
        reference_parts: list[str] = []
        for index in range(whole.pattern_count):
            start, end = whole.start_byte_for_pattern(index), whole.end_byte_for_pattern(index)
            pattern = data[start:end].decode("utf-8")
            (reference_parts if "@reference." in pattern else definition_parts).append(pattern)
        return _TagQueries(_compiled(language, definition_parts), _compiled(language, reference_parts))
    except Exception:  # a grammar that no longer fits the query must not break completion: no outline
        log.warning("tags query for %s does not compile; no outline for it", language, exc_info=True)
        return _TagQueries(None, None)


def _compiled(language: str, patterns: list[str]) -> Query | None:
    return Query(grammar(language), "\n".join(patterns)) if patterns else None


# --- definitions and imports ---------------------------------------------------------------------


@dataclass
class _RawDefinition:
    node: Node
    anchor: Node  # the node with its wrappers (decorators, export ...)
    kind: str
    name: str
    body: Node | None
    doc_node: Node | None
    container: str | None


@dataclass(frozen=True)
class _Outline:
    definitions: list[Definition]
    imports: list[ImportRef]


_cache_lock = threading.Lock()
_outline_cache: weakref.WeakKeyDictionary[SyntaxDocument | ParsedText, tuple[int, _Outline]] = (
    weakref.WeakKeyDictionary()
)


def definitions(doc: SyntaxDocument | ParsedText) -> list[Definition]:
    """All definitions of the file in source order (cached per document version)."""
    return _outline(doc).definitions


def imports(doc: SyntaxDocument | ParsedText) -> list[ImportRef]:
    """Import statements in source order, each with its module paths and imported names."""
    return _outline(doc).imports


def _outline(doc: SyntaxDocument | ParsedText) -> _Outline:
    """One query pass gives both definitions and imports; the result is cached until the next edit."""
    with _cache_lock:
        cached = _outline_cache.get(doc)
    if cached is not None and cached[0] == doc.version:
        return cached[1]
    view = doc.snapshot()  # text and tree of one version, even if the document is edited meanwhile
    found = _Outline(*_collect(view, view.tree.root_node, None))
    with _cache_lock:
        _outline_cache[doc] = (view.version, found)
    return found


def outline_range(
    doc: SyntaxDocument | ParsedText, start: int, end: int
) -> tuple[list[Definition], list[ImportRef]]:
    """Definitions and imports that overlap ``[start, end)`` (str offsets), with their enclosing
    definitions: a bounded-cost outline for very large files."""
    view = doc.snapshot()
    return _collect(view, view.tree.root_node, (view.byte_offset(start), view.byte_offset(end)))


def _collect(
    doc: ParsedText, root: Node, byte_range: tuple[int, int] | None
) -> tuple[list[Definition], list[ImportRef]]:
    query = _tag_queries(doc.language).definitions
    if query is None:
        return [], []
    cursor = QueryCursor(query)
    if byte_range is not None:
        cursor.set_byte_range(*byte_range)
    raw: dict[tuple[int, int], _RawDefinition] = {}
    import_groups: dict[tuple[int, int], tuple[Node, dict[str, None], dict[str, None]]] = {}
    for _, captures in cursor.matches(root):
        statement = _first(captures.get("import"))
        if statement is not None:
            _add_import(doc, captures, statement, import_groups)
            continue
        kind = next((name[11:] for name in captures if name.startswith("definition.")), None)
        if kind is None:
            continue
        node = captures["definition." + kind][0]
        key = (node.start_byte, node.end_byte)
        names = captures.get("name")
        if not names or (key in raw and not _more_specific(kind, raw[key].kind)):
            continue
        raw[key] = _RawDefinition(
            node=node,
            anchor=_anchor(node),
            kind=kind,
            name=doc.node_text(names[0]),
            body=_first(captures.get("body")),
            doc_node=_first(captures.get("doc")),
            container=_text_or_none(doc, _first(captures.get("container"))),
        )
    return _nest(doc, raw.values()), _imports_of(doc, import_groups)


def _nest(doc: ParsedText, raw: Iterable[_RawDefinition]) -> list[Definition]:
    """Definitions in source order, with containers and methods resolved from how they nest."""
    ordered = sorted(raw, key=lambda item: (item.anchor.start_byte, -item.anchor.end_byte))
    result: list[Definition] = []
    stack: list[_RawDefinition] = []
    for item in ordered:
        while stack and stack[-1].anchor.end_byte <= item.anchor.start_byte:
            stack.pop()
        parent = stack[-1] if stack else None
        kind = item.kind
        if parent is not None and kind == "function" and parent.kind in _CLASS_LIKE:
            kind = "method"
        if kind in _LOCAL_IN_FUNCTIONS and parent is not None and parent.kind in _FUNCTION_LIKE:
            continue  # a local, not part of the outline
        container = item.container or (parent.name if parent is not None else None)
        stack.append(item)
        start, end = doc.node_span(item.anchor)
        end_line = item.anchor.end_point.row
        if item.anchor.end_point.column == 0 and end_line > item.anchor.start_point.row:
            end_line -= 1  # nodes like `#define X 1` end with their newline
            end = doc.text.rfind("\n", start, end) if doc.text[end - 1 : end] == "\n" else end
        result.append(
            Definition(
                name=item.name,
                kind=kind,
                signature=_signature(doc, item.anchor, item.body),
                doc=_doc_line(doc, item),
                start=start,
                end=end,
                start_line=item.anchor.start_point.row,
                end_line=end_line,
                container=container,
                body_start=doc.char_offset(item.body.start_byte) if item.body is not None else None,
            )
        )
    return result


def _add_import(
    doc: ParsedText,
    captures: dict[str, list[Node]],
    statement: Node,
    groups: dict[tuple[int, int], tuple[Node, dict[str, None], dict[str, None]]],
) -> None:
    entry = groups.setdefault((statement.start_byte, statement.end_byte), (statement, {}, {}))
    for node in captures.get("import.module", ()):
        entry[1][_strip_string_quotes(doc.node_text(node)).strip("<>")] = None
    for node in captures.get("import.name", ()):
        entry[2][doc.node_text(node)] = None


def _imports_of(
    doc: ParsedText, groups: dict[tuple[int, int], tuple[Node, dict[str, None], dict[str, None]]]
) -> list[ImportRef]:
    result = []
    for key in sorted(groups):
        statement, modules, names = groups[key]
        result.append(
            ImportRef(
                text=doc.node_text(statement).strip(),
                modules=tuple(module for module in modules if module),
                names=tuple(names),
                line=statement.start_point.row,
            )
        )
    return result


def _more_specific(kind: str, than: str) -> bool:
    """Whether a second pattern matching the same node names it better (a struct over a plain type)."""
    return than in _GENERIC_KINDS and kind not in _GENERIC_KINDS


def _first(nodes: list[Node] | None) -> Node | None:
    return nodes[0] if nodes else None


def _text_or_none(doc: ParsedText, node: Node | None) -> str | None:
    return doc.node_text(node) if node is not None else None


def _anchor(node: Node) -> Node:
    """The definition with the nodes that wrap only it (decorators, ``export``, ``template<...>``)."""
    anchor = node
    parent = anchor.parent
    while parent is not None and parent.type in _WRAPPERS and parent.end_byte - anchor.end_byte <= 1:
        anchor = parent
        parent = anchor.parent
    return anchor


def _signature(doc: ParsedText, node: Node, body: Node | None) -> str:
    """The header of a definition: its text up to the body (minus comments before it), collapsed."""
    end = node.end_byte
    if body is not None and node.start_byte < body.start_byte <= node.end_byte:
        end = body.start_byte
        before = body.prev_sibling
        while before is not None and before.is_extra:  # comments between the header and the body
            before = before.prev_sibling
        if before is not None and node.start_byte < before.end_byte <= end:
            end = before.end_byte
    header = doc.source[node.start_byte : end].decode("utf-8", "replace")
    lines = header.splitlines()
    decorations = 0  # leading decorator/attribute lines stay on lines of their own while they fit
    while decorations < len(lines) - 1 and lines[decorations].lstrip().startswith(("@", "#[")):
        decorations += 1
    collapsed = collapse_lines("\n".join(lines[decorations:]), 3).splitlines()
    kept = [_cut(_squeeze(line)) for line in lines[:decorations]]
    return "\n".join(kept[max(0, len(kept) + len(collapsed) - 3) :] + collapsed)


def collapse_lines(text: str, max_lines: int) -> str:
    """Whitespace-collapsed text in at most ``max_lines`` lines: longer text is joined into one line when
    that is short, else cut after ``max_lines`` lines with " ..."."""
    lines = [_squeeze(line) for line in text.splitlines()]
    lines = [_cut(line) for line in lines if line]
    if len(lines) <= max_lines:
        return "\n".join(lines)
    joined = _SPACE_AFTER_OPEN.sub(r"\1", " ".join(lines))
    joined = _SPACE_BEFORE_CLOSE.sub(r"\1", joined)
    if len(joined) <= _MAX_SIGNATURE_LINE:
        return joined
    kept = lines[:max_lines]
    kept[-1] = kept[-1][: _MAX_SIGNATURE_LINE - 4] + " ..."
    return "\n".join(kept)


def _squeeze(line: str) -> str:
    """The line with runs of whitespace made one space, trimmed."""
    return " ".join(line.split())


def _cut(line: str) -> str:
    return line if len(line) <= _MAX_SIGNATURE_LINE else line[: _MAX_SIGNATURE_LINE - 4] + " ..."


def _doc_line(doc: ParsedText, item: _RawDefinition) -> str:
    """First line of the docstring, or of the comment block right above the definition."""
    if item.doc_node is not None:
        return _first_doc_line(_strip_string_quotes(doc.node_text(item.doc_node)))
    comments: list[Node] = []
    below = item.anchor
    sibling = below.prev_sibling
    while sibling is not None and sibling.end_point.row >= below.start_point.row - 1:
        if "comment" in sibling.type:
            comments.append(sibling)
        elif comments or not _ANNOTATION.search(sibling.type):
            break  # only attributes/annotations may sit between a doc comment and its definition
        below = sibling
        sibling = sibling.prev_sibling
    if not comments:
        return ""
    if sibling is not None and sibling.end_point.row == comments[-1].start_point.row:
        comments.pop()  # a trailing comment of the previous statement, not ours
    for comment in reversed(comments):
        line = _first_doc_line(doc.node_text(comment), comment=True)
        if line:
            return line
    return ""


def _strip_string_quotes(text: str) -> str:
    return _STRING_PREFIX.sub("", text, count=1).strip("\"'`")


def _first_doc_line(text: str, comment: bool = False) -> str:
    for line in text.splitlines():
        if comment:
            line = _COMMENT_TAIL.sub("", _COMMENT_MARKERS.sub("", line, count=1))
        line = _squeeze(line)
        if line and not line.startswith("@"):
            return line[:_MAX_SIGNATURE_LINE]
    return ""


def enclosing_definitions(doc: SyntaxDocument | ParsedText, offset: int) -> list[Definition]:
    """Definitions whose extent contains ``offset``, outermost first.

    Only the tree around ``offset`` is matched. In indentation-based Python a definition also encloses an
    indented blank line after its last statement, where the user is about to type its next line."""
    doc = doc.snapshot()
    text = doc.text
    offset = max(0, min(offset, len(text)))
    byte = doc.byte_offset(offset)
    probe = offset
    if doc.language == "python":  # also reach the definitions that end on a line above the cursor
        while probe > 0 and text[probe - 1] in " \t\r\n\f":
            probe -= 1
    first_byte = doc.byte_offset(probe) if probe != offset else byte
    found, _ = _collect(doc, doc.tree.root_node, (max(0, first_byte - 1), byte + 1))
    inside = [
        item
        for item in found
        if item.start < offset < item.end or (offset == item.end and _open_end(text, item))
    ]
    if doc.language == "python":
        inside += [item for item in found if item.end < offset and _python_continues(text, item, offset)]
        inside.sort(key=lambda item: (item.start, -item.end))
    return inside


def _open_end(text: str, item: Definition) -> bool:
    """Whether a cursor right at a definition's end is still inside it (not after a closing ``}``/``end``)."""
    tail = text[max(item.start, item.end - 4) : item.end]
    return not (tail.endswith(("}", ";", ")")) or re.search(r"\Wend$", tail) is not None)


def _python_continues(text: str, item: Definition, offset: int) -> bool:
    """Whether a blank-ish indented cursor line after ``item`` still belongs to its body."""
    line_start = text.rfind("\n", 0, offset) + 1
    if text[item.end : line_start].strip():
        return False
    indent = len(text[line_start:offset]) - len(text[line_start:offset].lstrip(" \t"))
    header_start = text.rfind("\n", 0, item.start) + 1
    header_indent = len(text[header_start : item.start]) - len(text[header_start : item.start].lstrip(" \t"))
    return indent > header_indent


# --- references -----------------------------------------------------------------------------------


def references_near(
    doc: SyntaxDocument | ParsedText, offset: int, lines_before: int = 30, lines_after: int = 5
) -> list[str]:
    """Names referenced in the lines around ``offset``: nearest before the cursor first, then after it."""
    query = _tag_queries(doc.language).references
    if query is None:
        return []
    doc = doc.snapshot()
    text = doc.text
    offset = max(0, min(offset, len(text)))
    start = doc.line_start(offset)
    for _ in range(lines_before):
        if start == 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    end = offset
    for _ in range(lines_after + 1):
        newline = text.find("\n", end)
        if newline < 0:
            end = len(text)
            break
        end = newline + 1
    return _names_in(doc, query, start, end, offset)


def _defining_names(doc: ParsedText, root: Node, start_byte: int, end_byte: int) -> set[int]:
    """Start bytes of the names that definitions in the range define (a definition is not a reference)."""
    query = _tag_queries(doc.language).definitions
    if query is None:
        return set()
    cursor = QueryCursor(query)
    cursor.set_byte_range(start_byte, end_byte)
    return {node.start_byte for node in cursor.captures(root).get("name", ())}


def _names_in(doc: ParsedText, query: Query, start: int, end: int, offset: int) -> list[str]:
    cursor = QueryCursor(query)
    start_byte, end_byte, cursor_byte = doc.byte_offset(start), doc.byte_offset(end), doc.byte_offset(offset)
    cursor.set_byte_range(start_byte, end_byte)
    root = doc.tree.root_node
    defining = _defining_names(doc, root, start_byte, end_byte)
    before: dict[int, Node] = {}
    after: dict[int, Node] = {}
    for capture_name, nodes in cursor.captures(root).items():
        if capture_name != "name" and not capture_name.startswith("reference."):
            continue
        for node in nodes:
            if (
                node.child_count
                or not start_byte <= node.start_byte < end_byte
                or node.start_byte in defining
            ):
                continue
            (before if node.start_byte < cursor_byte else after)[node.start_byte] = node
    ordered = [before[key] for key in sorted(before, reverse=True)] + [after[key] for key in sorted(after)]
    names = dict.fromkeys(doc.node_text(node) for node in ordered)
    return [name for name in names if name]
