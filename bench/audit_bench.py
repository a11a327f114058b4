"""Benchmark of the unknown-name check (``syntax.unknown_names``): does it leave real code alone, and does it
catch made-up names? Prints numbers; nothing is asserted.

(a) Precision on real code nobody here wrote: every non-blank line is taken as the suggestion at its own
    place, the document being the whole real file, so every line flagged is a false flag (the code runs;
    a few real bugs do turn up in --wide). Standard library modules (json, argparse, pathlib, email,
    asyncio, ...); installed third-party packages and this project, whose own imports resolve the way a
    workspace's would (``members`` reads the module with ``module_names``, a package adds its submodules).
    ``--wide N``: every standard module and N random files of installed packages too.
(b) Recall: 50 made-up names in real files (calls of invented helpers, a method called without ``self.``,
    invented members of standard modules such as ``json.parse``, invented ``from m import x``), each checked
    against the real interpreter first (``hasattr`` on the imported module: the name really is missing);
    then, at scale, real lines with one call or module member renamed to a name nobody wrote.
(c) JavaScript/TypeScript: the same over real files under editors/vscode (node_modules and the extension's
    sources). Go: real files when a Go tree is found (``--go-dir``, else GOROOT), otherwise it says so.
(d) Cost per call on the largest document (parsed once, as the engine passes it), and of a first use of a
    standard module (read and parsed once, then cached).

``--versions PYTHON ...`` prints the table of names other Python versions have (``_OTHER_VERSIONS_TABLE``
in syntax/unknown_names.py) from those interpreters' sources, and stops.

    .venv/bin/python bench/audit_bench.py [--show 20] [--go-dir DIR] [--wide 600]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntax import unknown_names as check
from syntax.document import SyntaxDocument
from syntax.unknown_names import UnknownName, module_names, unknown_names


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


STDLIB = Path(sysconfig.get_paths()["stdlib"])
SITE = Path(sysconfig.get_paths()["purelib"])
ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "editors" / "vscode" / "node_modules"

PYTHON_FILES = [
    "json/__init__.py",
    "json/decoder.py",
    "json/encoder.py",
    "argparse.py",
    "pathlib.py",
    *(f"email/{name}" for name in sorted(os.listdir(STDLIB / "email")) if name.endswith(".py")),
    *(f"asyncio/{name}" for name in sorted(os.listdir(STDLIB / "asyncio")) if name.endswith(".py")),
    "logging/__init__.py",
    "subprocess.py",
    "shutil.py",
    "dataclasses.py",
    "typing.py",
    "collections/__init__.py",
    "tarfile.py",
    "zipfile.py",
    "inspect.py",
]

# Third-party code and this project's own: imports of their own packages resolve through ``members`` (as a
# workspace index would answer them), so imported names and module members are judged there too.
THIRD_PARTY_FILES = [
    (SITE, "_pytest/python.py"),
    (SITE, "_pytest/fixtures.py"),
    (SITE, "hypothesis/core.py"),
    (SITE, "httpx/_client.py"),
    (SITE, "jinja2/environment.py"),
    (SITE, "attr/_make.py"),
    (SITE, "mypy/checkexpr.py"),
    (SITE, "pygls/server.py"),
    (SITE, "requests/sessions.py"),
    (SITE, "pluggy/_manager.py"),
    (ROOT, "completion/engine.py"),
    (ROOT, "completion/workspace/retrieval.py"),
    (ROOT, "lsp_server/server.py"),
    (ROOT, "syntax/fixes.py"),
]

ECMA_FILES = [
    ("javascript", "eslint/lib/linter/linter.js"),
    ("javascript", "commander/lib/command.js"),
    ("javascript", "semver/classes/range.js"),
    ("javascript", "acorn/dist/acorn.mjs"),
    ("javascript", "chalk/source/index.js"),
    ("javascript", "minimatch/dist/esm/index.js"),
    ("typescript", "@azure/msal-common/src/cache/CacheManager.ts"),
    ("typescript", "@azure/msal-common/src/request/RequestParameterBuilder.ts"),
    ("typescript", "../src/extension.ts"),
    ("typescript", "../src/server.ts"),
]


# --- (a) precision --------------------------------------------------------------------------------------


def stdlib_members(path: Path) -> Callable[[str], frozenset[str] | None]:
    """A ``members`` lookup for a standard library file: relative imports read the sibling module's source."""
    return tree_members(STDLIB, path, absolute=False)


