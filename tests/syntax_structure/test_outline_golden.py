"""Golden outlines: definitions, imports, enclosing scopes, nearby references and parse context per language.

Each ``golden/<file>.in`` is parsed as ``<file>``; the result must equal ``golden/<file>.expected.json``
(inputs end in .in so that linters and formatters leave them alone). Cursor probes
(``golden/probes.json``) sit at the end of the first occurrence of a snippet; their parse context has a
prefix window of the ``WINDOW_LINES`` lines above the cursor line. Regenerate after an intended
change with ``UPDATE_GOLDEN=1 pytest tests/syntax_structure`` and review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from syntax.context import parse_context
from syntax.document import SyntaxDocument
from syntax.outline import definitions, enclosing_definitions, imports, references_near

GOLDEN = Path(__file__).parent / "golden"
WINDOW_LINES = 6
PROBES: dict[str, list[str]] = json.loads((GOLDEN / "probes.json").read_text(encoding="utf-8"))


def probe_offset(text: str, snippet: str) -> int:
    position = text.index(snippet)
    return position + len(snippet)


def window_start(text: str, offset: int, lines: int = WINDOW_LINES) -> int:
    start = text.rfind("\n", 0, offset) + 1
    for _ in range(lines):
        if start == 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    return start


def outline_of(name: str) -> dict[str, Any]:
    text = (GOLDEN / f"{name}.in").read_text(encoding="utf-8")
    doc = SyntaxDocument.for_document(text, path=name)
    assert doc is not None
    probes: dict[str, Any] = {}
    for snippet in PROBES[name]:
        offset = probe_offset(text, snippet)
        probes[snippet] = {
            "enclosing": [f"{item.kind} {item.name}" for item in enclosing_definitions(doc, offset)],
            "references_near": references_near(doc, offset, lines_before=6, lines_after=1),
            "parse_context": asdict(parse_context(doc, offset, window_start(text, offset), 600)),
        }
    return {
        "language": doc.language,
        "definitions": [asdict(item) for item in definitions(doc)],
        "imports": [asdict(item) for item in imports(doc)],
        "probes": probes,
    }


@pytest.mark.parametrize("name", sorted(PROBES))
def test_outline_matches_golden(name: str) -> None:
    actual = json.loads(json.dumps(outline_of(name)))
    expected_path = GOLDEN / f"{name}.expected.json"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert actual == expected


@pytest.mark.parametrize("name", sorted(PROBES))
def test_definition_offsets_agree_with_lines(name: str) -> None:
    text = (GOLDEN / f"{name}.in").read_text(encoding="utf-8")
    doc = SyntaxDocument.for_document(text, path=name)
    assert doc is not None
    found = definitions(doc)
    assert found, "every golden file defines something"
    for item in found:
        assert text.count("\n", 0, item.start) == item.start_line
        assert text.count("\n", 0, item.end) == item.end_line
        assert item.name in text[item.start : item.end]
        assert item.signature and len(item.signature.splitlines()) <= 3
