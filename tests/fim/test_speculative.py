"""Speculative decoding's policies (prompt lookup, the safe margin, vocabulary checks, the break-even record) and
the draft-model path on tiny llama.cpp models: drafts accepted, the same output, mismatched vocabularies refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from completion.backend import Generation, GenerationSpec, ModelLoadError
from completion.fim import PromptPiece
from completion.model import ModelOptions, ModelSession
from completion.speculative import (
    MAX_DRAFT,
    SAFE_MARGIN,
    Acceptance,
    Speculation,
    lookup_draft,
    settled,
    vocabulary_mismatch,
)

from .conftest import TinyModelBuilder


def _ids(*tokens: int) -> np.ndarray:
    return np.asarray(tokens, dtype=np.intc)


# --- prompt lookup ------------------------------------------------------------------------------------------


def test_lookup_continues_the_longest_match() -> None:
    # "2 3" follows "1" at the start, "9 2 3" ends the history and occurred once before, followed by 7 8
    history = _ids(1, 2, 3, 4, 9, 2, 3, 7, 8, 5, 9, 2, 3)
    assert lookup_draft(history, 2) == [7, 8]


def test_lookup_prefers_the_most_recent_match() -> None:
    history = _ids(5, 6, 1, 5, 6, 2, 5, 6)
    assert lookup_draft(history, 1) == [2]


def test_a_repeating_run_continues_with_its_period() -> None:
    assert lookup_draft(_ids(4, 7, 8, 7, 8), 5) == [7, 8, 7, 8, 7]
    assert lookup_draft(_ids(3, 3, 3), 3) == [3, 3, 3]


def test_a_changed_last_token_drafts_what_followed_the_token_it_replaced() -> None:
    # line "1 2 3 9 5 6" repeated as "1 2 3 8": 8 is new, so the draft goes on after 9
    assert lookup_draft(_ids(1, 2, 3, 9, 5, 6, 1, 2, 3, 8), 3) == [5, 6, 1]


def test_no_match_no_draft() -> None:
    assert lookup_draft(_ids(1, 2, 3, 4), 4) == []
    assert lookup_draft(_ids(1, 2, 1, 2), 0) == []


# --- the safe margin ----------------------------------------------------------------------------------------


def test_only_a_clear_lead_is_settled() -> None:
    scores = np.zeros(6, dtype=np.single)
    scores[2] = SAFE_MARGIN + 0.01
    assert settled(scores)
    scores[4] = 0.02
    assert not settled(scores)
    masked = np.full(6, -np.inf, dtype=np.single)
    masked[3] = 1.0  # the only token a logits processor allows
    assert settled(masked)


# --- vocabularies -------------------------------------------------------------------------------------------


def test_vocabulary_differences_are_named() -> None:
    main = ([b"a", b"b", b"<s>"], [False, False, True])
    assert vocabulary_mismatch(main, main) is None
    padded = ([*main[0], b"<pad>"], [*main[1], True])
    assert vocabulary_mismatch(main, padded) is None  # padding at the end is allowed
    other = ([b"a", b"c", b"<s>"], [False, False, True])
    message = vocabulary_mismatch(main, other)
    assert message is not None
    assert "1 tokens differ" in message and "token 1: b'c'" in message and "b'b' in the main model" in message
    longer = ([b"x"] * 300, [False] * 300)
    assert "has 300 tokens, the main model's 3" in (vocabulary_mismatch(main, longer) or "")


# --- the record per source ----------------------------------------------------------------------------------


def test_draft_length_grows_on_full_acceptance_and_shrinks_on_rejection() -> None:
    record = Acceptance("test")
    start = record.length
    record.record(start, start, seconds=0.1, step_seconds=0.1)
    assert record.length == start + 2
    record.record(record.length, 1, seconds=0.1, step_seconds=0.1)
    assert record.length == start + 1
    for _ in range(20):
        record.record(record.length, record.length, seconds=0.1, step_seconds=0.1)
    assert record.length == MAX_DRAFT


def test_a_source_below_break_even_pauses_and_probes_again() -> None:
    record = Acceptance("test")
    for _ in range(3):  # each batch costs three one-token decodes and keeps one draft token: break-even is 2
        assert record.active
        record.record(4, 1, seconds=0.3, step_seconds=0.1)
    assert not record.active
    assert record.break_even == pytest.approx(2.0)
    steps = 0
    while not record.active:
        record.sit_out()
        steps += 1
    assert steps == 32
    for _ in range(3):  # it pays now: it keeps drafting
        record.record(4, 4, seconds=0.3, step_seconds=0.1)
    assert record.active


# --- the draft model on tiny models -------------------------------------------------------------------------

PROMPT = "def print(self):\n    return self\n"


def _load(path: Path, draft: Path | None = None) -> ModelSession:
    options = ModelOptions(path=str(path), context_size=256, draft_path=str(draft or ""))
    return ModelSession.load(options, path)


def _generate(session: ModelSession, max_tokens: int = 40) -> Generation:
    tokens = session.tokenize([PromptPiece(PROMPT, special=False)], add_bos=True)
    with session.lock:
        session.forget_prompt()
        return session.generate(tokens, GenerationSpec(max_tokens=max_tokens))


@pytest.mark.parametrize("family", [None, "qwen2.5-coder"])
def test_a_matching_draft_model_is_accepted_and_changes_no_token(
    tiny_model_path: TinyModelBuilder, family: str | None
) -> None:
    path = tiny_model_path(family, weight_scale=2.0)  # a model sure of its tokens: batches cannot flip them
    plain_session, drafting = _load(path), _load(path, draft=path)
    try:
        plain_session.speculation = None
        plain, drafted = _generate(plain_session), _generate(drafting)
        assert drafting.speculation is not None and drafting.speculation.draft_model is not None
        assert drafting.speculation.draft_model.totals.accepted > 0
        assert drafted.accepted_tokens > 0
        assert (drafted.text, drafted.tokens_generated, drafted.stop_reason) == (
            plain.text,
            plain.tokens_generated,
            plain.stop_reason,
        )
        assert drafted.logprob == pytest.approx(plain.logprob, abs=1e-3)
    finally:
        plain_session.close()
        drafting.close()


def test_a_draft_model_with_another_vocabulary_is_refused(tiny_model_path: TinyModelBuilder) -> None:
    main, other_family = tiny_model_path(None), tiny_model_path("qwen2.5-coder")
    with pytest.raises(
        ModelLoadError, match=r"draft model .* does not fit .*tokens differ.*'<\|endoftext\|>'"
    ):
        _load(main, draft=other_family)
    longer = tiny_model_path(None, extra_tokens=tuple(f" word{n}" for n in range(200)))
    with pytest.raises(ModelLoadError, match=r"its vocabulary has \d+ tokens, the main model's \d+"):
        _load(main, draft=longer)


def test_a_missing_draft_model_is_a_load_error(tiny_model_path: TinyModelBuilder, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="draft model: model file not found"):
        _load(tiny_model_path(None), draft=tmp_path / "absent.gguf")


def test_a_cache_that_cannot_drop_its_end_stops_drafting_and_keeps_the_output(
    tiny_model_path: TinyModelBuilder,
) -> None:
    path = tiny_model_path(None, weight_scale=2.0)
    session = _load(path, draft=path)
    try:
        expected = _generate(session)
        assert expected.verify_batches > 0
        session._llama._ctx.kv_cache_seq_rm = lambda *args: False  # as a recurrent model's cache answers
        session.speculation = Speculation(with_draft_model=True)
        session.speculation.timed_step(0.01)
        again = _generate(session)
        assert session.speculation is None
        assert (again.text, again.tokens_generated) == (expected.text, expected.tokens_generated)
    finally:
        session.close()


@pytest.mark.parametrize("pays", [True, False])
def test_prompt_lookup_is_off_where_the_load_time_probe_says_batches_cannot_pay(
    tiny_model_path: TinyModelBuilder, monkeypatch: pytest.MonkeyPatch, pays: bool
) -> None:
    monkeypatch.setattr(ModelSession, "_batches_can_pay", lambda self, probe: pays)
    session = _load(tiny_model_path(None))
    try:
        assert session.self_check() == []
        assert (session.speculation is not None) == pays
        assert _generate(session).verify_batches == 0 or pays  # never drafts when it cannot pay
    finally:
        session.close()


def test_a_draft_model_the_user_chose_is_kept_whatever_the_probe(
    tiny_model_path: TinyModelBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    probed: list[bool] = []
    monkeypatch.setattr(ModelSession, "_batches_can_pay", lambda self, probe: probed.append(True) or False)
    path = tiny_model_path(None)
    session = _load(path, draft=path)
    try:
        session.self_check()
        assert session.speculation is not None and session.speculation.draft_model is not None
        assert probed == []
    finally:
        session.close()


def test_the_load_time_probe_leaves_the_cache_consistent(tiny_model_path: TinyModelBuilder) -> None:
    session = _load(tiny_model_path(None))
    try:
        session.speculation = None
        expected = _generate(session)
        tokens = session.tokenize([PromptPiece(PROMPT, special=False)], add_bos=True)
        with session.lock:
            session._batches_can_pay(tokens)  # leaves the probe and its batch rows in the cache
            after = session.generate(tokens, GenerationSpec(max_tokens=40))  # reuses what is cached
        assert (after.text, after.tokens_generated) == (expected.text, expected.tokens_generated)
    finally:
        session.close()
