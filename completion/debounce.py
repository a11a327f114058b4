"""How long an automatic completion request waits for a newer keystroke before the model runs.

A fixed wait is wrong for most people most of the time: too short for a fast typist in the middle of a word
(the model starts on a request the next keystroke cancels), too long for someone who paused. The wait here
adapts, after Tabby's adaptive debounce: the typing rhythm is the median gap between recent keystrokes of one
document (pauses longer than ``PAUSE_S`` are not rhythm); the next keystroke is expected within ``rate`` such
gaps, a rate that is lower where a suggestion is likely wanted (after a space or a bracket, at the end of a
line: ``eagerness``); the model's recent latency is subtracted (a suggestion that takes that long anyway need
not wait on top of it), and so is the time since the last keystroke (the client may have waited already).
The result is bounded by a floor (``completion.debounceMs``) and a ceiling (``completion.debounceMaxMs``; by
default at the floor: a fixed wait, which the session benchmark found better with a local model, whose run is
cancelled within a token when the next keystroke comes); until the rhythm is known the floor is used. Explicit
invokes never wait, and neither (beyond the floor) does the first keystroke after a pause or in another
document: the rhythm says nothing about when the next one comes, and it is where the user looks for a
suggestion (measured with the session replay: the ceiling added ~260 ms to every open, pause and switch); a
burst that follows cancels the model within a token.

Pure and synchronous: time comes from an injected clock, the feature sleeps.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import deque
from collections.abc import Callable

PAUSE_S = 0.4  # a gap between keystrokes longer than this is a pause, not the rhythm
MIN_GAPS = 8  # keystroke gaps needed before the rhythm counts
GAP_WINDOW = 64  # recent gaps kept
LATENCY_WINDOW = 16  # recent model latencies kept
RATE_MAX = 3.0  # gaps to wait for where a suggestion is least likely wanted (mid-word)
RATE_MIN = 1.5  # ... and where it is most likely wanted (after a space or bracket at the end of a line)

_WORD_CHAR = re.compile(r"\w")


def eagerness(text: str, offset: int) -> float:
    """How likely a suggestion is wanted at ``offset``, in [0, 1]: after a character that is not part of a
    word (0.5), with nothing but non-word characters after the cursor on its line (0.4; closing brackets an
    editor inserted), with nothing but those after it in the document (0.1)."""
    score = 0.0
    if offset == 0 or not _WORD_CHAR.match(text[offset - 1]):
        score += 0.5
    line_end = text.find("\n", offset)
    rest_of_line = text[offset : len(text) if line_end < 0 else line_end]
    if not _WORD_CHAR.search(rest_of_line):
        score += 0.4
    if not _WORD_CHAR.search(text, offset):
        score += 0.1
    return min(1.0, score)


class AdaptiveDebounce:
    """Keystrokes and model latencies in, the wait for the next automatic request out (seconds)."""

    def __init__(
        self, floor_s: float = 0.03, ceiling_s: float = 0.3, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.floor_s = floor_s
        self.ceiling_s = ceiling_s
        self._clock = clock
        self._gaps: deque[float] = deque(maxlen=GAP_WINDOW)
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._last: tuple[str, float] | None = None  # the last keystroke: document and time
        self._resumed = True  # the last keystroke came after a pause, or in another document

    def now(self) -> float:
        """The clock's time (for timing the model runs reported to ``latency``)."""
        return self._clock()

    def configure(self, floor_s: float, ceiling_s: float) -> None:
        """New bounds (settings changed); what was observed is kept."""
        self.floor_s, self.ceiling_s = floor_s, ceiling_s

    def keystroke(self, uri: str) -> None:
        """An edit of ``uri`` now. Only gaps between edits of the same document make the rhythm."""
        now = self._clock()
        self._resumed = True
        if self._last is not None and self._last[0] == uri:
            gap = now - self._last[1]
            if 0 <= gap <= PAUSE_S:
                self._gaps.append(gap)
                self._resumed = False
        self._last = (uri, now)

    def latency(self, seconds: float) -> None:
        """How long a model run that finished (not cancelled) took."""
        if seconds >= 0:
            self._latencies.append(seconds)

    @property
    def rhythm_s(self) -> float | None:
        """The typing rhythm (median gap between keystrokes), or None while too few are known."""
        return statistics.median(self._gaps) if len(self._gaps) >= MIN_GAPS else None

    @property
    def latency_s(self) -> float:
        """The model's recent latency (median; 0 while none is known)."""
        return statistics.median(self._latencies) if self._latencies else 0.0

    def delay(self, uri: str, eager: float = 0.0, invoked: bool = False) -> float:
        """Seconds an automatic request for ``uri`` made now should wait for a newer keystroke (an explicit
        invoke: none). ``eager``: ``eagerness`` at the cursor."""
        if invoked:
            return 0.0
        floor, ceiling = self.floor_s, max(self.floor_s, self.ceiling_s)
        rhythm = self.rhythm_s
        if rhythm is None or ceiling == floor or self._resumed:
            return floor
        rate = RATE_MAX - (RATE_MAX - RATE_MIN) * min(1.0, max(0.0, eager))
        since = 0.0
        if self._last is not None and self._last[0] == uri:
            since = max(0.0, self._clock() - self._last[1])
        wanted = rate * rhythm - self.latency_s - since
        return min(ceiling, max(floor, wanted))
