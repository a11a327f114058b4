"""Line, indentation and bracket facts read from plain text, where no tree is needed or none can be trusted.

Shaping (``syntax.shape``), validation (``syntax.checks``), fixes and the engine all ask these questions of
half-typed code; they live here once so that every room answers them alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Brackets",
    "indent_unit",
    "indentation_of",
    "is_closer_line",
    "is_header_line",
    "line_at",
    "line_bounds",
    "line_starts",
    "lsp_lines",
    "next_nonblank_line",
    "previous_nonblank_line",
    "scan_brackets",
    "shallower",
]

_HEADER_END: dict[str, re.Pattern[str]] = {
    "python": re.compile(r":\s*(#.*)?$"),
    "lua": re.compile(r"(\bthen|\bdo|\belse|\brepeat|\bfunction\b.*\))\s*(--.*)?$"),
}
_BRACE_HEADER_END = re.compile(r"\{\s*(//.*|/\*.*\*/\s*)?$")
_ANY_HEADER_END = re.compile(r"(\{|:|\bthen|\bdo)\s*$")
_BRACKET_CLOSER_LINE = re.compile(r"^\s*[)\]}]")
_KEYWORD_CLOSER_LINE = re.compile(r"^\s*([)\]}]|end\b|until\b)")
_KEYWORD_CLOSER_LANGUAGES = frozenset({"lua"})
# Lines end at LSP's line breaks only (\n, \r\n, \r): str.splitlines also breaks at these, the client does not.
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_WITH_BREAK = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def lsp_lines(text: str, keepends: bool = False) -> list[str]:
    """``text`` split into lines as the editor counts them (as ``str.splitlines``, with LSP's line breaks
    only: ``\\n``, ``\\r\\n``, ``\\r``), so a form feed or U+2028 stays inside its line. The server's
    documents, the index's chunks, definitions and edits all count lines by this one rule."""
    if not any(character in text for character in _OTHER_BREAKS):
        return text.splitlines(keepends)  # the same split at C speed (the regex costs 0.3 s per MB)
    if keepends:
        return _LINE_WITH_BREAK.findall(text)
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def line_starts(text: str) -> list[int]:
    """The offset where each line of ``text`` starts, lines as ``lsp_lines`` counts them."""
    return [0, *(match.end() for match in _LINE_BREAK.finditer(text))]


def line_at(text: str, offset: int) -> int:
    """The 0-based line of ``offset`` in ``text``, lines as ``lsp_lines`` counts them (C-speed counts)."""
    return text.count("\n", 0, offset) + text.count("\r", 0, offset) - text.count("\r\n", 0, offset)


def indentation_of(line: str) -> str:
    """The leading whitespace of a line."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def shallower(indent: str, than: str) -> bool:
    """Whether ``indent`` is left of ``than`` (tabs count as four columns)."""
    return len(indent.expandtabs(4)) < len(than.expandtabs(4))


def line_bounds(text: str, offset: int) -> tuple[int, int]:
    """Start and end (before its line break) of the line containing ``offset``."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return start, len(text) if end < 0 else end


def next_nonblank_line(text: str, offset: int) -> tuple[int, str] | None:
    """The first non-blank line after the line containing ``offset``: (its start offset, its text)."""
    position = text.find("\n", offset)
    while position >= 0:
        start = position + 1
        end = text.find("\n", start)
        line = text[start : len(text) if end < 0 else end]
        if line.strip():
            return start, line.rstrip("\r")
        position = end
    return None


def previous_nonblank_line(text: str, offset: int) -> str | None:
    """The last non-blank line before the line containing ``offset``."""
    end = text.rfind("\n", 0, offset)
    while end >= 0:
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end].rstrip("\r")
        if line.strip():
            return line
        end = start - 1
    return None


def indent_unit(text: str, offset: int, language: str | None) -> str:
    """The document's indentation step, from the smallest indentation increase between nearby lines."""
    if language == "go":
        return "\t"
    window = text[max(0, offset - 20_000) : offset + 20_000].split("\n")
    previous = ""
    steps: dict[str, int] = {}
    for line in window:
        if not line.strip():
            continue
        indent = indentation_of(line)
        if len(indent) > len(previous) and indent.startswith(previous):
            step = indent[len(previous) :]
            steps[step] = steps.get(step, 0) + 1
        previous = indent
    if steps:
        return max(steps, key=lambda step: (steps[step], -len(step)))
    return "  " if language in {"javascript", "typescript", "tsx", "lua"} else "    "


@dataclass(frozen=True)
class Brackets:
    """Where the brackets of a piece of code stand at its end (strings and their escapes skipped)."""

    unclosed: list[str]  # openers still open, outermost first
    unmatched: list[int]  # indexes of closers that close nothing opened in the text


def scan_brackets(text: str, pairs: str = "()[]{}") -> Brackets:
    """The brackets of ``pairs`` (opener, closer, ...) in ``text``; a closer of another kind than the
    innermost open bracket is ignored. A quote ends at its closing quote or at the end of its line."""
    closing = dict(zip(pairs[1::2], pairs[0::2], strict=True))
    stack: list[str] = []
    unmatched: list[int] = []
    quote = ""
    escaped = False
    for index, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote or char == "\n":
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in pairs[0::2]:
            stack.append(char)
        elif char in closing:
            if not stack:
                unmatched.append(index)
            elif stack[-1] == closing[char]:
                stack.pop()
    return Brackets(stack, unmatched)


def is_closer_line(line: str, language: str | None) -> bool:
    """Whether a line starts by closing a block: ``}``, ``)``; also ``end``/``until`` in Lua or unknown."""
    keyword_closers = language is None or language in _KEYWORD_CLOSER_LANGUAGES
    return (_KEYWORD_CLOSER_LINE if keyword_closers else _BRACKET_CLOSER_LINE).match(line) is not None


def is_header_line(before: str, language: str | None) -> bool:
    """Whether the text before the cursor ends a block header (``def f(x):``, ``if (x) {``, ``then``)."""
    stripped = before.rstrip()
    if not stripped:
        return False
    pattern = _HEADER_END.get(language or "") or (_BRACE_HEADER_END if language else _ANY_HEADER_END)
    if not pattern.search(stripped):
        return False
    unclosed = scan_brackets(stripped).unclosed
    return not unclosed or (unclosed[-1] == "{" and stripped.endswith("{"))