def tree_members(root: Path, path: Path, absolute: bool = True) -> Callable[[str], frozenset[str] | None]:
    """A ``members`` lookup as a workspace index would give it for files under ``root``: a module found
    there (relative to ``path``, or absolute) is read with ``module_names``; others are not the workspace's."""
    relative = path.relative_to(root).with_suffix("")
    package_parts = list(relative.parts)[:-1]  # a module's package; for __init__, the package itself

    def members(module: str) -> frozenset[str] | None:
        level = len(module) - len(module.lstrip("."))
        if level == 0 and not absolute:
            return None
        base = package_parts[: len(package_parts) - (level - 1)] if level else []
        rest = module[level:].split(".") if module[level:] else []
        target = root.joinpath(*base, *rest)
        if target.with_suffix(".py").is_file():
            source = target.with_suffix(".py").read_text(encoding="utf-8")
            return module_names(source, "python", ".".join(base + rest[:-1]))
        if (target / "__init__.py").is_file():  # a package: what its __init__ binds, and its submodules
            names = module_names(
                (target / "__init__.py").read_text(encoding="utf-8"), "python", ".".join(base + rest)
            )
            if names is None:
                return None
            # and its submodules: sources, packages and compiled extensions (`_native.cpython-311-....so`)
            return names | {child.name.split(".")[0] for child in target.iterdir() if child.name.isascii()}
        return None

    return members


def wide(show: int, count: int, seed: int = 11) -> None:
    """Precision over every standard library module (tests aside) and a sample of installed packages."""
    import random

    skipped = {"test", "tests", "idlelib", "lib2to3", "turtledemo", "tkinter", "site-packages"}
    stdlib = [
        ("python", path)
        for path in sorted(STDLIB.rglob("*.py"))
        if not skipped & set(path.relative_to(STDLIB).parts) and readable(path)
    ]
    result, _ = precision(stdlib, stdlib_members)
    report_precision(
        f"(a) wide: Python precision over all {len(stdlib)} standard library modules", result, show
    )
    installed = [
        path for path in sorted(SITE.rglob("*.py")) if readable(path) and "_vendor" not in path.parts
    ]
    random.Random(seed).shuffle(installed)
    sample = [("python", path) for path in installed[:count]]
    result, _ = precision(sample, lambda path: tree_members(SITE, path))
    report_precision(
        f"(a) wide: Python precision over {len(sample)} files of installed packages", result, show
    )


def readable(path: Path) -> bool:
    try:
        return len(path.read_text(encoding="utf-8")) < 400_000
    except (OSError, UnicodeDecodeError):
        return False


def third_party(show: int) -> None:
    files = [("python", root / name) for root, name in THIRD_PARTY_FILES if (root / name).is_file()]
    roots = {root / name: root for root, name in THIRD_PARTY_FILES}
    result, _ = precision(files, lambda path: tree_members(roots[path], path))
    report_precision(f"(a) Python precision over {len(files)} third-party and project files", result, show)


@dataclass
class Precision:
    lines: int = 0
    judged: int = 0  # lines with at least one identifier
    flagged: int = 0
    kinds: Counter[str] | None = None
    examples: list[str] | None = None
    costs: list[float] | None = None


def precision(
    files: list[tuple[str, Path]],
    members_for: Callable[[Path], Callable[[str], frozenset[str] | None] | None],
    known: Callable[[str], bool] | None = None,
    known_for: Callable[[Path], Callable[[str], bool] | None] | None = None,
) -> tuple[Precision, dict[str, list[float]]]:
    result = Precision(kinds=Counter(), examples=[], costs=[])
    assert result.kinds is not None and result.examples is not None and result.costs is not None
    per_file_costs: dict[str, list[float]] = {}
    word = re.compile(r"[A-Za-z_$]")
    for language, path in files:
        text = path.read_text(encoding="utf-8")
        document = SyntaxDocument(text, language)
        members = members_for(path)
        lookup = known_for(path) if known_for is not None else known
        costs = per_file_costs.setdefault(str(path), [])
        offset = 0
        for line in text.splitlines(keepends=True):
            body = line.rstrip("\r\n")
            start = offset + len(body) - len(body.lstrip())
            end = offset + len(body)
            offset += len(line)
            if not body.strip():
                continue
            result.lines += 1
            if word.search(body):
                result.judged += 1
            began = time.perf_counter()
            found = unknown_names(text, language, start, end, lookup, members, document=document)
            elapsed = time.perf_counter() - began
            costs.append(elapsed)
            result.costs.append(elapsed)
            if found:
                result.flagged += 1
                for item in found:
                    result.kinds[item.kind] += 1
                short = path.relative_to(STDLIB) if path.is_relative_to(STDLIB) else path.name
                result.examples.append(f"{short}: {body.strip()[:90]!r} -> {describe(found)}")
    return result, per_file_costs


