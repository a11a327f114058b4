"""parse_context: window exclusion, budget priority, stability while typing on one line, big files."""

from __future__ import annotations

import random

import pytest

from syntax import context as context_module
from syntax.context import ParseContext, context_blocks, cursor_outline, parse_context
from syntax.document import SyntaxDocument
from syntax.outline import enclosing_definitions

from .test_outline_golden import GOLDEN, PROBES, probe_offset, window_start

SOURCE = '''import os
from typing import Any

LIMIT = 10


def helper(value: int) -> int:
    """Double a value."""
    return value * 2


class Shape:
    """A shape."""

    def area(self) -> float:
        """The area."""
        total = helper(LIMIT)
        x = os.path.join("a")
        return total
'''


def at(snippet: str) -> int:
    return SOURCE.index(snippet) + len(snippet)


def test_far_above_scopes_definitions_and_imports_are_given() -> None:
    doc = SyntaxDocument(SOURCE, "python")
    offset = at("x = os.path.join(")
    result = parse_context(doc, offset, window_start=SOURCE.index("        total"))
    assert result.scopes == (
        'class Shape:\n    """A shape."""',
        '    def area(self) -> float:\n        """The area."""',
    )
    # nearest reference first: `helper(LIMIT)` names LIMIT last, so it is the closest
    assert result.definitions == ("LIMIT = 10", "# Double a value.\ndef helper(value: int) -> int: ...")
    assert result.imports == ("import os", "from typing import Any")
    assert not result.is_empty()


def test_nothing_already_visible_in_the_window_is_repeated() -> None:
    doc = SyntaxDocument(SOURCE, "python")
    offset = at("x = os.path.join(")
    result = parse_context(doc, offset, window_start=0)
    assert result == ParseContext((), (), ())
    assert result.is_empty()
    inner = parse_context(doc, offset, window_start=SOURCE.index("    def area"))
    assert inner.scopes == ('class Shape:\n    """A shape."""',)  # the method header is visible


def test_budget_keeps_scopes_first_then_definitions_then_imports() -> None:
    doc = SyntaxDocument(SOURCE, "python")
    offset = at("x = os.path.join(")
    start = SOURCE.index("        total")
    full = parse_context(doc, offset, start, budget_chars=10_000)
    scopes_cost = sum(len(block) + 1 for block in full.scopes)
    only_scopes = parse_context(doc, offset, start, budget_chars=scopes_cost)
    assert only_scopes.scopes == full.scopes and not only_scopes.definitions and not only_scopes.imports
    first_definition = len(full.definitions[0]) + 1
    with_one = parse_context(doc, offset, start, budget_chars=scopes_cost + first_definition)
    assert with_one.definitions == full.definitions[:1] and not with_one.imports
    tight = parse_context(doc, offset, start, budget_chars=len(full.scopes[-1]) + 5)
    assert tight.scopes == full.scopes[-1:]  # the innermost scope wins when not all fit
    assert parse_context(doc, offset, start, budget_chars=0).is_empty()
    for budget in (0, 30, 100, 250, 400):
        result = parse_context(doc, offset, start, budget_chars=budget)
        used = sum(len(block) + 1 for block in result.scopes + result.definitions + result.imports)
        assert used <= budget


def test_stable_while_typing_on_the_cursor_line() -> None:
    rng = random.Random(3)
    for name, snippets in sorted(PROBES.items()):
        text = (GOLDEN / f"{name}.in").read_text(encoding="utf-8")
        for snippet in snippets:
            offset = probe_offset(text, snippet)
            start = window_start(text, offset)
            doc = SyntaxDocument.for_document(text, path=name)
            assert doc is not None
            expected = parse_context(doc, offset, start)
            for _ in range(6):
                typed = "".join(rng.choice("ab( {['\":;=.,)x") for _ in range(rng.randrange(1, 4)))
                doc.edit(offset, offset, typed)
                offset += len(typed)
                assert parse_context(doc, offset, start) == expected, (name, snippet, doc.text[start:offset])
            fresh = SyntaxDocument.for_document(doc.text, path=name)  # no cache: the same from scratch
            assert fresh is not None
            assert parse_context(fresh, offset, start) == expected


