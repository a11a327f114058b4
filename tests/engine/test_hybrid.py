"""Hybrid routing in the engine: local first, always; the remote model on blank lines, blocks and invokes (or
when the local model is unsure); its answer shown when it is in by the time the local one is, else kept for
the next request at the same position; the local model ranks the two.

The remote model is a scripted backend whose answer waits on a gate the test opens, so "the remote model is
slower" is a fact of the test, never a timing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace

from completion.backend import Generation, GenerationSpec, ModelUnavailable
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.prompt import Prompt
from completion.routing import wants_remote
from tests.engine.test_ranking import ScriptedModel

FUNCTION = "def area(width, height):\n    |\n"
MID_LINE = "def area(width, height):\n    result = wid|\n"


@dataclass
class ScriptedRemote:
    """A remote backend (it cannot score; its generations carry log-probabilities) answering ``answer`` once
    ``gate`` is open; ``failing`` as RemoteBackend reports a failure episode."""

    answer: str
    gate: threading.Event = field(default_factory=threading.Event)
    logprob: float = -0.1
    failing: str | None = None
    unavailable: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    asked: list[str] = field(default_factory=list)

    @property
    def info(self) -> SimpleNamespace:
        return SimpleNamespace(
            api="openai", name="big-coder", fim=None, heals=False, scores=False, logprobs=True, warnings=()
        )

    def generate(
        self, prompt: Prompt, spec: GenerationSpec, cancel: object = None, start: str = ""
    ) -> Generation:
        self.asked.append(prompt.text())
        if self.unavailable:
            raise ModelUnavailable("the remote server refused the connection")
        assert self.gate.wait(30), "the test never opened the gate"
        tokens = max(1, len(self.answer) // 3)
        return Generation(self.answer, self.logprob * tokens, 10, 10, tokens, "eog")

    def score(self, prompt: Prompt, continuation: str, ends: bool) -> float | None:
        return None

    def forget_prompt(self) -> None:
        pass

    def close(self) -> None:
        pass


def hybrid(local: ScriptedModel, remote: ScriptedRemote, **options: object) -> CompletionEngine:
    settings: dict[str, object] = {
        "parse_context": False,
        "time_budget_ms": 60_000,
        "candidates": 1,
        **options,
    }
    engine = CompletionEngine(CompletionOptions(**settings))  # type: ignore[arg-type]
    engine.set_model(remote, fallback=local)  # type: ignore[arg-type]
    return engine


def request(text: str, invoked: bool = False) -> CompletionRequest:
    offset = text.index("|")
    return CompletionRequest(
        text.replace("|", "", 1), offset, "file:///m.py", "python", "m.py", invoked=invoked
    )


def shown(engine: CompletionEngine, text: str, invoked: bool = False) -> str | None:
    completion = engine.complete(request(text, invoked))
    return None if completion is None else completion.text


def local_model(answer: str, likelihood: float = -0.5) -> ScriptedModel:
    return ScriptedModel([answer], likelihood=lambda text: 0.0 if "width * height" in text else -5.0)


def test_where_the_remote_model_is_asked() -> None:
    assert wants_remote("x = 1\n", 6, multiline=False, invoked=False)  # a blank line
    assert wants_remote("    return f(", 13, multiline=True, invoked=False)  # a block
    assert wants_remote("x = fo", 6, multiline=False, invoked=True)  # an explicit invoke
    assert not wants_remote("x = fo", 6, multiline=False, invoked=False)  # typing within a line


def test_a_remote_answer_in_before_the_local_one_competes_and_the_local_model_ranks_them() -> None:
    remote = ScriptedRemote("return width * height\n")
    remote.gate.set()
    local = local_model("return 0\n")
    engine = hybrid(local, remote)
    # the local model is the slower one here: it finishes after the remote answer is in
    local.on_generate = lambda: engine._remote_asks["file:///m.py"].future.result(30)
    assert shown(engine, FUNCTION) == "return width * height"
    assert len(remote.asked) == 1 and any("return width * height" in text for text in local.scored)


def test_the_local_answer_is_shown_when_the_remote_one_is_late_and_the_late_one_is_kept() -> None:
    remote = ScriptedRemote("return width * height\n")
    local = local_model("return 0\n")
    engine = hybrid(local, remote)
    assert shown(engine, FUNCTION) == "return 0"  # the remote answer is not in: the user does not wait
    remote.gate.set()
    ask = engine._remote_asks["file:///m.py"]
    ask.future.result(30)  # it finishes in the background
    attempts = local.attempts
    assert shown(engine, FUNCTION) == "return width * height"  # the next request here shows it at once
    assert local.attempts == attempts and len(remote.asked) == 1  # no model ran for it


def test_typing_within_a_line_stays_local_unless_the_local_model_is_unsure() -> None:
    remote = ScriptedRemote("th * height\n")
    engine = hybrid(local_model("th\n"), remote)
    assert shown(engine, MID_LINE) == "th"
    assert remote.asked == []
    unsure = hybrid(local_model("th\n"), remote)
    unsure.routing.min_local_confidence = 0.5  # above any mean log-probability: always unsure
    assert shown(unsure, MID_LINE) == "th"  # shown at once; the remote model is asked for next time
    remote.gate.set()
    unsure._remote_asks["file:///m.py"].future.result(30)
    assert len(remote.asked) == 1
    assert shown(unsure, MID_LINE) == "th * height"


def test_an_invoke_asks_the_remote_model_even_mid_line() -> None:
    remote = ScriptedRemote("th * height\n")
    remote.gate.set()
    engine = hybrid(local_model("th\n"), remote)
    shown(engine, MID_LINE, invoked=True)
    assert len(remote.asked) == 1


def test_a_remote_server_down_means_local_only() -> None:
    down = ScriptedRemote("return width * height\n", failing="refused")
    assert shown(hybrid(local_model("return 0\n"), down), FUNCTION) == "return 0"
    assert down.asked == []  # in its failure episode nothing is sent
    refusing = ScriptedRemote("return width * height\n", unavailable=True)
    assert shown(hybrid(local_model("return 0\n"), refusing), FUNCTION) == "return 0"


def test_a_local_only_document_never_asks_the_remote_model() -> None:
    remote = ScriptedRemote("return width * height\n")
    remote.gate.set()
    engine = hybrid(local_model("return 0\n"), remote)
    text = FUNCTION.replace("    |", '    TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"\n    |')
    assert shown(engine, text) == "return 0"
    assert remote.asked == []


def test_moving_elsewhere_cancels_the_remote_ask_for_the_old_position() -> None:
    remote = ScriptedRemote("return width * height\n")
    engine = hybrid(local_model("return 0\n"), remote)
    shown(engine, FUNCTION)
    first = engine._remote_asks["file:///m.py"]
    shown(engine, "def area(width, height):\n    \n    |\n")
    assert first.cancel.is_set() and engine._remote_asks["file:///m.py"] is not first
    remote.gate.set()