def describe(found: list[UnknownName]) -> str:
    return ", ".join(f"{item.kind} {item.name}" for item in found)


def report_precision(title: str, result: Precision, show: int) -> None:
    assert result.kinds is not None and result.examples is not None
    share = 100 * result.flagged / max(1, result.lines)
    share_judged = 100 * result.flagged / max(1, result.judged)
    print(f"{title}: {result.flagged} of {result.lines} non-blank lines wrongly flagged ({share:.2f}%; "
          f"{share_judged:.2f}% of the {result.judged} lines with a name)")  # fmt: skip
    if result.kinds:
        print(
            "  wrongly flagged kinds:",
            ", ".join(f"{kind} {count}" for kind, count in result.kinds.most_common()),
        )
    for example in result.examples[:show]:
        print("   ", example)


# --- (b) recall ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    host: str  # a file under the standard library
    anchor: str  # a regex: the suggestion goes on a new line after the first line it matches
    suggestion: str  # lines, indented like the line after the anchor
    expect: str  # the made-up name, as UnknownName.name gives it
    check: str  # "absent" (nowhere in the file) | "missing:module" (hasattr is False) | "method:Class"


CASES: list[Case] = [
    # invented helpers
    Case(
        "json/__init__.py", r"^def dumps\(", "result = normalize_payload(obj)", "normalize_payload", "absent"
    ),
    Case(
        "argparse.py",
        r"    def parse_args\(self",
        "args = preprocess_arguments(args)",
        "preprocess_arguments",
        "absent",
    ),
    Case(
        "pathlib.py",
        r"    def glob\(self",
        "pattern = sanitize_pattern(pattern)",
        "sanitize_pattern",
        "absent",
    ),
    Case("email/utils.py", r"^def formataddr\(", "pair = validate_pair(pair)", "validate_pair", "absent"),
    Case("asyncio/tasks.py", r"^async def sleep\(", "delay = clamp_delay(delay)", "clamp_delay", "absent"),
    Case("shutil.py", r"^def copyfile\(", "ensure_parent_dir(dst)", "ensure_parent_dir", "absent"),
    Case("subprocess.py", r"^def run\(", "log_command(popenargs)", "log_command", "absent"),
    Case(
        "logging/__init__.py",
        r"^def basicConfig\(",
        "kwargs = merge_defaults(kwargs)",
        "merge_defaults",
        "absent",
    ),
    Case(
        "csv.py",
        r"    def __init__\(self, f, fieldnames",
        "fieldnames = detect_header(f)",
        "detect_header",
        "absent",
    ),
    Case("textwrap.py", r"^def dedent\(", "text = normalize_newlines(text)", "normalize_newlines", "absent"),
    Case("tempfile.py", r"^def mkdtemp\(", "prefix = make_safe_prefix(prefix)", "make_safe_prefix", "absent"),
    Case(
        "configparser.py",
        r"    def read\(self",
        "filenames = expand_paths(filenames)",
        "expand_paths",
        "absent",
    ),
    Case("difflib.py", r"^def unified_diff\(", "a = to_lines(a)", "to_lines", "absent"),
    Case("gzip.py", r"^def compress\(", "data = ensure_bytes(data)", "ensure_bytes", "absent"),
    Case("zipfile.py", r"^def is_zipfile\(", "filename = resolve_path(filename)", "resolve_path", "absent"),
    Case("html/__init__.py", r"^def escape\(", "s = coerce_text(s)", "coerce_text", "absent"),
    Case("fnmatch.py", r"^def fnmatch\(", "return fast_match(name, pat)", "fast_match", "absent"),
    Case("uuid.py", r"^def uuid4\(", "seed_random()", "seed_random", "absent"),
    Case("base64.py", r"^def b64encode\(", "s = as_bytes(s)", "as_bytes", "absent"),
    Case("calendar.py", r"^def monthrange\(", "check_year(year)", "check_year", "absent"),
    # a method called without `self.`
    Case(
        "argparse.py",
        r"    def _parse_optional\(self",
        "values = _get_values(action, arg_string)",
        "_get_values",
        "method:ArgumentParser",
    ),
    Case(
        "pathlib.py", r"    def joinpath\(self", "return _make_child(args)", "_make_child", "method:PurePath"
    ),
    Case(
        "email/message.py",
        r"    def get_params\(self",
        "params = _get_params_preserve(failobj, header)",
        "_get_params_preserve",
        "method:Message",
    ),
    Case(
        "logging/__init__.py",
        r"    def warning\(self, msg",
        "_log(WARNING, msg, args)",
        "_log",
        "method:Logger",
    ),
    Case(
        "asyncio/base_events.py",
        r"    def run_until_complete\(self",
        "_check_closed()",
        "_check_closed",
        "method:BaseEventLoop",
    ),
    # invented members of standard modules
    Case(
        "argparse.py",
        r"    def parse_args\(self",
        "import json\ndata = json.parse(args)",
        "json.parse",
        "missing:json.parse",
    ),
    Case(
        "shutil.py", r"^def copytree\(", "names = os.listfiles(src)", "os.listfiles", "missing:os.listfiles"
    ),
    Case(
        "tempfile.py",
        r"^def mkdtemp\(",
        "path = _os.path.joinpath(dir, prefix)",
        "_os.path.joinpath",
        "missing:os.path.joinpath",
    ),
    Case(
        "logging/__init__.py",
        r"^def basicConfig\(",
        "import json\ntext = json.stringify(kwargs)",
        "json.stringify",
        "missing:json.stringify",
    ),
    Case(
        "fnmatch.py",
        r"^def filter\(",
        "found = re.matchall(pat, names)",
        "re.matchall",
        "missing:re.matchall",
    ),
    Case(
        "zipfile.py",
        r"^def is_zipfile\(",
        "import shutil\nshutil.copydir(filename, filename)",
        "shutil.copydir",
        "missing:shutil.copydir",
    ),
    Case(
        "json/__init__.py",
        r"^def load\(",
        "import subprocess\nsubprocess.execute(['ls'])",
        "subprocess.execute",
        "missing:subprocess.execute",
    ),
    Case(
        "csv.py",
        r"    def __init__\(self, f, fieldnames",
        "import logging\nlog = logging.getLog(__name__)",
        "logging.getLog",
        "missing:logging.getLog",
    ),
    Case("shutil.py", r"^def copytree\(", "os.makedir(dst)", "os.makedir", "missing:os.makedir"),
    Case(
        "glob.py",
        r"^def glob\(",
        "if os.path.exist(pathname):\n    return [pathname]",
        "os.path.exist",
        "missing:os.path.exist",
    ),
    Case(
        "json/decoder.py",
        r"    def decode\(self",
        "import collections\nseen = collections.OrderDict()",
        "collections.OrderDict",
        "missing:collections.OrderDict",
    ),
    Case(
        "gzip.py",
        r"^def compress\(",
        "import tempfile\ntmp = tempfile.mkstempdir()",
        "tempfile.mkstempdir",
        "missing:tempfile.mkstempdir",
    ),
    Case(
        "html/__init__.py",
        r"^def escape\(",
        "import textwrap\ns = textwrap.wrapText(s)",
        "textwrap.wrapText",
        "missing:textwrap.wrapText",
    ),
    Case(
        "difflib.py",
        r"^def unified_diff\(",
        "import functools\ncache = functools.memoize(a)",
        "functools.memoize",
        "missing:functools.memoize",
    ),
    Case(
        "pprint.py",
        r"^def pprint\(",
        "import typing\nhint = typing.Optionl[int]",
        "typing.Optionl",
        "missing:typing.Optionl",
    ),
    # invented `from m import x`
    Case("argparse.py", r"    def parse_args\(self", "from json import parse", "parse", "missing:json.parse"),
    Case(
        "pathlib.py",
        r"    def glob\(self",
        "from os.path import joinpath",
        "joinpath",
        "missing:os.path.joinpath",
    ),
    Case(
        "dataclasses.py",
        r"^def fields\(",
        "from typing import Optionals",
        "Optionals",
        "missing:typing.Optionals",
    ),
    Case(
        "email/utils.py",
        r"^def formataddr\(",
        "from collections import OrderDict",
        "OrderDict",
        "missing:collections.OrderDict",
    ),
    Case(
        "textwrap.py",
        r"^def dedent\(",
        "from functools import memoize",
        "memoize",
        "missing:functools.memoize",
    ),
    Case(
        "tarfile.py", r"^def is_tarfile\(", "from shutil import copydir", "copydir", "missing:shutil.copydir"
    ),
    Case(
        "uuid.py", r"^def uuid4\(", "from subprocess import execute", "execute", "missing:subprocess.execute"
    ),
    Case("glob.py", r"^def glob\(", "from os import listfiles", "listfiles", "missing:os.listfiles"),
    Case(
        "shutil.py",
        r"^def copyfile\(",
        "from pathlib import FilePath",
        "FilePath",
        "missing:pathlib.FilePath",
    ),
    Case(
        "base64.py",
        r"^def b64encode\(",
        "from email.utils import parse_date",
        "parse_date",
        "missing:email.utils.parse_date",
    ),
]


