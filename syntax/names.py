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

from syntax.document import ParsedText, SyntaxDocument
from syntax.languages import query
from syntax.outline import definitions, enclosing_definitions, imports

__all__ = ["WantedName", "undefined_names"]

# Names every module of a language has without defining them.
_PREDEFINED: dict[str, frozenset[str]] = {
    "python": frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist),
}
_FUNCTION_KINDS = frozenset({"function", "method"})
_MODULE_REACH_CHARS = 4000  # outside any function: how far after the cursor uses are read
_LOOKBACK_CHARS = 20_000  # names are read this far around the cursor (and in all of the enclosing function)


@dataclass(frozen=True)
class WantedName:
    name: str
    called: bool  # first used as ``name(...)``: a function to define
    offset: int  # str offset of its first use after the cursor


def undefined_names(document: SyntaxDocument | ParsedText, offset: int, limit: int = 3) -> list[WantedName]:
    """Names used after ``offset`` (in the enclosing function, else nearby) that are bound nowhere before it.

    A name counts as defined when it occurs before the cursor, is bound outside the enclosing function, is
    bound after the cursor before its first use there, or is predefined (builtins). In order of first use, at
    most ``limit``. In a huge file names are read ``_LOOKBACK_CHARS`` around the cursor; beyond that, the
    file's definitions and imports count.
    """
    names_query = query(document.language, "names")
    if names_query is None or limit <= 0:
        return []
    live, document = document, document.snapshot()
    text = document.text
    offset = max(0, min(offset, len(text)))
    start, end = _reach(document, offset)
    read_from = max(0, min(start, offset - _LOOKBACK_CHARS))
    read_to = min(len(text), max(end, offset + _LOOKBACK_CHARS))
    cursor = QueryCursor(names_query)
    cursor.set_byte_range(document.byte_offset(read_from), document.byte_offset(read_to))
    roles: dict[int, set[str]] = {}
    nodes = {}
    for role, captured in cursor.captures(document.tree.root_node).items():
        for node in captured:
            roles.setdefault(node.start_byte, set()).add(role)
            nodes[node.start_byte] = node
    known = set(_PREDEFINED.get(document.language, frozenset()))
    if read_from > 0 or read_to < len(text):  # a huge file: the rest counts by its definitions and imports
        known.update(definition.name for definition in definitions(live))
        for reference in imports(live):  # `import a.b` binds `a`; `from m import x as y` binds `y`
            known.update(reference.names, (module.split(".")[0] for module in reference.modules))
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


def _reach(document: ParsedText, offset: int) -> tuple[int, int]:
    """The span whose uses count: the innermost enclosing function, else a stretch after the cursor."""
    functions = [item for item in enclosing_definitions(document, offset) if item.kind in _FUNCTION_KINDS]
    if functions:
        return functions[-1].start, functions[-1].end
    return offset, min(len(document.text), offset + _MODULE_REACH_CHARS)
