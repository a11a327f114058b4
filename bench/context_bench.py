"""Parse context on and off: does showing the model the enclosing scopes, imports and referenced definitions
that lie above its prefix window help it complete a line? (prints numbers; never run in CI)

Tasks: lines of Python's own standard library inside a class or function whose header starts more than
``--prefix-chars`` characters above the line, so the header is out of the prompt's prefix window. The line's
code is deleted (its indentation kept) and completed by the same engine and model with
``completion.parseContext`` on and off, one greedy candidate, single-line, same run, fixed sample.
Reports exact match of the completed line, edit similarity, prompt tokens, and the tasks one arm gets
right that the other does not (sign test).

    .venv/bin/python bench/context_bench.py --samples 100 --seed 1
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from crossfile_bench import _edit_similarity
from humaneval_infill import sign_test_p

from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.model import ModelOptions, ModelSession, model_path_for
from syntax.document import SyntaxDocument
from syntax.outline import enclosing_definitions

LINES_PER_FILE = 2
T = TypeVar("T")


@dataclass(frozen=True)
class LineTask:
    path: str
    text: str  # the file with the line's code deleted
    offset: int  # after the line's indentation
    truth: str


def stdlib_samples(
    seed: int, max_chars: int | None = None
) -> Iterator[tuple[Path, str, SyntaxDocument, Iterator[tuple[int, str]]]]:
    """The standard library's top-level Python files in a seeded order (readable ones, at most ``max_chars``
    long), each with 40 of its lines drawn at random: (path, text, its parse, (line start, line) pairs)."""
    rng = random.Random(seed)
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    rng.shuffle(files)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if max_chars is not None and len(text) > max_chars:
            continue
        starts = [0, *(i + 1 for i, char in enumerate(text) if char == "\n")]
        picks = rng.sample(range(len(starts) - 1), min(len(starts) - 1, 40))
        lines = ((starts[index], text[starts[index] : starts[index + 1]].rstrip("\n")) for index in picks)
        yield path, text, SyntaxDocument(text, "python"), lines


def sampled_tasks(
    seed: int,
    count: int,
    task_at: Callable[[Path, str, SyntaxDocument, int, str], T | None],
    max_chars: int | None = None,
) -> list[T]:
    """Up to ``count`` tasks from ``stdlib_samples``, at most ``LINES_PER_FILE`` a file: ``task_at(path, text,
    parse, line start, line)`` makes one of a drawn line, or None where the line does not fit the bench."""
    tasks: list[T] = []
    for path, text, document, lines in stdlib_samples(seed, max_chars):
        found = 0
        for start, line in lines:
            task = task_at(path, text, document, start, line)
            if task is None:
                continue
            tasks.append(task)
            found += 1
            if found >= LINES_PER_FILE or len(tasks) >= count:
                break
        if len(tasks) >= count:
            break
    return tasks


def line_tasks(count: int, seed: int, prefix_chars: int) -> list[LineTask]:
    """Lines whose enclosing class/function header is out of a ``prefix_chars`` window (fixed sample)."""

    def task_at(path: Path, text: str, document: SyntaxDocument, start: int, line: str) -> LineTask | None:
        code = line.strip()
        if len(code) < 12 or code.startswith(("#", '"', "'")):
            return None
        cursor = start + len(line) - len(line.lstrip())
        scopes = enclosing_definitions(document, cursor)
        if not any(cursor - scope.start > prefix_chars for scope in scopes):
            return None
        return LineTask(path.name, text[:cursor] + text[start + len(line) :], cursor, code)

    return sampled_tasks(seed, count, task_at)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--prefix-chars", type=int, default=CompletionOptions().prefix_chars)
    parser.add_argument("--model", default="", help="GGUF path (default: the embedded default model)")
    args = parser.parse_args(argv)
    tasks = line_tasks(args.samples, args.seed, args.prefix_chars)
    options = ModelOptions(path=args.model)
    model = ModelSession.load(options, model_path_for(options))
    print(f"model: {model.info.name} ({model.info.family}); {len(tasks)} stdlib lines, seed {args.seed}")
    arms = {"context": True, "no context": False}
    rows: dict[str, list[tuple[bool, float, int, float]]] = {arm: [] for arm in arms}
    for number, task in enumerate(tasks, 1):
        for arm, parse_context in arms.items():
            engine = CompletionEngine(
                CompletionOptions(
                    parse_context=parse_context,
                    candidates=1,
                    multiline="never",
                    time_budget_ms=120_000,
                    prefix_chars=args.prefix_chars,
                    cold_prompt_ms=0,  # quality with the whole prompt: every sample is a cold one
                )
            )
            engine.model = model
            started = time.perf_counter()
            completion = engine.complete(
                CompletionRequest(task.text, task.offset, language_id="python", path=task.path)
            )
            elapsed = time.perf_counter() - started
            produced = (completion.text if completion else "").split("\n")[0].strip()
            rows[arm].append(
                (
                    produced == task.truth,
                    _edit_similarity(produced, task.truth),
                    completion.tokens_prompt if completion else 0,
                    elapsed,
                )
            )
        if number % 10 == 0:
            print(f"{number}/{len(tasks)}", file=sys.stderr, flush=True)
    for arm, results in rows.items():
        print(
            f"{arm:11} exact {statistics.mean(r[0] for r in results):.1%}  "
            f"edit similarity {statistics.mean(r[1] for r in results):.3f}  "
            f"prompt tokens p50 {statistics.median(r[2] for r in results):.0f}  "
            f"latency p50 {statistics.median(r[3] for r in results) * 1000:.0f} ms"
        )
    wins = sum(a[0] and not b[0] for a, b in zip(rows["context"], rows["no context"], strict=True))
    losses = sum(b[0] and not a[0] for a, b in zip(rows["context"], rows["no context"], strict=True))
    print(
        f"context right where no context is wrong: {wins}, the reverse: {losses}; "
        f"sign test p = {sign_test_p(wins, losses):.3g}"
    )
    model.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