def insert(text: str, anchor: str, suggestion: str) -> tuple[str, int, int]:
    """The text with ``suggestion`` on new lines after the anchor line, indented like the line after it."""
    match = re.search(anchor, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"anchor {anchor!r} not found")
    header_end = text.index("\n", match.start())
    while text[header_end - 1] != ":":  # a signature over several lines
        header_end = text.index("\n", header_end + 1)
    following = text[header_end + 1 :].splitlines()
    next_line = next(line for line in following if line.strip() and not line.lstrip().startswith(('"', "'")))
    indent = next_line[: len(next_line) - len(next_line.lstrip())]
    body = ("\n" + indent).join(suggestion.splitlines())
    position = header_end + 1
    start = position + len(indent)
    return text[:position] + indent + body + "\n" + text[position:], start, start + len(body)


def valid(case: Case, text: str) -> str | None:
    """Why a case is not a made-up name after all, or None."""
    if case.check == "absent":
        return "the name is in the file" if case.expect in text else None
    if case.check.startswith("method:"):
        if not re.search(rf"^    def {re.escape(case.expect)}\(self", text, re.MULTILINE):
            return "no such method"
        module = importlib.import_module(
            case.host.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        )
        return "a module-level name" if hasattr(module, case.expect) else None
    dotted = case.check.removeprefix("missing:")
    module_name, _, attribute = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    return "it exists" if hasattr(module, attribute) else None


