"""Cross-file retrieval: imported definitions, similar chunks, recent edits; budget, selectivity."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from completion.workspace.index import WorkspaceIndex
from completion.workspace.options import IndexOptions
from completion.workspace.retrieval import Snippet

WriteTree = Callable[[dict[str, str | bytes]], Path]

SHAPES = '''
import math

class Circle:
    """A round shape."""
    unit: str = "cm"

    def __init__(self, radius: float) -> None:
        self.radius = radius
        self.checked = True

    def area(self) -> float:
        """Area in square units."""
        return math.pi * self.radius ** 2


def area_of(shape: Circle, scale: float = 1.0) -> float:
    """The area of any shape, scaled."""
    value = shape.area() * scale
    value = round(value, 3)
    value = max(value, 0.0)
    value = float(value)
    value = abs(value)
    value = value or 0.0
    value = value * 1.0
    value = value / 1.0
    value = value + 0.0
    value = value - 0.0
    return value


def perimeter_of(shape: Circle) -> float:
    return 2 * math.pi * shape.radius
'''

REPORT = """
def render_table(rows, widths, padding_char):
    header = format_header(rows[0], widths, padding_char)
    body = [format_row(row, widths, padding_char) for row in rows[1:]]
    return "\\n".join([header, *body])
"""

APP = """
from .shapes import Circle, area_of

def main():
    shapes = [Circle(1.0), Circle(2.0)]
    total = 0.0
    for shape in shapes:
        total += area_of(shape)
    <CURSOR>
    print(total)
