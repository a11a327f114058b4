"""Shape a raw model output into the suggestion an editor shows: text checks first, then syntax checks.

The common complaints about inline completion each have a check here: a suggestion that repeats the line
below, duplicates a closing bracket the editor already inserted, runs past the end of the block, stops after
one line where a body was wanted, or does not merge with the half-typed word under the cursor. The text
checks are language-agnostic; ``syntax.checks.truncate_to_valid`` then cuts what would add a syntax error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from syntax.checks import (
    MID_BLOCK_REASONS,
    CompletionShape,
    canonical_language,
    indentation_of,
    is_closer_line,
    is_header_line,
    next_nonblank_line,
    scan_brackets,
    truncate_to_valid,
)

if TYPE_CHECKING:
    from syntax.document import SyntaxDocument

__all__ = ["MID_BLOCK_STATEMENTS", "Suggestion", "continues_statement", "postprocess"]


@dataclass(frozen=True)
class Suggestion:
    """What to show: ``text`` replaces ``[cursor, replace_end)`` (the LSP inline item's range)."""

    # text to insert at the cursor
    text: str
    # str offset >= cursor: end of the range the suggestion replaces (e.g. an auto-inserted ")")
    replace_end: int


# Control tokens of common FIM / chat templates that a model may emit as text.
_SPECIAL_TOKEN = re.compile(
    r"<\|[A-Za-z0-9_]+\|>|<fim_[a-z]+>|<(?:eos|end_of_turn|start_of_turn|file_sep|pad)>|</s>"
)
_WORD_START = re.compile(r"\w+")
_FIRST_TOKEN = re.compile(r"\w+|\S")
_BARE_CLOSER = re.compile(r"^([)\]};,\s]|end\b|until\b)*$")
_CLOSERS = ")]}"
_OPENERS = "([{"
# A line at the block's own indentation that still belongs to the statement above it.
_CONTINUES_STATEMENT = re.compile(
    r"^\s*([)\]}.?:+\-*/%&|^,]|else\b|elif\b|except\b|finally\b|catch\b|where\b)"
)
_LUA_CONTINUES_STATEMENT = re.compile(r"^\s*(end|until|else|elseif)\b")
_FLOW_END = re.compile(r"^\s*(return|raise|throw|break|continue|goto|panic!?)\b")
# Between existing statements: a few (one cost correct multi-line answers half their passes).
MID_BLOCK_STATEMENTS = 4
_MAX_STATEMENTS = 1_000
_OPEN_LINE_END = re.compile(r"([-+*/%=<>&|^~,.\\(\[{]|\band|\bor)\s*$")


def _is_repeat(line: str, previous: str | None, below: str | None) -> bool:
    """A generated line that repeats the one before it, or the document's next line at its indentation.

    The indentation counts for the line below (``return False`` one level deeper than an existing
    ``return False`` is new code), spaces inside the line do not.
    """
    stripped = line.strip()
    if not stripped:
        return False
    has_code = any(char.isalnum() for char in stripped) and not _BARE_CLOSER.match(stripped)
    if previous is not None and has_code and stripped == previous.strip():
        return True
    return below is not None and _normalized(line) == _normalized(below)


def _normalized(line: str) -> str:
    """A line's indentation and its code without inner whitespace (``i+=1`` equals ``i += 1``)."""
    return indentation_of(line) + "".join(line.split())


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


def continues_statement(line: str, language: str | None) -> bool:
    """A line at the block's indentation that still belongs to the statement above (``else``, ``)``...)."""
    if _CONTINUES_STATEMENT.match(line):
        return True
    return language in (None, "lua") and _LUA_CONTINUES_STATEMENT.match(line) is not None


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
    statements_left = MID_BLOCK_STATEMENTS if shape.reason in MID_BLOCK_REASONS else _MAX_STATEMENTS
    # Code below the cursor (not just a closer): the suggestion must not leave the block it starts in.
    code_follows = below is not None and not is_closer_line(below, language)
    closes_block = shape.block_end is None and language != "python"
    kept: list[str] = []
    for line in body:
        placed = _reindented(line, model_base, target)
        leaves_block = bool(placed and placed.strip()) and _shallower(
            indentation_of(placed or ""), block_level
        )
        leaves_block = leaves_block and code_follows
        if placed is None or leaves_block or (line.strip() and _shallower(indentation_of(line), floor)):
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
    return _shallower(indentation_of(line), indentation_of(below))


def _shallower(indent: str, than: str) -> bool:
    return len(indent.expandtabs(4)) < len(than.expandtabs(4))


def _ends_flow(line: str | None, block_level: str) -> bool:
    """A statement after which nothing at the same level runs (``return``, ``raise``, ``break``...)."""
    return line is not None and indentation_of(line) == block_level and _FLOW_END.match(line) is not None


def _merge_with_rest_of_line(suggestion: str, rest: str, replace_end: int) -> tuple[str, int]:
    """Avoid duplicating what is right of the cursor: drop a tail the line already has, or replace closers.

    A tail is dropped only when its brackets are the suggestion's unmatched closers (``a, b)`` before ``)``),
    never a balanced one (``foo(x)`` before ``)`` keeps its ``)``). Otherwise, when the suggestion closes the
    brackets that the editor auto-inserted right of the cursor, the replaced range grows over them.
    """
    tail = rest.strip()
    if not tail:
        return suggestion, replace_end
    unmatched = scan_brackets(suggestion).unmatched
    body = suggestion.rstrip()
    if body.endswith(tail):
        cut = len(body) - len(tail)
        tail_closers = sum(char in _CLOSERS for char in tail)
        if tail_closers == sum(position >= cut for position in unmatched):
            kept = body[:cut]
            if "\n" in kept and not kept[kept.rfind("\n") + 1 :].strip():
                return kept, replace_end  # the closer stays on its own line below the body
            return kept.rstrip() if not kept.strip() else kept, replace_end
    if tail.strip(_CLOSERS + ";,: \t"):
        return _aligned_with_code(suggestion, tail), replace_end
    if unmatched:
        wanted = [suggestion[position] for position in unmatched]
        covered = 0
        end_in_rest = 0
        for index, char in enumerate(rest):
            if covered == len(wanted):
                break
            if char == wanted[covered]:
                covered += 1
                end_in_rest = index + 1
            elif not char.isspace():
                break
        if covered == len(wanted):
            return suggestion, replace_end + end_in_rest
    return suggestion, replace_end


def _aligned_with_code(suggestion: str, rest: str) -> str:
    """The suggestion cut where the code right of the cursor takes over.

    The model (often prefix-only) writes to the end of the line; the line already goes on with ``rest``. The
    cut is at the first place, outside brackets the suggestion opened, where ``rest``'s first token appears
    (``a, b) * 2`` before ``) + x`` keeps ``a, b``); without one, at the suggestion's own statement end.
    """
    first_token = _FIRST_TOKEN.match(rest)
    token = first_token.group() if first_token else rest[:1]
    depth = 0
    quote = ""
    statement_end = len(suggestion)
    for index, char in enumerate(suggestion):
        if quote:
            if char == quote or char == "\n":
                quote = ""
            continue
        if depth == 0 and suggestion.startswith(token, index):
            word_before = index > 0 and _WORD_START.match(suggestion[index - 1]) is not None
            if not (token[0].isalnum() or token[0] == "_") or not word_before:
                return suggestion[:index]
        if char in "\"'`":
            quote = char
        elif char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0 and statement_end == len(suggestion):
            statement_end = index
    return suggestion[:statement_end]


def postprocess(
    raw: str,
    text: str,
    offset: int,
    shape: CompletionShape,
    language: str | None,
    *,
    document: SyntaxDocument | None = None,
) -> Suggestion | None:
    """The suggestion to show for a raw model output at ``offset``, or None when nothing useful is left.

    ``document``: the server's parsed copy of ``text``; the syntax check then reparses incrementally.
    """
    offset = max(0, min(offset, len(text)))
    language = canonical_language(language)
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    special = _SPECIAL_TOKEN.search(raw)
    if special is not None:
        raw = raw[: special.start()]
    if not raw.strip():
        return None
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    before = text[line_start:offset]
    after = text[offset : len(text) if line_end < 0 else line_end].rstrip("\r")
    replace_end = offset
    word_rest = _WORD_START.match(after)
    if word_rest is not None and _WORD_START.match(before[-1:]):
        if not raw.startswith(word_rest.group()):
            return None  # the suggestion would split the word under the cursor
        replace_end += len(word_rest.group())
        after = after[len(word_rest.group()) :]
    following = next_nonblank_line(text, offset)
    below = following[1].rstrip() if following else None
    if shape.multiline:
        shaped = _block(raw, before, after, shape, language, below)
    else:
        shaped = _single_line(raw, before, after)
        if shaped is not None and below is not None:
            completed = shaped[1:] if shaped.startswith("\n") else before + shaped + after
            if _normalized(completed) == _normalized(below):
                return None  # the completed line is the line below
    if shaped is None or not shaped.strip():
        return None
    shaped, replace_end = _merge_with_rest_of_line(shaped, after, replace_end)
    if not shaped.strip() or shaped == text[offset:replace_end]:
        return None  # nothing left, or only what the document already has
    if _WORD_START.match(shaped[-1:]) and _WORD_START.match(text[replace_end : replace_end + 1]):
        return None  # it would glue onto the word right of it
    if "\r\n" in text[max(0, line_start - 2) : line_end + 2 if line_end >= 0 else len(text)]:
        shaped = shaped.replace("\n", "\r\n")
    checked = truncate_to_valid(text, offset, replace_end, shaped, language, shape, document=document)
    if checked is None or not checked.strip():
        return None
    return Suggestion(checked, replace_end)
