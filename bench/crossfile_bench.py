"""Cross-file benchmark for the workspace index (prints numbers; never run in CI).

1. scale:   time and peak memory to index a large tree (CPython's stdlib plus its site-packages by default).
2. update:  latency from a file write on disk to the index answering with the new definition (watchdog),
            and from a `file_changed` call (the LSP didChangeWatchedFiles path).
3. quality: cross-file completion on packages nobody here wrote (pygls and watchdog from .venv, copied to a
            temporary root): lines that use a symbol imported from another file of the package are cut at the
            symbol and completed with and without the index, same model, same run, same fixed sample.
            Reports exact match and edit similarity of the completed line.

4. retrieval: model-free, on all such lines: how often the retrieved context holds the cut symbol's
            definition.
5. members: member access on real multi-file code (pygls, watchdog and the standard library's email, json
            and asyncio packages, copied to a temporary root): lines with ``module.member`` where ``module``
            is imported from the same tree, cut right after the dot, completed with the raw model (no
            constraint, no audit), with the audit of names only (the default before constrained decoding)
            and with constrained decoding (today's default), same model, same run, same sample. Reports
            what is shown, exact match and edit similarity of the line, whether the member is right, and
            the share of shown suggestions whose member is defined nowhere.

Usage: .venv/bin/python bench/crossfile_bench.py [scale|update|retrieval|quality|members|all] [--samples N]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import random
import shutil
import statistics
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from completion.workspace.index import WorkspaceIndex
from completion.workspace.options import IndexOptions
from completion.workspace.resolve import PathTable, resolve_module

SITE_PACKAGES = Path(__file__).resolve().parent.parent / ".venv/lib/python3.11/site-packages"
QUALITY_PACKAGES = ("pygls", "watchdog")
STDLIB_PACKAGES = ("email", "json", "asyncio")


def _memory_kib(field: str) -> int:
    """VmRSS / VmHWM of this process from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):  # writing 5 resets VmHWM to the current RSS (Linux >= 4.0)
        Path("/proc/self/clear_refs").write_text("5")


def bench_scale(roots: list[str]) -> None:
    print(f"== scale: indexing {roots}")
    _reset_peak()
    rss_before = _memory_kib("VmRSS")
    started = time.perf_counter()
    index = WorkspaceIndex(roots, IndexOptions(watch=False, max_files=20000))
    index.start()
    index.wait_idle(3600)
    elapsed = time.perf_counter() - started
    stats = index.stats()
    peak = _memory_kib("VmHWM") - rss_before
    held = _memory_kib("VmRSS") - rss_before
    print(
        f"files={stats['files']} definitions={stats['definitions']} chunks={stats['chunks']} "
        f"time={elapsed:.1f}s ({stats['files'] / elapsed:.0f} files/s) "
        f"peak_rss_delta={peak / 1024:.0f} MiB rss_held={held / 1024:.0f} MiB"
    )
    query_path = os.path.join(roots[0], "json", "decoder.py")
    text = Path(query_path).read_text() if os.path.exists(query_path) else "import os\n"
    timings = []
    for offset in range(200, min(len(text), 20000), 997):
        start = time.perf_counter()
        index.retrieve(query_path, text, offset, 1500)
        timings.append((time.perf_counter() - start) * 1000)
    if timings:
        print(
            f"retrieve latency on that index (uncached, {len(timings)} cursors): "
            f"median={statistics.median(timings):.1f} ms max={max(timings):.1f} ms"
        )
    index.stop()


def _has_definition(index: WorkspaceIndex, name: str) -> bool:
    return bool(index.find_definitions(name))


def bench_update(runs: int = 15) -> None:
    print("== update latency")
    root = Path(tempfile.mkdtemp(prefix="index-update-"))
    for number in range(200):
        (root / f"module_{number}.py").write_text(f"def existing_{number}(x):\n    return x\n" * 20)
    index = WorkspaceIndex([str(root)], IndexOptions())
    index.start()
    index.wait_idle(120)
    for label, notify in (("watchdog (disk write)", False), ("file_changed() call", True)):
        latencies = []
        for run in range(runs):
            target = root / f"module_{run}.py"
            name = f"fresh_{'n' if notify else 'w'}_{run}"
            started = time.perf_counter()
            target.write_text(target.read_text() + f"\ndef {name}():\n    return 1\n")
            if notify:
                index.file_changed(str(target))
            if not index.wait_for(functools.partial(_has_definition, index, name), 30):
                print(f"  {label}: update {run} never arrived")
                continue
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        if latencies:
            print(
                f"{label}: median={statistics.median(latencies):.0f} ms "
                f"p90={latencies[int(len(latencies) * 0.9) - 1]:.0f} ms "
                f"max={latencies[-1]:.0f} ms (n={len(latencies)})"
            )
    index.stop()
    shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Sample:
    path: Path
    text: str  # the file with the rest of the masked line removed
    offset: int
    truth: str  # what was removed (the rest of the line from the symbol on)
    symbol: str


