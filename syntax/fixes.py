"""Fixes for syntax errors, each verified by reparsing before it is offered.

Candidates come from cheap rules (insert the missing token, remove a stray one, close a string or bracket,
re-indent a Python line, correct a misspelled keyword, try a common punctuation mark) and, optionally, from a
model that rewrites the lines of the error. Every candidate is applied to a copy and reparsed; it is offered
only if the error is gone, no other error appeared, the edit stays inside the region around the error and
the tokens outside that region are exactly as before (so a quote that turns the rest of the file into a
string is rejected even though it parses). Removing the targeted error is not enough: the statement around
the edit and the lines it touches must parse with no error at all in a fresh parse (a ``;`` after a header
that lacks its ``:`` silences one diagnostic and leaves the header broken). A user is offered nothing rather
than an unverified fix.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from tree_sitter import Node, QueryCursor, Tree

from syntax.diagnostics import (
    SyntaxDiagnostic,
    diagnose,
    diagnose_ranges,
    error_spans,
    keywords,
    one_edit_away,
)
from syntax.document import ParsedText, parse_text
from syntax.languages import query
from syntax.text import indentation_of, next_nonblank_line

__all__ = [
    "CandidateGenerator",
    "Fix",
    "TextEdit",
    "apply_edits",
    "fix_region",
    "propose_fixes",
    "repaired_region",
    "verify_edit",
]

_PROBE_TOKENS = (";", ",", ")", ":", "]", "}", "=")
# a Python statement never needs a ';' (nor Lua's): offering one is offering wrong punctuation
_NO_PROBE = {"python": frozenset(";"), "lua": frozenset(";")}
_TRAILING_PUNCTUATION = ";:,){]}"
_OPENER_OF = {")": "(", "]": "[", "}": "{"}
_CLOSER_OF = {"(": ")", "[": "]", "{": "}", "${": "}"}
_REGION_LINES_BEFORE = 1
_REGION_LINES_AFTER = 3
_MODEL_SHARE_OF_BUDGET = 0.6
_MODEL_CANDIDATES = 4
_VERIFY_GRACE_S = 0.5
_MAX_ERRORS_TO_FIX = 30


@dataclass(frozen=True)
class TextEdit:
    """Replace ``text[start:end]`` (str offsets of the original text) with ``new_text``."""

    start: int
    end: int
    new_text: str


@dataclass(frozen=True)
class Fix:
    """A verified fix: applying ``edits`` removes ``diagnostic`` and leaves its statement free of errors.

    ``preferred`` marks the single most plausible fix of the diagnostic (what "fix all" should apply).
    """

    title: str
    edits: tuple[TextEdit, ...]
    source: str  # "rule" | "model"
    diagnostic: SyntaxDiagnostic
    preferred: bool = False


class CandidateGenerator(Protocol):
    """Generates replacements for the middle between ``prefix`` and ``suffix`` (e.g. a FIM model)."""

    def __call__(
        self, prefix: str, suffix: str, n: int, max_tokens: int, time_budget_s: float
    ) -> list[str]: ...


@dataclass(frozen=True)
class _Candidate:
    edit: TextEdit
    title: str
    source: str
    priority: int  # lower is tried (and ranked) first among edits of the same size
    cost: int | None = None  # the size of the edit when counting characters misjudges it (a typo is 1)
    # what the error itself asks for (the closer of an open bracket or string, the indentation of a block,
    # the keyword a typo was meant to be; not the token of a MISSING node, only tree-sitter's best guess)...
    directed: bool = False
    # ...or a punctuation mark tried blindly, worth offering only when nothing the grammar asks for works
    guess: bool = False

    def rank(self, text: str) -> tuple[int, int, int]:
        """Smallest edit first (whitespace not counted), then the rule's own preference, then whitespace."""
        removed = text[self.edit.start : self.edit.end]
        changed = removed + self.edit.new_text
        visible = len("".join(changed.split()))
        if self.cost is not None:
            return self.cost, self.priority, 0
        removed_words = 0 if self.edit.new_text.strip() else sum(char.isalnum() for char in removed)
        return visible + removed_words, self.priority, len(changed) - visible  # removing names loses content


def apply_edits(text: str, edits: Iterable[TextEdit]) -> str:
    """The text with non-overlapping edits applied (offsets refer to the original text)."""
    pieces: list[str] = []
    position = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < position:
            raise ValueError("overlapping edits")
        pieces.append(text[position : edit.start])
        pieces.append(edit.new_text)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _line_end(text: str, offset: int) -> int:
    newline = text.find("\n", offset)
    return len(text) if newline < 0 else newline


