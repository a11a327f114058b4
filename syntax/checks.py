"""Syntax checks around a completion: what shape the cursor wants, and how much of a suggestion parses.

Two questions are answered before a suggestion reaches an editor:

* ``completion_shape``: does the context want the rest of the line (middle of an expression) or a whole
  block body (after a header such as ``def f(x):`` or ``{``)? The engine uses it to budget tokens and the
  post-processor to re-indent and cut at the end of the block.
* ``truncate_to_valid`` (syntax-aware truncation as in SAFIM, Gong et al. 2024): the longest prefix of a
  suggestion that adds no syntax error to the document and stays inside the enclosing block.

Tree structure (blocks and their closers, argument lists, strings, comments, error nodes) comes from the
queries below; indentation-based facts (Python blocks, unknown languages) come from the text.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

from tree_sitter import Language, Node, Query, QueryCursor, Tree

from syntax.document import SyntaxDocument
from syntax.languages import grammar, spec_for

__all__ = [
    "MID_BLOCK_REASONS",
    "CompletionShape",
    "canonical_language",
    "completion_shape",
    "cut_past_block",
    "indentation_of",
    "is_closer_line",
    "is_header_line",
    "syntax_errors",
    "truncate_to_valid",
]

log = logging.getLogger(__name__)


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

_INDENT_LANGUAGES = frozenset({"python"})

# Captures: @scope with its @close token (a block whose end the suggestion must not cross), @args (an
# expression container: inside it only the rest of the line is wanted), @string and @comment.
_BRACE_EXPRESSIONS = "(arguments) @args (formal_parameters) @args (array) @args (object) @args"
_SHAPE_QUERIES: dict[str, str] = {
    "python": """
        (argument_list) @args (parameters) @args (parenthesized_expression) @args (list) @args
        (tuple) @args (dictionary) @args (set) @args (subscript) @args
        (string) @string (comment) @comment
    """,
    "javascript": f"""
        (statement_block "}}" @close) @scope (class_body "}}" @close) @scope (switch_body "}}" @close) @scope
        {_BRACE_EXPRESSIONS} (string) @string (template_string) @string (comment) @comment
    """,
    "typescript": f"""
        (statement_block "}}" @close) @scope (class_body "}}" @close) @scope (switch_body "}}" @close) @scope
        (interface_body "}}" @close) @scope (enum_body "}}" @close) @scope
        {_BRACE_EXPRESSIONS} (string) @string (template_string) @string (comment) @comment
    """,
    "go": """
        (block "}" @close) @scope (field_declaration_list "}" @close) @scope
        (argument_list) @args (parameter_list) @args (literal_value) @args
        (interpreted_string_literal) @string (raw_string_literal) @string (comment) @comment
    """,
    "rust": """
        (block "}" @close) @scope (declaration_list "}" @close) @scope
        (field_declaration_list "}" @close) @scope (match_block "}" @close) @scope
        (arguments) @args (parameters) @args (array_expression) @args (tuple_expression) @args
        (string_literal) @string (raw_string_literal) @string (line_comment) @comment (block_comment) @comment
    """,
    "java": """
        (block "}" @close) @scope (class_body "}" @close) @scope (interface_body "}" @close) @scope
        (enum_body "}" @close) @scope (constructor_body "}" @close) @scope (switch_block "}" @close) @scope
        (argument_list) @args (formal_parameters) @args (array_initializer) @args
        (string_literal) @string (line_comment) @comment (block_comment) @comment
    """,
    "c": """
        (compound_statement "}" @close) @scope (field_declaration_list "}" @close) @scope
        (enumerator_list "}" @close) @scope
        (argument_list) @args (parameter_list) @args (initializer_list) @args
        (string_literal) @string (char_literal) @string (comment) @comment
    """,
    "cpp": """
        (compound_statement "}" @close) @scope (field_declaration_list "}" @close) @scope
        (enumerator_list "}" @close) @scope (declaration_list "}" @close) @scope
        (argument_list) @args (parameter_list) @args (initializer_list) @args
        (string_literal) @string (raw_string_literal) @string (char_literal) @string (comment) @comment
    """,
    "lua": """
        (function_declaration "end" @close) @scope (function_definition "end" @close) @scope
        (if_statement "end" @close) @scope (for_statement "end" @close) @scope
        (while_statement "end" @close) @scope (do_statement "end" @close) @scope
        (repeat_statement "until" @close) @scope
        (arguments) @args (parameters) @args (table_constructor) @args
        (string) @string (comment) @comment
    """,
}
_SHAPE_QUERIES["tsx"] = _SHAPE_QUERIES["typescript"]

_ERROR_QUERY = "(ERROR) @error (MISSING) @missing"

_HEADER_END: dict[str, re.Pattern[str]] = {
    "python": re.compile(r":\s*(#.*)?$"),
    "lua": re.compile(r"(\bthen|\bdo|\belse|\brepeat|\bfunction\b.*\))\s*(--.*)?$"),
}
_BRACE_HEADER_END = re.compile(r"\{\s*(//.*|/\*.*\*/\s*)?$")
_ANY_HEADER_END = re.compile(r"(\{|:|\bthen|\bdo)\s*$")
_DEFINITION_START = re.compile(
    r"(async\s+def|def|class|(export\s+)?(async\s+)?function|(pub\s+)?fn|func|(local\s+)?function|impl)\b"
)
_CONTINUATION_END = re.compile(r"([-+*/%=<>!&|^~.,\\?]|\band|\bor|\bnot|\breturn|\bin)\s*$")
_BRACKET_CLOSER_LINE = re.compile(r"^\s*[)\]}]")
_KEYWORD_CLOSER_LINE = re.compile(r"^\s*([)\]}]|end\b|until\b)")
_KEYWORD_CLOSER_LANGUAGES = frozenset({"lua"})
_CLOSERS = ")]}"
_TOKEN = re.compile(r"\w+|\s+|\S")
_WORD_CHAR = re.compile(r"\w")
_MAX_REPARSES = 14
_SMALL_SUBTREE_BYTES = 4096

# --- small text helpers -------------------------------------------------------------------------------


def indentation_of(line: str) -> str:
    """The leading whitespace of a line."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def _line_bounds(text: str, offset: int) -> tuple[int, int]:
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


