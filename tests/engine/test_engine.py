"""The engine without LSP: prompt layout, KV-cache reuse, typed-ahead cache, model errors."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.fim import TEMPLATES
from completion.model import ModelLoadError, ModelOptions, ModelSession
from completion.prompt import build_prompt, prefix_window_start, suffix_window_end

SOURCE = "".join(f"value_{i} = {i} * 2\n" for i in range(200))


@pytest.fixture
def engine(default_model: ModelSession) -> Iterator[CompletionEngine]:
    engine = CompletionEngine(CompletionOptions(parse_context=False, time_budget_ms=120_000))
    engine.model = default_model
    yield engine
    engine.model = None  # the module fixture closes the model


def test_window_start_does_not_move_while_typing_on_a_line() -> None:
    cursor = SOURCE.index("value_150")
    starts = {
        prefix_window_start(SOURCE[:cursor] + "x" * n + SOURCE[cursor:], cursor + n, 1000, 16)
        for n in range(40)
    }
    assert len(starts) == 1
    (start,) = starts
    assert start == 0 or SOURCE[start - 1] == "\n"
    line = SOURCE.count("\n", 0, start)
    assert line % 16 == 0
    assert cursor - start <= 1000


def test_window_start_moves_only_at_stride_boundaries() -> None:
    line_starts = [0, *[i + 1 for i, char in enumerate(SOURCE) if char == "\n"][:-1]]
    starts = [prefix_window_start(SOURCE, offset, 1000, 16) for offset in line_starts[100:180]]
    moves = sum(1 for a, b in itertools.pairwise(starts) if a != b)
    assert moves <= 80 // 16 + 1  # a 'last N characters' window would move on all 79 steps
    assert all(SOURCE.count("\n", 0, start) % 16 == 0 for start in starts)


def test_window_start_on_one_enormous_line_stays_within_budget() -> None:
    text = "x" * 50_000
    start = prefix_window_start(text, 40_000, 1000, 16)
    assert 39_000 <= start <= 40_000


def test_suffix_window_keeps_whole_lines() -> None:
    cursor = SOURCE.index("value_10 ") + 3
    end = suffix_window_end(SOURCE, cursor, 100)
    assert SOURCE[end - 1] == "\n"
    assert end - cursor <= 100
    assert SOURCE[cursor:end].startswith("ue_10 = 10 * 2\n")


def test_prefix_only_prompt_has_path_header_then_window() -> None:
    text = "def add(a, b):\n    return "
    prompt = build_prompt(
        text=text,
        offset=len(text),
        path="pkg/calc.py",
        line_comment="#",
        template=None,
        context=None,
        snippets=(),
        window_start=0,
        suffix_end=len(text),
    )
    assert [piece.special for piece in prompt.pieces] == [False]
    assert prompt.text() == "# Path: pkg/calc.py\n" + text


def test_fim_prompt_with_repo_tokens_puts_snippets_first() -> None:
    class Snippet:
        path = "pkg/util.py"
        text = "def helper(x):\n    return x"

    class SameFile:
        path = "pkg/util.py"
        text = "def other(y): ..."

    template = TEMPLATES["qwen2.5-coder"]
    text = "import util\n\nresult = \nprint(result)\n"
    cursor = text.index("= ") + 2
    prompt = build_prompt(
        text=text,
        offset=cursor,
        path="pkg/main.py",
        line_comment="#",
        template=template,
        context=None,
        snippets=[Snippet(), SameFile()],  # one file: one section
        window_start=0,
        suffix_end=len(text),
    )
    specials = [piece.text for piece in prompt.pieces if piece.special]
    assert specials[:3] == [template.repo_name, template.file_sep, template.file_sep]
    assert specials[3:] == [template.prefix, template.suffix, template.middle]
    rendered = prompt.text()
    assert rendered.index("def helper") < rendered.index("def other") < rendered.index("pkg/main.py")
    assert rendered.index("pkg/main.py") < rendered.index("import util")
    assert rendered.endswith(template.suffix + "\nprint(result)\n" + template.middle)


@pytest.mark.default_model
def test_typing_reuses_the_cached_prompt_prefix(engine: CompletionEngine) -> None:
    text = SOURCE[:4000] + "def total(values):\n    return sum("
    first = engine.complete(CompletionRequest(text, len(text), uri="a"))
    assert first is not None and first.tokens_prompt > 300
    typed = text + "v"
    if first.text.startswith("v"):
        typed = text + "q"
    second = engine.complete(CompletionRequest(typed, len(typed), uri="a"))
    assert second is not None and not second.cached
    assert second.tokens_evaluated <= 8, second
    assert second.tokens_prompt > 300


@pytest.mark.default_model
def test_typing_into_a_suggestion_is_served_from_the_cache(engine: CompletionEngine) -> None:
    text = 'def greet(name):\n    """Say hello."""\n    print('
    first = engine.complete(CompletionRequest(text, len(text), uri="b"))
    assert first is not None and len(first.text) >= 2
    typed = text + first.text[0]
    again = engine.complete(CompletionRequest(typed, len(typed), uri="b"))
    assert again is not None and again.cached
    assert again.text == first.text[1:]
    assert again.start == len(typed) and again.end == first.end + 1


@pytest.mark.default_model
def test_disabled_engine_and_missing_model_give_nothing(engine: CompletionEngine) -> None:
    text = "x = "
    engine.options = replace(engine.options, enabled=False)
    assert engine.complete(CompletionRequest(text, len(text))) is None
    empty = CompletionEngine()
    assert empty.complete(CompletionRequest(text, len(text))) is None
    assert empty.infill_candidates("x = ", "\n", n=2, max_tokens=8, time_budget_s=1) == []


@pytest.mark.default_model
def test_infill_candidates_are_distinct_texts(engine: CompletionEngine) -> None:
    found = engine.infill_candidates(
        "numbers = [1, 2, 3]\ntotal = sum(", ")\n", n=3, max_tokens=8, time_budget_s=5
    )
    assert 1 <= len(found) <= 3
    assert len(set(found)) == len(found)


def test_out_of_range_offset_is_rejected_quietly() -> None:
    assert CompletionEngine().complete(CompletionRequest("abc", 99)) is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.gguf", None, "not found"),
        ("folder", "dir", "not a file"),
        ("text.gguf", b"hello world", "not a GGUF model"),
        ("empty.gguf", b"", "not a GGUF model"),
    ],
)
def test_model_load_errors_say_what_is_wrong(
    tmp_path: Path, name: str, content: object, message: str
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message) as error:
        ModelSession.load(ModelOptions(path=str(path)), path)
    assert name in str(error.value)


def test_truncated_gguf_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "truncated.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="could not load"):
        ModelSession.load(ModelOptions(path=str(path)), path)
