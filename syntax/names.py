"""Names that the code after the cursor uses but nothing defines: what a hole at the cursor has to define.

A user who wrote a loop with ``total += x`` and goes back above it to start the function wants ``total = 0``;
a prefix-only model cannot see the loop. The names come from ``queries/<language>/names.scm`` (bindings,
uses, calls, members); a language without that file has none.
"""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass

from tree_sitter import QueryCursor

from syntax.document import SyntaxDocument
from syntax.languages import query
from syntax.outline import enclosing_definitions

__all__ = ["WantedName", "undefined_names"]

# Names every module of a language has without defining them.
_PREDEFINED: dict[str, frozenset[str]] = {
    "python": frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist),
}
_FUNCTION_KINDS = frozenset({"function", "method"})
_MODULE_REACH_CHARS = 4000  # outside any function: how far after the cursor uses are read


@dataclass(frozen=True)
class WantedName:
    name: str
    called: bool  # first used as ``name(...)``: a function to define
    offset: int  # str offset of its first use after the cursor


def undefined_names(document: SyntaxDocument, offset: int, limit: int = 3) -> list[WantedName]:
    """Names used after ``offset`` (in the enclosing function, else nearby) that are bound nowhere before it.

    A name counts as defined when it occurs anywhere before the cursor, is bound outside the enclosing
    function, is bound after the cursor before its first use there, or is predefined (builtins). In order of
    first use, at most ``limit``.
    """
    names_query = query(document.language, "names")
    if names_query is None or limit <= 0:
        return []
    document = document.snapshot()
    text = document.text
    offset = max(0, min(offset, len(text)))
    start, end = _reach(document, offset)
    roles: dict[int, set[str]] = {}
    nodes = {}
    for role, captured in QueryCursor(names_query).captures(document.tree.root_node).items():
        for node in captured:
            roles.setdefault(node.start_byte, set()).add(role)
            nodes[node.start_byte] = node
    known = set(_PREDEFINED.get(document.language, frozenset()))
    after: list[tuple[int, str, set[str]]] = []
    for byte, node_roles in roles.items():
        if "member" in node_roles:
            continue
        node_start, _ = document.node_span(nodes[byte])
        name = document.node_text(nodes[byte])
        inside = start <= node_start < end
        if node_start < offset or "local" in node_roles or ("binding" in node_roles and not inside):
            known.add(name)
        elif inside:
            after.append((node_start, name, node_roles))
    wanted: list[WantedName] = []
    for position, name, node_roles in sorted(after):
        if name in known:
            continue
        known.add(name)  # the first occurrence decides
        if "binding" not in node_roles:
            wanted.append(WantedName(name, "call" in node_roles, position))
            if len(wanted) >= limit:
                break
    return wanted


def _reach(document: SyntaxDocument, offset: int) -> tuple[int, int]:
    """The span whose uses count: the innermost enclosing function, else a stretch after the cursor."""
    functions = [item for item in enclosing_definitions(document, offset) if item.kind in _FUNCTION_KINDS]
    if functions:
        return functions[-1].start, functions[-1].end
    return offset, min(len(document.text), offset + _MODULE_REACH_CHARS)