def _indent_unit(text: str, offset: int, language: str | None) -> str:
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


def canonical_language(language: str | None) -> str | None:
    """The canonical grammar name for a language id or name, or None when unsupported or unloadable."""
    if not language:
        return None
    spec = spec_for(language)
    if spec is None:
        return None
    try:
        grammar(spec.name)
    except Exception:  # a broken grammar wheel degrades to the text heuristics
        return None
    return spec.name


# --- parsing --------------------------------------------------------------------------------------------


def _parsed(text: str, language: str, document: SyntaxDocument | None) -> SyntaxDocument:
    """The caller's document when it holds exactly ``text`` in ``language`` (no reparse), else a new one."""
    if document is not None and document.language == language and document.text == text:
        return document
    return SyntaxDocument(text, language)


@cache
def _shape_query(language: str) -> Query | None:
    source = _SHAPE_QUERIES.get(language)
    return Query(grammar(language), source) if source else None


@cache
def _error_query(language: Language) -> Query:
    return Query(language, _ERROR_QUERY)


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


# --- completion shape -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CursorSyntax:
    """What the tree says about the cursor: the innermost container kind and the enclosing block's end."""

    container: str | None  # "string", "comment", "args" or None (in a block, or nothing matched)
    scope_found: bool  # an enclosing block with a closer token was matched
    block_end: int | None  # str offset of that block's closer; None when it is missing or no block matched


def _cursor_syntax(parsed: SyntaxDocument, offset: int) -> _CursorSyntax:
    query = _shape_query(parsed.language)
    if query is None:
        return _CursorSyntax(None, False, None)
    cursor_byte = parsed.byte_offset(offset)
    cursor = QueryCursor(query)
    cursor.set_byte_range(max(0, cursor_byte - 1), cursor_byte + 1)
    innermost: tuple[int, str | None] = (-1, None)
    scope: tuple[int, Node | None] = (-1, None)
    for _, match in cursor.matches(parsed.tree.root_node):
        for kind in ("scope", "args", "string", "comment"):
            nodes = match.get(kind)
            if not nodes:
                continue
            node = nodes[0]
            if not _contains_cursor(node, kind, match, cursor_byte, parsed):
                continue
            if node.start_byte > innermost[0]:
                innermost = (node.start_byte, None if kind == "scope" else kind)
            closers = match.get("close")
            if kind == "scope" and closers and node.start_byte > scope[0]:
                scope = (node.start_byte, closers[0])
    close = scope[1]
    if close is None:
        return _CursorSyntax(innermost[1], False, None)
    block_end = None if close.is_missing else parsed.char_offset(close.start_byte)
    return _CursorSyntax(innermost[1], True, block_end)


