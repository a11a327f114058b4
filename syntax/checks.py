"""Validation: how much of a shaped suggestion adds no syntax error to the document.

``truncate_to_valid`` (syntax-aware truncation as in SAFIM, Gong et al. 2024) answers with the longest prefix
of a suggestion that adds no ERROR or MISSING node to the document and stays inside the enclosing block
(``syntax.shape.cut_past_block``); cuts are tried at line ends, then at tokens of the first line, in a
bounded number of incremental reparses. Where a suggestion should stop is ``syntax.shape``'s question.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from functools import cache

from tree_sitter import Language, Node, Query, QueryCursor, Tree

from syntax.document import ParsedText, SyntaxDocument, parsed_for
from syntax.languages import INDENT_LANGUAGES, canonical_language, query_source
from syntax.shape import CompletionShape, cut_past_block
from syntax.text import (
    indentation_of,
    is_closer_line,
    is_header_line,
    line_bounds,
    next_nonblank_line,
    previous_nonblank_line,
    scan_brackets,
    shallower,
)

__all__ = ["syntax_errors", "truncate_to_valid"]

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+|\s+|\S")
_WORD_CHAR = re.compile(r"\w")
_MAX_REPARSES = 14
_SMALL_SUBTREE_BYTES = 4096


@cache
def _error_query(language: Language) -> Query:
    """The ERROR/MISSING query every grammar shares (``queries/shared/errors.scm``), for a bare tree."""
    source = query_source("shared", "errors")
    assert source is not None, "syntax/queries/shared/errors.scm ships with the package"
    return Query(language, source)


def syntax_errors(tree: Tree) -> list[tuple[int, int]]:
    """Byte ranges of the tree's ERROR and MISSING nodes, in document order."""
    return [(start, end) for start, end, _ in _error_nodes(tree)]


def _error_nodes(tree: Tree) -> list[tuple[int, int, str]]:
    """(start byte, end byte, kind) of each ERROR / MISSING node; kind is "error" or "missing:<type>"."""
    if not tree.root_node.has_error:
        return []
    query = _error_query(tree.language)
    found: list[tuple[int, int, str]] = []
    for subtree in _subtrees_with_errors(tree.root_node):
        captures = QueryCursor(query).captures(subtree)
        found += [(node.start_byte, node.end_byte, "error") for node in captures.get("error", [])]
        found += [
            (node.start_byte, node.end_byte, f"missing:{node.type}") for node in captures.get("missing", [])
        ]
    return sorted(set(found))


def _subtrees_with_errors(node: Node) -> list[Node]:
    """Small subtrees holding all of ``node``'s errors, so the error query skips the clean bulk of a file."""
    if node.end_byte - node.start_byte <= _SMALL_SUBTREE_BYTES or node.is_error or node.is_missing:
        return [node]
    found: list[Node] = []
    for child in node.children:
        if child.has_error:
            found += _subtrees_with_errors(child)
    return found


# --- truncation ---------------------------------------------------------------------------------------


def _unmatched_new_errors(
    old: list[tuple[int, int, str]], new: list[tuple[int, int, str]], start: int, old_end: int, new_end: int
) -> int:
    """How many error nodes of the new tree do not correspond to one of the old tree.

    Old errors are mapped through the edit (bytes after it shift by the length change); a new error matches
    an old one of the same kind by its exact range, its start or its end, and errors overlapping the edited
    range may match any new error that overlaps the inserted text (tree-sitter regroups them there).
    """
    delta = new_end - old_end
    exact: Counter[tuple[int, int, str]] = Counter()
    starts: Counter[tuple[int, str]] = Counter()
    ends: Counter[tuple[int, str]] = Counter()
    touching = 0
    for a, b, kind in old:
        if b <= start or a >= old_end:
            shift = 0 if b <= start else delta
            exact[(a + shift, b + shift, kind)] += 1
            starts[(a + shift, kind)] += 1
            ends[(b + shift, kind)] += 1
            continue
        touching += 1
        if a < start:
            starts[(a, kind)] += 1
        if b >= old_end:
            ends[(b + delta, kind)] += 1
    unmatched = 0
    for a, b, kind in new:
        if exact[(a, b, kind)] > 0:
            exact[(a, b, kind)] -= 1
        elif starts[(a, kind)] > 0:
            starts[(a, kind)] -= 1
        elif ends[(b, kind)] > 0:
            ends[(b, kind)] -= 1
        elif touching > 0 and a <= new_end and b >= start:
            touching -= 1
        else:
            unmatched += 1
    return unmatched


