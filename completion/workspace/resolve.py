"""Import statements -> workspace files, per language, using only the set of indexed paths (plus go.mod
and Cargo.toml lookups on disk): no interpreter, no compiler, no network.

Each resolver receives the module strings of one ``ImportRef`` as ``syntax.outline.imports`` spells them
(``".util"``, ``"./util"``, ``"crate::a::b"``, ``"github.com/x/y"``, ``"dir/x.h"``, ...) and returns the
paths of the files that define what it names, nearest candidate first.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = ["PathTable", "implicit_neighbours", "resolve_module", "rust_module_declarations"]

_JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_GO_MODULE = re.compile(r"^\s*module\s+(\S+)", re.M)
_RUST_MOD = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?mod[ \t]+([A-Za-z_]\w*)[ \t]*;", re.M)


def rust_module_declarations(text: str) -> list[str]:
    """The ``mod name;`` declarations of a Rust file (the outline lists ``use`` items, not these)."""
    return _RUST_MOD.findall(text)


class PathTable:
    """The indexed file paths, with lookups by directory and by file name for suffix matching."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self._by_directory: dict[str, set[str]] = {}
        self._by_name: dict[str, set[str]] = {}

    def add(self, path: str) -> None:
        if path in self.paths:
            return
        self.paths.add(path)
        self._by_directory.setdefault(os.path.dirname(path), set()).add(path)
        self._by_name.setdefault(os.path.basename(path), set()).add(path)

    def discard(self, path: str) -> None:
        if path not in self.paths:
            return
        self.paths.discard(path)
        for table, key in (
            (self._by_directory, os.path.dirname(path)),
            (self._by_name, os.path.basename(path)),
        ):
            bucket = table.get(key)
            if bucket is not None:
                bucket.discard(path)
                if not bucket:
                    del table[key]

    def __contains__(self, path: object) -> bool:
        return path in self.paths

    def in_directory(self, directory: str) -> list[str]:
        return sorted(self._by_directory.get(directory, ()))

    def ending_with(self, relative: str, near: str) -> list[str]:
        """Indexed paths ending with ``/relative``, those sharing the longest prefix with ``near`` first."""
        relative = relative.lstrip("/")
        candidates = [
            path
            for path in self._by_name.get(posixpath.basename(relative), ())
            if path.replace(os.sep, "/").endswith("/" + relative)
        ]
        return sorted(candidates, key=lambda path: (-len(os.path.commonpath([path, near])), path))


def _first_existing(table: PathTable, candidates: Iterable[str]) -> list[str]:
    for candidate in candidates:
        normal = os.path.normpath(candidate)
        if normal in table:
            return [normal]
    return []


def _python(
    module: str, names: Sequence[str], current: str, table: PathTable, roots: Sequence[str]
) -> list[str]:
    dots = len(module) - len(module.lstrip("."))
    dotted = module[dots:]
    parts = [part for part in dotted.split(".") if part]
    if dots:
        base = os.path.dirname(current)
        for _ in range(dots - 1):
            base = os.path.dirname(base)
        bases = [base]
    else:
        bases = _python_bases(current, roots)
    found: list[str] = []
    for base in bases:
        target = os.path.join(base, *parts)
        module_file = _first_existing(
            table,
            (target + ".py", target + ".pyi", os.path.join(target, "__init__.py"), target + "/__init__.pyi"),
        )
        if parts and not module_file:
            continue
        found.extend(module_file)
        for name in names:  # `from pkg import sub` may name a submodule
            found.extend(
                _first_existing(
                    table, (os.path.join(target, name + ".py"), os.path.join(target, name, "__init__.py"))
                )
            )
        if found:
            return list(dict.fromkeys(found))
    return []


def _python_bases(current: str, roots: Sequence[str]) -> list[str]:
    """Directories absolute imports may start from: the top of the current package, then each root."""
    bases: list[str] = []
    directory = os.path.dirname(current)
    while os.path.isfile(os.path.join(directory, "__init__.py")) and os.path.dirname(directory) != directory:
        directory = os.path.dirname(directory)
    bases.append(directory)
    for root in roots:
        bases.extend((root, os.path.join(root, "src"), os.path.join(root, "lib")))
    return list(dict.fromkeys(bases))