def _cross_file_samples(root: Path, count: int, seed: int = 0) -> list[Sample]:
    """Lines using a name imported from another file of the same package, cut where that name starts."""
    from syntax import outline
    from syntax.document import SyntaxDocument

    table = PathTable()
    files = sorted(root.rglob("*.py"))
    for path in files:
        table.add(str(path))
    candidates: list[Sample] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        document = SyntaxDocument(text, "python")
        imported: set[str] = set()
        import_lines: set[int] = set()
        for statement in outline.imports(document):
            import_lines.update(range(statement.line, statement.line + statement.text.count("\n") + 1))
            for module in statement.modules:
                found = resolve_module(
                    "python", module, statement.names, statement.text, str(path), table, [str(root)]
                )
                if any(other != str(path) for other in found):
                    imported.update(statement.names)
        if not imported:
            continue
        position = 0
        for number, line in enumerate(text.split("\n")):
            line_start, position = position, position + len(line) + 1
            if number in import_lines or line.lstrip().startswith(("#", "@", "def ", "class ")):
                continue
            for name in sorted(imported):
                column = _word_at(line, name)
                if column is None or len(line) - column < 4:
                    continue
                cut = line_start + column
                node = document.tree.root_node.descendant_for_byte_range(
                    document.byte_offset(cut), document.byte_offset(cut + len(name))
                )
                if node is None or node.type != "identifier":  # a word inside a string or comment
                    continue
                masked = text[:cut] + text[line_start + len(line) :]
                candidates.append(Sample(path, masked, cut, line[column:].rstrip(), name))
                break
    random.Random(seed).shuffle(candidates)
    return candidates[:count]


def _word_at(line: str, name: str) -> int | None:
    start = 0
    while (column := line.find(name, start)) >= 0:
        before = line[column - 1] if column else " "
        after = line[column + len(name)] if column + len(name) < len(line) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return column if column > 0 and line[:column].strip() else None
        start = column + 1
    return None


