"""Incremental documents: offsets, edits that must equal a fresh parse, multibyte text, big and junk input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tree_sitter import Node, Parser, Tree

from syntax.document import SyntaxDocument, encode
from syntax.languages import LANGUAGES, grammar, query, query_source


def _dump(tree: Tree) -> list[tuple[str, int, int, tuple[int, int], tuple[int, int], bool]]:
    """Every node with its exact position, so a stale byte range or point after an edit shows up."""
    nodes: list[tuple[str, int, int, tuple[int, int], tuple[int, int], bool]] = []
    stack: list[Node] = [tree.root_node]
    while stack:
        node = stack.pop()
        nodes.append(
            (
                node.type,
                node.start_byte,
                node.end_byte,
                (node.start_point.row, node.start_point.column),
                (node.end_point.row, node.end_point.column),
                node.is_missing,
            )
        )
        stack.extend(reversed(node.children))
    return nodes


def _fresh(text: str, language: str) -> Tree:
    return Parser(grammar(language)).parse(encode(text))


PYTHON = '''import os

class Greeter:
    """Says hello. é"""

    def greet(self, name: str) -> str:
        return f"hello {name} 😀"


def main():
    g = Greeter()
    print(g.greet("wörld"))
'''


def test_for_document_resolves_language_and_rejects_unknown() -> None:
    assert SyntaxDocument.for_document("x = 1", language_id="python") is not None
    doc = SyntaxDocument.for_document("fn main() {}", path="/a/b/main.rs")
    assert doc is not None and doc.language == "rust"
    assert SyntaxDocument.for_document("hello", language_id="plaintext") is None
    assert SyntaxDocument.for_document("hello", path="notes.txt") is None
    with pytest.raises(KeyError):
        SyntaxDocument("x", "cobol")


def test_offsets_round_trip_over_multibyte_text() -> None:
    text = "a\u00e9\U0001f600b\n\u4e2d\ud800z\n"  # 1-, 2-, 4-, 3-byte chars and a lone surrogate
    doc = SyntaxDocument(text, "python")
    expected_bytes = 0
    for offset, char in enumerate(text):
        assert doc.byte_offset(offset) == expected_bytes
        assert doc.char_offset(expected_bytes) == offset
        expected_bytes += len(encode(char))
    assert doc.byte_offset(len(text)) == len(doc.source) == expected_bytes
    assert doc.point(3) == (0, 7)  # after a, é (2 bytes), emoji (4 bytes)
    assert doc.point(6) == (1, 3)  # after the 3-byte CJK char
    assert doc.char_offset(2) == 1  # a byte inside "é" maps to "é"
    assert doc.byte_offset(-5) == 0 and doc.byte_offset(10**9) == len(doc.source)


def test_edit_updates_text_and_tree_like_a_fresh_parse() -> None:
    doc = SyntaxDocument(PYTHON, "python")
    start = PYTHON.index("greet(self")
    doc.edit(start, start + len("greet"), "gr\u00fc\U0001f600t")
    assert doc.text == PYTHON.replace("greet(self", "gr\u00fc\U0001f600t(self")
    assert _dump(doc.tree) == _dump(_fresh(doc.text, "python"))
    assert doc.version == 1


GOLDEN = Path(__file__).parent / "golden"
GOLDEN_INPUTS = {spec.name: next(GOLDEN.glob(f"{spec.name}.*.in")) for spec in LANGUAGES}


@pytest.mark.parametrize("language", sorted(GOLDEN_INPUTS))
def test_random_edits_match_a_fresh_parse(language: str) -> None:
    rng = random.Random(f"edits-{language}")
    pieces = [
        "x",
        "\n",
        "  ",
        "(",
        ")",
        "{",
        "}",
        ":",
        "é",
        "\U0001f600",
        "\u4e2d",
        "'",
        '"',
        "def ",
        "fn ",
        "return 1;",
        "\n    ",
        "if a:",
        "\ud83d",
        "\x00",
    ]
    text = GOLDEN_INPUTS[language].read_text(encoding="utf-8")
    doc = SyntaxDocument(text, language)
    for _ in range(120):
        start = rng.randrange(len(text) + 1)
        end = min(len(text), start + rng.choice([0, 0, 1, 2, 7]))
        insert = "".join(rng.choice(pieces) for _ in range(rng.choice([0, 1, 1, 3])))
        doc.edit(start, end, insert)
        text = text[:start] + insert + text[end:]
        assert doc.text == text
        if rng.random() < 0.3:  # reparse now and then, so edits both accumulate and apply one by one
            assert doc.tree.root_node.end_byte == len(encode(text))
    assert _dump(doc.tree) == _dump(_fresh(text, language))
    assert str(doc.tree.root_node) == str(_fresh(text, language).root_node)


def test_with_insertion_leaves_the_document_untouched() -> None:
    doc = SyntaxDocument(PYTHON, "python")
    before = _dump(doc.tree)
    offset = PYTHON.index("print(")
    tree = doc.with_insertion(offset, offset, "if (:\n    ")
    assert tree.root_node.has_error
    assert not doc.tree.root_node.has_error
    assert doc.text == PYTHON and _dump(doc.tree) == before
    changed = PYTHON[:offset] + "if (:\n    " + PYTHON[offset:]
    assert _dump(tree) == _dump(_fresh(changed, "python"))


def test_replace_all_reparses() -> None:
    doc = SyntaxDocument("x = 1", "python")
    doc.replace_all("def f():\n    pass\n")
    assert doc.text.startswith("def f")
    assert doc.tree.root_node.children[0].type == "function_definition"


def test_old_trees_stay_valid_after_edits() -> None:
    doc = SyntaxDocument(PYTHON, "python")
    old_tree = doc.tree
    old_dump = _dump(old_tree)
    doc.edit(0, 0, "# header\n")
    assert _dump(old_tree) == old_dump  # readers on another thread may still hold it


def test_binary_junk_and_nul_bytes_do_not_crash() -> None:
    junk = bytes(random.Random(7).randrange(256) for _ in range(20000)).decode("latin-1")
    junk += "\x00\ud800\udfff\ufffe\U0010ffff"
    for language in ["python", "cpp", "lua", "tsx"]:
        doc = SyntaxDocument(junk, language)
        doc.edit(100, 5000, "\x00\x00\U0001f600")
        doc.edit(len(doc.text), len(doc.text), "\ud83d")
        assert doc.char_offset(doc.byte_offset(len(doc.text))) == len(doc.text)
        assert doc.tree.root_node.end_byte == len(doc.source)


def test_two_megabyte_file_edits_stay_consistent() -> None:
    unit = "def f{0}(a, b):\n    return a + b  # caf\u00e9 \U0001f600\n\n"
    text = "".join(unit.format(i) for i in range(42000))
    assert len(encode(text)) > 2_000_000
    doc = SyntaxDocument(text, "python")
    middle = len(text) // 2
    middle = text.index("return", middle)
    for i, char in enumerate("x = 1 # \u00e9\U0001f600"):
        doc.edit(middle + i, middle + i, char)
    text = text[:middle] + "x = 1 # \u00e9\U0001f600" + text[middle:]
    assert doc.text == text
    assert doc.byte_offset(middle) == len(encode(text[:middle]))
    assert doc.point(middle) == (
        text.count("\n", 0, middle),
        len(encode(text[text.rfind("\n", 0, middle) + 1 : middle])),
    )
    assert doc.char_offset(len(encode(text[: middle + 9]))) == middle + 9
    assert str(doc.tree.root_node) == str(_fresh(text, "python").root_node)


@pytest.mark.parametrize(
    ("language", "parent", "own"),
    [
        ("javascript", "(function_declaration", "(class_heritage"),
        ("typescript", "(function_declaration", "(interface_declaration"),
        ("tsx", "(function_declaration", "(interface_declaration"),
        ("cpp", "(preproc_include", "(namespace_definition"),
    ],
)
def test_inherited_query_files_bring_their_parents_patterns(language: str, parent: str, own: str) -> None:
    source = query_source(language, "tags")
    assert source is not None and parent in source and own in source
    assert source.index(parent) < source.index(own)  # the parent's patterns first
    assert query(language, "tags") is not None  # and all of it compiles against the language's grammar


def test_every_language_has_compiling_tags_and_errors_queries() -> None:
    for spec in LANGUAGES:
        for kind in ("tags", "errors"):
            assert query(spec.name, kind) is not None, (spec.name, kind)


def _fresh_tree(text: str) -> str:
    parser = Parser(grammar("python"))
    return str(parser.parse(encode(text)).root_node)


def test_a_large_text_is_parsed_at_first_use_not_when_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    import syntax.document as module

    parses: list[int] = []
    real_parse = module.parse
    monkeypatch.setattr(
        module,
        "parse",
        lambda language, data, old=None: parses.append(len(data)) or real_parse(language, data, old),
    )
    text = "x = [" + ", ".join(["1"] * 120_000) + "]\n"  # about 360 KB: above the threshold
    document = SyntaxDocument(text, "python")
    document.edit(5, 6, "2")
    assert parses == []  # opening and typing did not parse (the event loop does both)
    assert str(document.tree.root_node) == _fresh_tree(document.text)
    assert len(parses) == 1


def test_edits_made_while_a_reparse_runs_are_kept_and_replayed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The edit lock is not held while parsing: an edit arriving meanwhile lands, and the next tree is that
    of the text with every edit."""
    import syntax.document as module

    document = SyntaxDocument("def f():\n    return 1\n", "python")
    document.edit(20, 21, "2")  # pending: the next tree access reparses
    real_parse = module.parse
    edited_meanwhile: list[bool] = []

    def parse_with_an_edit_arriving(language: str, data: bytes, old: Tree | None = None) -> Tree:
        if not edited_meanwhile:
            edited_meanwhile.append(True)
            document.edit(0, 0, "import os\n")  # as the event loop would, during the parse
        return real_parse(language, data, old)

    monkeypatch.setattr(module, "parse", parse_with_an_edit_arriving)
    first = document.tree  # of the text before the edit; the edit is replayed onto a copy of it
    assert "import" not in str(first.root_node)
    assert document.text == "import os\ndef f():\n    return 2\n"
    assert str(document.tree.root_node) == _fresh_tree(document.text)