def _javascript(module: str, current: str, table: PathTable) -> list[str]:
    if not module.startswith("."):
        return []  # a package from node_modules, or a path alias we cannot see
    target = os.path.normpath(os.path.join(os.path.dirname(current), module))
    stem, extension = os.path.splitext(target)
    candidates = [target]
    if extension in (".js", ".jsx", ".mjs", ".cjs"):  # TypeScript sources imported by their emitted name
        candidates.extend(stem + ext for ext in (".ts", ".tsx", ".mts", ".cts"))
    candidates.extend(target + ext for ext in _JS_EXTENSIONS)
    candidates.extend(os.path.join(target, "index" + ext) for ext in _JS_EXTENSIONS)
    return _first_existing(table, candidates)


@lru_cache(maxsize=256)
def _go_module_of(directory: str) -> tuple[str, str] | None:
    """(module path, module directory) from the nearest go.mod at or above ``directory``."""
    while True:
        try:
            with open(os.path.join(directory, "go.mod"), encoding="utf-8", errors="replace") as handle:
                match = _GO_MODULE.search(handle.read(4096))
            return (match.group(1), directory) if match else None
        except OSError:
            parent = os.path.dirname(directory)
            if parent == directory:
                return None
            directory = parent


def _go(module: str, current: str, table: PathTable) -> list[str]:
    found = _go_module_of(os.path.dirname(current))
    directories: list[str] = []
    if found is not None:
        module_path, module_directory = found
        if module == module_path or module.startswith(module_path + "/"):
            directories.append(os.path.join(module_directory, module[len(module_path) :].lstrip("/")))
    if not directories and "." in module.split("/")[0]:  # not the standard library: maybe vendored
        directories = _go_directories_ending_with(module, current, table)
    files: list[str] = []
    for directory in directories[:1]:
        files.extend(
            p
            for p in table.in_directory(os.path.normpath(directory))
            if p.endswith(".go") and not p.endswith("_test.go")
        )
    return files


def _go_directories_ending_with(module: str, current: str, table: PathTable) -> list[str]:
    """Directories whose path ends with the import path's last segments (vendored or GOPATH layouts)."""
    tail = "/".join(module.split("/")[-2:])
    directories = {
        os.path.dirname(path)
        for path in table.paths
        if path.endswith(".go") and os.path.dirname(path).replace(os.sep, "/").endswith("/" + tail)
    }
    return sorted(directories, key=lambda d: (-len(os.path.commonpath([d, current])), d))


def _rust_crate_source(current: str) -> str | None:
    directory = os.path.dirname(current)
    while True:
        if os.path.isfile(os.path.join(directory, "Cargo.toml")):
            return os.path.join(directory, "src")
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _rust_module_directory(current: str) -> str:
    """Where the current module's children live (``a/b.rs`` -> ``a/b/``, ``a/mod.rs`` -> ``a/``)."""
    name = os.path.basename(current)
    if name in ("mod.rs", "lib.rs", "main.rs"):
        return os.path.dirname(current)
    return os.path.splitext(current)[0]


def _rust(module: str, text: str, current: str, table: PathTable) -> list[str]:
    segments = [segment for segment in re.split(r"::", module.strip()) if segment and segment != "*"]
    if not segments:
        return []
    if text.lstrip().startswith(("mod ", "pub mod ", "pub(crate) mod ")):
        base = _rust_module_directory(current)
    elif segments[0] == "crate":
        crate = _rust_crate_source(current)
        if crate is None:
            return []
        base, segments = crate, segments[1:]
    elif segments[0] in ("self", "super"):
        base = _rust_module_directory(current)
        while segments and segments[0] in ("self", "super"):
            if segments.pop(0) == "super":
                base = os.path.dirname(base)
    else:
        return []  # an external crate
    for length in range(len(segments), 0, -1):  # the longest prefix that is a module file
        target = os.path.join(base, *segments[:length])
        found = _first_existing(table, (target + ".rs", os.path.join(target, "mod.rs")))
        if found:
            return found
    # the item lives in the module file itself (`super::Item`, `crate::Item`)
    return _first_existing(
        table,
        (
            base + ".rs",
            os.path.join(base, "mod.rs"),
            os.path.join(base, "lib.rs"),
            os.path.join(base, "main.rs"),
        ),
    )