PLAIN_CALL = re.compile(r"(?<![\w.$])([A-Za-z_$][\w$]*)\(")
MODULE_MEMBER = re.compile(r"(?<![\w.])([a-z_][a-z0-9_]*)\.([A-Za-z_]\w*)\b(?!\s*=[^=])")
DEFINITION = re.compile(
    r"\b(def|class|function|func|async|await|new|typeof|return|if|for|while|switch|catch)\s*$"
)


def mutations(
    files: list[tuple[str, Path]],
    limit: int,
    seed: int = 7,
    known_for: Callable[[Path], Callable[[str], bool] | None] | None = None,
) -> None:
    """Recall at scale: real code with one name renamed to a name nobody wrote (a plain call ``f(`` to
    ``f_zq(``; in Python also a member of an imported standard module ``m.attr`` to ``m.attr_zq``), each
    line judged in its real file. Calls count where the language judges them (JS/TS: camelCase names)."""
    import random

    chooser = random.Random(seed)
    tallies: dict[str, list[int]] = {}
    missed: list[str] = []
    for language, path in files:
        text = path.read_text(encoding="utf-8")
        original = SyntaxDocument(text, language)
        imported = set(re.findall(r"^import ([a-z_][a-z0-9_]*)\s*$", text, re.MULTILINE))
        lines = list(re.finditer(r"^[ \t]*(\S.*)$", text, re.MULTILINE))
        for line in chooser.sample(lines, min(len(lines), limit)):
            body, start = line.group(1), line.start(1)
            mutation = mutated_name(language, original, body, start, imported)
            if mutation is None:
                continue
            kind, at, suffix, expect = mutation
            mutated = body[:at] + suffix + body[at:]
            document = text[:start] + mutated + text[line.end(1) :]
            known = known_for(path) if known_for is not None else None
            found = unknown_names(document, language, start, start + len(mutated), known)
            tally = tallies.setdefault(f"{language} {kind}", [0, 0])
            tally[1] += 1
            if any(item.name == expect for item in found):
                tally[0] += 1
            elif len(missed) < 12:
                missed.append(f"{path.name}: {mutated.strip()[:80]!r} -> {describe(found) or 'nothing'}")
    for key, (caught, total) in sorted(tallies.items()):
        print(f"    mutations, {key}: {caught}/{total} caught ({100 * caught / max(1, total):.1f}%)")
    for line in missed:
        print("      missed:", line)


