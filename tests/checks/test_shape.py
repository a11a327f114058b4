"""completion_shape: single line or whole body, decided from the syntax at the cursor, for each language."""

from __future__ import annotations

import pytest

from completion.backend import StopRule
from syntax.shape import CompletionShape, completion_shape, stops

CURSOR = "<|cursor|>"


def shape_at(marked: str, language: str | None) -> tuple[CompletionShape, str]:
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "")
    return completion_shape(text, offset, language), text


# (language, document with cursor, multiline, indent, reason)
HEADER_CASES = [
    ("python", "def f(x):<|cursor|>\n\ny = 1\n", "    "),
    ("javascript", "function f(x) {<|cursor|>}\n", "  "),
    ("typescript", "class A {\n  m(): void {<|cursor|>\n  }\n}\n", "    "),
    ("go", "package main\n\nfunc f() {<|cursor|>\n}\n", "\t"),
    ("rust", "fn f() {<|cursor|>\n}\n", "    "),
    ("java", "class A {\n    void f() {<|cursor|>\n    }\n}\n", "        "),
    ("c", "int f(void) {<|cursor|>\n}\n", "    "),
    ("cpp", "struct S {\n    int f() {<|cursor|>}\n};\n", "        "),
    ("lua", "local function f(x)<|cursor|>\nend\n", "  "),
]