def _c_family(module: str, current: str, table: PathTable, roots: Sequence[str]) -> list[str]:
    header = module.strip().strip('"<>')
    if not header:
        return []
    candidates = [os.path.join(os.path.dirname(current), header)]
    for root in roots:
        candidates.extend((os.path.join(root, header), os.path.join(root, "include", header)))
    return _first_existing(table, candidates) or table.ending_with(header, current)[:1]


def _java(module: str, current: str, table: PathTable) -> list[str]:
    parts = [part for part in module.replace("static ", "").strip().split(".") if part]
    if parts and parts[-1] == "*":
        matches = table.ending_with("/".join(parts[:-1]) + "/package-info.java", current)
        directory = os.path.dirname(matches[0]) if matches else None
        if directory is None:
            hits = [
                p
                for p in table.paths
                if os.path.dirname(p).replace(os.sep, "/").endswith("/" + "/".join(parts[:-1]))
            ]
            directory = os.path.dirname(sorted(hits)[0]) if hits else None
        return [p for p in table.in_directory(directory) if p.endswith(".java")] if directory else []
    for length in range(len(parts), 0, -1):  # `import a.b.C.Inner` or a static member: drop trailing parts
        found = table.ending_with("/".join(parts[:length]) + ".java", current)
        if found:
            return found[:1]
    return []


def _lua(module: str, current: str, table: PathTable, roots: Sequence[str]) -> list[str]:
    relative = module.strip().strip("\"'").replace(".", "/")
    if not relative:
        return []
    candidates: list[str] = []
    for base in (os.path.dirname(current), *roots, *(os.path.join(root, "lua") for root in roots)):
        candidates.extend((os.path.join(base, relative + ".lua"), os.path.join(base, relative, "init.lua")))
    return (
        _first_existing(table, candidates)
        or table.ending_with(relative + ".lua", current)[:1]
        or table.ending_with(relative + "/init.lua", current)[:1]
    )


def resolve_module(
    language: str,
    module: str,
    names: Sequence[str],
    statement: str,
    current: str,
    table: PathTable,
    roots: Sequence[str],
) -> list[str]:
    """Workspace files an import of ``module`` in ``current`` refers to; empty when it is external."""
    if language == "python":
        return _python(module, names, current, table, roots)
    if language in ("javascript", "typescript", "tsx"):
        return _javascript(module, current, table)
    if language == "go":
        return _go(module, current, table)
    if language == "rust":
        return _rust(module, statement, current, table)
    if language in ("c", "cpp"):
        return _c_family(module, current, table, roots)
    if language == "java":  # `import a.b.C;` arrives as module "a.b" with name "C"
        if not names:
            return _java(module + ".*", current, table)
        return list(
            dict.fromkeys(path for name in names for path in _java(f"{module}.{name}", current, table))
        )
    if language == "lua":
        return _lua(module, current, table, roots)
    return []


def implicit_neighbours(language: str, current: str, table: PathTable) -> list[str]:
    """Files whose names are visible without an import: the rest of a Go package or a Java package."""
    if language == "go":
        return [
            path
            for path in table.in_directory(os.path.dirname(current))
            if path != current and path.endswith(".go") and not path.endswith("_test.go")
        ]
    if language == "java":
        return [
            p for p in table.in_directory(os.path.dirname(current)) if p != current and p.endswith(".java")
        ]
    if language in ("c", "cpp"):  # foo.c sees what foo.h declares even when included as <foo.h>
        stem = os.path.splitext(current)[0]
        return [p for p in (stem + ".h", stem + ".hpp", stem + ".hh") if p in table and p != current]
    return []
