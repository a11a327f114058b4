"""What may follow the dot the cursor is after: ``self.``, ``this.``, a Go method's receiver ``r.``.

There the real choices are the enclosing class's members, and a small model left alone invents names.
Structure comes from ``queries/<language>/members.scm`` (see its header for the captures); signatures and
first docstring lines of methods come from the outline (``syntax.outline``), so they read as everywhere else.
Any other receiver (``billing.``) is reported with its name only, and so is the module of a Python
``from billing import ``: modules are the workspace index's to resolve.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from tree_sitter import Node, Query, QueryCursor, Tree

from syntax.document import ParsedText, SyntaxDocument, parsed_for
from syntax.languages import grammar, query_source
from syntax.outline import Definition, collapse_lines, outline_range

log = logging.getLogger(__name__)

__all__ = ["Member", "MemberAccess", "from_import_module", "member_access", "offered"]


@dataclass(frozen=True)
class Member:
    """One member of a class or type."""

    name: str  # as written after the dot: "total", "#count" (a JavaScript private name)
    kind: str  # "method" | "attribute" (assigned) | "field" (declared) | "property"
    signature: str  # one line: "def total(self, items: list[Item]) -> int:", "self.items: list[Item] = []"
    doc: str  # first line of its docstring or doc comment, "" if none


@dataclass(frozen=True)
class MemberAccess:
    """A member access the cursor is in, on the cursor line."""

    receiver: str  # the text before the dot: "self", "this", "billing", "s"
    partial: str  # the member name typed so far (up to the cursor), may be ""
    start: int  # str offset where the member name starts
    kind: str  # "self": the enclosing class's instance (or Go receiver); "name": any other receiver;
    # "module": a Python `from <receiver> import ` (the receiver is the module, relative dots included)
    members: tuple[Member, ...] | None  # for "self", the class's members in source order; else None


# A placeholder member name, parsed in when the access at the cursor does not parse (`self.` alone is an error).
_PLACEHOLDER = "_m"
_PARTIAL = {"ecma": re.compile(r"#?[\w$]*\Z"), "other": re.compile(r"\w*\Z")}
_ECMA = frozenset({"javascript", "typescript", "tsx"})
_FROM_IMPORT = re.compile(  # `from billing import `, `from .pkg import (a, b as c, ` up to the typed word
    r"[ \t]*from[ \t]+(?P<module>\.*[\w.]*\w|\.+)[ \t]+import[ \t]+\(?[ \t]*"
    r"(?:\w+(?:[ \t]+as[ \t]+\w+)?[ \t]*,[ \t]*)*\Z"
)
_DUNDER = re.compile(r"__\w*__\Z")
_PROPERTY_DECORATORS = frozenset({"property", "cached_property", "setter", "getter", "deleter"})
_MAX_SIGNATURE = 200
_KIND_RANK = {"method": 0, "attribute": 0, "field": 0, "property": 1}  # a getter's `get` wins over method


@dataclass(frozen=True)
class _Queries:
    access: Query  # the @access patterns, matched around the cursor only
    members: Query  # everything else, matched over the file


@cache
def _queries(language: str) -> _Queries | None:
    """members.scm split by pattern, so the (many) accesses of a file are never matched."""
    source = query_source(language, "members")
    if source is None:
        return None
    try:
        whole = Query(grammar(language), source)
        data = source.encode("utf-8")
        access: list[str] = []
        members: list[str] = []
        for index in range(whole.pattern_count):
            pattern = data[whole.start_byte_for_pattern(index) : whole.end_byte_for_pattern(index)].decode()
            (access if "@access" in pattern else members).append(pattern)
        return _Queries(
            Query(grammar(language), "\n".join(access)), Query(grammar(language), "\n".join(members))
        )
    except Exception:  # a grammar that no longer fits the query must not break completion: no members
        log.warning("members query for %s does not compile; no members for it", language, exc_info=True)
        return None


def member_access(
    text: str, language: str, offset: int, document: SyntaxDocument | ParsedText | None = None
) -> MemberAccess | None:
    """The member access whose name the cursor is in or right after (``self.``, ``self.to``), or None (no
    dot before the word, a string or comment, a language without members.scm).

    ``language`` is a canonical name (``syntax.languages``); ``document`` is used when it holds exactly
    ``text`` (no reparse). Members are not filtered by ``partial``, except that dunder names (``__init__``)
    and JavaScript's ``constructor`` are left out unless ``partial`` starts with ``__``; the access being
    typed never counts as a member. For kind "self" the class's own members come first, then those of its
    bases (embedded types in Go) defined in the same file, each name once.
    """
    queries = _queries(language)
    if queries is None:
        return None
    offset = max(0, min(offset, len(text)))
    line_start = text.rfind("\n", 0, offset) + 1
    typed = _PARTIAL["ecma" if language in _ECMA else "other"].search(text, line_start, offset)
    partial = typed.group() if typed else ""
    start = offset - len(partial)
    module = from_import_module(text[line_start:start]) if language == "python" else None
    if module is not None:
        return MemberAccess(module, partial, start, "module", None)
    if text[start - 1 : start] != ".":
        return None
    doc = parsed_for(text, language, document)
    found = _access_at(doc, queries.access, start)
    if found is None:  # `self.` alone does not parse: read it as `self._m`
        doc = doc.with_edit(offset, offset, _PLACEHOLDER)
        found = _access_at(doc, queries.access, start)
    if found is None:
        return None
    receiver, member = found
    receiver_text = doc.node_text(receiver)

    def outline(first: int, last: int) -> list[Definition]:
        return outline_range(doc, first, last)[0]

    file = _FileMembers(doc, queries.members, member.start_byte, outline)
    file.read(receiver)  # the scopes around the receiver, with their classes' declared members
    owner = file.owner(receiver, receiver_text)
    if owner is None:
        return MemberAccess(receiver_text, partial, start, "name", None)
    key, static = owner
    special = partial.startswith("__")
    members = tuple(
        item
        for item in file.members_of(key, static)
        if offered(item.name, partial) and (special or not (language in _ECMA and item.name == "constructor"))
    )
    return MemberAccess(receiver_text, partial, start, "self", members)


def offered(name: str, partial: str) -> bool:
    """Whether a member is one to offer: dunder names (``__init__``, a module's ``__file__``) only once
    ``__`` is typed."""
    return partial.startswith("__") or not _DUNDER.match(name)


def from_import_module(line_before_word: str) -> str | None:
    """The module of a Python ``from billing import `` (``from .pkg import (a, b as c, ``) that the line
    before the typed word is, or None. An unfinished statement does not parse, so the line is read as text."""
    imported = _FROM_IMPORT.match(line_before_word)
    return imported.group("module") if imported else None


class _Parsed(Protocol):
    """What is read of a parsed text (a document's snapshot)."""

    @property
    def text(self) -> str: ...
    @property
    def tree(self) -> Tree: ...
    def byte_offset(self, offset: int) -> int: ...
    def char_offset(self, byte: int) -> int: ...
    def node_span(self, node: Node) -> tuple[int, int]: ...
    def node_text(self, node: Node) -> str: ...


def _access_at(doc: _Parsed, access: Query, start: int) -> tuple[Node, Node] | None:
    """The receiver and member nodes of the access whose member name starts at ``start``."""
    byte = doc.byte_offset(start)
    cursor = QueryCursor(access)
    cursor.set_byte_range(max(0, byte - 1), byte + 1)
    for _, captures in cursor.matches(doc.tree.root_node):
        member, receiver = captures["member"][0], captures["receiver"][0]
        if member.start_byte == byte:
            return receiver, member
    return None


_Key = tuple[str, int | str]  # ("node", a class node's id) or ("name", a Go type's name)


@dataclass
class _Found:
    node: Node  # the whole member (a method with its decorators, an assignment, a field declaration)
    name: str
    kind: str
    static: bool


@dataclass
class _Scope:
    key: _Key | None  # the class whose instance ``self_name`` is; None: a function rebinding `this`
    self_name: str
    static: bool


class _FileMembers:
    """What members.scm finds in the parts of a file read so far, keyed by class.

    Only what the answer needs is read: the scopes around the receiver, then the class (an attribute may be
    assigned in any of its methods), and the whole file only for Go (methods live outside the type) or for
    a base class that the file defines."""

    def __init__(
        self, doc: _Parsed, query: Query, skip: int, outline: Callable[[int, int], list[Definition]]
    ) -> None:
        self.doc = doc
        self.query = query
        self.skip = skip  # start byte of the name being typed: not a member
        self.outline = outline  # the outline's definitions over a range of str offsets
        self.names: dict[str, dict[_Key, None]] = {}  # class name -> its classes
        self.classes: dict[_Key, Node] = {}
        self.bases: dict[_Key, dict[str, None]] = {}
        self.members: dict[_Key, dict[tuple[int, str], _Found]] = {}  # by node id and name
        self.scopes: dict[int, _Scope] = {}  # by scope node id
        self.read_all = False

    def read(self, node: Node | None = None) -> None:
        """Match the patterns that intersect ``node`` (the whole file when None); reading twice is harmless."""
        if self.read_all:
            return
        cursor = QueryCursor(self.query)
        if node is None:
            self.read_all = True
        else:
            cursor.set_byte_range(node.start_byte, node.end_byte)
        doc = self.doc
        assigned: list[tuple[Node, str, str]] = []  # (assignment, name, receiver): its owner is found last
        for _, captures in cursor.matches(doc.tree.root_node):
            key = _key(doc, captures)
            static = "static" in captures
            if key is not None:
                if "class" in captures:
                    self.classes[key] = captures["class"][0]
                if "class.name" in captures:
                    self.names.setdefault(doc.node_text(captures["class.name"][0]), {})[key] = None
                for base in captures.get("base", ()):
                    self.bases.setdefault(key, {})[doc.node_text(base)] = None
            for capture, nodes in captures.items():
                if capture.startswith("scope."):
                    self._add_scope(nodes[0], capture, key, static, captures)
                elif capture.startswith("definition.") and "name" in captures:
                    name_node = captures["name"][0]
                    if name_node.start_byte == self.skip:
                        continue
                    name = doc.node_text(name_node)
                    if "receiver" in captures:
                        assigned.append((nodes[0], name, doc.node_text(captures["receiver"][0])))
                    elif key is not None:
                        self._add(key, nodes[0], name, capture[11:], static, captures)
        for node, name, receiver in assigned:
            scope = self._scope_of(node)
            if scope is not None and scope.key is not None and scope.self_name == receiver:
                self._add(scope.key, node, name, "attribute", scope.static, {})

    def _add_scope(
        self, node: Node, capture: str, key: _Key | None, static: bool, captures: dict[str, list[Node]]
    ) -> None:
        """Record a scope; a method matched by several patterns gathers what each says (static or not)."""
        decorators = (_decorator_name(self.doc.node_text(item)) for item in captures.get("decorator", ()))
        instance = capture == "scope.method" and key is not None and "staticmethod" not in decorators
        self_name = self.doc.node_text(captures["self"][0]) if "self" in captures else "this"
        scope = self.scopes.setdefault(node.id, _Scope(key if instance else None, self_name, static))
        scope.static = scope.static or static

    def _add(
        self, key: _Key, node: Node, name: str, kind: str, static: bool, captures: dict[str, list[Node]]
    ) -> None:
        """Record a member; a node matched by several patterns keeps the most specific kind."""
        found = self.members.setdefault(key, {}).setdefault((node.id, name), _Found(node, name, kind, static))
        found.static = found.static or static
        if _KIND_RANK[kind] > _KIND_RANK[found.kind]:
            found.kind = kind
        decorators = [_decorator_name(self.doc.node_text(item)) for item in captures.get("decorator", ())]
        if any(decorator in _PROPERTY_DECORATORS for decorator in decorators):
            found.kind = "property"

    def _scope_of(self, node: Node) -> _Scope | None:
        """The nearest scope around ``node``: the function its ``self``/``this`` belongs to."""
        parent = node.parent
        while parent is not None:
            scope = self.scopes.get(parent.id)
            if scope is not None:
                return scope
            parent = parent.parent
        return None

    def owner(self, receiver: Node, text: str) -> tuple[_Key, bool] | None:
        """The class (and whether statically) that ``receiver`` is the instance of, or None."""
        scope = self._scope_of(receiver)
        if scope is None or scope.key is None or scope.self_name != text:
            return None
        return scope.key, scope.static

    def members_of(self, key: _Key, static: bool) -> Iterator[Member]:
        """The class's members in source order, then its same-file bases', each name once."""
        chain = self._chain(key)
        found = [
            [
                item
                for item in self.members.get(each, {}).values()
                if item.static == static or each[0] == "name"
            ]
            for each in chain
        ]
        outlined = self._outlined([item.node for items in found for item in items])
        seen: set[str] = set()
        for items in found:
            for item in sorted(items, key=lambda each: each.node.start_byte):
                if item.name not in seen:
                    seen.add(item.name)
                    yield _member(self.doc, item, outlined)

    def _outlined(self, nodes: list[Node]) -> dict[tuple[str, int], Definition]:
        """The outline's definitions over the members' span, by name and end offset."""
        if not nodes:
            return {}
        first = self.doc.char_offset(min(node.start_byte for node in nodes))
        last = self.doc.char_offset(max(node.end_byte for node in nodes))
        return {(item.name, item.end): item for item in self.outline(first, last)}

    def _chain(self, key: _Key) -> list[_Key]:
        """The class and its bases the file defines, depth first, each once (a cycle ends)."""
        chain: list[_Key] = []
        pending = [key]
        while pending:
            current = pending.pop(0)
            if current in chain:
                continue
            self.read(self.classes.get(current))  # all of a class; a Go type: the whole file
            chain.append(current)
            bases = []
            for base in self.bases.get(current, {}):
                if base not in self.names and _may_define(self.doc.text, base):
                    self.read()
                classes = [candidate for candidate in self.names.get(base, {}) if candidate not in chain]
                bases.extend(classes[:1])
            pending[:0] = bases
        return chain


def _may_define(text: str, name: str) -> bool:
    """Whether the text may define class ``name``: spares reading a whole file for a base it imports."""
    return re.search(rf"\b(?:class|type)\s+{re.escape(name)}\b", text) is not None


def _key(doc: _Parsed, captures: dict[str, list[Node]]) -> _Key | None:
    """Classes are keyed by their node; Go types, whose methods live outside them, by their name."""
    if "class" in captures:
        return ("node", captures["class"][0].id)
    if "class.name" in captures:
        return ("name", doc.node_text(captures["class.name"][0]))
    return None


def _decorator_name(decorator: str) -> str:
    """``@functools.cached_property`` -> ``cached_property``; ``@total.setter`` -> ``setter``."""
    return decorator.lstrip("@").split("(")[0].strip().rsplit(".", 1)[-1]


def _member(doc: _Parsed, item: _Found, outlined: dict[tuple[str, int], Definition]) -> Member:
    """A member with its signature line: a method's header from the outline, else its first line."""
    start, end = doc.node_span(item.node)
    definition = outlined.get((item.name, end))
    if definition is None:
        header = doc.text[start:end].split("\n", 1)[0]
        return Member(item.name, item.kind, _line(header), "")
    lines = definition.signature.split("\n")
    while len(lines) > 1 and lines[0].startswith("@"):  # decorators: the def line is the signature
        lines.pop(0)
    return Member(item.name, item.kind, collapse_lines("\n".join(lines), 1), definition.doc)


def _line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_SIGNATURE else line[: _MAX_SIGNATURE - 4] + " ..."
