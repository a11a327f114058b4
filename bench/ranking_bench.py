"""Candidate ranking on a blank line: what it costs, and what it buys, at the editor's budget and a long one
(prints numbers; never run in CI).

Tasks: lines of Python's own standard library inside a function body (a fixed sample, ``--seed``), each blanked
to its indentation with the rest of the file after it, so ``completion.candidates`` generations run (greedy,
the name starts of a prefix-only model, sampled) and are ranked by ``ModelBackend.score``. Each task's prompt is
warmed first (``CompletionEngine.warm``, what the editor does on didOpen and on a pause), so the times are the
ranking's, not the prompt's. Arms, interleaved task by task (the order rotates), same model, same session:

- ``greedy 2s``: ``candidates=1`` at the default budget (the floor the ranked arms must not fall below);
- ``ranked 2s`` / ``ranked 20s``: the default ``candidates`` at the default budget and at the benchmark's 20 s;
- ``--legacy`` adds ``legacy 2s`` / ``legacy 20s``: the same with the ranking's budget rules off
  (``completion.engine.RankingLimits.off()``: no time plan, no token caps, scored in the order found), the
  ranking as it was before them (the model's side, which shares scored starts, is the same in both).

Per arm: total ms (p50/p90), ms in each generation (greedy, then the later ones), ms scoring, candidates
generated and scored, how often two or more candidates were scored within the budget (``ranked``), how often
the ranking finished (every planned generation ran to its own end and every checked candidate was scored, or
a sure greedy one stopped it on purpose), how often the shown suggestion is not the greedy one, and quality of
the shown suggestion against the real line: exact match of its first line and edit similarity
(``crossfile_bench._edit_similarity``) of the first line and of as many lines as were shown against the real
code there; then, per arm, how often another candidate won by how sure the greedy one was. On a shared machine
expect noise; the load average is printed first.

    .venv/bin/python bench/ranking_bench.py --samples 12 --seed 1 [--legacy] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from context_bench import sampled_tasks
from crossfile_bench import _edit_similarity

from completion import engine as engine_module
from completion.backend import CancelFlag, Generation, GenerationSpec, ModelBackend, ModelInfo, PromptCost
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.fim import PromptPiece
from completion.local_backend import LocalBackend
from completion.model import ModelOptions, ModelSession, model_path_for
from completion.prompt import Prompt
from syntax.document import SyntaxDocument
from syntax.outline import enclosing_definitions

CONFIDENT = -0.15  # the greedy generation's mean log-probability per token the win counts are split at


@dataclass(frozen=True)
class BlankTask:
    path: str
    text: str  # the file with the line's code deleted (its indentation kept)
    offset: int  # after the indentation
    truth: list[str]  # the real line and the ones after it (stripped), for multi-line suggestions


def blank_tasks(count: int, seed: int) -> list[BlankTask]:
    """Lines of code inside a function body, blanked to their indentation (fixed sample)."""

    def task_at(path: Path, text: str, document: SyntaxDocument, start: int, line: str) -> BlankTask | None:
        code = line.strip()
        if len(code) < 8 or code.startswith(("#", '"', "'", "@", "def ", "class ")):
            return None
        cursor = start + len(line) - len(line.lstrip())
        if not any(scope.kind == "function" for scope in enclosing_definitions(document, cursor)):
            return None
        end = start + len(line)
        following = text[end:].split("\n")[1:13]
        truth = [code, *(item.strip() for item in following)]
        return BlankTask(path.name, text[:cursor] + text[end:], cursor, truth)

    return sampled_tasks(seed, count, task_at, max_chars=200_000)


@dataclass
class Call:
    kind: str  # "generate" | "score"
    ms: float
    tokens: int = 0  # generated tokens (generate)
    stop: str = ""  # why the generation stopped
    value: float | None = None  # the score (score)
    text: str = ""  # the scored continuation (score); the generation's kind (generate)


class TimedBackend:
    """The local backend, with each call's time written down (the engine sees the same backend)."""

    def __init__(self, inner: ModelBackend) -> None:
        self.inner = inner
        self.lock: threading.Lock = inner.lock
        self.calls: list[Call] = []

    @property
    def info(self) -> ModelInfo:
        return self.inner.info

    def generate(
        self, prompt: Prompt, spec: GenerationSpec, cancel: CancelFlag | None = None, start: str = ""
    ) -> Generation:
        started = time.perf_counter()
        generation = self.inner.generate(prompt, spec, cancel, start)
        if spec.max_tokens > 0:
            ms = (time.perf_counter() - started) * 1000
            kind = "start" if start else "greedy" if spec.temperature <= 0 else "sampled"
            self.calls.append(
                Call("generate", ms, generation.tokens_generated, generation.stop_reason, text=kind)
            )
        return generation

    def score(self, prompt: Prompt, continuation: str, ends: bool) -> float | None:
        started = time.perf_counter()
        found = self.inner.score(prompt, continuation, ends)
        ms = (time.perf_counter() - started) * 1000
        self.calls.append(Call("score", ms, value=found, text=continuation))
        return found

    def prompt_cost(self, prompt: Prompt) -> PromptCost:
        try:
            return self.inner.prompt_cost(prompt)
        except AttributeError:  # a token model without prompt_cost yet: warmed, nothing to evaluate
            return PromptCost(0, None)

    def forget_prompt(self) -> None:
        self.inner.forget_prompt()

    def close(self) -> None:
        pass