def fix_region(text: str, diagnostic: SyntaxDiagnostic) -> tuple[int, int]:
    """The lines a fix may touch: from the line before the error to three lines after it."""
    start = _line_start(text, diagnostic.start)
    for _ in range(_REGION_LINES_BEFORE):
        if start > 0:
            start = _line_start(text, start - 1)
    end = _line_end(text, diagnostic.end)
    for _ in range(_REGION_LINES_AFTER):
        if end < len(text):
            end = _line_end(text, end + 1)
    return start, end


def _minimal(text: str, edit: TextEdit) -> TextEdit:
    """The same change with the unchanged characters at both ends trimmed away."""
    old = text[edit.start : edit.end]
    new = edit.new_text
    head = 0
    while head < len(old) and head < len(new) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < len(old) - head and tail < len(new) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return TextEdit(edit.start + head, edit.end - tail, new[head : len(new) - tail])


def _token_spans(tree: Tree, low: int, high: int) -> list[tuple[int, int]]:
    """Byte spans of the non-empty tokens overlapping ``[low, high)``."""
    spans: list[tuple[int, int]] = []
    cursor = tree.walk()
    while True:
        node = cursor.node
        assert node is not None
        overlaps = node.start_byte < high and node.end_byte > low
        if overlaps and node.child_count == 0 and node.end_byte > node.start_byte:
            spans.append((node.start_byte, node.end_byte))
        if overlaps and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return spans


def verify_edit(
    parsed: ParsedText,
    before: list[SyntaxDiagnostic],
    target: SyntaxDiagnostic,
    edit: TextEdit,
    region: tuple[int, int],
    broken_spans: list[tuple[int, int]] | None = None,
) -> bool:
    """True when the edit removes ``target``, adds no syntax error and changes nothing outside ``region``,
    and (unless ``broken_spans`` is given) leaves no error at all in the statement and lines it repairs.

    With ``broken_spans`` (the ERROR nodes before the edit) the edit is a step of fixing a whole file: an
    error may appear after the edited line inside them (text that was already unparsable, whose own error
    the old ERROR node was hiding), and the errors that were already there may stay.
    """
    spans = broken_spans or []
    return _verdict(parsed, before, target, edit, region, spans, strict=broken_spans is None) is not None


def _verdict(
    parsed: ParsedText,
    before: list[SyntaxDiagnostic],
    target: SyntaxDiagnostic,
    edit: TextEdit,
    region: tuple[int, int],
    broken_spans: list[tuple[int, int]],
    strict: bool,
) -> str | None:
    """None (rejected), "clean", or "reveals" (accepted; it uncovers errors an ERROR node was hiding)."""
    if edit.start < region[0] or edit.end > region[1] or edit.start > edit.end:
        return None
    if parsed.text[edit.start : edit.end] == edit.new_text:
        return None
    after, old_tree = parsed.reparsed(edit.start, edit.end, edit.new_text)
    delta = len(edit.new_text) - (edit.end - edit.start)

    def shifted(start: int, end: int) -> tuple[int, int]:
        return (start, end) if end <= edit.start else (start + delta, end + delta)

    expected = set()
    for diagnostic in before:
        if diagnostic != target and (diagnostic.end <= edit.start or diagnostic.start >= edit.end):
            expected.add((*shifted(diagnostic.start, diagnostic.end), diagnostic.message))
    hidden = [shifted(start, end) for start, end in broken_spans if end <= edit.start or start >= edit.end]
    hidden += [(start, end + delta) for start, end in broken_spans if start <= edit.start and end >= edit.end]
    line_end = _line_end(after.text, edit.start + len(edit.new_text))
    changed = [(r.start_byte, r.end_byte) for r in old_tree.changed_ranges(after.tree)]
    edited = (after.byte_offset(region[0]), after.byte_offset(region[1] + delta))

    def judge(found: list[SyntaxDiagnostic]) -> str | None:
        verdict = "clean"
        for d in found:
            if (d.start, d.end, d.message) in expected:
                continue
            if d.start > line_end and any(low <= d.start and d.end <= high for low, high in hidden):
                verdict = "reveals"
                continue
            return None
        return verdict

    verdict = judge(diagnose_ranges(after, [*changed, edited]))
    if verdict is None or not _unchanged_outside(after, old_tree, changed, edited):
        return None
    # tree-sitter's error recovery can differ between an incremental and a fresh parse: the editor may show
    # either, so the fix must also hold for a fresh parse of the whole result
    fresh = parse_text(after.text, parsed.language)
    found = diagnose(fresh)
    verdict = judge(found)
    if verdict is None or not strict:
        return verdict
    if _imbalance(fresh.tree, fresh.language) > _imbalance(parsed.tree, parsed.language):
        return None  # e.g. removing the '}' that closed a '{': the error was elsewhere, now there are two
    # the targeted error being gone is not enough: nothing may be left broken where the fix repairs
    zones = repaired_region(fresh, edit.start, edit.start + len(edit.new_text))
    return None if _has_error_in(fresh, found, zones) else verdict


