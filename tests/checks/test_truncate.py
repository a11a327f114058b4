"""syntax_errors and truncate_to_valid: the longest prefix that adds no syntax error, in bounded reparses."""

from __future__ import annotations

import pytest

from syntax import checks
from syntax.checks import syntax_errors, truncate_to_valid
from syntax.document import ParsedText, SyntaxDocument
from syntax.shape import CompletionShape, completion_shape, cut_past_block

SINGLE = CompletionShape(False, "", None, "mid-expression")


def truncate(marked: str, suggestion: str, language: str | None, replace: int = 0) -> str | None:
    offset = marked.index("<|cursor|>")
    text = marked.replace("<|cursor|>", "")
    shape = completion_shape(text, offset, language)
    return truncate_to_valid(text, offset, offset + replace, suggestion, language, shape)


def test_syntax_errors_reports_error_and_missing_nodes() -> None:
    source = "function f() {\n  g(1));\n"
    tree = SyntaxDocument(source, "javascript").tree
    ranges = syntax_errors(tree)
    assert ranges
    assert all(0 <= start <= end <= len(source.encode()) for start, end in ranges)
    missing_only = SyntaxDocument("function f() {\n  g(1);\n", "javascript").tree
    end_of_last_token = len(b"function f() {\n  g(1);")
    assert syntax_errors(missing_only) == [(end_of_last_token, end_of_last_token)]  # the missing "}"
    assert syntax_errors(SyntaxDocument("x = 1\n", "python").tree) == []


def test_syntax_errors_in_a_large_file_are_all_found() -> None:
    good = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(400))
    broken = good.replace("return x + 7\n", "return x + (7\n", 1).replace("return x + 300\n", "return ]\n", 1)
    ranges = syntax_errors(SyntaxDocument(broken, "python").tree)
    seven = broken.index("(7")
    three_hundred = broken.index("return ]")
    assert any(start <= seven + 1 and end >= seven for start, end in ranges)
    assert any(start <= three_hundred + 8 and end >= three_hundred for start, end in ranges)


def test_valid_suggestion_is_kept_whole() -> None:
    assert (
        truncate("def f(x):<|cursor|>\n", "\n    y = x\n    return y", "python")
        == "\n    y = x\n    return y"
    )


def test_cut_at_the_last_line_that_parses() -> None:
    suggestion = "\n    y = x\n    z = y * 2\n    return (z"
    assert truncate("def f(x):<|cursor|>\n", suggestion, "python") == "\n    y = x\n    z = y * 2"


def test_token_cut_drops_a_duplicated_closer() -> None:
    assert truncate("foo(a, <|cursor|>);\n", "b));", "javascript") == "b"


def test_nothing_valid_gives_none() -> None:
    assert truncate("x = [1, <|cursor|>]\n", "]]] ]]", "python") is None
    assert truncate("x = 1<|cursor|>\n", "   \n  ", "python") is None


def test_errors_already_in_the_document_are_not_blamed_on_the_suggestion() -> None:
    marked = "def broken(:\n    pass\n\ndef f(x):<|cursor|>\n\nclass C(:\n    pass\n"
    assert truncate(marked, "\n    return x * 2", "python") == "\n    return x * 2"


def test_suggestion_that_fixes_a_missing_closer_is_kept() -> None:
    assert truncate("function f() {<|cursor|>\n", "\n  return 1;\n}", "javascript") == "\n  return 1;\n}"


def test_does_not_close_the_enclosing_block() -> None:
    marked = "fn f() -> i32 {\n    <|cursor|>\n}\n\nfn g() {}\n"
    assert truncate(marked, "1 + 2\n}\n\nfn h() {}", "rust") == "1 + 2"
    assert truncate(marked, "1 + 2 }", "rust") == "1 + 2"


def test_does_not_dedent_out_of_a_python_block() -> None:
    marked = "def f(x):\n    y = x\n    <|cursor|>\n"
    assert truncate(marked, "z = y\n    return z\nprint(f(1))", "python") == "z = y\n    return z"


