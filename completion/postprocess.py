"""Turn a raw model output into the suggestion an editor shows: shaped, merged with the line, then checked.

The common complaints about inline completion each have a check: a suggestion that repeats the line below,
runs past the end of the block or stops after one line where a body was wanted (``syntax.shape.shaped``),
duplicates a closing bracket the editor already inserted, or does not merge with the half-typed word under
the cursor (here). ``syntax.checks.truncate_to_valid`` then cuts what would add a syntax error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from syntax.checks import truncate_to_valid
from syntax.document import ParsedText, SyntaxDocument
from syntax.languages import canonical_language
from syntax.shape import CompletionShape, shaped
from syntax.text import next_nonblank_line, scan_brackets

__all__ = ["Suggestion", "postprocess"]


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
_CLOSERS = ")]}"
_OPENERS = "([{"


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
    document: SyntaxDocument | ParsedText | None = None,
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
    suggestion = shaped(raw, before, after, shape, language, below)
    if suggestion is None or not suggestion.strip():
        return None
    suggestion, replace_end = _merge_with_rest_of_line(suggestion, after, replace_end)
    if not suggestion.strip() or suggestion == text[offset:replace_end]:
        return None  # nothing left, or only what the document already has
    if _WORD_START.match(suggestion[-1:]) and _WORD_START.match(text[replace_end : replace_end + 1]):
        return None  # it would glue onto the word right of it
    if "\r\n" in text[max(0, line_start - 2) : line_end + 2 if line_end >= 0 else len(text)]:
        suggestion = suggestion.replace("\n", "\r\n")
    checked = truncate_to_valid(text, offset, replace_end, suggestion, language, shape, document=document)
    if checked is None or not checked.strip():
        return None
    return Suggestion(checked, replace_end)
