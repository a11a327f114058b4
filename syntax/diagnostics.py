"""Syntax errors of a document, in words and with tight ranges, from tree-sitter ERROR and MISSING nodes.

tree-sitter recovers from errors by wrapping the tokens it could not place in an ERROR node, which can span
dozens of lines, and by inserting zero-width MISSING tokens. An editor needs the offending token, not the
whole node, so each ERROR is explained by the first rule that applies: an unbalanced bracket, an unterminated
string, a Python header without ``:``, the first token the parser could not accept in its state, and only
then the first line of the node. tree-sitter-python accepts inconsistent indentation without an ERROR, so
Python blocks are also checked for it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from typing import overload

from tree_sitter import Node, Query, QueryCursor

from syntax.document import ParsedText, UnsupportedLanguageError, parse_text
from syntax.languages import grammar, query
from syntax.options import option

__all__ = [
    "DiagnosticsOptions",
    "SyntaxDiagnostic",
    "diagnose",
    "diagnose_ranges",
    "error_spans",
    "keywords",
    "one_edit_away",
]

MAX_DIAGNOSTICS = 100
_MAX_ERROR_TOKENS = 3000  # tokens of one ERROR node examined (an unclosed bracket can swallow a whole file)
_MAX_TOKEN_IN_MESSAGE = 24

_OPENERS = {"(": ")", "[": "]", "{": "}", "${": "}", "#{": "}"}
_CLOSERS = {")", "]", "}"}
_QUOTE_TOKENS = {'"', "'", "`", "string_start", '"""', "'''", "[[", "raw_string_literal_start"}
_MULTILINE_QUOTES = {'"""', "'''", "`", "]]"}
_PYTHON_HEADER_KEYWORDS = {
    "if",
    "elif",
    "else",
    "for",
    "while",
    "def",
    "class",
    "with",
    "try",
    "except",
    "finally",
    "async",
    "match",
    "case",
}


@dataclass(frozen=True)
class SyntaxDiagnostic:
    """One syntax error: a tight ``[start, end)`` range in str offsets and a message in words."""

    start: int
    end: int
    message: str
    kind: str  # "missing" | "unexpected" | "unclosed" | "unterminated" | "indentation" | "syntax"
    missing_text: str | None = None  # for "missing": the token whose insertion at `start` is expected


@dataclass
class DiagnosticsOptions:
    """Settings of syntax diagnostics and their fixes (composed into the server settings as `diagnostics`)."""

    enabled: bool = option(True, "Report syntax errors found by tree-sitter as diagnostics.")
    debounce_ms: int = option(
        400,
        "Wait this long after the last edit before publishing diagnostics; errors only on "
        "the line being typed wait three times as long.",
        minimum=0,
        maximum=10000,
    )
    model_fixes: bool = option(
        True, "Also ask the completion model for fixes (each is verified by reparsing before it is offered)."
    )
    max_fixes: int = option(3, "Most quick fixes offered for one syntax error.", minimum=0, maximum=20)
    fix_time_budget_ms: int = option(
        2000,
        "Time allowed for finding and verifying the fixes of one error, in milliseconds.",
        minimum=50,
        maximum=30000,
    )


@overload
def diagnose(doc: ParsedText, language: None = None) -> list[SyntaxDiagnostic]: ...
@overload
def diagnose(doc: str, language: str) -> list[SyntaxDiagnostic]: ...
def diagnose(doc: ParsedText | str, language: str | None = None) -> list[SyntaxDiagnostic]:
    """The syntax errors of a snapshot (or of ``text`` in ``language``), sorted, merged, at most 100."""
    if isinstance(doc, str):
        if language is None:
            raise UnsupportedLanguageError("diagnose(text, language) needs a language name")
        doc = parse_text(doc, language)
    return _Diagnoser(doc).run()


def error_spans(parsed: ParsedText) -> list[tuple[int, int]]:
    """str-offset spans of the outermost ERROR nodes: text tree-sitter could not parse."""
    errors_query = query(parsed.language, "errors")
    if errors_query is None or not parsed.tree.root_node.has_error:
        return []
    errors = _outermost(QueryCursor(errors_query).captures(parsed.tree.root_node).get("error", []))
    return [(parsed.char_offset(node.start_byte), parsed.char_offset(node.end_byte)) for node in errors]


def diagnose_ranges(parsed: ParsedText, byte_ranges: list[tuple[int, int]]) -> list[SyntaxDiagnostic]:
    """The syntax errors that involve nodes overlapping the byte ranges (all others are unchanged by an edit
    confined to them, which is what fix verification relies on)."""
    return _Diagnoser(parsed, byte_ranges).run()


class _Diagnoser:
    """Explains the ERROR and MISSING nodes of one parsed text (or of the parts in some byte ranges)."""

    def __init__(self, parsed: ParsedText, byte_ranges: list[tuple[int, int]] | None = None) -> None:
        self.parsed = parsed
        self.byte_ranges = byte_ranges
        self.text = parsed.text
        self.language = parsed.language
        self.found: list[SyntaxDiagnostic] = []

    def run(self) -> list[SyntaxDiagnostic]:
        errors_query = query(self.language, "errors")
        root = self.parsed.tree.root_node
        if errors_query is None:
            return []
        if not root.has_error and self.language != "python":
            return []
        captures = self._captures(errors_query, root)
        errors = _outermost(captures.get("error", []))
        for node in errors:
            self._explain_error(node)
            if len(self.found) >= MAX_DIAGNOSTICS:
                break
        for node in captures.get("missing", []):
            self._missing(node)
        if self.language == "python":
            indentation = _PythonIndentation(self)
            indentation.check(captures.get("block", []), root, self.byte_ranges)
            indentation.check_clauses(captures.get("clause", []))
        if self.language == "python":
            self.found = [self._python_colon_instead(d) for d in self.found]
        return _merged(self.found)[:MAX_DIAGNOSTICS]

    def _python_colon_instead(self, diagnostic: SyntaxDiagnostic) -> SyntaxDiagnostic:
        """An unexpected token right under a header line that lacks its ``:`` is explained by that colon."""
        if diagnostic.kind not in ("unexpected", "syntax"):
            return diagnostic
        line_start = self.text.rfind("\n", 0, diagnostic.start) + 1
        for candidate in (self._previous_code_line(line_start), line_start):
            if candidate is None:
                continue
            end = _python_header_without_colon(self.text, candidate)
            if end is not None:
                return SyntaxDiagnostic(end, end, "expected ':'", "missing", ":")
        return diagnostic

    def _previous_code_line(self, line_start: int) -> int | None:
        position = line_start
        while position > 0:
            above = self.text.rfind("\n", 0, position - 1) + 1
            stripped = self.text[above : position - 1].strip()
            if stripped and not stripped.startswith("#"):
                return above
            position = above
        return None

    def _captures(self, errors_query: Query, root: Node) -> dict[str, list[Node]]:
        if self.byte_ranges is None:
            return QueryCursor(errors_query).captures(root)
        merged: dict[str, dict[int, Node]] = {}
        for low, high in self.byte_ranges:
            cursor = QueryCursor(errors_query)
            cursor.set_byte_range(max(0, low - 1), high + 1)  # widened: zero-width MISSING nodes at the edges
            for name, nodes in cursor.captures(root).items():
                merged.setdefault(name, {}).update((node.id, node) for node in nodes)
        return {name: list(nodes.values()) for name, nodes in merged.items()}

    # --- helpers -------------------------------------------------------------------------------------

    def span(self, node: Node) -> tuple[int, int]:
        return self.parsed.char_offset(node.start_byte), self.parsed.char_offset(node.end_byte)

    def add(self, start: int, end: int, message: str, kind: str, missing_text: str | None = None) -> None:
        self.found.append(SyntaxDiagnostic(start, end, message, kind, missing_text))

    def line_end(self, offset: int) -> int:
        """The end of the line holding ``offset``, before trailing spaces."""
        newline = self.text.find("\n", offset)
        end = len(self.text) if newline < 0 else newline
        while end > offset and self.text[end - 1] in " \t\r":
            end -= 1
        return end

    # --- MISSING -------------------------------------------------------------------------------------

    def _missing(self, node: Node) -> None:
        token = node.type
        start, _ = self.span(node)
        if not node.is_named:
            self.add(start, start, f"missing {_quoted(token)}", "missing", token)
        elif token == "string_end" and node.parent is not None and node.parent.child_count > 0:
            opening_start, opening_end = self.span(node.parent.children[0])
            quote = self.text[opening_start:opening_end].lstrip("rRbBuUfFtT")
            self.add(start, start, "unterminated string", "missing", quote or None)
        else:
            self.add(start, start, f"missing {token.replace('_', ' ')}", "missing", None)

    # --- ERROR ---------------------------------------------------------------------------------------

    def _explain_error(self, error: Node) -> None:
        tokens = list(_leaves(error))
        if not tokens:
            start, end = self.span(error)
            self.add(start, max(end, start), "syntax error", "syntax")
            return
        explained = self.language == "python" and self._python_header(tokens)
        if self._unterminated(tokens) or self._brackets(tokens):
            return
        if explained or self._misspelled_keyword(tokens) or self._rejected_token(tokens):
            return
        self._first_line(error, tokens)

    def _brackets(self, tokens: list[Node]) -> bool:
        """Report unbalanced brackets among the tokens of an ERROR: a stray closer or an unclosed opener."""
        stack: list[Node] = []
        reported = False
        for token in tokens:
            if token.type in _OPENERS:
                stack.append(token)
            elif token.type in _CLOSERS:
                if stack and _OPENERS[stack[-1].type] == token.type:
                    stack.pop()
                    continue
                match = next(
                    (i for i in range(len(stack) - 1, -1, -1) if _OPENERS[stack[i].type] == token.type), -1
                )
                if match >= 0 and not reported:
                    # the openers above the match were never closed: report the innermost one
                    self._unclosed(stack[-1])
                    del stack[match:]
                    reported = True
                elif match < 0:
                    start, end = self.span(token)
                    self.add(start, end, f"unexpected {_quoted(token.type)}", "unexpected")
                    reported = True
        for opener in stack[:10]:
            self._unclosed(opener)
            reported = True
        return reported

    def _unclosed(self, opener: Node) -> None:
        start, end = self.span(opener)
        text = self.text[start:end]
        self.add(start, end, f"unclosed {_quoted(text)}", "unclosed", _OPENERS.get(text))

    def _unterminated(self, tokens: list[Node]) -> bool:
        """A string whose opening quote has no closing quote on the same line."""
        for token in tokens:
            if token.type not in _QUOTE_TOKENS or _closes_its_string(token):
                continue
            start, end = self.span(token)
            opening = self.text[start:end]
            quote = opening.lstrip("rRbBuUfFtT") or opening
            if quote in ("[[",):
                quote = "]]"
            line_end = self.line_end(end)
            searched_end = len(self.text) if quote in _MULTILINE_QUOTES else line_end
            if not _has_closing(self.text[end:searched_end], quote):
                self.add(start, max(line_end, end), "unterminated string", "unterminated", quote)
                return True
        return False

    def _python_header(self, tokens: list[Node]) -> bool:
        """The first compound-statement header (``if x``, ``def f()``) in the ERROR without its ``:``.

        Headers are keywords that start their line outside any bracket; a header ends at the first line
        break outside brackets. A missing colon makes tree-sitter-python swallow a lot, often from far above.
        """
        depth = 0
        previous_row = -1
        for index, token in enumerate(tokens):
            starts_line = token.start_point.row != previous_row
            previous_row = token.end_point.row
            if depth == 0 and starts_line and token.type in _PYTHON_HEADER_KEYWORDS:
                end = self._header_end_without_colon(tokens, index)
                line_start = self.text.rfind("\n", 0, self.span(token)[0]) + 1
                if end is not None and _python_header_without_colon(self.text, line_start) is not None:
                    self.add(end, end, "expected ':'", "missing", ":")
                    return True
            depth = max(0, depth + (1 if token.type in _OPENERS else -1 if token.type in _CLOSERS else 0))
        return False

    def _header_end_without_colon(self, tokens: list[Node], index: int) -> int | None:
        """Where a header starting at ``tokens[index]`` ends, if it has no ``:`` of its own; else None."""
        depth = 0
        last = tokens[index]
        for token in tokens[index + 1 :]:
            if depth == 0 and token.start_point.row != last.end_point.row:
                break
            if token.type == ":" and depth == 0:
                return None
            depth += 1 if token.type in _OPENERS else -1 if token.type in _CLOSERS else 0
            if depth < 0:
                return None  # inside brackets opened before the keyword: a comprehension or expression
            last = token
        return self.span(last)[1]

    def _misspelled_keyword(self, tokens: list[Node]) -> bool:
        """A line starting with a word one typo away from a keyword, then another word (``retrun x``)."""
        known = keywords(self.language)
        for token, following in itertools.pairwise(tokens):
            if not token.is_named or following.start_point.row != token.end_point.row:
                continue
            start, end = self.span(token)
            word = self.text[start:end]
            line_start = self.text.rfind("\n", 0, start) + 1
            starts_line = not self.text[line_start:start].strip()
            if not starts_line or len(word) < 2 or not word.isidentifier() or word in known:
                continue
            next_start, _ = self.span(following)
            if not (self.text[next_start : next_start + 1].isalnum() and self.text[end:next_start].isspace()):
                continue
            guesses = sorted(k for k in known if one_edit_away(word, k))
            if guesses:
                self.add(start, end, f"unknown keyword '{word}' (did you mean '{guesses[0]}'?)", "unexpected")
                return True
        return False

    def _rejected_token(self, tokens: list[Node]) -> bool:
        """The first token the parser could not accept after its predecessor (from the parse tables)."""
        language = grammar(self.language)
        for previous, token in itertools.pairwise(tokens):
            state = previous.next_parse_state
            if state == 0 or token.is_missing:
                continue
            lookahead = language.lookahead_iterator(state)
            if lookahead is None:
                continue
            if token.kind_id in set(lookahead.symbols()):
                continue
            start, end = self.span(token)
            self.add(start, end, f"unexpected {_quoted(self.text[start:end])}", "unexpected")
            return True
        return False

    def _first_line(self, error: Node, tokens: list[Node]) -> None:
        start, _ = self.span(tokens[0])
        end = self.line_end(start)
        _, error_end = self.span(error)
        end = max(start, min(end, error_end))
        snippet = self.text[start:end]
        if len(tokens) == 1 or (snippet and len(snippet) <= _MAX_TOKEN_IN_MESSAGE and error_end <= end):
            self.add(start, end, f"unexpected {_quoted(snippet)}", "unexpected")
        else:
            self.add(start, end, "syntax error", "syntax")


class _PythonIndentation:
    """Blocks whose statements do not line up, and headers without an indented block.

    Columns come from the bytes (a node's row start is ``start_byte - start_point.column``), so a check costs
    no text copies however large the file.
    """

    def __init__(self, diagnoser: _Diagnoser) -> None:
        self.d = diagnoser
        self.data = diagnoser.parsed.source

    def _indent_of_line(self, node: Node) -> bytes:
        line_start = node.start_byte - node.start_point.column
        end = line_start
        while end < len(self.data) and self.data[end] in b" \t\f":
            end += 1
        return self.data[line_start:end]

    def _column(self, node: Node) -> int | None:
        """The indentation column of a statement that starts its line, else None."""
        line_start = node.start_byte - node.start_point.column
        prefix = self.data[line_start : node.start_byte]
        if prefix.strip(b" \t\f"):
            return None
        return len(prefix.expandtabs(8))

    def _header_column(self, header: Node) -> int:
        return len(self._indent_of_line(header).expandtabs(8))

    def _statements(self, container: Node) -> list[tuple[Node, int]]:
        """Statements that start their line, with their columns; those right after an ERROR are skipped."""
        found = []
        after_error = False
        for child in container.named_children:
            if child.is_error or child.is_missing:
                after_error = True
                continue
            if child.type == "comment" or after_error:
                after_error = False
                continue
            column = self._column(child)
            if column is not None:
                found.append((child, column))
        return found

    def check(self, blocks: list[Node], root: Node, byte_ranges: list[tuple[int, int]] | None) -> None:
        for node, column in self._statements(root):
            in_range = byte_ranges is None or any(
                node.start_byte <= high and node.end_byte >= low for low, high in byte_ranges
            )
            if column and in_range:
                self._report_indent(node, "unexpected indent")
        for block in blocks:
            header = block.parent
            if header is None or header.has_error:
                continue
            statements = self._statements(block)
            if block.named_child_count == 0 or (
                statements and statements[0][1] <= self._header_column(header)
            ):
                self._expected_block(block)
                continue
            if not statements:
                continue
            expected = statements[0][1]
            for node, column in statements[1:]:
                if column > expected:
                    self._report_indent(node, "unexpected indent")
                elif column < expected:
                    self._report_indent(node, "unindent does not match any outer indentation level")

    def check_clauses(self, clauses: list[Node]) -> None:
        """``else``/``elif``/``except``/``finally`` at the column of their statement."""
        for clause in clauses:
            statement = clause.parent
            column = self._column(clause)
            if statement is None or column is None or statement.has_error:
                continue
            if column != self._header_column(statement):
                keyword = clause.children[0].type if clause.children else clause.type
                owner = statement.children[0].type if statement.children else statement.type
                self._report_indent(clause, f"'{keyword}' does not line up with its '{owner}'")

    def _report_indent(self, node: Node, message: str) -> None:
        line_start = self.d.parsed.char_offset(node.start_byte - node.start_point.column)
        start = self.d.parsed.char_offset(node.start_byte)
        self.d.add(line_start, start, message, "indentation")

    def _expected_block(self, block: Node) -> None:
        """Report at the first token of the line after the header, the line that should be indented."""
        data = self.data
        position = data.find(b"\n", block.start_byte)
        while position >= 0:
            line_start = position + 1
            line_end = data.find(b"\n", line_start)
            line = data[line_start : len(data) if line_end < 0 else line_end]
            stripped = line.lstrip(b" \t\f\r")
            if stripped and not stripped.startswith(b"#"):
                token = self.d.parsed.char_offset(line_start + len(line) - len(stripped))
                self.d.add(token, token, "expected an indented block", "indentation")
                return
            position = line_end
        start = self.d.parsed.char_offset(block.start_byte)
        self.d.add(start, start, "expected an indented block", "indentation")


_HEADER_LINE = re.compile(
    r"[ \t]*(if|elif|while|for|def|class|with|async|except)\b(?![ \t]*[=.,)\]])"
    r"|[ \t]*(else|try|finally)[ \t]*$"
)


def _python_header_without_colon(text: str, line_start: int) -> int | None:
    """The end of a one-line compound-statement header at ``line_start`` that has no trailing ``:``."""
    newline = text.find("\n", line_start)
    line = text[line_start : newline if newline >= 0 else len(text)]
    if "#" in line and "'" not in line and '"' not in line:
        line = line[: line.index("#")]
    code = line.rstrip()
    if not _HEADER_LINE.match(code) or code.endswith((":", "\\", ",")):
        return None
    depth = 0
    for char in code:
        depth += 1 if char in "([{" else -1 if char in ")]}" else 0
    return line_start + len(code) if depth == 0 else None


@cache
def keywords(language: str) -> frozenset[str]:
    """The grammar's keywords: its anonymous, visible, word-like tokens."""
    lang = grammar(language)
    words: set[str] = set()
    for kind in range(lang.node_kind_count):
        name = lang.node_kind_for_id(kind)
        visible_token = not lang.node_kind_is_named(kind) and lang.node_kind_is_visible(kind)
        if name and visible_token and re.fullmatch(r"[a-z_]{2,}", name):
            words.add(name)
    return frozenset(words)


def one_edit_away(word: str, keyword: str) -> bool:
    """One insertion, deletion, substitution or swap of neighbours turns ``word`` into ``keyword``."""
    if word == keyword or abs(len(word) - len(keyword)) > 1:
        return False
    if len(word) == len(keyword):
        diffs = [i for i, (a, b) in enumerate(zip(word, keyword, strict=True)) if a != b]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and word[diffs[0]] == keyword[diffs[1]]
            and (word[diffs[1]] == keyword[diffs[0]])
        )
    shorter, longer = (word, keyword) if len(word) < len(keyword) else (keyword, word)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def _outermost(errors: list[Node]) -> list[Node]:
    """ERROR nodes not inside another ERROR, in document order."""
    ordered = sorted(errors, key=lambda node: (node.start_byte, -node.end_byte))
    kept: list[Node] = []
    for node in ordered:
        if kept and node.start_byte >= kept[-1].start_byte and node.end_byte <= kept[-1].end_byte:
            continue
        kept.append(node)
    return kept


def _leaves(node: Node) -> list[Node]:
    """The tokens under a node in order (a cursor walk: queries cannot say 'every leaf')."""
    tokens: list[Node] = []
    cursor = node.walk()
    while True:
        current = cursor.node
        if current is not None and current.child_count == 0 and current.end_byte > current.start_byte:
            tokens.append(current)
            if len(tokens) >= _MAX_ERROR_TOKENS:
                return tokens
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent() or cursor.node == node:
                return tokens


def _closes_its_string(token: Node) -> bool:
    """The closing quote of a string node (its last child, after the opening one)."""
    parent = token.parent
    if parent is None or parent.is_error or parent.child_count < 2:
        return False
    return parent.children[-1] == token


def _has_closing(rest: str, quote: str) -> bool:
    position = 0
    while True:
        found = rest.find(quote, position)
        if found < 0:
            return False
        backslashes = len(rest[:found]) - len(rest[:found].rstrip("\\"))
        if backslashes % 2 == 0:
            return True
        position = found + 1


def _quoted(token: str) -> str:
    token = re.sub(r"\s+", " ", token)
    if len(token) > _MAX_TOKEN_IN_MESSAGE:
        token = token[: _MAX_TOKEN_IN_MESSAGE - 1] + "…"
    return f"'{token}'" if "'" not in token else f'"{token}"'


def _merged(found: list[SyntaxDiagnostic]) -> list[SyntaxDiagnostic]:
    """Sorted by position; one starting inside an earlier one's range (or at its start) is dropped."""
    kept: list[SyntaxDiagnostic] = []
    for diagnostic in sorted(found, key=lambda d: (d.start, d.end)):
        if kept:
            last = kept[-1]
            if diagnostic.start == last.start or diagnostic.start < last.end:
                continue
        kept.append(diagnostic)
    return kept