def _edit_similarity(first: str, second: str) -> float:
    """1 - Levenshtein distance / longer length."""
    if not first and not second:
        return 1.0
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, 1):
        current = [i]
        for j, b in enumerate(second, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return 1 - previous[-1] / max(len(first), len(second))


def bench_retrieval(samples: int) -> None:
    """Model-free: how often the retrieved context holds the definition of the symbol that was cut off."""
    root = Path(tempfile.mkdtemp(prefix="crossfile-"))
    for package in QUALITY_PACKAGES:
        shutil.copytree(SITE_PACKAGES / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    chosen = _cross_file_samples(root, samples)
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.start()
    index.wait_idle(600)
    hits = carried = 0
    sizes: list[int] = []
    timings: list[float] = []
    for sample in chosen:
        started = time.perf_counter()
        snippets = index.retrieve(str(sample.path), sample.text, sample.offset, 1500)
        timings.append((time.perf_counter() - started) * 1000)
        carried += bool(snippets)
        sizes.append(sum(len(snippet.text) for snippet in snippets))
        defines = (
            f"def {sample.symbol}",
            f"class {sample.symbol}",
            f"{sample.symbol} =",
            f"{sample.symbol}:",
        )
        hits += any(any(d in snippet.text for d in defines) for snippet in snippets)
    count = max(1, len(chosen))
    print(
        f"== retrieval ({len(chosen)} cut lines from {', '.join(QUALITY_PACKAGES)}): "
        f"definition of the cut symbol retrieved {hits / count:.1%}, any snippet {carried / count:.1%}, "
        f"mean context {statistics.mean(sizes or [0]):.0f} chars, "
        f"latency median {statistics.median(timings or [0]):.1f} ms"
    )
    index.stop()
    shutil.rmtree(root, ignore_errors=True)


def bench_quality(samples: int, model_path: str | None, verbose: bool = False) -> None:
    from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
    from completion.model import ModelOptions, ModelSession, model_path_for

    root = Path(tempfile.mkdtemp(prefix="crossfile-"))
    for package in QUALITY_PACKAGES:
        shutil.copytree(SITE_PACKAGES / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    chosen = _cross_file_samples(root, samples)
    print(f"== quality: {len(chosen)} masked lines from {', '.join(QUALITY_PACKAGES)} (seed 0)")
    options = ModelOptions(path=model_path or "")
    path = model_path_for(options)
    engine = CompletionEngine(
        CompletionOptions(
            multiline="never", time_budget_ms=120_000, debounce_ms=0, token_healing=False, cold_prompt_ms=0
        )
    )
    engine.set_model(ModelSession.load(options, path))
    print(f"model: {path.name}")
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.start()
    index.wait_idle(600)
    results: dict[str, list[tuple[bool, float, float, int]]] = {"without index": [], "with index": []}
    with_snippets = 0
    for sample in chosen:
        relative = str(sample.path.relative_to(root))
        for label, retriever in (("without index", None), ("with index", index)):
            engine.retriever = retriever
            engine.clear_cache()
            request = CompletionRequest(sample.text, sample.offset, uri=sample.path.as_uri(), path=relative)
            if retriever is not None and index.retrieve(relative, sample.text, sample.offset, 1500):
                with_snippets += 1
            started = time.perf_counter()
            completion = engine.complete(request, threading.Event())
            elapsed = time.perf_counter() - started
            produced = (completion.text if completion else "").split("\n")[0].rstrip()
            if verbose:
                print(f"  {label:14s} {relative}: {produced!r} (truth {sample.truth!r})", flush=True)
            results[label].append(
                (
                    produced == sample.truth,
                    _edit_similarity(produced, sample.truth),
                    elapsed,
                    completion.tokens_prompt if completion else 0,
                )
            )
    for label, rows in results.items():
        if not rows:
            continue
        print(
            f"{label:14s} exact={sum(r[0] for r in rows) / len(rows):.1%} "
            f"edit_sim={statistics.mean(r[1] for r in rows):.3f} "
            f"latency_median={statistics.median(r[2] for r in rows) * 1000:.0f} ms "
            f"prompt_tokens_median={statistics.median(r[3] for r in rows):.0f}"
        )
    print(f"samples whose prompt carried cross-file snippets: {with_snippets}/{len(chosen)}")
    index.stop()
    shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class MemberSample:
    path: Path
    text: str  # the file with the rest of the line after the dot removed
    offset: int  # right after the dot
    truth: str  # the rest of the line, from the member on
    receiver: str
    members: frozenset[str]  # what the index says the receiver has


def _member_tree() -> Path:
    root = Path(tempfile.mkdtemp(prefix="members-"))
    ignore = shutil.ignore_patterns("__pycache__", "test*")
    for package in QUALITY_PACKAGES:
        shutil.copytree(SITE_PACKAGES / package, root / package, ignore=ignore)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for package in STDLIB_PACKAGES:
        shutil.copytree(stdlib / package, root / package, ignore=ignore)
    return root


def _member_samples(root: Path, index: WorkspaceIndex, count: int, seed: int = 0) -> list[MemberSample]:
    """Lines with ``receiver.member`` (not in a string or comment) where the index knows every member of
    ``receiver`` and ``member`` is one of them, one per line, cut right after the dot."""
    import re

    from syntax.document import parse_text

    access = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\.([A-Za-z_]\w*)")
    found: list[MemberSample] = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        parsed = parse_text(text, "python")
        known: dict[str, frozenset[str] | None] = {}
        position = 0
        for line in text.split("\n"):
            line_start, position = position, position + len(line) + 1
            if line.lstrip().startswith(("import ", "from ", "#", "@")):
                continue
            for match in access.finditer(line):
                receiver, member = match.groups()
                if receiver in ("self", "cls"):
                    continue
                if receiver not in known:
                    known[receiver] = index.member_names(str(path), text, receiver, parsed)
                names = known[receiver]
                cut = line_start + match.start(2)
                node = parsed.tree.root_node.descendant_for_byte_range(
                    parsed.byte_offset(cut), parsed.byte_offset(cut + len(member))
                )
                if names is None or member not in names or node is None or node.type != "identifier":
                    continue
                masked = text[:cut] + text[line_start + len(line) :]
                found.append(
                    MemberSample(path, masked, cut, line[match.start(2) :].rstrip(), receiver, names)
                )
                break
    random.Random(seed).shuffle(found)
    return found[:count]


def bench_members(samples: int, model_path: str | None, verbose: bool = False) -> None:
    from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
    from completion.model import ModelOptions, ModelSession, model_path_for

    root = _member_tree()
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.start()
    index.wait_idle(900)
    chosen = _member_samples(root, index, samples)
    packages = ", ".join((*QUALITY_PACKAGES, *STDLIB_PACKAGES))
    print(f"== members: {len(chosen)} member accesses cut after the dot, from {packages} (seed 0)")
    options = ModelOptions(path=model_path or "")
    path = model_path_for(options)
    session = ModelSession.load(options, path)
    print(f"model: {path.name}")
    variants = {"raw model": (False, "allow"), "audit only": (False, "cut"), "constrained": (True, "cut")}
    engines = {}
    for label, (constrain, audit) in variants.items():
        engine = CompletionEngine(
            CompletionOptions(
                multiline="never",
                time_budget_ms=120_000,
                debounce_ms=0,
                constrain_names=constrain,
                cold_prompt_ms=0,
            )
        )
        engine.audit.unknown_names = audit
        engine.set_model(session)
        engine.retriever = index
        engines[label] = engine
    rows: dict[str, list[tuple[bool, bool, float, bool, bool, float]]] = {label: [] for label in variants}
    labels = list(engines)
    for number, sample in enumerate(chosen):
        # Interleaved, the first variant rotating: each pays the cold prompt of a new file as often.
        for label in labels[number % len(labels) :] + labels[: number % len(labels)]:
            engine = engines[label]
            engine.clear_cache()
            request = CompletionRequest(
                sample.text, sample.offset, sample.path.as_uri(), "python", str(sample.path)
            )
            started = time.perf_counter()
            completion = engine.complete(request, threading.Event())
            elapsed = time.perf_counter() - started
            produced = (completion.text if completion else "").split("\n")[0].rstrip()
            written = _leading_name(produced)
            truth_name = _leading_name(sample.truth)
            if verbose:
                print(f"  {label:12s} {sample.receiver}.{produced!r} (truth {sample.truth!r})", flush=True)
            rows[label].append(
                (
                    bool(produced),
                    produced == sample.truth,
                    _edit_similarity(produced, sample.truth),
                    bool(produced) and written == truth_name,
                    bool(produced) and written not in sample.members,
                    elapsed,
                )
            )
    for label, found in rows.items():
        count = max(1, len(found))
        shown = sum(row[0] for row in found)
        print(
            f"{label:12s} shown={shown / count:.1%} exact={sum(r[1] for r in found) / count:.1%} "
            f"edit_sim={statistics.mean(r[2] for r in found) if found else 0:.3f} "
            f"right_member={sum(r[3] for r in found) / count:.1%} "
            f"invented_member={sum(r[4] for r in found) / max(1, shown):.1%} of shown "
            f"latency_median={statistics.median(r[5] for r in found) * 1000 if found else 0:.0f} ms"
        )
    session.close()
    index.stop()
    shutil.rmtree(root, ignore_errors=True)


def _leading_name(text: str) -> str:
    end = 0
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return text[:end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "part",
        nargs="?",
        default="all",
        choices=["scale", "update", "retrieval", "quality", "members", "all"],
    )
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--model", help="GGUF model (default: the embedded Gemma 3 270M)")
    parser.add_argument("--roots", nargs="*", help="trees for the scale part")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every completion")
    args = parser.parse_args()
    stdlib = sysconfig.get_paths()["stdlib"]
    if args.part in ("scale", "all"):
        bench_scale(
            args.roots or [stdlib, sysconfig.get_paths()["purelib"].replace(sys.prefix, sys.base_prefix)]
        )
    if args.part in ("update", "all"):
        bench_update()
    if args.part in ("retrieval", "all"):
        bench_retrieval(args.samples * 100)
    if args.part in ("quality", "all"):
        bench_quality(args.samples, args.model, args.verbose)
    if args.part in ("members", "all"):
        bench_members(args.samples, args.model, args.verbose)


if __name__ == "__main__":
    main()
