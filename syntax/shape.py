"""Shaping: what a cursor position asks for, when generation stops, and how a raw output is cut to fit.

Where a suggestion ends is one decision made at three moments, so it lives here once:

* before generation, ``completion_shape``: does the context want the rest of the line (middle of an
  expression) or a whole block body (after a header such as ``def f(x):`` or ``{``), at which indentation,
  and where does the enclosing block end?
* during generation, ``stops`` (behind ``completion.backend.StopRule``, which carries its parameters to the
  model worker as data): the end of the line, a dedent, too many lines or statements;
* after generation, ``shaped`` (the rest of the line, or a block body re-indented and cut at a dedent, a
  repeat or the statement's end) and ``cut_past_block`` (never past the enclosing block's end).

Tree structure (blocks and their closers, expression containers, strings, comments) comes from
``queries/<language>/shapes.scm``; indentation-based facts (Python blocks, unknown languages) come from the
text. Whether a shaped suggestion parses is ``syntax.checks``' question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node, QueryCursor

from syntax.document import ParsedText, SyntaxDocument, parsed_for
from syntax.languages import INDENT_LANGUAGES, canonical_language, query
from syntax.text import (
    indent_unit,
    indentation_of,
    is_closer_line,
    is_header_line,
    line_bounds,
    next_nonblank_line,
    previous_nonblank_line,
    scan_brackets,
    shallower,
)

__all__ = [
    "MID_BLOCK_REASONS",
    "MID_BLOCK_STATEMENTS",
    "CompletionShape",
    "completion_shape",
    "continues_statement",
    "cut_past_block",
    "shaped",
    "statement_limit",
    "stops",
]


@dataclass(frozen=True)
class CompletionShape:
    """What the cursor position asks for."""

    multiline: bool  # True: the context wants a whole block/body; False: the rest of the line
    indent: str  # indentation the generated body lines should have ("" for single-line)
    block_end: int | None  # str offset where the enclosing block ends (suggestion must not run past it)
    reason: str  # short machine-readable why, e.g. "empty-block-after-header", "mid-expression"


# Reasons (stable strings: the engine and the post-processor branch on them).
IN_STRING = "in-string"
IN_COMMENT = "in-comment"
MID_LINE = "mid-line"
MID_EXPRESSION = "mid-expression"
EMPTY_BLOCK_AFTER_HEADER = "empty-block-after-header"
AFTER_HEADER = "after-header"
BLANK_LINE_MID_BLOCK = "blank-line-mid-block"
BLANK_LINE_END_OF_BLOCK = "blank-line-end-of-block"
END_OF_LINE = "end-of-line"

# Multi-line shapes in the middle of a block: code follows at the same level, so only a few statements belong.
MID_BLOCK_REASONS = frozenset({AFTER_HEADER, BLANK_LINE_MID_BLOCK})
# Between existing statements: a few (one cost correct multi-line answers half their passes).
MID_BLOCK_STATEMENTS = 4
_MAX_STATEMENTS = 1_000

_DEFINITION_START = re.compile(
    r"(async\s+def|def|class|(export\s+)?(async\s+)?function|(pub\s+)?fn|func|(local\s+)?function|impl)\b"
)
_CONTINUATION_END = re.compile(r"([-+*/%=<>!&|^~.,\\?]|\band|\bor|\bnot|\breturn|\bin)\s*$")
_CLOSERS = ")]}"
_BARE_CLOSER = re.compile(r"^([)\]};,\s]|end\b|until\b)*$")
# A line at the block's own indentation that still belongs to the statement above it.
_CONTINUES_STATEMENT = re.compile(
    r"^\s*([)\]}.?:+\-*/%&|^,]|else\b|elif\b|except\b|finally\b|catch\b|where\b)"
)
_LUA_CONTINUES_STATEMENT = re.compile(r"^\s*(end|until|else|elseif)\b")
_FLOW_END = re.compile(r"^\s*(return|raise|throw|break|continue|goto|panic!?)\b")
_OPEN_LINE_END = re.compile(r"([-+*/%=<>&|^~,.\\(\[{]|\band|\bor)\s*$")

# --- the shape of a position ----------------------------------------------------------------------------


# The caller's parsed text: the live document, or a snapshot of it.
@dataclass(frozen=True)
class _CursorSyntax:
    """What the tree says about the cursor: the innermost container kind and the enclosing block's end."""

    container: str | None  # "string", "comment", "container" or None (in a block, or nothing matched)
    scope_found: bool  # an enclosing block with a closer token was matched
    block_end: int | None  # str offset of that block's closer; None when it is missing or no block matched