@lru_cache(maxsize=8)
def _imbalance(tree: Tree, language: str) -> int:
    """How many bracket tokens are left unclosed or close nothing (cached: the original's tree repeats)."""
    brackets_query = query(language, "brackets")
    if brackets_query is None:
        return 0
    tokens = QueryCursor(brackets_query).captures(tree.root_node).get("punctuation.bracket", [])
    stack: list[str] = []
    unmatched = 0
    for token in sorted(tokens, key=lambda node: node.start_byte):
        if token.is_missing:
            continue  # invented by error recovery: not the author's
        if token.type in _CLOSER_OF:
            stack.append(_CLOSER_OF[token.type])
        elif stack and stack[-1] == token.type:
            stack.pop()
        else:
            unmatched += 1
    return len(stack) + unmatched


def _statement_at(parsed: ParsedText, low: int, high: int) -> Node | None:
    """The innermost statement (``statements.scm`` @statement) holding the byte range ``[low, high]``."""
    statements_query = query(parsed.language, "statements")
    if statements_query is None:
        return None
    cursor = QueryCursor(statements_query)
    cursor.set_byte_range(max(0, low - 1), high + 1)
    found = {node.id for node in cursor.captures(parsed.tree.root_node).get("statement", [])}
    node: Node | None = parsed.tree.root_node.descendant_for_byte_range(low, high)
    while node is not None and node.id not in found:
        node = node.parent
    return node


def repaired_region(parsed: ParsedText, start: int, end: int) -> list[tuple[int, int]]:
    """The str spans that must be free of errors once an edit has produced ``text[start:end]``.

    They are the lines the edit touches and the innermost statement holding it, less the inside of the
    bodies the edit is not in: a fix in a header is checked through its body's first line, so an unrelated
    error deep inside a long function does not block a fix of its ``def`` line. By the author's layout a
    statement also owns the lines after it indented deeper than its first line, and a line indented deeper
    than the one above it continues that one (unless it opens a block), even where a wrong fix has made
    them statements of their own.
    """
    text = parsed.text
    zones = [(_line_start(text, start), _line_end(text, end))]
    if not text[zones[0][0] : zones[0][1]].strip():  # the edit emptied its line: it touches its neighbours
        zones = [(_code_line_above(text, zones[0][0]) or 0, _line_end(text, _next_code_end(text, end)))]
    low, high = parsed.byte_offset(start), parsed.byte_offset(end)
    statement = _statement_at(parsed, low, high)
    if statement is None:
        return [(_continued_from(text, zones[0][0]), zones[0][1])]
    statements_query = query(parsed.language, "statements")
    assert statements_query is not None
    cursor = QueryCursor(statements_query)
    cursor.set_byte_range(statement.start_byte, statement.end_byte)
    skipped: list[tuple[int, int]] = []
    bodies = cursor.captures(statement).get("body", [])
    for body in bodies:
        inside = statement.start_byte <= body.start_byte and body.end_byte <= statement.end_byte
        if inside and body != statement and not (body.start_byte <= low and high <= body.end_byte):
            first_line_end = _line_end(text, parsed.char_offset(body.start_byte))
            skipped.append((first_line_end, parsed.char_offset(body.end_byte)))
    statement_start = _continued_from(text, parsed.char_offset(statement.start_byte))
    position = statement_start
    for skip_low, skip_high in sorted(skipped):
        if skip_low > position:
            zones.append((position, skip_low))
        position = max(position, skip_high)
    statement_end = parsed.char_offset(statement.end_byte)
    end_of_layout = _continuation_end(text, statement_start, statement_end)
    if position < statement_end:
        zones.append((position, end_of_layout))
    elif statement_end < end_of_layout:
        zones.append((statement_end, end_of_layout))
    return zones


def _code_line_above(text: str, offset: int) -> int | None:
    """The start of the nearest non-blank line above the line holding ``offset``."""
    position = _line_start(text, offset)
    while position > 0:
        position = _line_start(text, position - 1)
        if text[position : _line_end(text, position)].strip():
            return position
    return None