def test_typing_reuses_the_cached_line_view() -> None:
    doc = SyntaxDocument(SOURCE * 50, "python")
    offset = (SOURCE * 50).index("x = os.path.join(", len(SOURCE) * 25) + 17
    start = offset - 400
    parse_context(doc, offset, start)
    view = context_module._line_views[doc]
    doc.edit(offset, offset, '"b")')
    parse_context(doc, offset + 4, start)
    assert context_module._line_views[doc] is view
    doc.edit(offset + 4, offset + 4, "\n        ")
    parse_context(doc, offset + 13, start)
    assert context_module._line_views[doc] is not view  # a new line: computed again


def test_snapshots_of_one_document_share_its_outline() -> None:
    """A request passes a new snapshot per keystroke: the outline is cached on the document it names."""
    doc = SyntaxDocument(SOURCE, "python")
    offset = at('x = os.path.join("a")')
    start = SOURCE.index("        total")
    first = cursor_outline(doc.snapshot(), offset, owner=doc)
    assert context_blocks(first, start) == parse_context(doc.snapshot(), offset, start)
    assert "helper" in first.referenced and first.imports[0].text == "import os"
    doc.edit(offset, offset, ".strip(")
    assert cursor_outline(doc.snapshot(), offset + 7, owner=doc) is first
    assert context_blocks(first, start) == parse_context(doc, offset + 7, start)


def test_python_indented_blank_line_after_a_body_stays_in_scope() -> None:
    text = "class A:\n    def f(self):\n        return 1\n\n        \nx = 1\n"
    doc = SyntaxDocument(text, "python")
    blank = text.index("\n        \n") + 9
    assert [item.name for item in enclosing_definitions(doc, blank)] == ["A", "f"]
    assert [item.name for item in enclosing_definitions(doc, text.index("x = 1"))] == []
    shallow = "class A:\n    def f(self):\n        return 1\n    \n"
    doc = SyntaxDocument(shallow, "python")
    assert [item.name for item in enclosing_definitions(doc, len(shallow) - 1)] == ["A"]


@pytest.mark.parametrize("language", ["python", "c", "lua"])
def test_junk_and_edges_do_not_crash(language: str) -> None:
    junk = "\x00\ud800((( def class { ] \U0001f600\n" * 50
    doc = SyntaxDocument(junk, language)
    for offset in (0, 1, 7, len(junk) // 2, len(junk), len(junk) + 10, -3):
        result = parse_context(doc, offset, window_start=max(0, offset - 30))
        assert isinstance(result, ParseContext)


def test_two_megabyte_file_context() -> None:
    text = SOURCE * 7000
    assert len(text) > 2_000_000
    doc = SyntaxDocument(text, "python")
    offset = text.index("x = os.path.join(", len(text) // 2) + 17
    result = parse_context(doc, offset, offset - 60)
    assert 'class Shape:\n    """A shape."""' in result.scopes
    assert any(block.startswith("# Double a value.") for block in result.definitions)


def test_python_scope_docstrings_follow_the_file_indentation() -> None:
    text = 'class A:\n\t"""Doc A."""\n\tdef f(self):\n\t\tx = 1\n\t\ty = 2\n\t\tz = 3\n'
    doc = SyntaxDocument(text, "python")
    result = parse_context(doc, len(text) - 1, text.index("\t\ty"))
    assert result.scopes == ('class A:\n\t"""Doc A."""', "\tdef f(self):")


def test_brace_scopes_open_their_body_and_carry_their_doc_comment() -> None:
    text = (
        "// Counts things.\nstruct counter {\n    int n;\n};\n\n"
        "/* Adds. */\nint add(int a, int b) {\n    int c = a;\n    c += b;\n    return c;\n}\n"
    )
    doc = SyntaxDocument(text, "c")
    result = parse_context(doc, text.index("return c"), text.index("    c += b"))
    assert result.scopes == ("// Adds.\nint add(int a, int b) {",)
    assert parse_context(doc, text.index("return c"), text.index("int add")).scopes == ()
