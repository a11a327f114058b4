"""`infill-ls fix FILE [--write]`: apply verified syntax fixes to a file and print them as a unified diff.

Each round fixes the first syntax error that has a verified fix (the best one), then diagnoses again, because
one fix often removes errors that were only a consequence of it. Exit status: 0 when the result has no syntax
error, 1 when some remain, 2 when the file cannot be read or its language is not supported.
"""

from __future__ import annotations

import difflib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from syntax.diagnostics import SyntaxDiagnostic, diagnose
from syntax.document import parse_text
from syntax.fixes import CandidateGenerator, apply_edits, propose_fixes
from syntax.languages import spec_for

if TYPE_CHECKING:
    from completion.backends import BackendChoice
    from completion.privacy import PrivacyOptions

MAX_ROUNDS = 200
TIME_BUDGET_S = 2.0  # per error
TOTAL_BUDGET_S = 120.0  # per file: a file of binary junk must not keep the command busy for minutes


def run_fix(
    path: str,
    write: bool,
    language: str | None,
    use_model: bool,
    choice: BackendChoice | None = None,
    privacy: PrivacyOptions | None = None,
) -> int:
    """Fix the syntax errors of ``path``; print the diff (stdout) and a summary (stderr). The model that
    writes fixes is the one ``choice`` names (local, remote or hybrid; default: the local default model)."""
    spec = spec_for(language, path)
    if spec is None:
        print(f"infill-ls fix: no supported language for {path} (use --language)", file=sys.stderr)
        return 2
    if write and os.path.islink(path):  # writing would change the link's target, wherever it is
        print(f"infill-ls fix: {path} is a symbolic link; run it on the file it points to", file=sys.stderr)
        return 2
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            original = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        print(f"infill-ls fix: cannot read {path}: {error}", file=sys.stderr)
        return 2
    generator = _model_generator(spec.name, path, choice, privacy) if use_model else None
    fixed, applied, remaining = fix_text(original, spec.name, generator)
    diff = difflib.unified_diff(
        original.splitlines(keepends=True), fixed.splitlines(keepends=True), path, path
    )
    sys.stdout.writelines(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in diff
    )
    if write and fixed != original:
        Path(path).write_bytes(fixed.encode("utf-8", "surrogatepass"))
    for diagnostic in remaining:
        line = fixed.count("\n", 0, diagnostic.start) + 1
        print(f"{path}:{line}: {diagnostic.message} (no verified fix)", file=sys.stderr)
    print(f"infill-ls fix: {applied} fix(es) applied, {len(remaining)} syntax error(s) left", file=sys.stderr)
    return 0 if not remaining else 1


def fix_text(
    text: str, language: str, generator: CandidateGenerator | None = None
) -> tuple[str, int, list[SyntaxDiagnostic]]:
    """The text with verified fixes applied one at a time, how many, and the errors left without a fix."""
    unfixable: set[tuple[str, str, int]] = set()
    applied = 0
    deadline = time.monotonic() + TOTAL_BUDGET_S
    for _ in range(MAX_ROUNDS):
        if time.monotonic() > deadline:
            break
        parsed = parse_text(text, language)
        pending = [d for d in diagnose(parsed) if _key(text, d) not in unfixable]
        if not pending:
            break
        target = pending[0]
        fixes = propose_fixes(parsed, target, generator, max_fixes=1, time_budget_s=TIME_BUDGET_S)
        if not fixes:  # an ERROR node may hide the next error: accept a fix that uncovers it, fix it next
            fixes = propose_fixes(parsed, target, generator, 1, TIME_BUDGET_S, allow_revealing=True)
        if not fixes:
            unfixable.add(_key(text, target))
            continue
        text = apply_edits(text, fixes[0].edits)
        applied += 1
    return text, applied, diagnose(text, language)


def _key(text: str, diagnostic: SyntaxDiagnostic) -> tuple[str, str, int]:
    """A diagnostic's identity that survives fixes elsewhere: its message, line text and column."""
    line_start = text.rfind("\n", 0, diagnostic.start) + 1
    line_end = text.find("\n", diagnostic.start)
    return (
        diagnostic.message,
        text[line_start : line_end if line_end >= 0 else None],
        diagnostic.start - line_start,
    )


def _model_generator(
    language: str, path: str, choice: BackendChoice | None, privacy: PrivacyOptions | None
) -> CandidateGenerator | None:
    """The configured model as a candidate generator; None, with a note, when it cannot be used."""
    try:
        from completion.backends import BackendChoice, open_backends
        from completion.engine import CompletionEngine
        from completion.privacy import PrivacyPolicy

        opened = open_backends(choice or BackendChoice())
        engine = CompletionEngine()
        engine.privacy = PrivacyPolicy(privacy)
        engine.set_model(opened.primary, fallback=opened.fallback)
    except Exception as error:  # no model means rule-based fixes only, never a failed command
        print(f"infill-ls fix: model unavailable ({error}); rule-based fixes only", file=sys.stderr)
        return None

    def generate(prefix: str, suffix: str, n: int, max_tokens: int, time_budget_s: float) -> list[str]:
        return engine.infill_candidates(
            prefix, suffix, n, max_tokens, time_budget_s, language=language, path=path
        )

    return generate
