"""Outline API behaviour beyond the goldens: caching, ranges, snapshots, junk input, broken queries."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest
from tree_sitter import QueryError

from syntax import outline
from syntax.context import parse_context
from syntax.document import SyntaxDocument
from syntax.languages import LANGUAGES
from syntax.outline import definitions, enclosing_definitions, imports, outline_range, references_near

from .test_outline_golden import GOLDEN


def golden_doc(name: str) -> SyntaxDocument:
    doc = SyntaxDocument.for_document((GOLDEN / f"{name}.in").read_text(encoding="utf-8"), path=name)
    assert doc is not None
    return doc


def test_definitions_are_cached_per_version() -> None:
    doc = golden_doc("python.py")
    first = definitions(doc)
    assert definitions(doc) is first
    doc.edit(0, 0, "def added():\n    pass\n")
    again = definitions(doc)
    assert again is not first
    assert again[0].name == "added" and again[0].kind == "function"
    assert [item.name for item in again[1:]] == [item.name for item in first]


def test_outline_range_matches_the_full_outline_inside_the_range() -> None:
    doc = golden_doc("java.java")
    text = doc.text
    start, end = text.index("public Square(double side)"), text.index("enum Color")
    ranged, ranged_imports = outline_range(doc, start, end)
    expected = [item for item in definitions(doc) if item.start < end and item.end > start]
    assert ranged == expected
    assert [item.name for item in ranged] == ["Square", "Square", "area"]  # the class, its constructor, area
    assert ranged_imports == []
    _, head_imports = outline_range(doc, 0, 80)
    assert head_imports == imports(doc)[:2]


def test_snapshot_is_isolated_from_later_edits() -> None:
    doc = golden_doc("rust.rs")
    doc.edit(0, 0, "// new first line\n")
    snapshot = doc.snapshot()
    assert snapshot.version == doc.version
    before = snapshot.text
    doc.edit(0, len(doc.text) // 2, "")
    assert snapshot.text == before
    assert str(snapshot.tree.root_node) == str(SyntaxDocument(before, "rust").tree.root_node)
    assert [item.name for item in definitions(snapshot)][:2] == ["MAX_SIZE", "GREETING"]


def test_with_edit_gives_a_separate_document() -> None:
    doc = golden_doc("go.go")
    text = doc.text
    offset = text.index("func main()")
    changed = doc.with_edit(offset, offset, "func Extra() int {\n\treturn 1\n}\n\n")
    assert "Extra" in [item.name for item in definitions(changed)]
    assert "Extra" not in [item.name for item in definitions(doc)]
    assert doc.text == text


@pytest.mark.parametrize("language", [spec.name for spec in LANGUAGES])
def test_junk_input_gives_results_not_crashes(language: str) -> None:
    rng = random.Random(language)
    junk = "".join(
        chr(rng.choice([rng.randrange(0, 128), rng.randrange(128, 0x3000), 0x1F600, 0xD800]))
        for _ in range(4000)
    )
    junk += "\nfunction f() { class X { def g(:\n" * 3
    doc = SyntaxDocument(junk, language)
    assert isinstance(definitions(doc), list)
    assert isinstance(imports(doc), list)
    for offset in (0, len(junk) // 3, len(junk)):
        assert isinstance(enclosing_definitions(doc, offset), list)
        assert isinstance(references_near(doc, offset), list)
        parse_context(doc, offset, max(0, offset - 100))


@pytest.fixture
def broken_queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def fail(*_: object) -> object:
        raise QueryError("grammar and query disagree")

    outline._tag_queries.cache_clear()
    monkeypatch.setattr(outline, "Query", fail)
    yield
    monkeypatch.undo()
    outline._tag_queries.cache_clear()


@pytest.mark.usefixtures("broken_queries")
def test_a_query_that_does_not_compile_gives_an_empty_outline() -> None:
    doc = golden_doc("c.c")
    assert definitions(doc) == [] and imports(doc) == []
    assert references_near(doc, 100) == [] and enclosing_definitions(doc, 300) == []
    assert parse_context(doc, 300, 200).is_empty()


def test_reading_while_another_thread_edits() -> None:
    doc = golden_doc("typescript.ts")
    errors: list[BaseException] = []
    done = threading.Event()

    def edit() -> None:
        rng = random.Random(5)
        try:
            for _ in range(200):
                start = rng.randrange(len(doc.text) + 1)
                doc.edit(
                    start, min(len(doc.text), start + rng.randrange(3)), rng.choice(["x", "{", "\n", ""])
                )
        except BaseException as error:  # reported to the main thread
            errors.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=edit)
    thread.start()
    while not done.is_set():
        offset = len(doc.text) // 2
        definitions(doc)
        enclosing_definitions(doc, offset)
        references_near(doc, offset)
        parse_context(doc, offset, max(0, offset - 200))
    thread.join()
    assert not errors
    fresh = SyntaxDocument(doc.text, "typescript")
    assert str(doc.tree.root_node) == str(fresh.tree.root_node)


def test_unparsed_snapshot_keeps_its_own_copy_of_pending_edits() -> None:
    doc = golden_doc("c.c")
    doc.edit(0, 0, "int x;\n")  # pending: not reparsed yet
    snapshot = doc.snapshot(parse=False)
    doc.edit(0, 0, "int y;\n")  # edits the document's pending tree in place
    assert snapshot.text.startswith("int x;\n#include")
    assert str(snapshot.tree.root_node) == str(SyntaxDocument(snapshot.text, "c").tree.root_node)
    assert str(doc.tree.root_node) == str(SyntaxDocument(doc.text, "c").tree.root_node)


def test_commonjs_requires_are_imports() -> None:
    doc = SyntaxDocument('var fs = require("fs");\nconst { join } = require("path");\n', "javascript")
    assert [(item.modules, item.line) for item in imports(doc)] == [(("fs",), 0), (("path",), 1)]
    assert imports(doc)[0].names == ("fs",)


def test_locals_inside_functions_are_not_outline_entries() -> None:
    lua = SyntaxDocument(
        "local M = {}\nfunction M.f()\n  local t = {}\n  local LIMIT = 3\n  return t\nend\n", "lua"
    )
    assert [(item.kind, item.name, item.container) for item in definitions(lua)] == [
        ("module", "M", None),
        ("function", "f", "M"),
    ]
    python = SyntaxDocument("def f():\n    LIMIT = 3\n    return LIMIT\n\nTOP = 1\n", "python")
    assert [(item.kind, item.name) for item in definitions(python)] == [
        ("function", "f"),
        ("constant", "TOP"),
    ]