def _cursor_syntax(parsed: ParsedText, offset: int) -> _CursorSyntax:
    shapes = query(parsed.language, "shapes")
    if shapes is None:
        return _CursorSyntax(None, False, None)
    cursor_byte = parsed.byte_offset(offset)
    cursor = QueryCursor(shapes)
    cursor.set_byte_range(max(0, cursor_byte - 1), cursor_byte + 1)
    innermost: tuple[int, str | None] = (-1, None)
    scope: tuple[int, Node | None] = (-1, None)
    for _, match in cursor.matches(parsed.tree.root_node):
        for kind in ("block", "container", "string", "comment"):
            nodes = match.get(kind)
            if not nodes:
                continue
            node = nodes[0]
            if not _contains_cursor(node, kind, match, cursor_byte, parsed):
                continue
            if node.start_byte > innermost[0]:
                innermost = (node.start_byte, None if kind == "block" else kind)
            closers = match.get("block.end")
            if kind == "block" and closers and node.start_byte > scope[0]:
                scope = (node.start_byte, closers[0])
    close = scope[1]
    if close is None:
        return _CursorSyntax(innermost[1], False, None)
    block_end = None if close.is_missing else parsed.char_offset(close.start_byte)
    return _CursorSyntax(innermost[1], True, block_end)


def _contains_cursor(
    node: Node, kind: str, match: dict[str, list[Node]], cursor_byte: int, parsed: ParsedText
) -> bool:
    if kind == "block":
        closers = match.get("block.end")
        return closers is not None and node.start_byte < cursor_byte <= closers[0].start_byte
    if kind == "comment" and cursor_byte == node.end_byte:
        ending = parsed.source[max(0, node.end_byte - 2) : node.end_byte]
        return node.start_byte < cursor_byte and ending not in (b"*/", b"]]")  # a line comment runs on
    return node.start_byte < cursor_byte < node.end_byte


def _indent_block_end(text: str, offset: int, block_indent: str) -> int | None:
    """End of the last line of an indentation block (before the first line left of ``block_indent``)."""
    if not block_indent:
        return None
    _, last_content_end = line_bounds(text, offset)
    position = text.find("\n", offset)
    while position >= 0:
        start = position + 1
        end = text.find("\n", start)
        line = text[start : len(text) if end < 0 else end]
        if line.strip():
            if shallower(indentation_of(line), block_indent):
                return last_content_end
            last_content_end = len(text) if end < 0 else end
        position = end
    return None


def _column_zero_floor(
    text: str, line_start: int, following: tuple[int, str] | None, language: str | None, unit: str
) -> tuple[str, bool]:
    """For a cursor at column 0 of a blank line: the least indentation a suggestion may use, and whether the
    cursor sits where a block ends.

    Between two lines of code the suggestion may close the block above and open one for the code below
    (``else:`` between two deeper lines), so the floor is one step left of the shallower of the two. At the
    end of the file the suggestion may finish the top-level statement it is in, not start another.
    """
    previous = previous_nonblank_line(text, line_start)
    if following is None:
        return _top_level_body_indent(text, line_start, language, unit), True
    next_indent = indentation_of(following[1])
    below = next_indent + unit if is_closer_line(following[1], language) else next_indent
    shallowest = (
        below if previous is None or shallower(below, indentation_of(previous)) else indentation_of(previous)
    )
    floor = shallowest[: -len(unit)] if unit and shallowest.endswith(unit) else ""
    ends_block = previous is not None and shallower(next_indent, indentation_of(previous))
    return floor, ends_block


def _top_level_body_indent(text: str, line_start: int, language: str | None, unit: str) -> str:
    """The body indentation of the top-level definition above ``line_start``; "" outside a definition."""
    body = ""
    for line in reversed(text[max(0, line_start - 100_000) : line_start].split("\n")):
        if not line.strip():
            continue
        indent = indentation_of(line)
        if not indent:
            if not _DEFINITION_START.match(line):
                return ""
            return body or (unit if is_header_line(line, language) else "")
        if not body or shallower(indent, body):
            body = indent
    return ""