def mutated_name(
    language: str, original: SyntaxDocument, body: str, start: int, imported: set[str]
) -> tuple[str, int, str, str] | None:
    """Where to rename a name on a real line of code: (kind, offset in the line, suffix, expected name)."""
    root = original.tree.root_node
    call = PLAIN_CALL.search(body)
    if call is not None and (language == "python" or re.fullmatch(r"[a-z][A-Za-z0-9]*", call.group(1))):
        byte = original.byte_offset(start + call.start(1))
        node = root.descendant_for_byte_range(byte, byte + len(call.group(1).encode()))
        parent = node.parent if node is not None else None
        if (
            node is not None
            and node.type == "identifier"
            and parent is not None
            and parent.type in ("call", "call_expression")
            and parent.child_by_field_name("function") == node
        ):
            suffix = "_zq" if language == "python" else "Zq"
            return "call", call.end(1), suffix, call.group(1) + suffix
    member = MODULE_MEMBER.search(body) if language == "python" else None
    if member is not None and member.group(1) in imported:
        module = check._stdlib_module(member.group(1))
        byte = original.byte_offset(start + member.start(2))
        node = root.descendant_for_byte_range(byte, byte + len(member.group(2)))
        if (
            module is not None
            and module.names is not None
            and member.group(2) in module.names
            and node is not None
            and node.parent is not None
            and node.parent.type == "attribute"
        ):
            return "attribute", member.end(2), "_zq", f"{member.group(1)}.{member.group(2)}_zq"
    return None


def recall(show: int) -> tuple[int, int, list[float]]:
    caught = 0
    counted = 0
    extra = 0
    costs: list[float] = []
    missed: list[str] = []
    for case in CASES:
        source = (STDLIB / case.host).read_text(encoding="utf-8")
        reason = valid(case, source)
        if reason is not None:
            print(f"  case {case.expect!r} in {case.host} does not count: {reason}")
            continue
        counted += 1
        text, start, end = insert(source, case.anchor, case.suggestion)
        document = SyntaxDocument(text, "python")
        began = time.perf_counter()
        found = unknown_names(
            text, "python", start, end, None, stdlib_members(STDLIB / case.host), document=document
        )
        costs.append(time.perf_counter() - began)
        if any(item.name == case.expect for item in found):
            caught += 1
            extra += sum(1 for item in found if item.name != case.expect)
        else:
            missed.append(f"{case.host}: {case.suggestion!r} -> {describe(found) or 'nothing'}")
    print(f"(b) Python recall: {caught}/{counted} made-up names caught ({100 * caught / max(1, counted):.0f}%); "
          f"{extra} other names flagged in the caught suggestions")  # fmt: skip
    for line in missed[:show]:
        print("    missed:", line)
    return caught, counted, costs


ECMA_CASES = [
    ("javascript", "eslint/lib/linter/linter.js", "const normalized = normalizeLinterOptions(options);"),
    ("javascript", "commander/lib/command.js", "const parsed = parseCommandArgs(args);"),
    ("javascript", "semver/classes/range.js", "const cleaned = stripWhitespaceTokens(range);"),
    ("javascript", "acorn/dist/acorn.mjs", "var tokens = tokenizeInput(input);"),
    ("javascript", "chalk/source/index.js", "const level = detectColorLevel(options);"),
    ("javascript", "minimatch/dist/esm/index.js", "const escaped = escapeGlobPattern(pattern);"),
    ("typescript", "@azure/msal-common/src/cache/CacheManager.ts", "const key = buildCacheKey(account);"),
    ("typescript", "@azure/msal-common/src/request/RequestParameterBuilder.ts", "validateScopes(scopes);"),
    ("typescript", "../src/extension.ts", "const options = resolveServerOptions(context);"),
    ("typescript", "../src/server.ts", "await waitForServerReady(client);"),
]


# A line that opens a function's or a method's body (not a class, nor a block of a statement).
FUNCTION_BODY = (
    r"^(\s*)(?!.*\b(?:class|interface|enum|namespace|type|if|for|while|switch|catch)\b)"
    r".*\)\s*(?::[^={]+)?\{\s*$"
)


