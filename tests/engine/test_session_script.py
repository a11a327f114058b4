"""The session script of bench/typing_replay.py (--session): built without a model or a server, so a change to
the builder that drops a moment or stops being reproducible shows here, not in a benchmark run."""

from __future__ import annotations

import itertools
from collections import Counter
from types import ModuleType

import pytest

from tests.benches import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("typing_replay")


def _text(name: str) -> str:
    """A module with enough code lines to pick a region from (past the first 20 lines), and a docstring."""
    lines = [f'"""The {name} module."""', "", "import os", ""]
    lines += [f"LIMIT_{i} = {i}" for i in range(20)]
    lines += [
        "",
        "",
        "def compute(items, limit):",
        '    """Prose in a docstring',
        "    is not typed.",
        '    """',
    ]
    for i in range(12):
        lines += [
            f"    value_{i} = process(items[{i}], limit=limit)",
            f"    if value_{i} is None:",
            "        return 0",
        ]
    lines += ["    return value_11", ""]
    return "\n".join(lines)


TEXTS = [(f"{name}.py", _text(name)) for name in ("alpha", "beta", "gamma")]


def test_the_same_seed_makes_the_same_script_and_another_seed_another(bench: ModuleType) -> None:
    first = bench.build_session(TEXTS, seed=3)
    assert bench.build_session(TEXTS, seed=3) == first
    assert bench.build_session(TEXTS, seed=4) != first


def test_the_script_has_every_step_and_moment(bench: ModuleType) -> None:
    session = bench.build_session(TEXTS, seed=0)
    kinds = Counter(step.kind for step in session.steps)
    assert kinds["open"] == 3 and kinds["switch"] == 2  # back to the first, then the second
    assert kinds["pause"] >= 3 and kinds["accept"] == kinds["key"]  # each key may show what to accept
    moments = Counter(step.moment for step in session.steps if step.kind == "key")
    assert moments["open"] == 3 and moments["switch"] == 2 and moments["pause"] == kinds["pause"]
    assert moments["typing"] > 0
    assert [step.doc for step in session.steps if step.kind == "switch"] == [0, 1]
    assert set(bench.MOMENTS) == {*moments, "accept"}


def test_the_keys_type_each_region_once_split_where_the_user_left_it(bench: ModuleType) -> None:
    session = bench.build_session(TEXTS, seed=1, lines=3)
    for number, doc in enumerate(session.docs):
        keys = [step for step in session.steps if step.kind == "key" and step.doc == number]
        assert "".join(step.text for step in keys) == doc.region
        assert all(earlier.at + len(earlier.text) == later.at for earlier, later in itertools.pairwise(keys))
        assert doc.region.count("\n") <= 2 and "Prose" not in doc.region and "is not typed" not in doc.region
        assert doc.text(len(doc.region)) == TEXTS[number][1]  # typed through, the file is whole again
        assert doc.text(0).count("\n") == TEXTS[number][1].count("\n") - doc.region.count("\n")
    first, second, last = session.docs
    assert 0 < first.split < len(first.region) and 0 < second.split < len(second.region)
    assert last.split == len(last.region)  # never switched back to
    switched = [session.steps[index + 1] for index, step in enumerate(session.steps) if step.kind == "switch"]
    assert [(step.kind, step.moment, step.at) for step in switched] == [
        ("key", "switch", first.split),
        ("key", "switch", second.split),
    ]
    opened = [session.steps[index + 1] for index, step in enumerate(session.steps) if step.kind == "open"]
    assert all(step.moment == "open" and step.wait_s == bench.OPEN_SETTLE_S for step in opened)


def test_a_suggestion_is_accepted_when_it_is_the_real_text_ahead(bench: ModuleType) -> None:
    doc = bench.build_session(TEXTS, seed=2, lines=3).docs[2]
    typed = 3
    cursor = doc.cursor(typed)
    rest = doc.region[typed:]
    assert bench.accepted(doc, typed, cursor, cursor, rest) == len(doc.region)  # (the last file: one visit)
    assert bench.accepted(doc, typed, cursor, cursor, rest[:4]) == typed + 4  # a prefix of what follows
    assert bench.accepted(doc, typed, cursor, cursor, rest[:4] + "#") is None
    assert bench.accepted(doc, typed, cursor, cursor, "") is None  # adds nothing
    assert bench.accepted(doc, typed, cursor, cursor, rest + "\nmore") is None  # past the region
    healed = cursor - 2  # the server replaces the half-typed word from its start
    assert bench.accepted(doc, typed, healed, cursor, doc.region[typed - 2 : typed + 5]) == typed + 5
    assert bench.accepted(doc, typed, cursor, cursor + 1, rest) is None  # it would eat the next line
    first = bench.build_session(TEXTS, seed=2, lines=3).docs[0]
    cursor = first.cursor(0)
    assert bench.accepted(first, 0, cursor, cursor, first.region) is None  # not past where the visit stops
    assert bench.accepted(first, 0, cursor, cursor, first.region[: first.split]) == first.split
    at_split = first.cursor(first.split)  # typed up to where the first visit stops: nothing more to accept...
    assert bench.accepted(first, first.split, at_split, at_split, first.region[first.split :]) is None
    after_switch = bench.accepted(first, first.split, at_split, at_split, first.region[first.split :], True)
    assert after_switch == len(first.region)  # ... until the user has switched back


def test_positions_count_utf16_columns(bench: ModuleType) -> None:
    text = "ab\n\u00e9\U0001f600x = 1\nlast"
    offset = text.index("x")
    position = bench.position_of(text, offset)
    assert (position.line, position.character) == (1, 3)  # é is one UTF-16 unit, the emoji two
    assert bench.offset_of(text, position) == offset
    assert bench.offset_of(text, bench.position_of(text, len(text))) == len(text)


def test_several_seeds_pool_their_requests_and_sum_their_counts(bench: ModuleType) -> None:
    def run(seed: int, server_mb: float, worker_mb: float, warm_ups: int) -> object:
        asks = [bench.Ask("open", 0, f"{seed}-{n}", 0.0, seed=seed) for n in range(2)]
        end = bench.ServerEnd([], server_mb, worker_mb, 1, {"warmUps": warm_ups})
        return bench.SessionResult("infill-ls", asks, end)

    pooled = bench.pooled([run(0, 70.0, 600.0, 2), run(1, 75.0, float("nan"), 3)])
    assert [ask.msg_id for ask in pooled.asks] == ["0-0", "0-1", "1-0", "1-1"]
    assert pooled.end.server_rss_mb == 75.0 and pooled.end.worker_rss_mb == 600.0  # (nan: no worker that run)
    assert pooled.end.worker_restarts == 2 and pooled.end.background == {"warmUps": 5}
