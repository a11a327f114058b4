"""The adaptive debounce: the wait before an automatic request runs the model, from the typing rhythm and the
model's latency, within its floor and ceiling. A fake clock drives it; nothing sleeps."""

from __future__ import annotations

import pytest

from completion.debounce import MIN_GAPS, PAUSE_S, RATE_MAX, RATE_MIN, AdaptiveDebounce, eagerness

URI = "file:///a.py"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def typed(debounce: AdaptiveDebounce, clock: Clock, gaps: list[float], uri: str = URI) -> None:
    """Keystrokes in ``uri`` separated by ``gaps`` (seconds), the clock left at the last one."""
    debounce.keystroke(uri)
    for gap in gaps:
        clock.now += gap
        debounce.keystroke(uri)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_the_floor_until_the_rhythm_is_known(clock: Clock) -> None:
    debounce = AdaptiveDebounce(0.03, 0.3, clock)
    assert debounce.delay(URI) == 0.03
    typed(debounce, clock, [0.1] * (MIN_GAPS - 1))
    assert debounce.rhythm_s is None and debounce.delay(URI) == 0.03
    typed(debounce, clock, [0.1])
    assert debounce.rhythm_s == pytest.approx(0.1)
    assert debounce.delay(URI) == pytest.approx(RATE_MAX * 0.1)  # mid-word (eagerness 0), no latency known


def test_the_wait_follows_the_rhythm_within_the_bounds(clock: Clock) -> None:
    slow = AdaptiveDebounce(0.03, 0.3, clock)
    typed(slow, clock, [0.09] * 20)
    assert slow.delay(URI) == pytest.approx(0.27)
    fast = AdaptiveDebounce(0.03, 0.3, clock)
    typed(fast, clock, [0.03] * 20)
    assert fast.delay(URI) == pytest.approx(0.09)
    slower = AdaptiveDebounce(0.03, 0.3, clock)
    typed(slower, clock, [0.2] * 20)
    assert slower.delay(URI) == 0.3  # the ceiling
    fastest = AdaptiveDebounce(0.05, 0.3, clock)
    typed(fastest, clock, [0.01] * 20)
    assert fastest.delay(URI) == 0.05  # the floor


def test_pauses_and_other_documents_are_no_rhythm(clock: Clock) -> None:
    debounce = AdaptiveDebounce(0.03, 0.3, clock)
    for _ in range(MIN_GAPS * 2):
        typed(debounce, clock, [0.05])
        clock.now += PAUSE_S + 0.5  # a pause after every second keystroke
    assert debounce.rhythm_s == pytest.approx(0.05)
    mixed = AdaptiveDebounce(0.03, 0.3, clock)
    for number in range(MIN_GAPS * 2):
        clock.now += 0.05
        mixed.keystroke(f"file:///{number % 2}.py")  # alternating documents: no gap counts
    assert mixed.rhythm_s is None


def test_the_first_keystroke_after_a_pause_or_in_another_document_waits_only_the_floor(clock: Clock) -> None:
    debounce = AdaptiveDebounce(0.03, 0.3, clock)
    typed(debounce, clock, [0.1] * 20)
    assert debounce.delay(URI) == pytest.approx(0.3)
    clock.now += PAUSE_S + 1.0
    debounce.keystroke(URI)  # the user resumes after thinking: when the next key comes is unknown
    assert debounce.delay(URI) == 0.03
    clock.now += 0.1
    debounce.keystroke(URI)  # typing on: the rhythm again
    assert debounce.delay(URI) == pytest.approx(0.3)
    clock.now += 0.1
    debounce.keystroke("file:///b.py")  # switched to another document
    assert debounce.delay("file:///b.py") == 0.03


def test_the_median_keeps_one_long_gap_from_moving_the_rhythm(clock: Clock) -> None:
    debounce = AdaptiveDebounce(0.03, 0.3, clock)
    typed(debounce, clock, [0.06] * 10 + [0.39])
    assert debounce.rhythm_s == pytest.approx(0.06)


def test_the_model_latency_is_taken_off_the_wait(clock: Clock) -> None:
    debounce = AdaptiveDebounce(0.03, 0.3, clock)
    typed(debounce, clock, [0.08] * 20)
    assert debounce.delay(URI) == pytest.approx(0.24)
    for seconds in (0.1, 0.1, 5.0):  # a cold prompt now and then does not count much
        debounce.latency(seconds)
    assert debounce.latency_s == pytest.approx(0.1)
    assert debounce.delay(URI) == pytest.approx(0.14)
    for _ in range(5):
        debounce.latency(2.0)  # a slow model: no wait on top of it beyond the floor
    assert debounce.delay(URI) == 0.03


def test_time_since_the_last_keystroke_counts_as_waited(clock: Clock) -> None:
    debounce = AdaptiveDebounce(0.03, 0.3, clock)
    typed(debounce, clock, [0.08] * 20)
    clock.now += 0.1  # the client waited 100 ms before asking
    assert debounce.delay(URI) == pytest.approx(0.14)
    clock.now += 1.0
    assert debounce.delay(URI) == 0.03


def test_a_suggestion_likely_wanted_waits_less(clock: Clock) -> None:
    debounce = AdaptiveDebounce(0.0, 1.0, clock)
    typed(debounce, clock, [0.1] * 20)
    assert debounce.delay(URI, eager=1.0) == pytest.approx(RATE_MIN * 0.1)
    assert debounce.delay(URI, eager=0.5) == pytest.approx((RATE_MIN + RATE_MAX) / 2 * 0.1)
    assert debounce.delay(URI, eager=0.0) == pytest.approx(RATE_MAX * 0.1)


def test_an_invoke_never_waits_and_a_ceiling_at_the_floor_is_a_fixed_wait(clock: Clock) -> None:
    debounce = AdaptiveDebounce(0.03, 0.3, clock)
    typed(debounce, clock, [0.1] * 20)
    assert debounce.delay(URI, invoked=True) == 0.0
    debounce.configure(0.05, 0.05)
    assert debounce.delay(URI) == 0.05
    debounce.configure(0.2, 0.0)  # a ceiling below the floor: the floor
    assert debounce.delay(URI) == 0.2
    debounce.configure(0.03, 0.3)  # what was observed is kept
    assert debounce.delay(URI) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x = fo|o + 1\n", 0.0),  # mid-word, code after it
        ("x = foo|\ny = 2\n", 0.4),  # end of a line, mid-word
        ("x = (|)\ny = 2\n", 0.9),  # after a bracket, only a closing one after it on the line
        ("x = |", 1.0),  # after a space at the end of the document
        ("|", 1.0),
    ],
)
def test_eagerness(text: str, expected: float) -> None:
    assert eagerness(text.replace("|", ""), text.index("|")) == pytest.approx(expected)