"""


@pytest.fixture
def workspace(write_tree: WriteTree) -> Iterator[tuple[Path, WorkspaceIndex]]:
    root = write_tree(
        {"pkg/__init__.py": "", "pkg/shapes.py": SHAPES, "pkg/report.py": REPORT, "pkg/app.py": APP}
    )
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.start()
    assert index.wait_idle(20.0)
    yield root, index
    index.stop()


def _at_cursor(source: str) -> tuple[str, int]:
    source = textwrap.dedent(source)
    return source.replace("<CURSOR>", ""), source.index("<CURSOR>")


def _retrieve(index: WorkspaceIndex, path: Path, source: str, budget: int = 1500) -> list[Snippet]:
    text, offset = _at_cursor(source)
    return index.retrieve(str(path), text, offset, budget)


def test_imported_definitions_referenced_near_the_cursor(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    snippets = _retrieve(index, root / "pkg/app.py", APP)
    area_of = next(s for s in snippets if s.text.startswith("def area_of"))
    assert (area_of.path, area_of.start_line) == (
        "pkg/shapes.py",
        SHAPES.split("\n").index(area_of.text.split("\n")[0]),
    )
    assert area_of.kind == "definition"
    assert area_of.text.startswith("def area_of(shape: Circle, scale: float = 1.0) -> float:")
    assert '"""The area of any shape, scaled."""' in area_of.text
    assert "round(value" not in area_of.text  # long bodies are elided
    circle = next(s for s in snippets if s.text.startswith("class Circle"))
    assert 'unit: str = "cm"' in circle.text and "def area(self) -> float:" in circle.text
    assert "self.checked" not in circle.text  # member bodies are elided from the class skeleton
    assert not any(s.path == "pkg/app.py" for s in snippets)  # never the current file
    assert not any("perimeter_of" in s.text for s in snippets)  # neither imported nor referenced


def test_similar_chunks_come_from_files_that_are_not_imported(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    source = """
    def show(rows, widths, padding_char):
        header = format_header(rows[0], widths, padding_char)
        <CURSOR>
    """
    snippets = _retrieve(index, root / "pkg/view.py", source)
    assert [s.path for s in snippets] == ["pkg/report.py"]
    assert "format_row(row, widths, padding_char)" in snippets[0].text


def test_nothing_when_nothing_is_related(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    assert (
        _retrieve(index, root / "pkg/other.py", "import json\nprint(json.dumps({'zz_top': 1}))\n<CURSOR>")
        == []
    )


def test_budget_bounds_the_snippets(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    everything = _retrieve(index, root / "pkg/app.py", APP, budget=5000)
    small = _retrieve(index, root / "pkg/app.py", APP, budget=200)
    assert sum(len(s.text) for s in small) <= 200 < sum(len(s.text) for s in everything)
    assert small and max(s.score for s in small) == max(s.score for s in everything)
    assert _retrieve(index, root / "pkg/app.py", APP, budget=0) == []


def test_typing_on_the_cursor_line_keeps_the_snippets(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    first = _retrieve(index, root / "pkg/app.py", APP)
    for typed in ("p", "print(", "print(Circle.unit, perimeter_of"):
        assert _retrieve(index, root / "pkg/app.py", APP.replace("<CURSOR>", typed + "<CURSOR>")) == first
    moved = APP.replace("<CURSOR>\n", "").replace("    print(total)", "    print(total)\n    <CURSOR>")
    assert _retrieve(index, root / "pkg/app.py", moved)  # another line is a fresh query


def test_snippets_follow_index_changes(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    before = _retrieve(index, root / "pkg/app.py", APP)
    assert any("area_of" in s.text for s in before)
    index.set_open_document(str(root / "pkg/shapes.py"), "def area_of(shape, precision):\n    return 0\n")
    assert index.wait_idle(20.0)
    after = _retrieve(index, root / "pkg/app.py", APP)
    assert any(s.text.startswith("def area_of(shape, precision):") for s in after)
    assert not any("class Circle" in s.text for s in after)


def test_recent_edits_in_other_files_are_offered(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    notes = root / "pkg" / "notes.py"
    index.set_open_document(str(notes), "x = 1\n")
    index.set_open_document(
        str(notes), "x = 1\nshape_registry = {'circle': Circle}\nregister_shape(shape_registry)\n"
    )
    source = """
    def setup(shape_registry):
        register_shape(shape_registry)
        <CURSOR>
    """
    snippets = _retrieve(index, root / "pkg/setup.py", source)
    recent = [s for s in snippets if s.kind == "recent"]
    assert recent and recent[0].path == "pkg/notes.py" and "register_shape(shape_registry)" in recent[0].text


def test_unambiguous_names_are_found_without_an_import(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    source = "def total(shape):\n    return perimeter_of(shape)\n<CURSOR>"
    snippets = _retrieve(index, root / "scripts/run.py", source)
    assert any(s.kind == "definition" and s.text.startswith("def perimeter_of") for s in snippets)


def test_retrieval_can_be_turned_off(write_tree: WriteTree) -> None:
    root = write_tree({"a.py": REPORT})
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False, retrieval=False))
    index.start()
    try:
        assert index.wait_idle(20.0)
        text, offset = _at_cursor("render_table(rows, widths, padding_char)\n<CURSOR>")
        assert index.retrieve(str(root / "b.py"), text, offset, 1000) == []
    finally:
        index.stop()


def test_methods_of_unmentioned_types_and_dunders_stay_out(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    source = """
    from .shapes import area_of

    class Square:
        def __init__(self, side):
            super().__init__()
            self.side = side

    def measure(thing):
        thing.area()
        return area_of(thing)
    <CURSOR>
    """
    snippets = _retrieve(index, root / "pkg/square.py", source)
    assert any(s.text.startswith("def area_of") for s in snippets)
    assert not any(s.text.startswith(("def area(self)", "def __init__", "class Circle")) for s in snippets)


def test_after_a_module_dot_the_prompt_carries_that_modules_definitions(tmp_path: Path) -> None:
    """The issue's two-file workspace: `billing.` in books.py brings billing's public functions (signature
    and first docstring line) and none of its private ones."""
    (tmp_path / "billing.py").write_text(
        'def charge_customer(customer_id, amount):\n    """Charge a customer."""\n    return amount\n\n\n'
        "def _round(value):\n    return value\n\n\ndef refund(order_id):\n    return 0\n"
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "shipping.py").write_text("def ship(order_id, address):\n    return None\n")
    index = WorkspaceIndex([str(tmp_path)], IndexOptions())
    index.start()
    try:
        assert index.wait_idle(30)
        books = "import billing\nfrom pkg import shipping\n\n\ndef sell(book):\n    return billing."
        texts = [snippet.text for snippet in index.retrieve(str(tmp_path / "books.py"), books, len(books))]
        assert texts[:2] == [
            'def charge_customer(customer_id, amount):\n    """Charge a customer."""',
            "def refund(order_id):",
        ]
        assert not any("_round" in text for text in texts)
        other = books.replace("return billing.", "return shipping.sh")
        texts = [snippet.text for snippet in index.retrieve(str(tmp_path / "books.py"), other, len(other))]
        assert "def ship(order_id, address):" in texts
        plain = books.replace("return billing.", "return ")
        texts = [snippet.text for snippet in index.retrieve(str(tmp_path / "books.py"), plain, len(plain))]
        assert not any("charge_customer" in text for text in texts)  # no dot: no member listing
        importing = "from billing import refund, "
        texts = [
            snippet.text for snippet in index.retrieve(str(tmp_path / "books.py"), importing, len(importing))
        ]
        assert texts[:2] == [
            'def charge_customer(customer_id, amount):\n    """Charge a customer."""',
            "def refund(order_id):",
        ]  # after `from billing import `, what can follow is the module's names too
    finally:
        index.stop()


def test_chunks_after_form_feeds_are_the_lines_that_matched(write_tree: WriteTree) -> None:
    """A form feed does not end a line (LSP, the editor): chunk line numbers and the text read for them
    count lines alike (str.splitlines would count each "\\f" line twice and read past the block)."""
    block = "\n".join(
        f"    ledger_total_{i} = reconcile_ledger(ledger_entries, ledger_rate_{i})" for i in range(10)
    )
    root = write_tree({"pages.py": "\f\n" * 20 + "def reconcile_all(ledger_entries):\n" + block + "\n"})
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.start()
    try:
        assert index.wait_idle(20.0)
        source = "def again(ledger_entries):\n" + block.replace("ledger_total", "copy") + "\n    <CURSOR>\n"
        [chunk] = [s for s in _retrieve(index, root / "app.py", source) if s.kind == "chunk"]
        assert "def reconcile_all(ledger_entries):" in chunk.text and "ledger_rate_9)" in chunk.text
        lines = (root / "pages.py").read_text().split("\n")
        assert chunk.text.split("\n")[0] == lines[chunk.start_line]
    finally:
        index.stop()


def test_a_long_definition_keeps_its_whole_header(write_tree: WriteTree) -> None:
    """The header reaches the body the outline found (a signature collapsed to one line would cut it)."""
    body = "\n".join(f"    factor = factor * {i}" for i in range(14))
    scale = (
        "@cache\ndef scale_all(\n    values: list[float],\n    factor: float,\n    *,\n    clamp: bool = False,\n"
        ') -> list[float]:\n    """Scale every value."""\n' + body + "\n    return values\n"
    )
    root = write_tree({"pkg/__init__.py": "", "pkg/scaling.py": scale})
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.start()
    try:
        assert index.wait_idle(20.0)
        source = "from .scaling import scale_all\n\nresult = scale_all(values, 2.0)\n<CURSOR>\n"
        [snippet] = [s for s in _retrieve(index, root / "pkg/app.py", source) if s.kind == "definition"]
        assert snippet.text == (
            "@cache\ndef scale_all(\n    values: list[float],\n    factor: float,\n    *,\n"
            '    clamp: bool = False,\n) -> list[float]:\n    """Scale every value."""\n    ...'
        )
    finally:
        index.stop()


def test_the_callers_parse_gives_the_same_snippets(workspace: tuple[Path, WorkspaceIndex]) -> None:
    """With the request's parsed snapshot, retrieval edits that tree instead of parsing the text afresh."""
    from syntax.document import SyntaxDocument

    root, index = workspace
    text, offset = _at_cursor(APP)
    fresh = index.retrieve(str(root / "pkg/app.py"), text, offset, 1500)
    index_again = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index_again.start()
    try:
        assert index_again.wait_idle(20.0)
        snapshot = SyntaxDocument(text, "python").snapshot()
        assert index_again.retrieve(str(root / "pkg/app.py"), text, offset, 1500, snapshot) == fresh
    finally:
        index_again.stop()


def test_the_cursor_outline_gives_the_same_snippets(
    workspace: tuple[Path, WorkspaceIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the outline the parse context read (the engine passes it), retrieval works out no imports or
    references of its own, and answers the same."""
    from completion.workspace import retrieval
    from syntax.context import cursor_outline
    from syntax.document import SyntaxDocument

    root, index = workspace
    text, offset = _at_cursor(APP)
    fresh = index.retrieve(str(root / "pkg/app.py"), text, offset, 1500)
    assert fresh
    monkeypatch.setattr(retrieval, "_outline", None)  # calling it would fail the retrieval
    index_again = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index_again.start()
    try:
        assert index_again.wait_idle(20.0)
        outline = cursor_outline(SyntaxDocument(text, "python").snapshot(), offset)
        assert index_again.retrieve(str(root / "pkg/app.py"), text, offset, 1500, outline=outline) == fresh
    finally:
        index_again.stop()
