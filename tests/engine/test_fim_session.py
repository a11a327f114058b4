"""ModelSession + engine on tiny GGUF models carrying each family's FIM tokens (real llama.cpp, real ids)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from completion.backend import ModelLoadError, ModelUnavailable
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.fim import PromptPiece
from completion.model import ModelOptions, ModelSession
from tests.fim.gguf_factory import FAMILY_SPECIALS, build_tiny_model

FAMILIES = ["qwen2.5-coder", "starcoder", "deepseek-coder", "codellama", "codegemma", "codestral"]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModelSession]]:
    folder = tmp_path_factory.mktemp("tiny-sessions")
    loaded = {}
    for family in [*FAMILIES, None]:
        path = build_tiny_model(folder / f"{family}.gguf", family)
        loaded[str(family)] = ModelSession.load(ModelOptions(path=str(path), context_size=512), path)
    yield loaded
    for session in loaded.values():
        session.close()


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_detected_and_the_prompt_carries_its_control_ids(
    sessions: dict[str, ModelSession], family: str
) -> None:
    session = sessions[family]
    template = session.info.fim
    assert template is not None and template.family == family
    engine = CompletionEngine(CompletionOptions(parse_context=False, token_healing=False))
    engine.model = session
    text = "def f(x):\n    return x\n\nresult = f(2)\n"
    cursor = text.index("f(2)")
    prompt = engine.build_prompt(CompletionRequest(text, cursor, path="m.py", language_id="python"))
    tokens = session.tokenize(prompt.pieces, add_bos=template.bos)
    for special in (template.prefix, template.suffix, template.middle):
        if special:
            assert session.special_token_id(special) in tokens, special
    # document text that spells a control token is never tokenized into it
    sneaky = text[:cursor] + template.prefix + text[cursor:]
    sneaky_prompt = engine.build_prompt(
        CompletionRequest(sneaky, cursor + len(template.prefix), language_id="python")
    )
    sneaky_tokens = session.tokenize(sneaky_prompt.pieces, add_bos=template.bos)
    assert sneaky_tokens.count(session.special_token_id(template.prefix)) == tokens.count(
        session.special_token_id(template.prefix)
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_generation_never_shows_special_token_text(sessions: dict[str, ModelSession], family: str) -> None:
    session = sessions[family]
    specials = [text for text in FAMILY_SPECIALS[family].specials if len(text) > 2]
    engine = CompletionEngine(CompletionOptions(parse_context=False, multiline="always", max_tokens=48))
    engine.model = session
    for infill in engine.infill_candidates("a = [", "]\n", n=3, max_tokens=48, time_budget_s=30):
        assert not any(special in infill for special in specials), infill


def test_prefix_only_without_fim_tokens(sessions: dict[str, ModelSession]) -> None:
    session = sessions["None"]
    assert session.info.fim is None and session.info.family == "prefix-only"
    engine = CompletionEngine(CompletionOptions(parse_context=False))
    engine.model = session
    prompt = engine.build_prompt(CompletionRequest("x = 1\ny = ", 10, path="a.py"))
    assert not any(piece.special for piece in prompt.pieces)


def test_fim_template_override(tmp_path: Path) -> None:
    path = build_tiny_model(tmp_path / "q.gguf", "qwen2.5-coder")
    forced = ModelSession.load(ModelOptions(path=str(path), fim_template="none", context_size=256), path)
    assert forced.info.fim is None
    forced.close()
    with pytest.raises(ModelLoadError):
        ModelSession.load(ModelOptions(path=str(path), fim_template="psm:<only-two>,<tokens>"), path)


def test_an_override_naming_tokens_the_model_lacks_fails_at_load(tmp_path: Path) -> None:
    path = build_tiny_model(tmp_path / "q.gguf", "qwen2.5-coder")
    with pytest.raises(ModelLoadError, match="does not have: <fim_nope>"):
        ModelSession.load(
            ModelOptions(path=str(path), fim_template="psm:<|fim_prefix|>,<|fim_suffix|>,<fim_nope>"), path
        )


def test_self_check_decodes_and_finds_prefix_reuse_working(sessions: dict[str, ModelSession]) -> None:
    assert sessions["qwen2.5-coder"].self_check() == []


def test_a_request_holding_a_closed_model_gets_nothing_instead_of_freed_memory(tmp_path: Path) -> None:
    """The race of a model swap: the request took the model, then it was closed before the request used it."""
    path = build_tiny_model(tmp_path / "s.gguf", "starcoder")
    session = ModelSession.load(ModelOptions(path=str(path), context_size=256), path)
    engine = CompletionEngine(CompletionOptions(parse_context=False, time_budget_ms=60_000))
    engine.model = session
    session.close()
    assert engine.complete(CompletionRequest("x = [", 5, language_id="python")) is None
    assert engine.infill_candidates("x = [", "]\n", n=2, max_tokens=4, time_budget_s=5) == []
    with pytest.raises(ModelUnavailable):
        session.tokenize([PromptPiece("x", special=False)], add_bos=False)