def completion_shape(
    text: str, offset: int, language: str | None, *, document: SyntaxDocument | ParsedText | None = None
) -> CompletionShape:
    """Whether the cursor wants the rest of a line or a block body, with the body's indentation.

    ``document``: the server's parsed copy of ``text``, reused instead of parsing again when it matches.
    """
    offset = max(0, min(offset, len(text)))
    name = canonical_language(language)
    line_start, line_end = line_bounds(text, offset)
    before = text[line_start:offset]
    after = text[offset:line_end].rstrip("\r")
    syntax = _CursorSyntax(None, False, None)
    if name is not None:
        try:
            syntax = _cursor_syntax(parsed_for(text, name, document), offset)
        except Exception:  # the text heuristics below still give a usable answer
            syntax = _CursorSyntax(None, False, None)
    uses_scopes = syntax.scope_found and name not in INDENT_LANGUAGES

    def block_end_for(indent: str) -> int | None:
        return syntax.block_end if uses_scopes else _indent_block_end(text, offset, indent)

    def single(reason: str) -> CompletionShape:
        return CompletionShape(False, "", block_end_for(indentation_of(before)), reason)

    if syntax.container == "string":
        return single(IN_STRING)
    if syntax.container == "comment":
        return single(IN_COMMENT)
    if after.strip().strip(_CLOSERS + ";,:"):
        return single(MID_LINE)
    if syntax.container == "container":
        return single(MID_EXPRESSION)
    following = next_nonblank_line(text, offset)
    unit = indent_unit(text, offset, name)
    if not before.strip():
        if before:  # the cursor stands at the indentation the user (or the editor) chose
            indent = before
            ends_block = following is None or shallower(indentation_of(following[1]), indent)
        else:  # column 0: the model picks the indentation; the block floor is what the code below needs
            indent, ends_block = _column_zero_floor(text, line_start, following, name, unit)
        ends_block = ends_block or (is_closer_line(following[1], name) if following else True)
        reason = BLANK_LINE_END_OF_BLOCK if ends_block else BLANK_LINE_MID_BLOCK
        return CompletionShape(True, indent, block_end_for(indent), reason)
    line_indent = indentation_of(before)
    if is_header_line(before, name):
        next_indent = indentation_of(following[1]) if following else ""
        body_has_code = (
            following is not None
            and not after.strip()
            and shallower(line_indent, next_indent)
            and next_indent.startswith(line_indent)
        )
        indent = next_indent if body_has_code else line_indent + unit
        reason = AFTER_HEADER if body_has_code else EMPTY_BLOCK_AFTER_HEADER
        return CompletionShape(True, indent, block_end_for(indent), reason)
    if scan_brackets(before).unclosed or _CONTINUATION_END.search(before.rstrip()):
        return single(MID_EXPRESSION)
    return single(END_OF_LINE)


# --- stopping during generation -------------------------------------------------------------------------


def statement_limit(shape: CompletionShape) -> int | None:
    """How many statements a block suggestion may start: a few between existing statements, else any."""
    return MID_BLOCK_STATEMENTS if shape.reason in MID_BLOCK_REASONS else None


def continues_statement(line: str, language: str | None) -> bool:
    """A line at the block's indentation that still belongs to the statement above (``else``, ``)``...)."""
    if _CONTINUES_STATEMENT.match(line):
        return True
    return language in (None, "lua") and _LUA_CONTINUES_STATEMENT.match(line) is not None


def stops(
    text: str, kind: str, indent: str, max_lines: int, statement_limit: int | None, below: str | None = None
) -> bool:
    """Whether a generation so far has said enough (``completion.backend.StopRule`` holds the arguments).

    ``kind``: "line" stops at the end of the first non-blank line, "newline" at the first newline, "block" at
    a dedent below ``indent``, past ``max_lines`` lines, at a finished line the block is cut at anyway (one
    that repeats the line before it, or the code of ``below``, the document's next non-blank line: the
    suggestion has met the code after it), or (``statement_limit``) once more statements start at the first
    line's level than could be shown.
    """
    if kind == "newline":
        return "\n" in text
    if kind == "line":
        return "\n" in text.lstrip()
    complete = text.split("\n")[:-1]
    if len(complete) > max_lines:
        return True
    if any(line.strip() and not line.startswith(indent) for line in complete[1:]):
        return True
    if _meets_a_repeat(complete, below):
        return True
    code = [line for line in complete if line.strip()]
    if statement_limit is None or not code:
        return False
    level = indentation_of(code[0])
    starts = sum(indentation_of(line) == level and not continues_statement(line, None) for line in code)
    return starts > statement_limit