class _ErrorCheck:
    """Parses the document with a candidate inserted and tells whether it added syntax errors.

    For indentation languages it also rejects an unexpected indent that tree-sitter tolerates: the code
    after the suggestion indented deeper than its last line, which is no block header.
    """

    def __init__(self, parsed: ParsedText, start: int, end: int) -> None:
        self._parsed = parsed
        self.language = parsed.language
        self._start = start
        self._end = end
        self._start_byte = parsed.byte_offset(start)
        self._old_end_byte = parsed.byte_offset(end)
        self._old_errors = _error_nodes(parsed.tree)
        self.reparses = 0
        text = parsed.text
        self._line_before = text[text.rfind("\n", 0, start) + 1 : start]
        self._following: str | None = None
        if parsed.language in INDENT_LANGUAGES and not text[end : line_bounds(text, end)[1]].strip():
            following = next_nonblank_line(text, end)
            self._following = following[1] if following else None
        self._indent_was_wrong = self._following is not None and _unexpected_indent(
            self._last_code_line(""), self._following, parsed.language
        )

    def _last_code_line(self, insertion: str) -> str:
        """The last non-blank line of the document up to the end of the insertion."""
        lines = (self._line_before + insertion).split("\n")
        code = [line for line in lines if line.strip()]
        if code:
            return code[-1]
        previous = previous_nonblank_line(self._parsed.text, self._start - len(self._line_before))
        return previous or ""

    def adds_no_error(self, insertion: str) -> bool:
        if self.reparses >= _MAX_REPARSES:
            return False
        following = None if self._indent_was_wrong else self._following
        if following and _unexpected_indent(
            self._last_code_line(insertion), following, self._parsed.language
        ):
            return False
        self.reparses += 1
        tree = self._parsed.with_insertion(self._start, self._end, insertion)
        if not tree.root_node.has_error:
            return True
        new_end = self._start_byte + len(insertion.encode("utf-8", "surrogatepass"))
        new_errors = _error_nodes(tree)
        return (
            _unmatched_new_errors(self._old_errors, new_errors, self._start_byte, self._old_end_byte, new_end)
            == 0
        )


def _unexpected_indent(line: str, following: str, language: str) -> bool:
    """Whether ``following`` is indented deeper than ``line`` although ``line`` opens no block."""
    if not shallower(indentation_of(line), indentation_of(following)):
        return False
    stripped = line.rstrip()
    return not (
        is_header_line(line, language) or scan_brackets(line).unclosed or stripped.endswith(("\\", ","))
    )


def _longest_valid(candidates: list[str], check: _ErrorCheck) -> str | None:
    """The longest candidate (sorted longest first) that adds no error.

    The three longest are tried in turn (a tail of junk is the common case); the rest is binary-searched,
    assuming that a shorter cut at the same kind of boundary stays valid when a longer one is.
    """
    for candidate in candidates[:3]:
        if check.adds_no_error(candidate):
            return candidate
    candidates = candidates[3:]
    if len(candidates) <= 2:
        return next((candidate for candidate in candidates if check.adds_no_error(candidate)), None)
    low, high = 0, len(candidates)
    while low < high:
        middle = (low + high) // 2
        if check.adds_no_error(candidates[middle]):
            high = middle
        else:
            low = middle + 1
    return candidates[low] if low < len(candidates) else None


