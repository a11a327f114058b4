"""Speculative decoding: greedy tokens/s with and without drafts, same session, same run, same text.

Loads the embedded default model once (``ModelOptions()``, all cores) and generates ``--tokens`` greedy tokens
after each prompt three times per round: plain (``session.speculation = None``: one token per decode, the loop
as it always was), with drafts as the worker runs them (``auto``: prompt lookup verified in batches, the
session's record deciding the draft length and pausing drafting where it does not pay), and with a fresh
record for every generation (``fresh``: drafting on from the start, what drafts gain or cost before the
off-switch has seen anything). The order rotates by round, so a change in machine load hits all alike. Before each
timed run the prompt is put in the KV cache, so the time is generation only (one prompt token re-evaluated).

Prompts: *repetitive* code (a table of similar calls, a dict of similar entries, a run of similar tests, a
block of argparse options: files with many similar lines) and *ordinary* code (stdlib files cut at a line, as
the typing replay picks them). The text of all arms must be the same; a difference is printed and makes the
exit status 1.

Columns per prompt: tokens/s plain, auto and fresh (medians over rounds), the speed-ups, the speed-ups in
tokens per CPU-second of this process (less moved by other processes on a shared machine), and what the fresh
arm's drafts came to: verify batches, draft tokens accepted of drafted, accepted per batch, and tokens decoded
again one by one at near ties (``redone``: llama.cpp rounds batches differently from one-token decodes, so
where the best token leads by less than ``completion.speculative.SAFE_MARGIN`` the cache is rebuilt as the
plain loop has it); at the end the session's record (break-even: accepted tokens per batch at which a batch
costs what its tokens save). Numbers only; nothing is asserted except the identical text. On a busy machine
(the load average is printed first) expect noise.

    .venv/bin/python bench/speculative_bench.py [--rounds 3] [--tokens 64] [--files 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from typing_replay import DEFAULT_FILES, pick_targets  # bench/ is on sys.path

from completion.backend import Generation, GenerationSpec
from completion.fim import PromptPiece
from completion.model import ModelOptions, ModelSession, model_path_for
from completion.speculative import Speculation

ARMS = ("plain", "auto", "fresh")


def repetitive_prompts() -> dict[str, str]:
    handlers = "".join(
        f'    registry.register("item_{n}", handle_item_{n}, priority={n})\n' for n in range(1, 25)
    )
    colors = "".join(
        f'    "{name}": Color(name="{name}", red={r}, green={g}, blue={b}),\n'
        for name, r, g, b in [
            ("black", 0, 0, 0),
            ("white", 255, 255, 255),
            ("red", 255, 0, 0),
            ("green", 0, 128, 0),
            ("blue", 0, 0, 255),
            ("yellow", 255, 255, 0),
            ("cyan", 0, 255, 255),
            ("magenta", 255, 0, 255),
            ("silver", 192, 192, 192),
            ("gray", 128, 128, 128),
            ("maroon", 128, 0, 0),
            ("olive", 128, 128, 0),
        ]
    )
    tests = "".join(
        f"def test_parse_{name}():\n    assert parse_value({text!r}) == {value!r}\n\n\n"
        for name, text, value in [
            ("zero", "0", 0),
            ("one", "1", 1),
            ("negative", "-5", -5),
            ("float", "2.5", 2.5),
            ("exponent", "1e3", 1000.0),
            ("true", "true", True),
            ("false", "false", False),
            ("null", "null", None),
        ]
    )
    options = "".join(
        f'    parser.add_argument("--{flag}", type={kind}, default={default!r}, help="{words}")\n'
        for flag, kind, default, words in [
            ("rounds", "int", 3, "rounds per prompt"),
            ("tokens", "int", 64, "tokens per generation"),
            ("files", "int", 3, "standard-library files"),
            ("seed", "int", 0, "random seed"),
            ("threads", "int", 0, "threads, 0 for all cores"),
            ("timeout", "float", 2.0, "seconds per request"),
            ("output", "str", "out.json", "where the numbers go"),
        ]
    )
    return {
        "table of calls": "def register_all(registry):\n" + handlers,
        "dict of entries": "COLORS = {\n" + colors,
        "similar tests": "from values import parse_value\n\n\n" + tests,
        "argparse options": "def build_parser():\n    parser = argparse.ArgumentParser()\n" + options,
    }


def ordinary_prompts(files: int) -> dict[str, str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    prompts = {}
    for path, line in pick_targets([stdlib / name for name in DEFAULT_FILES[:files]], 1, seed=0):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        prompts[f"{path.name}:{line + 1}"] = "".join(lines[max(0, line - 80) : line])
    return prompts


@dataclass
class Arm:
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    generations: list[Generation] = field(default_factory=list)

    def tokens_per_second(self, cpu: bool = False) -> float:
        times = self.cpu_seconds if cpu else self.seconds
        rates = [g.tokens_generated / s for g, s in zip(self.generations, times, strict=True) if s > 0]
        return statistics.median(rates) if rates else 0.0


def timed(session: ModelSession, prompt: list[int], tokens: int) -> tuple[Generation, float, float]:
    """A generation after ``prompt`` (already cached), its wall-clock and its CPU seconds."""
    with session.lock:
        session.generate(prompt, GenerationSpec(max_tokens=1))  # the prompt in the cache: time generation
        started, cpu_started = time.perf_counter(), time.process_time()
        generation = session.generate(prompt, GenerationSpec(max_tokens=tokens))
        return generation, time.perf_counter() - started, time.process_time() - cpu_started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per prompt and arm")
    parser.add_argument("--tokens", type=int, default=64, help="greedy tokens per generation")
    parser.add_argument("--files", type=int, default=3, help="standard-library files for ordinary code")
    args = parser.parse_args()

    one, five, fifteen = os.getloadavg()
    print(f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores")
    options = ModelOptions()
    session = ModelSession.load(options, model_path_for(options))
    speculation = session.speculation
    groups = {"repetitive": repetitive_prompts(), "ordinary": ordinary_prompts(args.files)}
    header = (
        f"{'prompt':<24}{'plain':>7}{'auto':>7}{'fresh':>7}  tok/s{'auto':>7}{'fresh':>7}"
        f"  cpu:{'auto':>6}{'fresh':>7}{'batches':>9}{'accepted':>10}{'per batch':>10}{'redone':>8}  same text"
    )
    different = 0
    for group, prompts in groups.items():
        print(f"\n{group} code ({args.tokens} tokens, {args.rounds} rounds, medians)\n{header}")
        totals = {arm: Arm() for arm in ARMS}
        for name, text in prompts.items():
            prompt = session.tokenize([PromptPiece(text, special=False)], add_bos=True)
            arms = {arm: Arm() for arm in ARMS}
            for round_ in range(args.rounds):
                for arm in ARMS[round_ % 3 :] + ARMS[: round_ % 3]:
                    session.speculation = {
                        "plain": None,
                        "auto": speculation,
                        "fresh": fresh_record(speculation),
                    }[arm]
                    generation, seconds, cpu_seconds = timed(session, prompt, args.tokens)
                    for record in (arms[arm], totals[arm]):
                        record.generations.append(generation)
                        record.seconds.append(seconds)
                        record.cpu_seconds.append(cpu_seconds)
            texts = {g.text for arm in ARMS for g in arms[arm].generations}
            if len(texts) > 1:
                different += 1
                print(f"  different texts for {name}:")
                for arm in ARMS:
                    print(f"  {arm}: {arms[arm].generations[0].text!r}")
            print(row(name, arms) + f"  {'yes' if len(texts) == 1 else 'NO'}")
        print(row("all " + group, totals))
    session.speculation = speculation
    print(f"\nsession record: {speculation.describe() if speculation else 'no speculation'}")
    session.close()
    if different:
        print(f"{different} prompts gave different text", file=sys.stderr)
    return 1 if different else 0


def fresh_record(speculation: Speculation | None) -> Speculation:
    """A new record that has already timed a one-token decode (so drafting starts at the first step)."""
    fresh = Speculation(with_draft_model=False)
    if speculation is not None and speculation.step_seconds is not None:
        fresh.timed_step(speculation.step_seconds)
    return fresh


def row(name: str, arms: dict[str, Arm]) -> str:
    plain, auto, fresh = (arms[arm].tokens_per_second() for arm in ARMS)
    cpu_plain, cpu_auto, cpu_fresh = (arms[arm].tokens_per_second(cpu=True) for arm in ARMS)
    drafts = arms["fresh"].generations
    batches = sum(g.verify_batches for g in drafts)
    drafted = sum(g.drafted_tokens for g in drafts)
    accepted = sum(g.accepted_tokens for g in drafts)
    per_batch = accepted / batches if batches else 0.0
    redone = sum(g.redecoded_tokens for g in drafts)
    return (
        f"{name[:23]:<24}{plain:>7.1f}{auto:>7.1f}{fresh:>7.1f}  x{'':<4}"
        f"{auto / plain if plain else 0:>6.2f}{fresh / plain if plain else 0:>7.2f}"
        f"  x{cpu_auto / cpu_plain if cpu_plain else 0:>7.2f}{cpu_fresh / cpu_plain if cpu_plain else 0:>7.2f}"
        f"{batches:>9}{f'{accepted}/{drafted}':>10}{per_batch:>10.2f}{redone:>8}"
    )


if __name__ == "__main__":
    sys.exit(main())