def _next_code_end(text: str, offset: int) -> int:
    following = next_nonblank_line(text, offset)
    return offset if following is None else following[0]


def _continued_from(text: str, start: int) -> int:
    """The start of the statement, by layout, that the line holding ``start`` continues: a line indented
    deeper than the code line above it continues that line, unless that line opens a block."""
    line_start = _line_start(text, start)
    while (above := _code_line_above(text, line_start)) is not None:
        above_line = text[above : _line_end(text, above)]
        line = text[line_start : _line_end(text, line_start)]
        deeper = len(indentation_of(line).expandtabs(8)) > len(indentation_of(above_line).expandtabs(8))
        if not deeper or above_line.rstrip().endswith((":", "{")):
            break
        line_start = above
    return min(line_start, start)


def _continuation_end(text: str, start: int, end: int) -> int:
    """The end of the lines after ``end`` indented deeper than the line at ``start`` (blank ones included)."""
    first_line = text[_line_start(text, start) : _line_end(text, start)]
    width = len(indentation_of(first_line).expandtabs(8))
    following = next_nonblank_line(text, end)
    while following is not None and len(indentation_of(following[1]).expandtabs(8)) > width:
        end = following[0] + len(following[1])
        following = next_nonblank_line(text, end)
    return end


def _overlaps(start: int, end: int, zones: list[tuple[int, int]]) -> bool:
    """Whether ``[start, end)`` (a zero-width one included) meets one of the zones."""
    if start == end:
        return any(low <= start <= high for low, high in zones)
    return any(start < high and end > low for low, high in zones)


def _has_error_in(parsed: ParsedText, found: list[SyntaxDiagnostic], zones: list[tuple[int, int]]) -> bool:
    """Whether a diagnostic, ERROR or MISSING node meets the zones.

    The nodes count too: a diagnostic names one token of an ERROR node, which may lie outside the zones.
    """
    if any(_overlaps(d.start, d.end, zones) for d in found):
        return True
    errors_query = query(parsed.language, "errors")
    if errors_query is None or not parsed.tree.root_node.has_error:
        return False
    for low, high in zones:
        cursor = QueryCursor(errors_query)
        cursor.set_byte_range(max(0, parsed.byte_offset(low) - 1), parsed.byte_offset(high) + 1)
        captures = cursor.captures(parsed.tree.root_node)
        for node in [*captures.get("error", []), *captures.get("missing", [])]:
            start, end = parsed.char_offset(node.start_byte), parsed.char_offset(node.end_byte)
            if _overlaps(start, end, [(low, high)]):
                return True
    return False


def _unchanged_outside(
    after: ParsedText, old_tree: Tree, changed: list[tuple[int, int]], region: tuple[int, int]
) -> bool:
    """Every token outside the (new) region has the same span as before the edit (positions shifted)."""
    region_low, region_high = region
    for changed_low, changed_high in changed:
        for low, high in (
            (changed_low, min(changed_high, region_low)),
            (max(changed_low, region_high), changed_high),
        ):
            if low < high and _token_spans(old_tree, low, high) != _token_spans(after.tree, low, high):
                return False
    return True


# --- rule-based candidates ---------------------------------------------------------------------------------