def test_replaced_range_is_part_of_the_checked_document() -> None:
    # The suggestion replaces the auto-inserted ")" so its own ")" is not a duplicate.
    assert truncate("x = f(<|cursor|>)\n", "a) + 1", "python", replace=1) == "a) + 1"
    assert truncate("x = f(<|cursor|>)\n", "a) + 1", "python", replace=0) == "a"


def test_token_cut_never_glues_onto_the_word_after_it() -> None:
    # "error" + "log(x)" would parse as one identifier; no cut may end in a word character there.
    assert truncate("console.<|cursor|>log(x);\n", "error(y", "javascript") is None
    assert truncate("console.<|cursor|>(x);\n", "error(y", "javascript") == "error"


def test_unknown_language_is_returned_unchecked() -> None:
    assert truncate("x = (<|cursor|>)\n", "1)) ]", "cobol") == "1)) ]"
    assert truncate("x = (<|cursor|>)\n", "1)) ]", None) == "1)) ]"


def test_cut_past_block_keeps_a_closer_the_document_lacks() -> None:
    shape = CompletionShape(True, "  ", None, "empty-block-after-header")
    assert cut_past_block("\n  a();\n}\nfoo();", shape, "javascript") == "\n  a();\n}"
    closed = CompletionShape(True, "  ", 20, "empty-block-after-header")
    assert cut_past_block("\n  a();\n}\nfoo();", closed, "javascript") == "\n  a();"


def test_reparses_are_bounded_and_incremental_on_a_large_file(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "".join(f"def f{i}(a):\n    b = a * {i}\n    return b\n\n" for i in range(700))  # 2800 lines
    offset = text.index("def f350(a):") + len("def f350(a):")
    document = SyntaxDocument(text, "python")
    calls: list[int] = []
    original = ParsedText.with_insertion

    def counting(self: ParsedText, start: int, end: int, new_text: str) -> object:
        calls.append(1)
        return original(self, start, end, new_text)

    monkeypatch.setattr(ParsedText, "with_insertion", counting)
    suggestion = "\n" + "".join(f"    v{i} = a + {i}\n" for i in range(40)) + "    return (v1 +"
    shape = completion_shape(text, offset, "python", document=document)
    result = truncate_to_valid(text, offset, offset, suggestion, "python", shape, document=document)
    assert result is not None and result.endswith("v39 = a + 39")
    assert 1 < len(calls) <= checks._MAX_REPARSES


def test_bad_offsets_and_junk_do_not_crash() -> None:
    shape = CompletionShape(False, "", None, "mid-expression")
    assert truncate_to_valid("x = 1\n", 99, 3, "+ 2", "python", shape) == "+ 2"
    junk = "\x00\ud800\x7f(" * 30
    result = truncate_to_valid(junk, 10, 10, "\x00)", "javascript", shape)
    assert result is None or isinstance(result, str)


def test_unexpected_indent_after_the_suggestion_is_an_error_in_python() -> None:
    # tree-sitter accepts an over-indented line after a statement; Python does not.
    marked = "def f(x):\n    for i in x:\n        print(i)\n<|cursor|>\n    return x\n"
    assert truncate(marked, "        print(i)\nprint(2)", "python") == "        print(i)"
    assert truncate(marked, "print(2)", "python") is None
    assert truncate(marked, "    if x:", "python") == "    if x:"  # a header may adopt the indented code


def test_unexpected_indent_already_there_is_not_blamed() -> None:
    marked = "def f(x):\n    y = 1\n<|cursor|>\n        return y\n"
    assert truncate(marked, "    z = 2", "python") == "    z = 2"


def test_a_suggestion_that_cannot_be_checked_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser failure used to let the suggestion through unchecked; the check is the promise, so not."""

    def failing(self: ParsedText, start: int, end: int, new_text: str) -> object:
        raise RuntimeError("parser gave up")

    monkeypatch.setattr(ParsedText, "with_insertion", failing)
    assert truncate("x = f(<|cursor|>)\n", "a))", "python") is None