@pytest.mark.parametrize(("language", "marked", "indent"), HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
def test_empty_block_after_header_wants_a_body(language: str, marked: str, indent: str) -> None:
    shape, _ = shape_at(marked, language)
    assert shape == CompletionShape(True, indent, shape.block_end, "empty-block-after-header")


MID_EXPRESSION_CASES = [
    ("python", "total = compute(a, <|cursor|>)\n"),
    ("javascript", "const x = Math.max(a, <|cursor|>);\n"),
    ("typescript", "const x: number = f(<|cursor|>);\n"),
    ("go", "package main\n\nfunc f() {\n\tg(1, <|cursor|>)\n}\n"),
    ("rust", "fn f() {\n    g(1, <|cursor|>);\n}\n"),
    ("java", "class A {\n    void f() {\n        g(1, <|cursor|>);\n    }\n}\n"),
    ("c", "int f(void) {\n    return g(1, <|cursor|>);\n}\n"),
    ("cpp", "int f() {\n    return g(1, <|cursor|>);\n}\n"),
    ("lua", "print(string.format('%d', <|cursor|>))\n"),
]


@pytest.mark.parametrize(
    ("language", "marked"), MID_EXPRESSION_CASES, ids=[c[0] for c in MID_EXPRESSION_CASES]
)
def test_call_arguments_want_the_rest_of_the_line(language: str, marked: str) -> None:
    shape, _ = shape_at(marked, language)
    assert (shape.multiline, shape.indent, shape.reason) == (False, "", "mid-expression")


BLANK_LINE_CASES = [
    ("python", "def f():\n    a = 1\n    <|cursor|>\n    return a\n", "    ", "blank-line-mid-block"),
    ("python", "def f():\n    a = 1\n    <|cursor|>\n\nb = 2\n", "    ", "blank-line-end-of-block"),
    ("javascript", "function f() {\n  <|cursor|>\n}\n", "  ", "blank-line-end-of-block"),
    (
        "typescript",
        "function f() {\n  const a = 1;\n  <|cursor|>\n  return a;\n}\n",
        "  ",
        "blank-line-mid-block",
    ),
    ("go", "package main\n\nfunc f() {\n\t<|cursor|>\n}\n", "\t", "blank-line-end-of-block"),
    ("rust", "fn f() {\n    <|cursor|>\n    g();\n}\n", "    ", "blank-line-mid-block"),
    (
        "java",
        "class A {\n    void f() {\n        <|cursor|>\n    }\n}\n",
        "        ",
        "blank-line-end-of-block",
    ),
    ("c", "int f(void) {\n    <|cursor|>\n    return 0;\n}\n", "    ", "blank-line-mid-block"),
    ("cpp", "int f() {\n    <|cursor|>\n}\n", "    ", "blank-line-end-of-block"),
    ("lua", "function f()\n  <|cursor|>\nend\n", "  ", "blank-line-end-of-block"),
]


@pytest.mark.parametrize(("language", "marked", "indent", "reason"), BLANK_LINE_CASES)
def test_blank_line_in_a_block_wants_statements(language: str, marked: str, indent: str, reason: str) -> None:
    shape, _ = shape_at(marked, language)
    assert (shape.multiline, shape.indent, shape.reason) == (True, indent, reason)


@pytest.mark.parametrize(
    ("language", "marked", "closer"),
    [
        ("javascript", "function f() {\n  <|cursor|>\n}\n", "}"),
        ("go", "package main\n\nfunc f() {\n\tx := 1\n\t<|cursor|>\n}\n", "}"),
        ("rust", "fn f() {\n    <|cursor|>\n}\n", "}"),
        ("java", "class A {\n    void f() {\n        <|cursor|>\n    }\n}\n", "}"),
        ("c", "int f(void) {\n    <|cursor|>\n}\n", "}"),
        ("cpp", "int f() {\n    <|cursor|>\n}\n", "}"),
        ("lua", "function f()\n  <|cursor|>\nend\n", "end"),
        ("typescript", "function f() {\n  <|cursor|>\n}\n", "}"),
    ],
)
def test_block_end_is_the_enclosing_closer(language: str, marked: str, closer: str) -> None:
    shape, text = shape_at(marked, language)
    assert shape.block_end is not None
    assert text[shape.block_end :].startswith(closer)
    assert shape.block_end > marked.index(CURSOR)


def test_block_end_is_the_innermost_block() -> None:
    shape, text = shape_at("function f() {\n  if (x) {\n    <|cursor|>\n  }\n  g();\n}\n", "javascript")
    assert shape.block_end == text.index("  }\n  g()") + 2


def test_missing_closer_gives_no_block_end() -> None:
    shape, _ = shape_at("function f() {<|cursor|>\n", "javascript")
    assert shape.multiline and shape.block_end is None


def test_python_block_end_is_before_the_dedent() -> None:
    shape, text = shape_at("def f():\n    a = 1\n    <|cursor|>\n    b = 2\n\nc = 3\n", "python")
    assert shape.block_end == text.index("b = 2") + len("b = 2")


def test_header_with_existing_body_takes_its_indentation() -> None:
    shape, _ = shape_at("def f(x):<|cursor|>\n      return x\n", "python")
    assert shape == CompletionShape(True, "      ", None, "after-header")


@pytest.mark.parametrize(
    ("language", "marked", "reason"),
    [
        ("python", "x = 'abc<|cursor|>'\n", "in-string"),
        ("python", "# note <|cursor|>\nx = 1\n", "in-comment"),
        ("javascript", "const s = `abc <|cursor|>`;\n", "in-string"),
        ("go", "package main\n\n// says <|cursor|>\nfunc f() {}\n", "in-comment"),
        ("rust", 'fn f() {\n    let s = "ab<|cursor|>";\n}\n', "in-string"),
        ("java", "class A {\n    /* a <|cursor|> */\n}\n", "in-comment"),
        ("lua", "-- about <|cursor|>\nlocal x = 1\n", "in-comment"),
    ],
)
def test_strings_and_comments_want_one_line(language: str, marked: str, reason: str) -> None:
    shape, _ = shape_at(marked, language)
    assert (shape.multiline, shape.reason) == (False, reason)


def test_code_right_of_the_cursor_wants_one_line() -> None:
    shape, _ = shape_at("if (<|cursor|>x > 0) {\n}\n", "c")
    assert (shape.multiline, shape.reason) == (False, "mid-line")


def test_complete_line_end_is_single_line() -> None:
    shape, _ = shape_at("x = 1<|cursor|>\n", "python")
    assert (shape.multiline, shape.reason) == (False, "end-of-line")


def test_trailing_operator_is_mid_expression() -> None:
    shape, _ = shape_at("total = a +<|cursor|>\n", "python")
    assert (shape.multiline, shape.reason) == (False, "mid-expression")


def test_dict_colon_inside_brackets_is_not_a_header() -> None:
    shape, _ = shape_at("d = {'a':<|cursor|>\n", "python")
    assert shape.reason == "mid-expression"


@pytest.mark.parametrize(
    ("marked", "multiline", "reason"),
    [
        ("proc f {<|cursor|>\n}\n", True, "empty-block-after-header"),
        ("x = call(a, <|cursor|>\n", False, "mid-expression"),
        ("  a\n  <|cursor|>\n  b\n", True, "blank-line-mid-block"),
        ("say(<|cursor|>hello)\n", False, "mid-line"),
    ],
)
def test_unknown_language_uses_text_heuristics(marked: str, multiline: bool, reason: str) -> None:
    shape, _ = shape_at(marked, "cobol")
    assert (shape.multiline, shape.reason) == (multiline, reason)
    shape_none, _ = shape_at(marked, None)
    assert shape_none == shape


def test_go_indents_with_tabs_and_detects_space_width() -> None:
    shape, _ = shape_at("package main\n\nfunc f() {<|cursor|>}\n", "go")
    assert shape.indent == "\t"
    shape, _ = shape_at("def g():\n  return 1\n\ndef f():<|cursor|>\n", "python")
    assert shape.indent == "  "


@pytest.mark.parametrize("offset", [-5, 0, 10_000])
def test_offsets_out_of_range_are_clamped(offset: int) -> None:
    text = "def f():\n    pass\n"
    assert isinstance(completion_shape(text, offset, "python"), CompletionShape)


def test_binary_junk_does_not_crash() -> None:
    junk = "\x00\x01\ufffd\ud800 def \x7f{(\n" * 50
    for language in ("python", "javascript", "lua", None):
        assert isinstance(completion_shape(junk, len(junk) // 2, language), CompletionShape)


@pytest.mark.parametrize(
    ("marked", "indent", "reason"),
    [
        # Between two lines: one step left of the shallower one (an `else:` may go there).
        ("def f(a):\n    if a:\n        b()\n<|cursor|>\n        c()\n", "    ", "blank-line-mid-block"),
        (
            "def f(a):\n    for x in a:\n        b()\n<|cursor|>\n    return a\n",
            "",
            "blank-line-end-of-block",
        ),
        # End of the file: finish the top-level definition, but a script may go on at the top level.
        ("def f(a):\n    if a:\n        b()\n<|cursor|>", "    ", "blank-line-end-of-block"),
        ("for x in a:\n    b()\n<|cursor|>\n", "", "blank-line-end-of-block"),
        ("def f(a):\n<|cursor|>", "    ", "blank-line-end-of-block"),
    ],
)
def test_column_zero_blank_line_floor(marked: str, indent: str, reason: str) -> None:
    shape, _ = shape_at(marked, "python")
    assert (shape.multiline, shape.indent, shape.reason) == (True, indent, reason)


# --- stopping a block during generation -------------------------------------------------------------------


def test_a_block_stops_where_it_meets_the_line_below() -> None:
    """The block shown is cut at a line that is the document's next line (``_block``): generating past it
    only costs time."""
    assigned = "self.width = width\n    self.height = height\n"
    below = "    self.depth = depth"
    assert not stops(assigned, "block", "    ", 12, 4, below)
    met = assigned + "    self.depth  =  depth\n"  # its code, whatever the spacing or the model's indentation
    assert stops(met, "block", "    ", 12, 4, below)
    assert stops(assigned + "        self.depth = depth\n", "block", "    ", 12, 4, below)
    assert not stops(met, "block", "    ", 12, 4, None)  # no line below: only the other rules
    assert not stops(assigned + "    self.depth = dep", "block", "    ", 12, 4, below)  # not finished yet
    repeated = assigned + "    self.height = height\n"  # a line repeating the one before it is cut too
    assert stops(repeated, "block", "    ", 12, 4, None)
    closers = "f(a,\n    b,\n    )\n    )\n"  # (bare closers are no code to repeat...
    assert not stops(closers, "block", "    ", 12, None, None)
    nested = "if (x) {\n    y();\n  }\n"  # ... nor the line below's: this one closes a nested block
    assert not stops(nested, "block", "  ", 12, None, "}")
    assert stops(met, "line", "", 12, None, below)  # "line" stops at its first line anyway
    rule = StopRule("block", 0, "    ", 12, 4, below)  # as the worker gets it
    assert rule(met) and not rule(assigned)