def _contains_cursor(
    node: Node, kind: str, match: dict[str, list[Node]], cursor_byte: int, parsed: SyntaxDocument
) -> bool:
    if kind == "scope":
        closers = match.get("close")
        return closers is not None and node.start_byte < cursor_byte <= closers[0].start_byte
    if kind == "comment" and cursor_byte == node.end_byte:
        ending = parsed.source[max(0, node.end_byte - 2) : node.end_byte]
        return node.start_byte < cursor_byte and ending not in (b"*/", b"]]")  # a line comment runs on
    return node.start_byte < cursor_byte < node.end_byte


def _indent_block_end(text: str, offset: int, block_indent: str) -> int | None:
    """End of the last line of an indentation block (before the first line left of ``block_indent``)."""
    if not block_indent:
        return None
    _, last_content_end = _line_bounds(text, offset)
    position = text.find("\n", offset)
    while position >= 0:
        start = position + 1
        end = text.find("\n", start)
        line = text[start : len(text) if end < 0 else end]
        if line.strip():
            if _shallower(indentation_of(line), block_indent):
                return last_content_end
            last_content_end = len(text) if end < 0 else end
        position = end
    return None


def _shallower(indent: str, than: str) -> bool:
    return len(indent.expandtabs(4)) < len(than.expandtabs(4))


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
        below if previous is None or _shallower(below, indentation_of(previous)) else indentation_of(previous)
    )
    floor = shallowest[: -len(unit)] if unit and shallowest.endswith(unit) else ""
    ends_block = previous is not None and _shallower(next_indent, indentation_of(previous))
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
        if not body or _shallower(indent, body):
            body = indent
    return ""


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


def completion_shape(
    text: str, offset: int, language: str | None, *, document: SyntaxDocument | None = None
) -> CompletionShape:
    """Whether the cursor wants the rest of a line or a block body, with the body's indentation.

    ``document``: the server's parsed copy of ``text``, reused instead of parsing again when it matches.
    """
    offset = max(0, min(offset, len(text)))
    name = canonical_language(language)
    line_start, line_end = _line_bounds(text, offset)
    before = text[line_start:offset]
    after = text[offset:line_end].rstrip("\r")
    syntax = _CursorSyntax(None, False, None)
    if name is not None:
        try:
            syntax = _cursor_syntax(_parsed(text, name, document), offset)
        except Exception:  # the text heuristics below still give a usable answer
            syntax = _CursorSyntax(None, False, None)
    uses_scopes = syntax.scope_found and name not in _INDENT_LANGUAGES

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
    if syntax.container == "args":
        return single(MID_EXPRESSION)
    following = next_nonblank_line(text, offset)
    unit = _indent_unit(text, offset, name)
    if not before.strip():
        if before:  # the cursor stands at the indentation the user (or the editor) chose
            indent = before
            ends_block = following is None or _shallower(indentation_of(following[1]), indent)
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
            and _shallower(line_indent, next_indent)
            and next_indent.startswith(line_indent)
        )
        indent = next_indent if body_has_code else line_indent + unit
        reason = AFTER_HEADER if body_has_code else EMPTY_BLOCK_AFTER_HEADER
        return CompletionShape(True, indent, block_end_for(indent), reason)
    if scan_brackets(before).unclosed or _CONTINUATION_END.search(before.rstrip()):
        return single(MID_EXPRESSION)
    return single(END_OF_LINE)


# --- truncation -----------------------------------------------------------------------------------------


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
            if line.strip() and _shallower(indentation_of(line), shape.indent):
                keeps_closer = shape.block_end is None and name not in _INDENT_LANGUAGES
                if keeps_closer and is_closer_line(line, name):
                    kept.append(line)
                break
            kept.append(line)
        if len(kept) < len(lines):
            result = "\n".join(kept).rstrip()
    if shape.block_end is not None and name not in _INDENT_LANGUAGES:
        brace = next(iter(scan_brackets(result, "{}").unmatched), None)
        if brace is not None:
            line_start = result.rfind("\n", 0, brace) + 1
            result = result[: line_start if not result[line_start:brace].strip() else brace].rstrip()
    return result


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

    def __init__(self, parsed: SyntaxDocument, start: int, end: int) -> None:
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
        if parsed.language in _INDENT_LANGUAGES and not text[end : _line_bounds(text, end)[1]].strip():
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
    if not _shallower(indentation_of(line), indentation_of(following)):
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
    document: SyntaxDocument | None = None,
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
            candidate, text, replace_end, _ErrorCheck(_parsed(text, name, document), offset, replace_end)
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