@dataclass
class Row:
    arm: str
    task: int
    total_ms: float
    generate_ms: list[float]
    score_ms: float
    generated: int  # generations run
    checked: int  # checked candidates offered to the ranking
    scored: int
    finished: bool
    not_greedy: bool  # the shown suggestion is not the greedy generation's
    shown: str
    exact: bool
    similarity: float
    lines_similarity: float
    stops: list[str] = field(default_factory=list)
    winner: int = -1  # the generation shown (0: greedy)
    confidence: float = float("nan")  # the greedy generation's mean log-probability per token
    tokens: list[int] = field(default_factory=list)  # tokens of each generation
    greedy_exact: bool = False  # what greedy only shows (its first candidate), judged alike
    greedy_similarity: float = 0.0
    # every checked candidate: its generation (0: greedy), its cut (0: the longest), first line, score
    candidates: list[dict[str, Any]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # each generation's kind: greedy, start, sampled
    truth: list[str] = field(default_factory=list)


class _Observed(CompletionEngine):
    """The engine, noting what the ranking was given and what it planned (the bench's only window into it)."""

    def __init__(self, options: CompletionOptions) -> None:
        super().__init__(options)
        self.checked = 0
        self.planned = 0
        self.greedy_texts: set[str] = set()
        self.backend: TimedBackend | None = None
        self.greedy_first = ""
        self.generations: list[Generation] = []
        self.candidates: list[dict[str, Any]] = []
        self.winner = -1  # which generation the shown suggestion came from (0: greedy; -1: none)
        self.confidence = float("nan")  # the greedy generation's mean log-probability per token

    def _ranked(
        self, model: Any, prompt: Any, text: Any, found: Any, deadline: Any, cancel: Any, *more: Any
    ) -> Any:
        self.checked = len(found)
        generations = self.generations  # in the order they ran: 0 is the greedy one
        if generations:
            first = generations[0]
            self.greedy_texts = {c.suggestion.text for c in found if c.generation is first}
            self.greedy_first = found[0].suggestion.text if found and found[0].generation is first else ""
            self.confidence = first.logprob / max(1, first.tokens_generated)
        calls = len(self.backend.calls) if self.backend is not None else 0
        ranked = super()._ranked(model, prompt, text, found, deadline, cancel, *more)
        made = {c.text: c for c in self.backend.calls[calls:]} if self.backend is not None else {}
        cuts: dict[int, int] = {}
        self.candidates = []
        for candidate in found:
            generation = next(i for i, g in enumerate(generations) if g is candidate.generation)
            cut = cuts.get(generation, 0)
            cuts[generation] = cut + 1
            suggestion = candidate.suggestion
            head = engine_module._suffix_head(text, suggestion.replace_end)
            call = made.get(prompt.healed + suggestion.text + head)
            self.candidates.append(
                {
                    "generation": generation,
                    "cut": cut,
                    "text": suggestion.text,
                    "score": None if call is None else call.value,
                    "ms": None if call is None else call.ms,
                    "shown": bool(ranked) and candidate is ranked[0],
                    "tokens": self._tokens(prompt.healed + suggestion.text),
                    "head_tokens": self._tokens(head),
                }
            )
        if ranked:
            self.winner = next(i for i, g in enumerate(generations) if g is ranked[0].generation)
        return ranked

    def _tokens(self, text: str) -> int:
        inner = self.backend.inner if self.backend is not None else None
        if not isinstance(inner, LocalBackend):
            return 0
        return len(inner.model.tokenize([PromptPiece(text, special=False)], add_bos=False))

    def _generate(self, *args: Any, **kwargs: Any) -> Generation:
        generation = super()._generate(*args, **kwargs)
        self.generations.append(generation)
        return generation

    def _candidate_count(self, request: CompletionRequest) -> int:
        self.planned = super()._candidate_count(request)
        return self.planned


def run_arm(
    arm: str, number: int, task: BlankTask, model: ModelSession, candidates: int, budget_ms: int, legacy: bool
) -> Row:
    engine = _Observed(CompletionOptions(candidates=candidates, time_budget_ms=budget_ms))
    backend = TimedBackend(LocalBackend(model))
    engine.model = backend
    engine.backend = backend
    request = CompletionRequest(task.text, task.offset, language_id="python", path=task.path)
    limits = engine_module.RANKING_LIMITS
    if legacy:
        engine_module.RANKING_LIMITS = limits.off()
    try:
        engine.warm(request)
        backend.calls.clear()
        started = time.perf_counter()
        completion = engine.complete(request)
        total_ms = (time.perf_counter() - started) * 1000
    finally:
        engine_module.RANKING_LIMITS = limits
    generations = [call for call in backend.calls if call.kind == "generate"]
    scores = [call for call in backend.calls if call.kind == "score"]
    shown = completion.text if completion else ""
    lines = [line.strip() for line in shown.split("\n")] if shown else [""]
    cut_short = any(call.stop in ("deadline", "cancelled") for call in generations)
    limits = engine_module.RANKING_LIMITS.off() if legacy else engine_module.RANKING_LIMITS
    sure = bool(generations) and limits.confident is not None and engine.confidence >= limits.confident
    all_ran = len(generations) >= engine.planned or sure  # a confident greedy one stops the rest on purpose
    finished = all_ran and not cut_short and (engine.checked <= 1 or len(scores) >= engine.checked)
    return Row(
        arm=arm,
        task=number,
        total_ms=total_ms,
        generate_ms=[call.ms for call in generations],
        score_ms=sum(call.ms for call in scores),
        generated=len(generations),
        checked=engine.checked,
        scored=len(scores),
        finished=finished,
        not_greedy=bool(shown) and shown not in engine.greedy_texts,
        shown=shown,
        exact=lines[0] == task.truth[0],
        similarity=_edit_similarity(lines[0], task.truth[0]),
        lines_similarity=_edit_similarity("\n".join(lines), "\n".join(task.truth[: len(lines)])),
        stops=[call.stop for call in generations],
        winner=engine.winner,
        confidence=engine.confidence,
        tokens=[call.tokens for call in generations],
        greedy_exact=first_line(engine.greedy_first) == task.truth[0],
        greedy_similarity=_edit_similarity(first_line(engine.greedy_first), task.truth[0]),
        candidates=engine.candidates,
        kinds=[call.text for call in generations],
        truth=task.truth,
    )


def first_line(text: str) -> str:
    return text.split("\n")[0].strip()


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(rows: list[Row]) -> dict[str, float]:
    totals = [row.total_ms for row in rows]
    first = [row.generate_ms[0] for row in rows if row.generate_ms]
    later = [ms for row in rows for ms in row.generate_ms[1:]]
    return {
        "n": len(rows),
        "total_p50": _p(totals, 0.5),
        "total_p90": _p(totals, 0.9),
        "over_budget": statistics.mean(row.total_ms > budget_of(row.arm) for row in rows),
        # a ranked answer in time: two candidates or more scored, the answer within the budget (+50 ms: the
        # deadline is looked at between tokens)
        "ranked_in_time": statistics.mean(
            row.scored >= 2 and row.total_ms <= budget_of(row.arm) + 50 for row in rows
        ),
        "greedy_gen_p50": _p(first, 0.5),
        "later_gen_p50": _p(later, 0.5),
        "score_p50": _p([row.score_ms for row in rows], 0.5),
        "generated": statistics.mean(row.generated for row in rows),
        "checked": statistics.mean(row.checked for row in rows),
        "scored": statistics.mean(row.scored for row in rows),
        "finished": statistics.mean(row.finished for row in rows),
        "not_greedy": statistics.mean(row.not_greedy for row in rows),
        "shown": statistics.mean(bool(row.shown) for row in rows),
        "exact": statistics.mean(row.exact for row in rows),
        "similarity": statistics.mean(row.similarity for row in rows),
        "lines_similarity": statistics.mean(row.lines_similarity for row in rows),
    }


def budget_of(arm: str) -> float:
    return 20_000.0 if arm.endswith("20s") else 2_000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--legacy", action="store_true", help="also the ranking without its budget rules")
    parser.add_argument("--model", default="", help="GGUF path (default: the embedded default model)")
    parser.add_argument("--threads", type=int, default=0, help="model threads (0: all cores)")
    parser.add_argument("--json", default="", help="write every row and the summaries here")
    parser.add_argument("--verbose", action="store_true", help="print each task's rows")
    parser.add_argument("--arms", default="", help="only these arms (comma-separated names)")
    parser.add_argument("--long-ms", type=int, default=20_000, help="the long budget (arms named 20s)")
    args = parser.parse_args(argv)
    tasks = blank_tasks(args.samples, args.seed)
    options = ModelOptions(path=args.model, threads=args.threads)
    model = ModelSession.load(options, model_path_for(options))
    print(
        f"model: {model.info.name} ({model.info.family}); {len(tasks)} blank lines of the stdlib, "
        f"seed {args.seed}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    default = CompletionOptions()
    arms: dict[str, tuple[int, int, bool]] = {
        "greedy 2s": (1, default.time_budget_ms, False),
        "ranked 2s": (default.candidates, default.time_budget_ms, False),
        "ranked 20s": (default.candidates, args.long_ms, False),
    }
    if args.legacy:
        arms["legacy 2s"] = (default.candidates, default.time_budget_ms, True)
        arms["legacy 20s"] = (default.candidates, args.long_ms, True)
    names = [arm for arm in arms if not args.arms or arm in args.arms.split(",")]
    rows: list[Row] = []
    for number, task in enumerate(tasks):
        order = names[number % len(names) :] + names[: number % len(names)]
        for arm in order:
            candidates, budget, legacy = arms[arm]
            row = run_arm(arm, number, task, model, candidates, budget, legacy)
            rows.append(row)
            if args.verbose:
                print(
                    f"  {number:2} {arm:10} {row.total_ms:6.0f} ms gen {[round(m) for m in row.generate_ms]} "
                    f"{row.stops} score {row.score_ms:5.0f} ms ({row.scored}/{row.checked}) "
                    f"{'F' if row.finished else '-'} w{row.winner} c{row.confidence:.2f} {row.tokens} "
                    f"{row.shown.split(chr(10))[0][:40]!r} "
                    f"| {task.truth[0][:40]!r}",
                    flush=True,
                )
        print(f"{number + 1}/{len(tasks)}", file=sys.stderr, flush=True)
    model.close()
    table = {arm: summary([row for row in rows if row.arm == arm]) for arm in names}
    header = (
        f"{'arm':11} {'p50 ms':>7} {'p90 ms':>7} {'>budget':>7} {'greedy':>7} {'later':>7} {'score':>6} "
        f"{'gen':>4} {'chk':>4} {'scored':>6} {'ranked':>6} {'done':>5} {'!greedy':>7} {'exact':>6} {'edit':>6} "
        f"{'lines':>6}"
    )
    print(header)
    for arm, s in table.items():
        print(
            f"{arm:11} {s['total_p50']:7.0f} {s['total_p90']:7.0f} {s['over_budget']:7.0%} "
            f"{s['greedy_gen_p50']:7.0f} {s['later_gen_p50']:7.0f} {s['score_p50']:6.0f} "
            f"{s['generated']:4.1f} {s['checked']:4.1f} {s['scored']:6.1f} {s['ranked_in_time']:6.0%} "
            f"{s['finished']:5.0%} "
            f"{s['not_greedy']:7.0%} {s['exact']:6.1%} {s['similarity']:6.3f} {s['lines_similarity']:6.3f}"
        )
    print(
        "ms: p50 of the request, of the greedy generation, of each later generation, of all scoring; gen/chk/"
        "scored: generations run, checked candidates, scores (means); ranked: two or more scored and the "
        "answer within the budget; done: the ranking finished; !greedy: a non-greedy suggestion shown; "
        "exact/edit: the shown first line against the real one; lines: edit similarity of all shown lines "
        "against the real code there"
    )
    for arm in names:  # how often another candidate won, by how sure the greedy one was
        done = [row for row in rows if row.arm == arm and row.finished and row.checked > 1]
        sure = [row for row in done if row.confidence >= CONFIDENT]
        unsure = [row for row in done if row.confidence < CONFIDENT]
        if done:
            print(
                f"{arm}: another candidate won {sum(r.winner > 0 for r in sure)} of {len(sure)} finished rankings "
                f"where the greedy one's mean log-probability was >= {CONFIDENT}, "
                f"{sum(r.winner > 0 for r in unsure)} of {len(unsure)} below"
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"summary": table, "rows": [asdict(row) for row in rows]}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
