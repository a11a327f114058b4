"""Golden tests: diagnostics (messages, tight ranges) and the verified fixes each rule offers, per language.

Regenerate after an intended change with ``INFILL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/diagnostics``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syntax.diagnostics import diagnose
from syntax.document import parse_text
from syntax.fixes import apply_edits, propose_fixes

from .cases import CASES

GOLDEN = Path(__file__).parent / "golden"


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset)
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1)}"


def render(language: str) -> str:
    """Each case with its diagnostics and, per diagnostic, the fixes and the line each fix produces."""
    out: list[str] = []
    for name, source in CASES[language]:
        out.append(f"### {name}")
        parsed = parse_text(source, language)
        diagnostics = diagnose(parsed)
        if not diagnostics:
            out.append("(no diagnostics)")
        for d in diagnostics:
            span = f"{_position(source, d.start)}-{_position(source, d.end)}"
            out.append(f"{span} {d.kind}: {d.message} {source[d.start : d.end]!r}")
            for fix in propose_fixes(parsed, d):
                fixed = apply_edits(source, fix.edits)
                line_start = fixed.rfind("\n", 0, fix.edits[0].start) + 1
                line_end = fixed.find("\n", fix.edits[0].start + len(fix.edits[0].new_text))
                changed = fixed[line_start : line_end if line_end >= 0 else None]
                out.append(f"  fix [{fix.source}] {fix.title}: {changed!r}")
        out.append("")
    return "\n".join(out)


@pytest.mark.parametrize("language", sorted(CASES))
def test_golden(language: str) -> None:
    path = GOLDEN / f"{language}.txt"
    actual = render(language)
    if os.environ.get("INFILL_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with INFILL_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", sorted(CASES))
def test_every_broken_case_is_diagnosed_and_every_fix_parses_cleanly(language: str) -> None:
    for name, source in CASES[language]:
        diagnostics = diagnose(source, language)
        assert bool(diagnostics) == (name != "clean"), name
        for d in diagnostics:
            for fix in propose_fixes(parse_text(source, language), d):
                remaining = diagnose(apply_edits(source, fix.edits), language)
                assert d not in remaining
                assert len(remaining) < len(diagnostics), (name, fix)