def ecma(show: int) -> None:
    files = [
        (language, NODE_MODULES / name) for language, name in ECMA_FILES if (NODE_MODULES / name).is_file()
    ]
    if not files:
        print("(c) JavaScript/TypeScript: no files under editors/vscode/node_modules (run npm ci there)")
        return
    result, _ = precision(files, lambda path: None)
    report_precision(f"(c) JS/TS precision over {len(files)} files", result, show)
    caught = 0
    counted = 0
    for language, name, line in ECMA_CASES:
        path = NODE_MODULES / name
        if not path.is_file():
            continue
        source = path.read_text(encoding="utf-8")
        # on a new line after the first line that opens a function or method body
        match = re.search(FUNCTION_BODY, source, re.MULTILINE)
        if match is None:
            print(f"    {name}: no function body to put the call in")
            continue
        position = source.index("\n", match.start()) + 1
        indent = match.group(1) + "  "
        text = source[:position] + indent + line + "\n" + source[position:]
        start = position + len(indent)
        found = unknown_names(text, language, start, start + len(line))
        counted += 1
        expected = re.search(r"(\w+)\(", line)
        assert expected is not None
        if any(item.name == expected.group(1) for item in found):
            caught += 1
        else:
            print(f"    missed: {name}: {line!r} -> {describe(found) or 'nothing'}")
    print(f"(c) JS/TS recall: {caught}/{counted} invented helper calls caught")
    mutations(files, 60)


def go(show: int, go_dir: str | None) -> None:
    root = go_dir
    if root is None and shutil.which("go"):
        root = subprocess.run(
            ["go", "env", "GOROOT"], capture_output=True, text=True, check=False
        ).stdout.strip()
        root = os.path.join(root, "src") if root else None
    if root is None or not os.path.isdir(root):
        print("(c) Go: no Go sources on this machine (no --go-dir, no go toolchain): not measured")
        return
    packages: dict[str, list[Path]] = {}
    for path in sorted(Path(root).rglob("*.go")):
        if not path.name.endswith("_test.go") and "testdata" not in path.parts:
            packages.setdefault(str(path.parent), []).append(path)
    chosen = [files for _, files in sorted(packages.items())]
    files = [("go", path) for group in chosen for path in group]

    def known_for(path: Path) -> Callable[[str], bool]:
        names: set[str] = set()  # the package's names, as the workspace index's lookup would give them
        for sibling in packages[str(path.parent)]:
            names |= module_names(sibling.read_text(encoding="utf-8", errors="replace"), "go") or frozenset()
        return names.__contains__

    result, _ = precision(files, lambda path: None, known_for=known_for)
    report_precision(
        f"(c) Go precision over {len(files)} files of {len(chosen)} packages under {root}", result, show
    )
    mutations(files, 60, known_for=known_for)


# --- (d) cost ---------------------------------------------------------------------------------------------


