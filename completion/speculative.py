"""Lossless speculative decoding: what to draft, when a batched position is trustworthy, and when it pays.

Greedy generation decodes one token at a time, yet code repeats: the next tokens are often already on screen
(a table of similar calls, the second half of a symmetric pair). A *draft* of the next few tokens is verified
by the model in one batch with logits at every position, and the longest prefix that greedy decoding would
have chosen is kept (``completion.model.ModelSession.generate`` runs the loop; this module holds its policies):

- :func:`lookup_draft` drafts from the history itself (the prompt's document window and snippets, and what
  was generated): the continuation of the most recent occurrence of the longest n-gram that ends it;
- a draft model (``model.draftPath``) drafts with its own greedy decoding; :func:`vocabulary_mismatch` says
  whether its vocabulary is the main model's;
- :func:`settled` says whether a position decoded in a batch can stand for the one-token decode the plain loop
  would have done: llama.cpp's CPU kernels round differently for different batch shapes, so a near tie could
  flip; such positions are decoded again alone (the output stays the plain loop's, token for token);
- :class:`Acceptance` keeps one draft source's record per session: the draft length adapts to how much is
  accepted, and the source pauses (probing again later) while accepted tokens per verify batch stay below
  break-even, the batch's measured cost in one-token decodes minus the one token it always yields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAFE_MARGIN = 2.0
"""Logits by which a batched position's best token must lead every other to be trusted. Batch and one-token
decodes of the default model (Gemma 3 270M Q4_K_M) move the lead of the best token over another by up to 1.42
(median 0.48) in 180 measured positions; the plain loop's near ties are where greedy output is fragile anyway."""

MIN_NGRAM = 2
MAX_NGRAM = 8
"""Lengths of the history's tail that prompt lookup searches for (longest first): one token (``(``, ``\\n``)
repeats everywhere and predicts little."""

MAX_DRAFT = 12
_START_DRAFT = 4
_WARMUP_BATCHES = 3  # verify batches measured before a source is judged
_FIRST_PAUSE = 32  # greedy steps a source sits out when it does not pay; doubled while it keeps not paying
_MAX_PAUSE = 1024
_SMOOTHING = 0.3  # weight of the newest measurement in the running averages


def lookup_draft(history: npt.NDArray[np.intc], count: int) -> list[int]:
    """Up to ``count`` tokens that followed the latest earlier occurrence of the longest n-gram (``MIN_NGRAM``
    to ``MAX_NGRAM`` tokens) ending ``history``; where that continuation reaches the end of the history it
    reads on into the draft itself (a repeating run continues with its period).

    Code repeats with changes (``item_11`` then ``item_12``, ``x`` then ``y``): when the last token is new
    there, the n-gram before it is looked up instead, and the draft goes on after the token it replaced.
    Empty without a match.
    """
    if count <= 0:
        return []
    end = len(history)
    start = _after_latest_match(history, end)
    if start is None and (start := _after_latest_match(history, end - 1)) is not None:
        start += 1  # step over the token the last one replaces
    return [] if start is None else _continuation(history, start, count)


def _after_latest_match(history: npt.NDArray[np.intc], end: int) -> int | None:
    """Where the latest earlier occurrence of the longest n-gram ending at ``end`` ends, or None."""
    for size in range(min(MAX_NGRAM, end - 1), MIN_NGRAM - 1, -1):
        starts = end - size  # an occurrence starting before this ends before the n-gram's last token
        hits = history[:starts] == history[starts]
        for offset in range(1, size):
            hits &= history[offset : starts + offset] == history[starts + offset]
        found = np.flatnonzero(hits)
        if found.size:
            return int(found[-1]) + size
    return None


def _continuation(history: npt.NDArray[np.intc], start: int, count: int) -> list[int]:
    period = len(history) - start
    draft: list[int] = []
    for index in range(count):
        draft.append(int(history[start + index]) if index < period else draft[index - period])
    return draft


def settled(logits: npt.NDArray[np.single]) -> bool:
    """Whether the best token leads every other by at least :data:`SAFE_MARGIN` (masked tokens are -inf)."""
    best = float(np.max(logits))
    return bool(np.count_nonzero(logits > best - SAFE_MARGIN) == 1)


def confident(logits: npt.NDArray[np.single], threshold: float = 0.5) -> bool:
    """Whether a draft model gives its best token at least ``threshold`` probability (worth verifying)."""
    shifted = logits.astype(np.float64) - float(np.max(logits))
    return bool(1.0 / float(np.sum(np.exp(shifted))) >= threshold)


VOCAB_SIZE_SLACK = 128
"""Vocabularies may differ in length by padding tokens at the end (Qwen2.5 0.5B and 7B: 151936 and 152064), as
llama.cpp's own speculative decoding allows; every token both have must be the same."""