class _Rules:
    """Builds the rule-based candidates for one diagnostic."""

    def __init__(self, parsed: ParsedText, diagnostic: SyntaxDiagnostic) -> None:
        self.parsed = parsed
        self.text = parsed.text
        self.diagnostic = diagnostic
        self.found: list[_Candidate] = []

    def add(
        self,
        start: int,
        end: int,
        new_text: str,
        title: str,
        priority: int,
        cost: int | None = None,
        directed: bool = False,
        guess: bool = False,
    ) -> None:
        edit = _minimal(self.text, TextEdit(start, end, new_text))
        if self._splits_line(edit):
            directed, guess = False, True
        if edit.start != edit.end or edit.new_text:
            self.found.append(_Candidate(edit, title, "rule", priority, cost, directed, guess))

    def _splits_line(self, edit: TextEdit) -> bool:
        """A ``;`` with more code after it on the line: two statements where the author wrote one."""
        if edit.new_text.strip() != ";" or self._open_on_line(edit.start) is not None:
            return False  # inside brackets (a `for (;;)` header) a ';' separates clauses
        rest = self.text[edit.end : _line_end(self.text, edit.end)].strip()
        return bool(rest) and not rest.startswith(("//", "/*", "#", "--", "}", ")", "]"))

    def build(self) -> list[_Candidate]:
        d = self.diagnostic
        if d.kind == "missing" and d.missing_text:
            self._insert_missing(d.missing_text)
        if d.kind == "unterminated" and d.missing_text:
            self._close_string(d.missing_text)
        if d.kind == "unclosed":
            self._close_bracket()
        if d.kind == "unexpected" and self.text[d.start : d.end] in _OPENER_OF:
            self._open_bracket(_OPENER_OF[self.text[d.start : d.end]])
        if d.kind == "indentation":
            self._reindent()
        stray = self._stray_token(d)
        if stray is not None:
            # removing a word loses what the author wrote: a last resort, like a blind guess
            word = any(char.isalnum() for char in self.text[stray[0] : stray[1]])
            self._remove_with_space(*stray, guess=word)
            self.add(*stray, "", f"Remove '{self.text[stray[0] : stray[1]]}'", 4, guess=word)
        self._misspelled_keywords()
        self._probes()
        return self.found

    def _stray_token(self, d: SyntaxDiagnostic) -> tuple[int, int] | None:
        """The span of a single token worth removing: an opening quote or bracket, or one unexpected token."""
        if d.kind == "unterminated" and d.missing_text:
            quote_end = self.text.find(d.missing_text[0], d.start)
            opening = self.text[d.start : quote_end + 1] if quote_end >= 0 else ""
            return (d.start, d.start + len(opening)) if opening and len(opening) <= 4 else None
        token = self.text[d.start : d.end]
        if (
            d.kind in ("unexpected", "unclosed")
            and token
            and len(token) <= 24
            and not any(c.isspace() for c in token)
        ):
            return d.start, d.end
        return None

    def _insert_missing(self, token: str) -> None:
        """Insert the token tree-sitter expected; a keyword gets a space or a line of its own."""
        d = self.diagnostic
        title = f"Insert '{token}'"
        if not token[-1:].isalnum() or d.start == 0 or not self.text[d.start - 1].isalnum():
            self.add(d.start, d.start, token, title, 0)
            return
        line_start = _line_start(self.text, d.start)
        line = self.text[line_start : d.start]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        opener_indent = self._enclosing_indent(line_start, indent)
        self.add(d.start, d.start, f"\n{opener_indent}{token}", title, 0)
        self.add(d.start, d.start, f" {token}", title, 1)

    def _enclosing_indent(self, line_start: int, indent: str) -> str:
        """The indentation of the nearest line above that is indented less than ``indent``."""
        position = line_start
        while position > 0:
            above_start = _line_start(self.text, position - 1)
            above = self.text[above_start : position - 1]
            position = above_start
            above_indent = above[: len(above) - len(above.lstrip(" \t"))]
            if above.strip() and len(above_indent) < len(indent):
                return above_indent
        return ""

    def _line_positions(self, line_start: int) -> list[int]:
        """Places to close something on a line: its end, before trailing punctuation, before a comment."""
        end = _line_end(self.text, line_start)
        line = self.text[line_start:end]
        stripped_end = line_start + len(line.rstrip())
        positions = [stripped_end]
        position = stripped_end
        while position > line_start and self.text[position - 1] in _TRAILING_PUNCTUATION + " \t":
            position -= 1
            if self.text[position] in _TRAILING_PUNCTUATION:
                positions.append(len(self.text[line_start:position].rstrip()) + line_start)
        comment = re.search(r"\s(#|//|--)", line)
        if comment:
            positions.append(line_start + len(line[: comment.start()].rstrip()))
        return list(dict.fromkeys(positions))

    def _close_string(self, quote: str) -> None:
        d = self.diagnostic
        line_start = _line_start(self.text, d.start)
        positions = self._line_positions(line_start)
        # strings rarely end in ';' or ',': closing before trailing punctuation comes first
        for rank, position in enumerate(positions[1:] + positions[:1]):
            if position > d.start:
                self.add(position, position, quote, "Close the string", 1 + rank, directed=True)
        self._open_string(quote, line_start)
        # the string may have swallowed a closing quote: close an earlier string before a separator
        for match in re.finditer(r"\S(?=[,:;)\]}])", self.text[line_start : d.start]):
            position = line_start + match.end()
            if self.text.count(quote[0], line_start, position) % 2:  # inside an earlier string
                self.add(position, position, quote, "Close the string", 8)

    def _open_string(self, quote: str, line_start: int) -> None:
        """The opening quote may be the one missing: the lone quote closes a string that starts earlier."""
        d = self.diagnostic
        quote_at = self.text.find(quote, d.start, d.start + 4)  # after a string prefix such as b or f
        if len(quote) != 1 or quote_at < 0:
            return
        rest = self.text[quote_at + 1 : _line_end(self.text, quote_at)]
        first = 0 if not rest.strip(" \t,;:)]}") else 2  # nothing after the quote: it closes a string
        before = self.text[line_start:quote_at]
        starts = [m.end() for m in re.finditer(r"(^[ \t]*|[ \t(\[{,=])(?=[^ \t])", before)]
        for rank, start in enumerate(reversed(starts[-4:])):
            position = line_start + start
            if position < quote_at and self.text[position] != quote:
                self.add(position, position, quote, "Open the string", first + rank)
        # or the string swallowed its closing quote and what follows it on the line
        for rank, match in enumerate(re.finditer(r"[^\s,](?=\s*[,)\]}:;])", rest)):
            position = quote_at + 1 + match.end()
            self.add(position, position, quote, "Close the string", 3 + rank)

    def _open_bracket(self, opener: str) -> None:
        """A stray closer may have lost its opener: open it at the start of a chunk earlier on the line."""
        d = self.diagnostic
        line_start = _line_start(self.text, d.start)
        before = self.text[line_start : d.start]
        starts = [m.start() for m in re.finditer(r"(?<![^ \t])[^ \t]", before)]
        for rank, start in enumerate(starts[1:] + starts[:1]):  # the line's first word last: rarely inside
            self.add(line_start + start, line_start + start, opener, f"Insert '{opener}'", 5 + rank)

    def _close_bracket(self) -> None:
        d = self.diagnostic
        closer = d.missing_text
        if not closer:
            return
        line_start = _line_start(self.text, d.start)
        for line in range(_REGION_LINES_AFTER + 1):
            for rank, position in enumerate(self._line_positions(line_start)):
                if position >= d.end:
                    self.add(position, position, closer, f"Insert '{closer}'", 1 + line + rank, directed=True)
            next_line = _line_end(self.text, line_start) + 1
            if next_line > len(self.text):
                break
            line_start = next_line

    def _remove_with_space(self, start: int, end: int, guess: bool) -> None:
        """Remove a token with the space before it when that space would be left dangling."""
        after = self.text[end : end + 1]
        if start > 0 and self.text[start - 1] == " " and (not after or after.isspace() or after in ",;)]}"):
            self.add(start - 1, end, "", f"Remove '{self.text[start:end]}'", 3, guess=guess)

    def _indent_unit(self) -> str:
        """The file's indentation step: the most common increase between consecutive lines."""
        steps: Counter[str] = Counter()
        previous = ""
        for line in self.text.splitlines()[:2000]:
            if not line.strip():
                continue
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            if len(indent) > len(previous) and indent.startswith(previous):
                steps[indent[len(previous) :]] += 1
            previous = indent
        return steps.most_common(1)[0][0] if steps else "    "

    def _reindent(self) -> None:
        """Give the line the indentation of a line above it (nearest first) or one more step."""
        d = self.diagnostic
        line_start = _line_start(self.text, d.start)
        line = self.text[line_start : _line_end(self.text, line_start)]
        current = line[: len(line) - len(line.lstrip(" \t"))]
        indents: list[str] = []
        position = line_start
        while position > 0 and len(indents) < 6:
            above_start = _line_start(self.text, position - 1)
            above = self.text[above_start : position - 1]
            position = above_start
            if above.strip() and not above.lstrip().startswith("#"):
                indent = above[: len(above) - len(above.lstrip(" \t"))]
                if not indents or len(indent) < len(indents[-1]) or not indents:
                    indents.append(indent)
                if not indent:
                    break
        unit = self._indent_unit()
        if d.message == "expected an indented block" and indents:
            indents.insert(0, indents[0] + unit)
        step = len(unit.expandtabs(8)) or 4

        width = len(current.expandtabs(8))

        def off_grid(indent: str) -> int:
            return 10 if len(indent.expandtabs(8)) % step else 0

        def distance(indent: str) -> int:  # a small slip of the indentation is likelier than a big one
            return abs(len(indent.expandtabs(8)) - width)

        for indent in dict.fromkeys(indents):
            if indent != current:
                priority = distance(indent) + off_grid(indent)
                self.add(
                    line_start,
                    line_start + len(current),
                    indent,
                    "Fix the indentation",
                    priority,
                    directed=True,
                )
        previous_start = self._previous_code_line(line_start)
        if previous_start is not None and d.message != "expected an indented block":
            previous = self.text[previous_start : _line_end(self.text, previous_start)]
            previous_indent = previous[: len(previous) - len(previous.lstrip(" \t"))]
            if previous_indent != current:
                end = previous_start + len(previous_indent)
                self.add(
                    previous_start,
                    end,
                    current,
                    "Fix the indentation of the line above",
                    abs(len(previous_indent.expandtabs(8)) - width) + off_grid(current),
                )

    def _previous_code_line(self, line_start: int) -> int | None:
        position = line_start
        while position > 0:
            above_start = _line_start(self.text, position - 1)
            above = self.text[above_start : position - 1].strip()
            if above and not above.startswith("#"):
                return above_start
            position = above_start
        return None

    def _misspelled_keywords(self) -> None:
        d = self.diagnostic
        known = keywords(self.parsed.language)
        low = _line_start(self.text, d.start)
        if low > 0:
            low = _line_start(self.text, low - 1)
        high = _line_end(self.text, d.end)
        for match in re.finditer(r"[A-Za-z_]\w*", self.text[low:high]):
            word = match.group()
            if len(word) < 2 or word in known:
                continue
            start = low + match.start()
            line_start = _line_start(self.text, start)
            starts_error_line = (
                line_start == _line_start(self.text, d.start) and not self.text[line_start:start].strip()
            )
            next_to_error = start <= d.start <= start + len(word) + 1 or starts_error_line
            for keyword in sorted(known):
                if one_edit_away(word, keyword):
                    title = f"Change '{word}' to '{keyword}'"
                    priority = -1 if next_to_error else 2
                    self.add(start, start + len(word), keyword, title, priority, 1, next_to_error)

    def _open_on_line(self, position: int) -> str | None:
        """The closer of the innermost bracket still open at ``position`` on its line, if any."""
        stack: list[str] = []
        for char in self.text[_line_start(self.text, position) : position]:
            if char in "([{":
                stack.append(char)
            elif char in ")]}" and stack and _OPENER_OF[char] == stack[-1]:
                stack.pop()
        return {"(": ")", "[": "]", "{": "}"}[stack[-1]] if stack else None

    def _probes(self) -> None:
        """Common one-token repairs at the error and right after the token before it."""
        d = self.diagnostic
        before = d.start
        while before > 0 and self.text[before - 1] in " \t\r\n":  # right after the previous token
            before -= 1
        positions = dict.fromkeys([before, d.start, d.end])
        for position in positions:
            closer = self._open_on_line(position)
            tokens = ((closer,) if closer else ()) + _PROBE_TOKENS
            unwanted = _NO_PROBE.get(self.parsed.language, frozenset())
            for rank, token in enumerate(t for t in dict.fromkeys(tokens) if t not in unwanted):
                self.add(position, position, token, f"Insert '{token}'", 10 + rank, guess=True)
        for rank, position in enumerate((d.start, before - 1)):
            char = self.text[position : position + 1]
            if char and not char.isspace() and not char.isalnum() and char != "_":
                self.add(position, position + 1, "", f"Remove '{char}'", 20 + rank, guess=True)