# --- cutting after generation ---------------------------------------------------------------------------


def shaped(
    raw: str, before: str, after: str, shape: CompletionShape, language: str | None, below: str | None
) -> str | None:
    """A raw output cut to the shape: a block body, or the rest of the line; None when nothing fits.

    ``before``/``after``: the cursor line around the cursor; ``below``: the document's next non-blank line.
    """
    if shape.multiline:
        return _block(raw, before, after, shape, language, below)
    line = _single_line(raw, before, after)
    if line is not None and below is not None:
        completed = line[1:] if line.startswith("\n") else before + line + after
        if _normalized(completed) == _normalized(below):
            return None  # the completed line is the line below
    return line


def _meets_a_repeat(lines: list[str], below: str | None) -> bool:
    """Whether a finished line of a block generation is one :func:`_block` cuts at (:func:`_is_repeat`): the
    lines after it are never shown. The model's indentation is not the block's yet, so the line below is
    matched by its code alone, and only a line with code (a bare ``}`` deeper than the one below closes a
    nested block); an extra level makes it new code, and stopping there keeps the lines before it."""
    code_below = None if below is None or not _has_code(below) else _code(below)
    previous = None
    for line in lines:
        if not line.strip():
            continue
        if _is_repeat(line, previous, None) or (code_below is not None and _code(line) == code_below):
            return True
        previous = line
    return False


def _has_code(line: str) -> bool:
    """More than closers and punctuation: a line whose repeat is a repeat."""
    stripped = line.strip()
    return any(char.isalnum() for char in stripped) and not _BARE_CLOSER.match(stripped)


def _is_repeat(line: str, previous: str | None, below: str | None) -> bool:
    """A generated line that repeats the one before it, or the document's next line at its indentation.

    The indentation counts for the line below (``return False`` one level deeper than an existing
    ``return False`` is new code), spaces inside the line do not.
    """
    stripped = line.strip()
    if not stripped:
        return False
    if previous is not None and _has_code(line) and stripped == previous.strip():
        return True
    return below is not None and _normalized(line) == _normalized(below)


def _normalized(line: str) -> str:
    """A line's indentation and its code without inner whitespace (``i+=1`` equals ``i += 1``)."""
    return indentation_of(line) + _code(line)


def _code(line: str) -> str:
    """A line without any of its whitespace."""
    return "".join(line.split())


def _single_line(raw: str, before: str, after: str) -> str | None:
    """The rest of the current line; a next-line suggestion only when the cursor ends its line."""
    lines = raw.split("\n")
    first = lines[0].rstrip()
    if first.strip():
        if not before.strip() or before[-1:].isspace():
            first = first.lstrip()
        return first
    if after.strip():
        return None  # a line break in the middle of a line is not a single-line completion
    following = next((line.rstrip() for line in lines[1:] if line.strip()), None)
    return None if following is None else "\n" + following


def _reindented(line: str, model_base: str, target: str) -> str | None:
    """The line moved from the model's base indentation to the block's; None when it is left of the base."""
    if not line.strip():
        return ""
    if not line.startswith(model_base):
        return None
    rest = line[len(model_base) :]
    extra = indentation_of(rest)
    if (
        target.startswith("\t")
        and model_base
        and not model_base.strip(" ")
        and extra
        and not extra.strip(" ")
    ):
        # Tab-indented document, space-indented model: one model level (its base width) becomes one tab.
        levels, spaces = divmod(len(extra), len(model_base))
        rest = "\t" * levels + " " * spaces + rest[len(extra) :]
    return target + rest


def _outdented_closer(line: str, model_base: str, target: str) -> str:
    """A closing line that left the model's block, placed as far left of ``target`` as it was of the base."""
    shift = len(model_base.expandtabs(4)) - len(indentation_of(line).expandtabs(4))
    kept = target
    while shift > 0 and kept:
        shift -= 4 if kept.endswith("\t") else 1
        kept = kept[:-1]
    return kept + line.strip()