def cost(per_file: dict[str, list[float]]) -> None:
    largest = max(per_file, key=lambda path: len(Path(path).read_text(encoding="utf-8").splitlines()))
    lines = len(Path(largest).read_text(encoding="utf-8").splitlines())
    samples = sorted(per_file[largest])
    p50 = statistics.median(samples) * 1000
    p95 = samples[int(len(samples) * 0.95)] * 1000
    mean, most = statistics.fmean(samples) * 1000, samples[-1] * 1000
    print(f"(d) cost per call on {Path(largest).name} ({lines} lines, parsed once): mean {mean:.2f} ms, "
          f"p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {most:.2f} ms")  # fmt: skip
    text = Path(largest).read_text(encoding="utf-8")
    middle = text.index("\n", len(text) // 2) + 1
    end = text.index("\n", middle)
    began = time.perf_counter()
    for _ in range(5):
        unknown_names(text, "python", middle, end)
    print(
        f"    with a parse of its own (no document passed): {(time.perf_counter() - began) / 5 * 1000:.2f} ms per call"
    )
    check._stdlib_modules.pop("tarfile", None)
    began = time.perf_counter()
    check._stdlib_module("tarfile")
    print(f"    first use of a standard module (tarfile, read and parsed, then cached): "
          f"{(time.perf_counter() - began) * 1000:.1f} ms")  # fmt: skip


# --- the table of names other Python versions have -------------------------------------------------------

# The modules user code mostly reaches (the table stays small): their names, where versions differ.
VERSION_MODULES = _words(
    """
    abc argparse asyncio base64 bisect calendar codecs collections collections.abc concurrent.futures
    configparser contextlib copy csv dataclasses datetime decimal difflib email.message email.utils enum
    fnmatch fractions functools genericpath gettext glob gzip hashlib heapq http http.client importlib
    importlib.metadata importlib.resources importlib.util inspect io json locale logging logging.handlers
    ntpath numbers operator os pathlib pickle platform posix posixpath pprint queue random re secrets shlex
    shutil signal site socket socketserver sqlite3 ssl stat statistics string subprocess sysconfig tarfile
    tempfile textwrap threading tomllib traceback types typing unittest unittest.mock urllib.parse
    urllib.request uuid warnings weakref zipfile
    """
)


class VersionNames:
    """The top-level names of standard modules in another interpreter's sources, parsed here."""

    def __init__(self, python: str) -> None:
        script = (
            "import sysconfig, posix, json; print(json.dumps([sysconfig.get_paths()['stdlib'], dir(posix)]))"
        )
        answer = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True).stdout
        self.stdlib, posix_names = json.loads(answer)
        self.memo: dict[str, frozenset[str] | None] = {"posix": frozenset(posix_names)}

    def spec(self, path: str) -> ModuleSpec | None:
        parent, _, _ = path.rpartition(".")
        if not parent:
            return PathFinder.find_spec(path, [self.stdlib])
        parent_spec = self.spec(parent)
        locations = parent_spec.submodule_search_locations if parent_spec is not None else None
        return PathFinder.find_spec(path, list(locations)) if locations else None

    def names(self, path: str) -> frozenset[str] | None:
        if path in self.memo:
            return self.memo[path]
        self.memo[path] = frozenset()  # a `*` import cycle
        spec = self.spec(path)
        found: frozenset[str] | None = None
        if spec is not None and spec.origin is not None and spec.origin.endswith(".py"):
            text = Path(spec.origin).read_text(encoding="utf-8")
            package = path if spec.submodule_search_locations is not None else path.rpartition(".")[0]
            module = check._python_module(
                text,
                package,
                lambda name: self.spec(name) is not None,
                lambda name: self.names(name) or frozenset(),
            )
            found = module.bound
        self.memo[path] = found
        return found


def version_table(pythons: list[str]) -> None:
    """Print ``_OTHER_VERSIONS_TABLE`` for syntax/unknown_names.py: the top-level names of standard modules
    that some but not all of these interpreters have."""
    per_version = []
    for python in pythons:
        versions = VersionNames(python)
        per_version.append({name: found for name in VERSION_MODULES if (found := versions.names(name))})
    print("_OTHER_VERSIONS_TABLE: dict[str, str] = {")
    for module in VERSION_MODULES:
        present = [table[module] for table in per_version if module in table]
        if len(present) < 2:
            continue  # in one version only: nothing to compare
        varying = frozenset().union(*present) - frozenset.intersection(*present)
        words = sorted(name for name in varying if not name.startswith("_") and len(name) > 1)
        if not words:
            continue
        lines = textwrap.wrap(" ".join(words), 96, break_on_hyphens=False)
        if len(lines) == 1:
            print(f'    "{module}": "{lines[0]}",')
        else:
            print(f'    "{module}": (')
            for index, line in enumerate(lines):
                print(f'        "{line}{" " if index < len(lines) - 1 else ""}"')
            print("    ),")
    print("}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--show", type=int, default=15, help="examples of flagged lines to print")
    parser.add_argument("--go-dir", help="a directory of Go sources (default: GOROOT/src)")
    parser.add_argument(
        "--wide", type=int, metavar="N", help="also every standard module and N files of installed packages"
    )
    parser.add_argument(
        "--versions",
        nargs="+",
        metavar="PYTHON",
        help="print the table of names other versions have, and stop",
    )
    options = parser.parse_args()
    if options.versions:
        version_table(options.versions)
        return
    files = [("python", STDLIB / name) for name in PYTHON_FILES if (STDLIB / name).is_file()]
    result, per_file = precision(files, stdlib_members)
    report_precision(f"(a) Python precision over {len(files)} standard library files", result, options.show)
    third_party(options.show)
    if options.wide:
        wide(options.show, options.wide)
    recall(options.show)
    mutations(files, 60)
    ecma(options.show)
    go(options.show, options.go_dir)
    cost(per_file)


if __name__ == "__main__":
    main()
