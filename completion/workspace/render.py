"""How a retrieved definition reads in a prompt: a short function whole, a long one as its header and
docstring, a class as its skeleton, a module member as its signature and first docstring line."""

from __future__ import annotations

from collections.abc import Sequence

from completion.workspace.store import IndexedDefinition
from syntax.languages import spec_for

__all__ = ["definition_text", "member_stub"]

_SHORT_BODY_LINES = 12
_MAX_DEFINITION_CHARS = 700
_MAX_LISTED_MEMBERS = 12
_CONTAINER_KINDS = frozenset({"class", "struct", "interface", "trait", "impl", "module", "type", "enum"})
_DOC_COMMENT = {"python": '"""{}"""', "lua": "-- {}"}
_CLOSERS = frozenset({"}", "};", "end", "})", "});"})


def definition_text(
    path: str, definition: IndexedDefinition, siblings: Sequence[IndexedDefinition], lines: Sequence[str]
) -> str:
    """``definition`` of the file at ``path`` (whose ``lines`` and other definitions are given), shortened."""
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
    own = list(lines[definition.start_line : definition.end_line + 1])
    if not own:
        return definition.signature
    header = _header_lines(own, definition)
    if members:
        kept = [*_skeleton(own, definition.start_line, inside), *elsewhere]
    elif len(own) <= _SHORT_BODY_LINES:
        kept = own
    else:
        kept = own[:header]
        indent = _indent_of(own[header] if len(own) > header else own[0]) or "    "
        if definition.doc:
            kept = [*kept, f"{indent}{_doc_line(path, definition.doc)}"]
        kept.append(f"{indent}...")
        if _is_closer(own[-1]):
            kept.append(own[-1])
    text = "\n".join(kept)
    if len(text) > _MAX_DEFINITION_CHARS:
        text = (
            text[: text.rfind("\n", 0, _MAX_DEFINITION_CHARS)]
            if "\n" in text
            else text[:_MAX_DEFINITION_CHARS]
        )
    return _dedent(text)


def member_stub(path: str, definition: IndexedDefinition) -> str:
    """A module's member as the completion after ``module.`` needs it: signature, first docstring line."""
    if not definition.doc:
        return definition.signature
    return definition.signature + "\n" + "    " + _doc_line(path, definition.doc)


def _header_lines(lines: Sequence[str], definition: IndexedDefinition) -> int:
    """How many of a definition's lines (decorators and attributes included) come before its body: up to the
    body's line, and that line too when the header goes on there (``) {``, ``def f(): return 1``). Without a
    body, its signature's lines."""
    if definition.body_start is None:
        return max(1, min(len(lines), definition.signature.count("\n") + 1))
    body_line, body_column = definition.body_start
    relative = body_line - definition.start_line
    if relative >= len(lines):
        return len(lines)
    if relative < 0:
        return 1
    goes_on = bool(lines[relative][:body_column].strip())
    return max(1, relative + goes_on)


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
        head = _header_lines(span, member)
        kept.extend(span[:head])
        if head < len(span):
            kept.append(f"{_indent_of(span[head]) or _indent_of(span[0]) + '    '}...")
            if _is_closer(span[-1]):
                kept.append(span[-1])
        index += max(1, len(span))
    return kept


def _doc_line(path: str, doc: str) -> str:
    spec = spec_for(path=path)
    language = spec.name if spec else ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return _DOC_COMMENT.get(language, "// {}").format(first)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _is_closer(line: str) -> bool:
    return line.strip() in _CLOSERS


def _dedent(text: str) -> str:
    lines = text.split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines) if cut else text