def vocabulary_mismatch(
    main: tuple[Sequence[bytes], Sequence[bool]], draft: tuple[Sequence[bytes], Sequence[bool]]
) -> str | None:
    """How a draft model's vocabulary (pieces, special flags) differs from the main model's, or None."""
    main_pieces, main_special = main
    draft_pieces, draft_special = draft
    if abs(len(main_pieces) - len(draft_pieces)) > VOCAB_SIZE_SLACK:
        return (
            f"its vocabulary has {len(draft_pieces)} tokens, the main model's {len(main_pieces)}: "
            "a draft model must share the main model's vocabulary"
        )
    different = [
        token
        for token in range(min(len(main_pieces), len(draft_pieces)))
        if main_pieces[token] != draft_pieces[token] or main_special[token] != draft_special[token]
    ]
    if not different:
        return None
    first = different[0]
    return (
        f"{len(different)} tokens differ from the main model's vocabulary, the first is token {first}: "
        f"{_describe(draft_pieces[first], draft_special[first])} in the draft model, "
        f"{_describe(main_pieces[first], main_special[first])} in the main model"
    )


def _describe(piece: bytes, special: bool) -> str:
    return f"{piece!r}{' (special)' if special else ''}"


@dataclass
class SpeculationCounts:
    """What one generation's drafts came to (also summed per source over a session)."""

    verified: int = 0  # verify batches
    drafted: int = 0  # draft tokens sent to verification
    accepted: int = 0  # draft tokens that became output
    redecoded: int = 0  # tokens decoded again one by one at near ties (what losslessness cost)

    def add(self, drafted: int, accepted: int) -> None:
        self.verified += 1
        self.drafted += drafted
        self.accepted += accepted


class Acceptance:
    """One draft source's record in a session: the next draft's length, and whether drafting pays now.

    The length grows by 2 after a fully accepted draft and shrinks by 1 after a rejection. A source is judged
    after a few verify batches: while the accepted tokens per batch stay below break-even (the batch's cost in
    one-token decodes, drafting included, minus one) it pauses for a number of greedy steps that doubles each
    time it does not pay, then probes again (what is generated changes from one request to the next).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.length = _START_DRAFT
        self.totals = SpeculationCounts()
        self.gain = 0.0  # running average of accepted tokens per verify batch
        self.batch_seconds = 0.0  # running average of a verify batch's seconds, drafting included
        self.break_even = 0.0  # accepted tokens per batch at which a batch costs what its tokens save
        self._judged_after = _WARMUP_BATCHES
        self._paused = 0
        self._pause = _FIRST_PAUSE

    @property
    def active(self) -> bool:
        return self._paused == 0

    def sit_out(self) -> None:
        """One greedy step passed without this source."""
        if self._paused:
            self._paused -= 1

    def record(
        self, drafted: int, accepted: int, seconds: float, step_seconds: float, unsure: bool = False
    ) -> None:
        """A verify batch of ``drafted`` tokens kept ``accepted`` and took ``seconds``; a one-token decode
        takes ``step_seconds`` now. A batch yields one token besides the accepted ones (the model's own choice
        where the draft went wrong) unless it was ``unsure`` of that position, which is then decoded alone."""
        self.totals.add(drafted, accepted)
        gain = accepted - unsure
        if drafted:
            self.length = min(MAX_DRAFT, self.length + 2) if accepted == drafted else max(1, self.length - 1)
        fresh = self._judged_after == _WARMUP_BATCHES
        self.gain = gain if fresh else _blend(self.gain, gain)
        self.batch_seconds = seconds if fresh else _blend(self.batch_seconds, seconds)
        self.break_even = self.batch_seconds / step_seconds - 1.0
        self._judged_after -= 1
        if self._judged_after > 0:
            return
        self._judged_after = 1
        if self.gain < self.break_even:
            self._paused = self._pause
            self._pause = min(_MAX_PAUSE, self._pause * 2)
            self._judged_after = _WARMUP_BATCHES
        else:
            self._pause = _FIRST_PAUSE

    def charge(self, tokens: int, seconds: float, step_seconds: float) -> None:
        """The cache this source's batches left had to be decoded again at a near tie: ``tokens`` tokens in
        ``seconds``, counted as part of the latest batch's cost."""
        self.totals.redecoded += tokens
        self.batch_seconds += _SMOOTHING * seconds
        self.break_even = self.batch_seconds / step_seconds - 1.0

    def describe(self) -> str:
        totals = self.totals
        per_batch = totals.accepted / totals.verified if totals.verified else 0.0
        state = "drafting" if self.active else f"paused for {self._paused} steps"
        return (
            f"{self.name}: {totals.accepted}/{totals.drafted} draft tokens accepted in {totals.verified} "
            f"batches ({per_batch:.2f} per batch, break-even now {self.break_even:.2f}), "
            f"{totals.redecoded} decoded again at near ties; {state}"
        )


def _blend(average: float, value: float) -> float:
    return (1.0 - _SMOOTHING) * average + _SMOOTHING * value


class Speculation:
    """A session's draft sources and its measured one-token decode time (what break-even is counted in)."""

    def __init__(self, with_draft_model: bool) -> None:
        self.lookup = Acceptance("prompt lookup")
        self.draft_model = Acceptance("draft model") if with_draft_model else None
        self.step_seconds: float | None = None  # running average; None until a one-token decode was timed

    def sources(self) -> tuple[Acceptance, ...]:
        return (self.lookup,) if self.draft_model is None else (self.lookup, self.draft_model)

    def timed_step(self, seconds: float) -> None:
        """A one-token decode took ``seconds``."""
        self.step_seconds = seconds if self.step_seconds is None else _blend(self.step_seconds, seconds)

    def describe(self) -> str:
        return "; ".join(source.describe() for source in self.sources())
