"""Verification, ranking, the model path and bad input of syntax.fixes / syntax.diagnostics."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest

from syntax.diagnostics import DiagnosticsOptions, diagnose
from syntax.document import UnsupportedLanguageError, parse_text
from syntax.fixes import TextEdit, apply_edits, fix_region, propose_fixes, repaired_region, verify_edit


def _setup(text: str, language: str = "python"):  # type: ignore[no-untyped-def]
    parsed = parse_text(text, language)
    before = diagnose(parsed)
    assert before, "the snippet must be broken"
    return parsed, before, before[0], fix_region(text, before[0])


def test_a_plain_fix_verifies() -> None:
    parsed, before, target, region = _setup("x = (1, 2\ny = 3\n")
    assert verify_edit(parsed, before, target, TextEdit(9, 9, ")"), region)


def test_fix_that_adds_an_error_elsewhere_in_the_region_is_rejected() -> None:
    parsed, before, target, region = _setup("x = (1, 2\ny = 3\n")
    # closes the bracket (the error is gone) but breaks the next line
    assert not verify_edit(parsed, before, target, TextEdit(9, 15, ")\ny = = 3"), region)


def test_fix_that_turns_code_outside_the_region_into_a_comment_is_rejected() -> None:
    text = "let a = [1, 2;\n" + "let pad = 0;\n" * 6 + "let b = 3;\n// note */ done\n"
    parsed, before, target, region = _setup(text, "javascript")
    assert target.message == "missing ']'"
    assert verify_edit(parsed, before, target, TextEdit(13, 13, "]"), region)
    # `]/*` also parses cleanly, but swallows lines outside the region into a comment
    assert diagnose(apply_edits(text, [TextEdit(13, 13, "];/*")]), "javascript") == []
    assert not verify_edit(parsed, before, target, TextEdit(13, 13, "];/*"), region)


def test_fix_touching_text_outside_the_region_is_rejected() -> None:
    text = "a = 1\n" * 10 + "x = (1, 2\n" + "b = 2\n" * 10
    parsed, before, target, region = _setup(text)
    close = text.index("2\n", 60) + 1
    assert verify_edit(parsed, before, target, TextEdit(close, close, ")"), region)
    assert not verify_edit(parsed, before, target, TextEdit(0, 0, "#"), region)  # line 0: outside
    assert not verify_edit(parsed, before, target, TextEdit(len(text), len(text), ")"), region)


def test_fix_that_leaves_the_error_is_rejected() -> None:
    parsed, before, target, region = _setup("x = (1, 2\ny = 3\n")
    assert not verify_edit(parsed, before, target, TextEdit(0, 1, "z"), region)


def test_fix_may_leave_an_unrelated_error_far_away() -> None:
    text = "x = (1, 2\n" + "ok = 1\n" * 8 + "y = [3\n"
    parsed, before, _, _ = _setup(text)
    assert len(before) == 2
    fixes = propose_fixes(parsed, before[0])
    assert fixes and fixes[0].edits == (TextEdit(9, 9, ")"),)
    assert [d.message for d in diagnose(apply_edits(text, fixes[0].edits), "python")] == ["unclosed '['"]


def test_rule_fixes_are_ranked_smallest_first_and_capped() -> None:
    parsed, _, target, _ = _setup("point = [1, 2 3]\n")
    fixes = propose_fixes(parsed, target, max_fixes=2)
    assert len(fixes) == 2
    assert fixes[0].edits == (TextEdit(13, 13, ","),) and fixes[0].source == "rule"
    assert propose_fixes(parsed, target, max_fixes=0) == []


def test_stale_diagnostic_gets_no_fix() -> None:
    parsed, _, target, _ = _setup("x = (1, 2\ny = 3\n")
    moved = dataclasses.replace(target, start=target.start + 1, end=target.end + 1)
    assert propose_fixes(parsed, moved) == []


def test_model_candidates_are_verified_and_rule_fixes_survive_a_failing_model() -> None:
    parsed, _, target, _ = _setup("if ready\n    start()\n")
    calls: list[tuple[str, str]] = []

    def generator(prefix: str, suffix: str, n: int, max_tokens: int, time_budget_s: float) -> list[str]:
        calls.append((prefix, suffix))
        return ["if ready:", "if ready)", "if (ready):", "while ready:"]

    fixes = propose_fixes(parsed, target, generator=generator, max_fixes=5)
    assert calls == [("", "\n    start()\n")]  # the middle is the line of the error
    results = {apply_edits(parsed.text, f.edits): f.source for f in fixes}
    assert results["if ready:\n    start()\n"] == "rule"  # same edit from both: kept as a rule fix
    assert results["if (ready):\n    start()\n"] == "model"
    assert "if ready)\n    start()\n" not in results  # does not parse: never offered
    assert fixes[0].edits == (TextEdit(8, 8, ":"),)  # smallest edit first

    def broken(prefix: str, suffix: str, n: int, max_tokens: int, time_budget_s: float) -> list[str]:
        raise RuntimeError("model crashed")

    assert propose_fixes(parsed, target, generator=broken)[0].edits == (TextEdit(8, 8, ":"),)


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedLanguageError, match="cobol"):
        diagnose("x", "cobol")


def test_binary_junk_and_huge_files_do_not_crash() -> None:
    junk = bytes(range(256)).decode("latin-1") * 40 + "\udcff\x00"
    for language in ("python", "javascript", "c", "lua"):
        diagnostics = diagnose(junk, language)
        assert 0 < len(diagnostics) <= 100
        assert all(0 <= d.start <= d.end <= len(junk) for d in diagnostics)
        for fix in propose_fixes(parse_text(junk, language), diagnostics[0], time_budget_s=0.5):
            assert fix.edits
    noise = random.Random(1)
    prose = "".join(noise.choice("abc xyz(){};:=\"'\n") for _ in range(20000))
    for language in ("python", "cpp"):
        diagnostics = diagnose(prose, language)
        assert len(diagnostics) > 30
        assert propose_fixes(parse_text(prose, language), diagnostics[0]) == []  # not code: nothing to fix
    big = "def f(a):\n    return a\n" * 20000 + "x = (1\n"
    found = diagnose(big, "python")
    assert [d.message for d in found] == ["unclosed '('"]


def test_non_ascii_offsets_are_str_offsets() -> None:
    text = "s = 'héllo wörld' + (1\n"
    found = diagnose(text, "python")
    assert [(text[d.start : d.end], d.message) for d in found] == [("(", "unclosed '('")]
    fixes = propose_fixes(parse_text(text, "python"), found[0])
    assert apply_edits(text, fixes[0].edits) == "s = 'héllo wörld' + (1)\n"


def test_options_describe_every_field() -> None:
    for option in dataclasses.fields(DiagnosticsOptions):
        assert option.metadata.get("description"), option.name
    defaults = DiagnosticsOptions()
    assert defaults.enabled and defaults.max_fixes == 3 and defaults.fix_time_budget_ms == 2000


def test_a_model_that_overruns_its_budget_does_not_cost_the_rule_fixes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed, _, target, _ = _setup("if ready\n    start()\n")
    clock = {"offset": 0.0}
    real_monotonic = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + clock["offset"])

    def slow(prefix: str, suffix: str, n: int, max_tokens: int, time_budget_s: float) -> list[str]:
        clock["offset"] += 60.0  # as if prompt evaluation took a minute
        return ["if (ready):"]

    fixes = propose_fixes(parsed, target, generator=slow, time_budget_s=2.0)
    assert [(f.source, f.edits) for f in fixes] == [
        ("rule", (TextEdit(8, 8, ":"),)),
        ("model", (TextEdit(3, 8, "(ready):"),)),  # verified although the model overran its budget
    ]


def test_model_output_that_adds_lines_is_not_a_fix() -> None:
    parsed, _, target, _ = _setup("if ready\n    start()\n")

    def chatty(prefix: str, suffix: str, n: int, max_tokens: int, time_budget_s: float) -> list[str]:
        return ["if ready:\n    start()", "if ready:  # fixed"]

    fixes = propose_fixes(parsed, target, generator=chatty, max_fixes=5)
    results = [apply_edits(parsed.text, f.edits) for f in fixes if f.source == "model"]
    assert results == ["if ready:  # fixed\n    start()\n"]


def test_fix_must_also_hold_for_a_fresh_parse() -> None:
    # an incremental reparse keeps the old ERROR for the next token, a fresh parse reports a new one there
    text = (
        'function f(i) {\n  switch (i) {\n    case "a":\n      return 1;\n'
        '      cse "b": {\n        return 2;\n      }\n  }\n}\n'
    )
    parsed = parse_text(text, "typescript")
    before = diagnose(parsed)
    assert before[0].message == "missing ';'"
    fixes = propose_fixes(parsed, before[0])
    results = [apply_edits(text, f.edits) for f in fixes]
    assert results[0] == text.replace("cse", "case")
    assert text.replace("cse", "cse;") not in results  # leaves an error a fresh parse reports


def test_removing_the_target_is_not_enough_when_its_statement_stays_broken() -> None:
    # the end of io.py with the ':' of the second header dropped: ',' silences "expected ':'" (the header
    # becomes a tuple) and only leaves errors that were there before, yet the statement is still broken
    text = (
        "for klass in (StringIO, TextIOWrapper)\n    TextIOBase.register(klass)\ndel klass\n\n"
        "try:\n    from _io import _WindowsConsoleIO\nexcept ImportError:\n    pass\n"
    )
    parsed, before, target, region = _setup(text)
    assert target.message == "expected ':'" and len(before) > 1
    comma = TextEdit(target.start, target.start, ",")
    assert target not in diagnose(apply_edits(text, [comma]), "python")
    assert not verify_edit(parsed, before, target, comma, region)
    assert verify_edit(parsed, before, target, TextEdit(target.start, target.start, ":"), region)
    assert [f.title for f in propose_fixes(parsed, target)] == ["Insert ':'"]


def test_a_header_wants_its_colon_first() -> None:
    text = (
        "for klass in (BytesIO, BufferedReader,\n              BufferedRWPair)\n"
        "    BufferedIOBase.register(klass)\n\nfor klass in (StringIO, TextIOWrapper):\n"
        "    TextIOBase.register(klass)\n"
    )
    parsed, _, target, _ = _setup(text)
    fixes = propose_fixes(parsed, target)
    assert fixes[0].title == "Insert ':'" and fixes[0].preferred
    assert apply_edits(text, fixes[0].edits) == text.replace("BufferedRWPair)", "BufferedRWPair):")


def test_exactly_one_fix_per_diagnostic_is_preferred() -> None:
    parsed, _, target, _ = _setup("x = compute(1))\n")
    fixes = propose_fixes(parsed, target)
    assert len(fixes) == 2 and [f.preferred for f in fixes] == [True, False]


def test_blind_punctuation_is_not_offered_beside_the_keyword_fix() -> None:
    for text, language in (
        ("def f(x):\n    retrun x\n", "python"),
        ("funtion f() { return 1; }\n", "javascript"),
    ):
        parsed, before, _, _ = _setup(text, language)
        for target in before:
            titles = [f.title for f in propose_fixes(parsed, target)]
            assert titles and titles[0].startswith("Change"), titles
            assert not [t for t in titles if t.startswith(("Insert", "Remove"))], titles


def test_removing_the_closer_of_an_intact_pair_is_rejected() -> None:
    # the doubled '(' is the error; the final '}' closes the body's '{' and removing it parses no worse
    text = "function escape((token: string): string {\n\treturn token;\n}\n"
    parsed, before, _, _ = _setup(text, "typescript")
    stray = next(d for d in before if d.message == "unexpected '}'")
    assert propose_fixes(parsed, stray) == []
    assert [apply_edits(text, f.edits) for f in propose_fixes(parsed, before[0])] == [text.replace("((", "(")]


def test_repaired_region_of_a_header_stops_after_the_first_body_line() -> None:
    text = "def f(a):\n    x = 1\n    y = (\n    return a\n"
    parsed = parse_text(text, "python")
    zones = repaired_region(parsed, text.index(":"), text.index(":") + 1)
    covered = {text.count("\n", 0, offset) for low, high in zones for offset in range(low, high + 1)}
    assert covered == {0, 1}  # the header and the body's first line, not the error two lines below


def test_repaired_region_takes_in_lines_that_continue_a_statement_by_layout() -> None:
    text = "def f():\n    warnings.warn,'deprecated',\n                  DeprecationWarning)\n    return 1\n"
    parsed = parse_text(text, "python")
    comma = text.index(",")
    zones = repaired_region(parsed, comma, comma + 1)
    covered = {text.count("\n", 0, offset) for low, high in zones for offset in range(low, high + 1)}
    assert covered == {1, 2}  # the deeper-indented line below continues the statement


def test_fixing_a_whole_file_step_by_step_may_leave_the_errors_already_there() -> None:
    parsed, before, target, _ = _setup("(((\n")
    assert len(before) == 3
    assert propose_fixes(parsed, target) == []  # no single edit repairs the statement
    (step,) = propose_fixes(parsed, target, max_fixes=1, allow_revealing=True)
    assert len(diagnose(apply_edits("(((\n", step.edits), "python")) == 2
