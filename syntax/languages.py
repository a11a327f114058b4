"""Which tree-sitter grammar serves a document, from its LSP languageId or its file extension.

Grammars come from per-language wheels (no run-time downloads); each is loaded once, on first use.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import PurePath

from tree_sitter import Language, Query


@dataclass(frozen=True)
class LanguageSpec:
    """A supported language: its canonical name, grammar module and entry point, and how files are named."""

    name: str
    module: str
    entry: str
    language_ids: tuple[str, ...]
    extensions: tuple[str, ...]
    line_comment: str


LANGUAGES: tuple[LanguageSpec, ...] = (
    LanguageSpec("python", "tree_sitter_python", "language", ("python",), (".py", ".pyi", ".pyw"), "#"),
    LanguageSpec(
        "javascript",
        "tree_sitter_javascript",
        "language",
        ("javascript", "javascriptreact"),
        (".js", ".mjs", ".cjs", ".jsx"),
        "//",
    ),
    LanguageSpec(
        "typescript",
        "tree_sitter_typescript",
        "language_typescript",
        ("typescript",),
        (".ts", ".mts", ".cts"),
        "//",
    ),
    LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", ("typescriptreact",), (".tsx",), "//"),
    LanguageSpec("go", "tree_sitter_go", "language", ("go",), (".go",), "//"),
    LanguageSpec("rust", "tree_sitter_rust", "language", ("rust",), (".rs",), "//"),
    LanguageSpec("java", "tree_sitter_java", "language", ("java",), (".java",), "//"),
    LanguageSpec("c", "tree_sitter_c", "language", ("c",), (".c", ".h"), "//"),
    LanguageSpec(
        "cpp",
        "tree_sitter_cpp",
        "language",
        ("cpp", "cuda-cpp"),
        (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp"),
        "//",
    ),
    LanguageSpec("lua", "tree_sitter_lua", "language", ("lua",), (".lua",), "--"),
)

_BY_NAME = {spec.name: spec for spec in LANGUAGES}
_BY_LANGUAGE_ID = {lid: spec for spec in LANGUAGES for lid in spec.language_ids}
_BY_EXTENSION = {ext: spec for spec in LANGUAGES for ext in spec.extensions}


def spec_for(language_id: str | None = None, path: str | None = None) -> LanguageSpec | None:
    """The language of a document: its languageId wins, then its extension; None when unsupported."""
    if language_id:
        spec = _BY_LANGUAGE_ID.get(language_id.lower()) or _BY_NAME.get(language_id.lower())
        if spec is not None:
            return spec
    if path:
        return _BY_EXTENSION.get(PurePath(path).suffix.lower())
    return None


def spec_by_name(name: str) -> LanguageSpec:
    return _BY_NAME[name]


@cache
def grammar(name: str) -> Language:
    """The tree-sitter Language for a canonical name; raises ImportError if its wheel is missing."""
    spec = _BY_NAME[name]
    module = importlib.import_module(spec.module)
    return Language(getattr(module, spec.entry)())


def available_grammars() -> dict[str, str | None]:
    """Each language name mapped to None when its grammar loads, or to the reason it does not."""
    found: dict[str, str | None] = {}
    for spec in LANGUAGES:
        try:
            grammar(spec.name)
            found[spec.name] = None
        except Exception as error:  # a broken or missing wheel must not stop the server
            found[spec.name] = f"{type(error).__name__}: {error}"
    return found


def canonical_language(language: str | None) -> str | None:
    """The canonical grammar name for a language id or name, or None when unsupported or unloadable."""
    if not language:
        return None
    spec = spec_for(language)
    if spec is None:
        return None
    try:
        grammar(spec.name)
    except Exception:  # a broken grammar wheel degrades to the text heuristics
        return None
    return spec.name


# Languages whose blocks are their indentation (no closer token ends a block).
INDENT_LANGUAGES = frozenset({"python"})


# TSX is TypeScript plus JSX: its grammar accepts TypeScript's queries, which are not copied.
_QUERIES_FROM = {"tsx": "typescript"}
# A query file that starts with `; inherits: a, b` gets those folders' files of the same kind first (their
# patterns must compile against its grammar): JavaScript and TypeScript share `ecma`, C++ builds on C.
_INHERITS = re.compile(r";\s*inherits:\s*(.+)")
# What every grammar says alike (the ERROR and MISSING nodes of `errors.scm`) is written once, in `shared`:
# a language without its own file of a kind gets the shared one; one with more to say inherits it.
_SHARED = "shared"


def query_source(language: str, kind: str) -> str | None:
    """The text of `queries/<language>/<kind>.scm` shipped with the package (else `queries/shared/`), with
    what it inherits first; None if there is no such file."""
    folder = _QUERIES_FROM.get(language, language)
    queries = resources.files("syntax").joinpath("queries")
    resource = queries.joinpath(folder, f"{kind}.scm")
    if not resource.is_file():
        resource = queries.joinpath(_SHARED, f"{kind}.scm")
    if not resource.is_file():
        return None
    source = resource.read_text(encoding="utf-8")
    inherits = _INHERITS.match(source)
    if inherits is None:
        return source
    parents = (query_source(parent.strip(), kind) for parent in inherits.group(1).split(","))
    return "\n".join([*(parent for parent in parents if parent), source])


@cache
def query(language: str, kind: str) -> Query | None:
    """The compiled query `queries/<language>/<kind>.scm`, or None if there is none."""
    source = query_source(language, kind)
    return None if source is None else Query(grammar(language), source)
