"""Benchmark of syntax-error fixes: inject one error into real source files, diagnose, propose, measure.

Sources nobody here wrote: the Python standard library, JavaScript from the npm that ships with node, and
TypeScript from a package fetched with ``npm pack`` (``--ts-dir``, e.g. ``cd /tmp && npm pack zod@3 && tar xzf
zod-*.tgz`` gives /tmp/package/src); Go and Rust sources are used when their toolchains ship them.

Per error kind it prints: detected (a diagnostic appears), fixed (the preferred fix, applied as a user would
to each remaining diagnostic up to three times, leaves the file as clean as before), exact (the preferred fix
restores the original text), any-exact (one of the offered fixes does), offered fixes, false fixes (counted
over every offered fix, not only the first: after it, in a fresh parse, the targeted error is still there,
another error appears, or an error is left in the statement or on the lines it repairs: must be 0), left (an
offered fix after which the file still has some error elsewhere: information, the spec allows it), latency
p50/p95 of ``propose_fixes`` and the share of rule- and model-made preferred fixes. Rule-based only unless
``--model``.

    .venv/bin/python bench/fix_bench.py --count 400 --seed 7
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tree_sitter import QueryCursor

from syntax.diagnostics import SyntaxDiagnostic, diagnose
from syntax.document import ParsedText, parse_text
from syntax.fixes import CandidateGenerator, Fix, apply_edits, propose_fixes, repaired_region
from syntax.languages import query

MAX_FILE_CHARS = 60_000
_BRACKETS = ("(", ")", "[", "]", "{", "}")
_QUOTES = ('"', "'", "`", "string_start", "string_end")
_KEYWORDS = {
    "python": {
        "def",
        "return",
        "class",
        "import",
        "from",
        "for",
        "while",
        "if",
        "elif",
        "else",
        "with",
        "try",
        "except",
        "lambda",
        "yield",
        "pass",
        "raise",
        "not",
        "and",
        "in",
        "is",
        "None",
        "True",
    },
    "javascript": {
        "function",
        "return",
        "const",
        "let",
        "var",
        "if",
        "else",
        "for",
        "while",
        "new",
        "class",
        "typeof",
        "throw",
        "async",
        "await",
        "switch",
        "case",
        "this",
        "null",
    },
}
_KEYWORDS["typescript"] = _KEYWORDS["javascript"] | {"interface", "type", "export", "import", "extends"}
_KEYWORDS["go"] = {
    "func",
    "return",
    "if",
    "else",
    "for",
    "range",
    "var",
    "const",
    "type",
    "struct",
    "package",
}
_KEYWORDS["rust"] = {
    "fn",
    "let",
    "mut",
    "return",
    "if",
    "else",
    "match",
    "impl",
    "struct",
    "pub",
    "use",
    "for",
}


@dataclass
class Sample:
    language: str
    path: str
    text: str


@dataclass
class KindStats:
    injected: int = 0
    detected: int = 0
    offered: int = 0
    fixed: int = 0
    exact: int = 0
    any_exact: int = 0
    false_fixes: int = 0
    left_broken: int = 0
    fixes_offered: int = 0
    latencies: list[float] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _files(root: Path, pattern: str, exclude: Callable[[Path], bool] = lambda _: False) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob(pattern) if p.is_file() and not exclude(p))


def collect_sources(ts_dir: Path | None) -> tuple[dict[str, list[Path]], list[str]]:
    """Source files per language, and notes on languages that have none here."""
    notes: list[str] = []
    stdlib = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = {"python": sorted(stdlib.glob("*.py"))}
    found["javascript"] = _files(Path("/usr/lib/node_modules/npm"), "*.js", lambda p: ".min." in p.name)
    if ts_dir is not None:
        found["typescript"] = _files(ts_dir, "*.ts", lambda p: p.name.endswith(".d.ts"))
    else:
        notes.append("typescript: no --ts-dir given (npm pack a package with .ts sources)")
    go = shutil.which("go")
    if go:
        goroot = subprocess.run(
            [go, "env", "GOROOT"], capture_output=True, text=True, check=False
        ).stdout.strip()
        found["go"] = _files(Path(goroot) / "src" / "strings", "*.go") + _files(
            Path(goroot) / "src" / "sort", "*.go"
        )
    else:
        notes.append("go: no Go toolchain installed here")
    rust_sources = [p for p in Path.home().glob(".rustup/toolchains/*/lib/rustlib/src") if p.is_dir()]
    if rust_sources:
        found["rust"] = _files(rust_sources[0] / "rust" / "library" / "alloc" / "src", "*.rs")
    else:
        notes.append("rust: toolchains have no rust-src component here")
    return {k: v for k, v in found.items() if v}, notes


def _tokens(parsed: ParsedText) -> list[tuple[str, int, int]]:
    """(type, start, end) of every token, in str offsets."""
    found = []
    cursor = parsed.tree.walk()
    while True:
        node = cursor.node
        assert node is not None
        if node.child_count == 0 and node.end_byte > node.start_byte:
            found.append((node.type, parsed.char_offset(node.start_byte), parsed.char_offset(node.end_byte)))
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return found


def _misspell(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    choice = rng.randrange(3)
    if choice == 0 and len(word) > 2:
        return word[:i] + word[i + 1 :]  # drop a letter
    if choice == 1 and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap neighbours
    return word[:i] + word[i] + word[i:]  # double a letter


KINDS = (  # the errors inject() makes; break_indent only where indentation is syntax (Python)
    "delete_bracket",
    "duplicate_bracket",
    "delete_colon",
    "delete_comma",
    "duplicate_comma",
    "delete_quote",
    "misspell_keyword",
    "break_indent",
)


def inject(kind: str, sample: Sample, parsed: ParsedText, rng: random.Random) -> str | None:
    """The text with one error of ``kind``, or None when the file has no place for it."""
    text = sample.text
    tokens = _tokens(parsed)
    wanted: dict[str, Callable[[str], bool]] = {
        "delete_bracket": lambda t: t in _BRACKETS,
        "duplicate_bracket": lambda t: t in _BRACKETS,
        "delete_colon": lambda t: t == ":",
        "delete_comma": lambda t: t == ",",
        "duplicate_comma": lambda t: t == ",",
        "delete_quote": lambda t: t in _QUOTES,
        "misspell_keyword": lambda t: t in _KEYWORDS.get(sample.language, set()),
    }
    if kind == "break_indent":
        return _break_indent(text, rng)
    places = [(s, e) for t, s, e in tokens if wanted[kind](t) and text[s:e] == text[s:e].strip()]
    if kind == "delete_quote":
        places = [(s, e) for s, e in places if text[e - 1 : e] in "\"'`"]
        places = [(e - 1, e) for _, e in places]
    if not places:
        return None
    start, end = rng.choice(places)
    if kind.startswith("duplicate"):
        return text[:end] + text[start:end] + text[end:]
    if kind == "misspell_keyword":
        return text[:start] + _misspell(text[start:end], rng) + text[end:]
    return text[:start] + text[end:]


def _break_indent(text: str, rng: random.Random) -> str | None:
    """Indent or dedent one indented code line by a couple of spaces (Python)."""
    lines = text.split("\n")
    indented = [
        i
        for i, line in enumerate(lines)
        if line.startswith("    ") and line.strip() and not line.strip().startswith(("#", ")", "]", "}"))
    ]
    if not indented:
        return None
    index = rng.choice(indented)
    lines[index] = (" " * rng.choice((1, 2))) + lines[index] if rng.random() < 0.5 else lines[index][2:]
    return "\n".join(lines)


def _fixed_text(
    text: str, language: str, fixes_for: Callable[[ParsedText, SyntaxDiagnostic], list[Fix]]
) -> bool:
    """Apply the top fix of the first remaining diagnostic up to three times; True when the file is clean."""
    for _ in range(3):
        parsed = parse_text(text, language)
        remaining = diagnose(parsed)
        if not remaining:
            return True
        fixes = fixes_for(parsed, remaining[0])
        if not fixes:
            return False
        text = apply_edits(text, _preferred(fixes).edits)
    return not diagnose(text, language)


def _preferred(fixes: list[Fix]) -> Fix:
    """The one fix marked preferred (what an editor's auto-fix applies); older fix lists: the first."""
    marked = [fix for fix in fixes if getattr(fix, "preferred", False)]
    if len(marked) > 1:
        raise AssertionError(f"{len(marked)} fixes of one diagnostic are marked preferred")
    return marked[0] if marked else fixes[0]


def _false_fix(parsed: ParsedText, before: list[SyntaxDiagnostic], fix: Fix) -> bool:
    """The targeted error is still there, an error appeared that was not there before, or (in a fresh parse)
    a diagnostic, ERROR or MISSING node is left in what the fix repairs: its statement and edited lines."""
    fixed = parse_text(apply_edits(parsed.text, fix.edits), parsed.language)
    after = diagnose(fixed)
    edit = fix.edits[0]
    delta = len(edit.new_text) - (edit.end - edit.start)
    known = {
        (d.message, d.start if d.start < edit.start else d.start + delta)
        for d in before
        if d != fix.diagnostic
    }
    if any((d.message, d.start) not in known for d in after):
        return True
    zones = repaired_region(fixed, edit.start, edit.start + len(edit.new_text))
    spans = [(d.start, d.end) for d in after] + _error_nodes(fixed)
    return any(_meets(start, end, low, high) for start, end in spans for low, high in zones)


def _error_nodes(parsed: ParsedText) -> list[tuple[int, int]]:
    """str spans of every ERROR and MISSING node (the nodes, not just the token a diagnostic names)."""
    errors_query = query(parsed.language, "errors")
    if errors_query is None or not parsed.tree.root_node.has_error:
        return []
    captures = QueryCursor(errors_query).captures(parsed.tree.root_node)
    nodes = [*captures.get("error", []), *captures.get("missing", [])]
    return [(parsed.char_offset(n.start_byte), parsed.char_offset(n.end_byte)) for n in nodes]


def _meets(start: int, end: int, low: int, high: int) -> bool:
    return low <= start <= high if start == end else start < high and end > low


def _compiles(source: str) -> bool:
    try:
        compile(source, "<injected>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _generator(language: str) -> CandidateGenerator:
    """The default model behind the lead's engine (only for --model)."""
    from completion.default_model import default_model_path
    from completion.engine import CompletionEngine
    from completion.model import ModelOptions, ModelSession

    engine = CompletionEngine()
    engine.set_model(ModelSession.load(ModelOptions(), default_model_path()))

    def generate(prefix: str, suffix: str, n: int, max_tokens: int, time_budget_s: float) -> list[str]:
        return engine.infill_candidates(prefix, suffix, n, max_tokens, time_budget_s, language=language)

    return generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=400, help="injections in all")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", action="store_true", help="also use model candidates (default model)")
    parser.add_argument("--ts-dir", type=Path, default=None, help="folder with TypeScript sources")
    parser.add_argument("--budget", type=float, default=2.0, help="time budget per propose_fixes call (s)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    sources, notes = collect_sources(args.ts_dir)
    for note in notes:
        print(f"note: {note}")
    generators: dict[str, CandidateGenerator | None] = {}
    stats: dict[tuple[str, str], KindStats] = defaultdict(KindStats)
    languages = sorted(sources)
    attempts = 0
    done = 0
    while done < args.count and attempts < args.count * 20:
        attempts += 1
        language = languages[attempts % len(languages)]
        kind = rng.choice([k for k in KINDS if k != "break_indent" or language == "python"])
        path = rng.choice(sources[language])
        try:
            original = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if len(original) > MAX_FILE_CHARS or diagnose(original, language):
            continue
        sample = Sample(language, str(path), original)
        broken = inject(kind, sample, parse_text(original, language), rng)
        if broken is None or broken == original or (language == "python" and _compiles(broken)):
            continue  # no place for this error, or (Python) the "error" is still a valid program
        done += 1
        if args.model and language not in generators:
            generators[language] = _generator(language)
        generator = generators.get(language)
        entry = stats[(language, kind)]
        entry.injected += 1
        parsed = parse_text(broken, language)
        before = diagnose(parsed)
        if not before:
            continue
        entry.detected += 1
        started = time.perf_counter()
        fixes = propose_fixes(parsed, before[0], generator=generator, time_budget_s=args.budget)
        entry.latencies.append(time.perf_counter() - started)
        if not fixes:
            continue
        preferred = _preferred(fixes)
        entry.offered += 1
        entry.fixes_offered += len(fixes)
        entry.sources[preferred.source] += 1
        entry.false_fixes += sum(_false_fix(parsed, before, fix) for fix in fixes)
        entry.left_broken += sum(bool(diagnose(apply_edits(broken, f.edits), language)) for f in fixes)
        entry.exact += apply_edits(broken, preferred.edits) == original
        entry.any_exact += any(apply_edits(broken, fix.edits) == original for fix in fixes)

        def fixes_for(
            p: ParsedText, d: SyntaxDiagnostic, g: CandidateGenerator | None = generator
        ) -> list[Fix]:
            return propose_fixes(p, d, generator=g, time_budget_s=args.budget)

        entry.fixed += _fixed_text(apply_edits(broken, preferred.edits), language, fixes_for)
    _report(stats, args)
    return 0


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def _report(stats: dict[tuple[str, str], KindStats], args: argparse.Namespace) -> None:
    mode = "rule+model" if args.model else "rule-only"
    print(f"fix_bench: {mode}, seed {args.seed}, budget {args.budget}s, python {sys.version.split()[0]}")
    header = (
        "language",
        "kind",
        "n",
        "detect",
        "offer",
        "fixed",
        "exact",
        "anyexact",
        "fixes",
        "false",
        "left",
        "p50ms",
        "p95ms",
        "rule/model",
    )
    print("{:<11}{:<18}{:>5}{:>8}{:>8}{:>8}{:>8}{:>9}{:>6}{:>6}{:>6}{:>7}{:>7}  {}".format(*header))
    totals = KindStats()
    by_kind: dict[str, KindStats] = defaultdict(KindStats)
    by_language: dict[str, KindStats] = defaultdict(KindStats)
    for (language, kind), entry in sorted(stats.items()):
        _print_row(language, kind, entry)
        for target in (totals, by_kind[kind], by_language[language]):
            _accumulate(target, entry)
    print()
    for kind, entry in sorted(by_kind.items()):
        _print_row("all", kind, entry)
    for language, entry in sorted(by_language.items()):
        _print_row(language, "all", entry)
    _print_row("all", "all", totals)
    injections = ", ".join(f"{language} {entry.injected}" for language, entry in sorted(by_language.items()))
    print(
        f"\nfalse fixes: {totals.false_fixes} of {totals.fixes_offered} offered fixes; preferred fix restores "
        f"the original: {totals.exact} of {totals.injected} ({_percent(totals.exact, totals.injected).strip()})"
        f"; injections: {injections}"
    )


def _accumulate(target: KindStats, entry: KindStats) -> None:
    for name in (
        "injected",
        "detected",
        "offered",
        "fixed",
        "exact",
        "any_exact",
        "false_fixes",
        "left_broken",
        "fixes_offered",
    ):
        setattr(target, name, getattr(target, name) + getattr(entry, name))
    target.latencies += entry.latencies
    for source, count in entry.sources.items():
        target.sources[source] += count


def _print_row(language: str, kind: str, e: KindStats) -> None:
    latencies = sorted(e.latencies)
    p50 = 1000 * statistics.median(latencies) if latencies else 0.0
    p95 = 1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else 0.0
    share = f"{e.sources.get('rule', 0)}/{e.sources.get('model', 0)}"
    print(
        f"{language:<11}{kind:<18}{e.injected:>5}{_percent(e.detected, e.injected):>8}"
        f"{_percent(e.offered, e.injected):>8}{_percent(e.fixed, e.injected):>8}"
        f"{_percent(e.exact, e.injected):>8}"
        f"{_percent(e.any_exact, e.injected):>9}{e.fixes_offered:>6}{e.false_fixes:>6}{e.left_broken:>6}"
        f"{p50:>7.0f}{p95:>7.0f}  {share}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