# --- model-based candidates --------------------------------------------------------------------------------


def _model_candidates(
    parsed: ParsedText, diagnostic: SyntaxDiagnostic, generator: CandidateGenerator, budget_s: float
) -> list[_Candidate]:
    """Ask the generator to rewrite the lines of the error (the middle between the rest of the file)."""
    text = parsed.text
    start = _line_start(text, diagnostic.start)
    end = _line_end(text, diagnostic.end)
    middle = text[start:end]
    max_tokens = min(256, 16 + len(middle) // 2)
    try:
        outputs = generator(text[:start], text[end:], _MODEL_CANDIDATES, max_tokens, budget_s)
    except Exception:  # a failing model must not take the rule-based fixes down with it
        return []
    found = []
    for rank, output in enumerate(outputs):
        if not isinstance(output, str):
            continue
        replacement = output[:-1] if output.endswith("\n") and not middle.endswith("\n") else output
        if replacement.count("\n") != middle.count("\n"):
            continue  # a repair of these lines, not new code: extra lines would pass a parse check
        edit = _minimal(text, TextEdit(start, end, replacement))
        if edit.start == edit.end and not edit.new_text:
            continue
        found.append(_Candidate(edit, _describe(text, edit), "model", 30 + rank))
    return found


def _result_key(text: str, edit: TextEdit, region: tuple[int, int], title: str) -> str:
    """What the region becomes; whitespace is ignored except for indentation fixes."""
    low, high = min(region[0], edit.start), max(region[1], edit.end)
    result = text[low : edit.start] + edit.new_text + text[edit.end : high]
    return result if title.startswith("Fix the indentation") else "".join(result.split())


def _short(snippet: str) -> str:
    return snippet if len(snippet) <= 30 else snippet[:29] + "…"


def _describe(text: str, edit: TextEdit) -> str:
    """A title for a model-made edit, from what it inserts, removes or changes."""
    old = text[edit.start : edit.end]
    if not old:
        return f"Insert '{_short(edit.new_text)}'"
    if not edit.new_text:
        return f"Remove '{_short(old)}'"
    return f"Change '{_short(old)}' to '{_short(edit.new_text)}'"


# --- entry point -------------------------------------------------------------------------------------------


def propose_fixes(
    parsed: ParsedText,
    diagnostic: SyntaxDiagnostic,
    generator: CandidateGenerator | None = None,
    max_fixes: int = 3,
    time_budget_s: float = 2.0,
    allow_revealing: bool = False,
) -> list[Fix]:
    """Up to ``max_fixes`` verified fixes of ``diagnostic``, smallest edit first; [] when none verifies.

    With ``allow_revealing`` a fix is a step of fixing a whole file, one error after another: it may
    uncover errors that an ERROR node was hiding after the edited line and leave the errors that were already
    there. Otherwise no other error may appear, and the statement and lines the fix repairs must parse with
    no error at all: what an editor's menu offers is a whole repair.
    """
    if max_fixes <= 0:
        return []
    started = time.monotonic()
    deadline = started + max(0.0, time_budget_s)
    before = diagnose(parsed)
    if diagnostic not in before:
        return []  # stale: the document changed since the diagnostic was computed
    if len(before) > _MAX_ERRORS_TO_FIX:
        return []  # not code in this language (or binary): reparsing it costs seconds and fixes nothing
    check = _Checker(parsed, before, diagnostic, allow_revealing)
    # rule candidates first, within their share of the budget: a slow model must not cost them
    rule_share = 1.0 if generator is None else 1.0 - _MODEL_SHARE_OF_BUDGET
    rules = _Rules(parsed, diagnostic).build()
    rules_deadline = started + time_budget_s * rule_share
    found = check.verify([c for c in rules if not c.guess], max_fixes, rules_deadline)
    if not any(c.directed for c, _, _ in found):  # a blind guess beside what the grammar asks for is noise
        found += check.verify([c for c in rules if c.guess], max_fixes, rules_deadline)
    if generator is not None and time.monotonic() < deadline:
        proposals = _model_candidates(parsed, diagnostic, generator, deadline - time.monotonic())
        agreed = {c.edit for c in proposals}
        found = [(c, v, c.edit in agreed) for c, v, _ in found]
        # model candidates are verified even when the model overran: verification is cheap and local
        found += check.verify(proposals, max_fixes, max(deadline, time.monotonic() + _VERIFY_GRACE_S))
    text = parsed.text
    found.sort(key=lambda f: (f[1] == "reveals", f[0].rank(text)[0], not f[2], f[0].rank(text)[1:]))
    return [
        Fix(c.title, (c.edit,), c.source, diagnostic, preferred=i == 0)
        for i, (c, _, _) in enumerate(found[:max_fixes])
    ]


class _Checker:
    """Verifies candidates for one diagnostic, skipping those whose result was already tried."""

    def __init__(
        self, parsed: ParsedText, before: list[SyntaxDiagnostic], target: SyntaxDiagnostic, revealing: bool
    ) -> None:
        self.parsed = parsed
        self.before = before
        self.target = target
        self.region = fix_region(parsed.text, target)
        self.broken_spans = error_spans(parsed) if revealing else []
        self.strict = not revealing
        self.tried: set[str] = set()

    def verify(
        self, candidates: list[_Candidate], limit: int, deadline: float
    ) -> list[tuple[_Candidate, str, bool]]:
        """Up to ``limit`` verified candidates in rank order, each with its verdict ("clean"/"reveals")."""
        text = self.parsed.text
        verified: list[tuple[_Candidate, str, bool]] = []
        for candidate in sorted(candidates, key=lambda c: c.rank(text)):
            if len(verified) >= limit or time.monotonic() > deadline:
                break
            key = _result_key(text, candidate.edit, self.region, candidate.title)
            if key in self.tried:
                continue
            self.tried.add(key)
            verdict = _verdict(
                self.parsed,
                self.before,
                self.target,
                candidate.edit,
                self.region,
                self.broken_spans,
                self.strict,
            )
            if verdict is not None:
                verified.append((candidate, verdict, False))
        return verified