def _line_cuts(suggestion: str, language: str) -> tuple[list[str], list[str]]:
    """Prefixes ending at line ends, longest first: (those at statement boundaries, the others)."""
    lines = suggestion.split("\n")
    body_indents = [len(indentation_of(line).expandtabs(4)) for line in lines[1:] if line.strip()]
    base = min(body_indents) if body_indents else 0
    boundaries: list[str] = []
    others: list[str] = []
    end = 0
    for index, line in enumerate(lines[:-1]):
        end += len(line)
        prefix = suggestion[:end].rstrip()
        following = lines[index + 1]
        if prefix.strip() and following.strip():
            shallow = len(indentation_of(following).expandtabs(4)) <= base
            at_boundary = shallow and not is_closer_line(following, language)
            (boundaries if at_boundary else others).append(prefix)
        end += 1
    boundaries.reverse()
    others.reverse()
    return boundaries, [cut for cut in others if cut not in boundaries]


def _token_cuts(suggestion: str, word_follows: bool) -> list[str]:
    """Prefixes cut after each token of the first non-blank line (whole line excluded), longest first.

    ``word_follows``: the document goes on with a word character right after the suggestion.
    """
    start = 0
    while start < len(suggestion) and not suggestion[start:].split("\n", 1)[0].strip():
        newline = suggestion.find("\n", start)
        if newline < 0:
            return []
        start = newline + 1
    end = suggestion.find("\n", start)
    line = suggestion[start : len(suggestion) if end < 0 else end]
    cuts = [
        suggestion[: start + match.end()] for match in _TOKEN.finditer(line) if not match.group().isspace()
    ]
    # A cut ending in a word character must not glue onto a word right of the suggestion.
    cuts = [cut for cut in cuts[:-1] if cut.strip() and not (word_follows and _WORD_CHAR.match(cut[-1]))]
    cuts.reverse()
    return cuts


def truncate_to_valid(
    text: str,
    offset: int,
    replace_end: int,
    suggestion: str,
    language: str | None,
    shape: CompletionShape,
    *,
    document: SyntaxDocument | ParsedText | None = None,
) -> str | None:
    """The longest prefix of ``suggestion`` that adds no syntax error and stays in the enclosing block.

    The document with the suggestion is ``text[:offset] + s + text[replace_end:]``. Cuts are tried at line
    ends first, then at token boundaries of the first line; the number of reparses is bounded. None when
    nothing useful survives; an unsupported language gets the suggestion back unchecked. ``document``: the
    server's parsed copy of ``text`` (each candidate is then an incremental reparse of its tree).
    """
    if not suggestion.strip():
        return None
    name = canonical_language(language)
    if name is None:
        return suggestion
    offset = max(0, min(offset, len(text)))
    replace_end = max(offset, min(replace_end, len(text)))
    candidate = cut_past_block(suggestion, shape, name)
    if not candidate.strip():
        return None
    try:
        best = _longest_valid_prefix(
            candidate, text, replace_end, _ErrorCheck(parsed_for(text, name, document), offset, replace_end)
        )
    except Exception:  # a suggestion that cannot be checked is not shown: the check is the promise
        log.warning("a suggestion could not be checked (the parser failed); it is not shown", exc_info=True)
        return None
    return best if best is not None and best.strip() else None


def _longest_valid_prefix(candidate: str, text: str, replace_end: int, check: _ErrorCheck) -> str | None:
    """The whole candidate, else its longest valid cut at a line end, else at a token of its first line."""
    if check.adds_no_error(candidate):
        return candidate
    boundaries, others = _line_cuts(candidate, check.language)
    best = _longest_valid(boundaries, check) or _longest_valid(others[:3], check)
    if best is None:
        word_follows = _WORD_CHAR.match(text[replace_end : replace_end + 1]) is not None
        best = _longest_valid(_token_cuts(candidate, word_follows), check)
    return best
