"""Property: on real files with one injected error, every offered fix leaves what it repairs error-free.

The injections are the fix benchmark's (bench/fix_bench.py), into code nobody here wrote where it is
installed: the standard library for Python, JavaScript shipped in the venv's site-packages or with npm, and
the VS Code extension's TypeScript sources. Each fix is checked in a fresh parse, by walking the tree for
ERROR and MISSING nodes (not through the query the verification uses).
"""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest
from tree_sitter import Tree

from syntax.diagnostics import diagnose
from syntax.document import ParsedText, parse_text
from syntax.fixes import apply_edits, propose_fixes, repaired_region
from tests.benches import load_bench

ROOT = Path(__file__).resolve().parents[2]
INJECTIONS = {"python": 60, "javascript": 40, "typescript": 40}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("fix_bench")


def _sources(language: str) -> list[Path]:
    if language == "python":
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        return sorted(p for p in stdlib.glob("*.py") if p.stat().st_size < 40_000)
    if language == "javascript":
        site = Path(sysconfig.get_paths()["purelib"])
        found = sorted(site.rglob("*.js")) + sorted(Path("/usr/lib/node_modules/npm/lib").rglob("*.js"))
        return [p for p in found if ".min." not in p.name and p.stat().st_size < 40_000]
    return sorted(
        p for p in (ROOT / "editors" / "vscode" / "src").rglob("*.ts") if not p.name.endswith(".d.ts")
    )


def _error_spans(tree: Tree, parsed: ParsedText) -> list[tuple[int, int]]:
    """str spans of every ERROR and MISSING node, found by walking the whole tree."""
    spans = []
    cursor = tree.walk()
    while True:
        node = cursor.node
        assert node is not None
        if node.is_error or node.is_missing:
            spans.append((parsed.char_offset(node.start_byte), parsed.char_offset(node.end_byte)))
        if node.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return spans


def _meets(span: tuple[int, int], zone: tuple[int, int]) -> bool:
    (start, end), (low, high) = span, zone
    return low <= start <= high if start == end else start < high and end > low


@pytest.mark.parametrize("language", sorted(INJECTIONS))
def test_every_offered_fix_leaves_its_region_error_free(bench: ModuleType, language: str) -> None:
    paths = _sources(language)
    if not paths:
        pytest.skip(f"no {language} sources installed here")
    rng = random.Random(20240611)
    kinds = [kind for kind in bench.KINDS if kind != "break_indent"]
    injected = offered = 0
    for _ in range(INJECTIONS[language] * 30):
        if injected >= INJECTIONS[language]:
            break
        path = rng.choice(paths)
        original = path.read_text(encoding="utf-8", errors="replace")
        if diagnose(original, language):
            continue
        sample = bench.Sample(language, str(path), original)
        broken = bench.inject(rng.choice(kinds), sample, parse_text(original, language), rng)
        if broken is None or broken == original or not diagnose(broken, language):
            continue
        injected += 1
        parsed = parse_text(broken, language)
        before = diagnose(parsed)
        for target in before[:2]:  # an editor asks for the actions of the diagnostics under the cursor
            fixes = propose_fixes(parsed, target)
            assert sum(fix.preferred for fix in fixes) == (1 if fixes else 0)
            for fix in fixes:
                offered += 1
                edit = fix.edits[0]
                fixed = parse_text(apply_edits(broken, fix.edits), language)
                after = diagnose(fixed)
                where = f"{path}: {fix.title} for {target.message!r}"
                if len(before) == 1:  # the only error: nothing at all may be left
                    assert after == [], where
                zones = repaired_region(fixed, edit.start, edit.start + len(edit.new_text))
                line_start = fixed.text.rfind("\n", 0, edit.start) + 1
                assert zones[0][0] <= line_start, where  # the edited line is always part of it
                errors = [(d.start, d.end) for d in after] + _error_spans(fixed.tree, fixed)
                assert not [e for e in errors for zone in zones if _meets(e, zone)], where
    assert injected >= INJECTIONS[language] // 2
    assert offered > 0