def _block(
    raw: str, before: str, after: str, shape: CompletionShape, language: str | None, below: str | None
) -> str | None:
    """A multi-line suggestion re-indented to the block, cut at a dedent, a repeat or the statement's end."""
    lines = raw.rstrip().split("\n")
    after_code = bool(before.strip())
    head = lines[0].rstrip() if after_code else ""
    body = lines[1:] if after_code or not lines[0].strip() else [before + lines[0], *lines[1:]]
    while body and not body[0].strip():
        body = body[1:]
    if not body:
        return _single_line(head, before, after) if head.strip() else None
    column_zero = not after_code and not before
    if column_zero:
        # The model chose the indentation itself (a dedent is a real option); it must stay above the floor.
        model_base = target = ""
        floor = shape.indent
        block_level = indentation_of(body[0])
    else:
        model_base = floor = indentation_of(body[0])
        target = block_level = shape.indent
    limit = statement_limit(shape)
    statements_left = _MAX_STATEMENTS if limit is None else limit
    # Code below the cursor (not just a closer): the suggestion must not leave the block it starts in.
    code_follows = below is not None and not is_closer_line(below, language)
    closes_block = shape.block_end is None and language not in INDENT_LANGUAGES
    kept: list[str] = []
    for line in body:
        placed = _reindented(line, model_base, target)
        leaves_block = bool(placed and placed.strip()) and shallower(
            indentation_of(placed or ""), block_level
        )
        leaves_block = leaves_block and code_follows
        if placed is None or leaves_block or (line.strip() and shallower(indentation_of(line), floor)):
            if closes_block and is_closer_line(line, language):
                kept.append(
                    _outdented_closer(line, model_base if not column_zero else floor, target or floor)
                )
            break
        previous = next((earlier for earlier in reversed(kept) if earlier.strip()), None)
        if _is_repeat(placed, previous, below):
            break
        starts_statement = (
            bool(placed.strip())
            and indentation_of(placed) == block_level
            and not continues_statement(placed, language)
            and not scan_brackets("\n".join(kept)).unclosed
            and not _OPEN_LINE_END.search(previous or "")
        )
        if starts_statement:
            if statements_left == 0 or (kept and _ends_flow(previous, block_level)):
                break  # enough statements, or code after a return at the same level (unreachable)
            statements_left -= 1
        kept.append(placed)
        if len(kept) == 1 and _body_exists_below(placed, below, language):
            break  # a header whose body the document already has: the model's own body would be a second one
    while kept and not kept[-1].strip():
        kept.pop()
    if not kept:
        return None
    if after_code:
        text = head + "\n" + "\n".join(kept)
    else:
        first = kept[0]
        cursor_indent = before if (target or floor).startswith(before) else ""
        kept[0] = first[len(cursor_indent) :] if first.startswith(cursor_indent) else first.lstrip()
        text = "\n".join(kept)
    if "\n" in text and is_closer_line(after, language):
        text = text.rstrip() + "\n" + indentation_of(before)  # the existing closer goes on its own line
    return text


def _body_exists_below(line: str, below: str | None, language: str | None) -> bool:
    """Whether ``line`` opens a block and the document's next line is indented under it."""
    if below is None or not is_header_line(line, language):
        return False
    return shallower(indentation_of(line), indentation_of(below))


def _ends_flow(line: str | None, block_level: str) -> bool:
    """A statement after which nothing at the same level runs (``return``, ``raise``, ``break``...)."""
    return line is not None and indentation_of(line) == block_level and _FLOW_END.match(line) is not None


def cut_past_block(suggestion: str, shape: CompletionShape, language: str | None) -> str:
    """The suggestion up to where it would leave the enclosing block (a dedent, or closing its brace).

    A closing line is kept when the document lacks the block's closer (``shape.block_end is None``).
    """
    name = canonical_language(language) if language else None
    result = suggestion
    if shape.multiline:
        lines = suggestion.split("\n")
        kept = lines[:1]
        for line in lines[1:]:
            if line.strip() and shallower(indentation_of(line), shape.indent):
                keeps_closer = shape.block_end is None and name not in INDENT_LANGUAGES
                if keeps_closer and is_closer_line(line, name):
                    kept.append(line)
                break
            kept.append(line)
        if len(kept) < len(lines):
            result = "\n".join(kept).rstrip()
    if shape.block_end is not None and name not in INDENT_LANGUAGES:
        brace = next(iter(scan_brackets(result, "{}").unmatched), None)
        if brace is not None:
            line_start = result.rfind("\n", 0, brace) + 1
            result = result[: line_start if not result[line_start:brace].strip() else brace].rstrip()
    return result
