"""Names a suggestion uses that nothing defines: the one check behind the audit of remote suggestions and the
ranking of local candidates.

A model that calls ``load_settings()`` or ``json.parse(text)`` in a file where neither exists has made the
name up. ``unknown_names`` judges the names inside a suggestion already inserted in its document: a plain
name is known when the document binds it anywhere (assignments, parameters, imports, loop and ``with``
targets, comprehension variables, class and function names, ``global``), when the suggestion binds it
(before or after the use), when the document's own code outside the suggestion uses it as a plain name (the
user's code is taken as it is), when it is predefined (builtins, keywords, a language's globals) or when the
workspace index defines it (``known``). A member of a module (``json.parse``, ``os.path.joinpath``) and a
name imported from one (``from json import loadz``) are judged only when the module resolves: a workspace
module through ``members``, or a module of the Python standard library, read from its source files with
this package's queries (nothing is imported, nothing executed). Modules that make names at run time
(``__getattr__``, ``globals()``, a ``*`` import of a module that does not resolve) and modules without
source (C extensions) do not resolve; neither do modules the server cannot find (the user's environment is
not ours): what cannot be told is allowed. So is code that expects a name to be missing: imports and members
in a ``try`` whose handler catches the failure (and in that handler's fallback), or under a condition on
the version, the platform or ``TYPE_CHECKING``. Names other Python versions (3.9 to 3.13) and platforms have
in common standard modules count as defined.

Structure comes from ``queries/<language>/identifiers.scm``; its patterns are split by capture into small
queries, each run only over the suggestion or over single occurrences of a name, so the cost follows the
suggestion, not the document. Python is judged thoroughly; JavaScript/TypeScript and Go conservatively
(only calls of plain names, only in ES/CommonJS modules, Go only with a workspace lookup since a package
spans files); languages without the query file are not judged.
"""

from __future__ import annotations

import builtins
import keyword
import logging
import os
import re
import sys
import sysconfig
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.machinery import ModuleSpec, PathFinder
from typing import Literal

from tree_sitter import Node, Query, QueryCursor

from syntax.document import ParsedText, SyntaxDocument, parse_text, parsed_for
from syntax.languages import canonical_language, grammar, query_source

__all__ = ["Known", "Members", "UnknownKind", "UnknownName", "module_names", "preload", "unknown_names"]

log = logging.getLogger(__name__)

UnknownKind = Literal["call", "reference", "import", "attribute"]
Known = Callable[[str], bool]
Members = Callable[[str], frozenset[str] | None]


@dataclass(frozen=True)
class UnknownName:
    """A name the suggestion uses that is defined nowhere.

    ``name`` as written (``helper``, ``json.parse``, ``loadz``); ``offset`` the str offset in the text where a
    cut leaves the suggestion without it (the name; for a member, the start of its ``module.`` chain; never
    before the suggestion's start); ``kind``: ``call`` / ``reference`` (a plain name called / used),
    ``import`` (``from m import name``, ``import m.name``), ``attribute`` (``module.name``)."""

    name: str
    offset: int
    kind: UnknownKind


# --- languages ------------------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PYTHON_PREDEFINED = (
    frozenset(dir(builtins))
    | frozenset(keyword.kwlist)
    | frozenset(keyword.softkwlist)
    | frozenset(
        {
            # module and class namespaces have these without binding them
            "__file__", "__name__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__",
            "__path__", "__cached__", "__annotations__", "__dict__", "__module__", "__qualname__",
            "__class__", "__all__",
            # builtins of other platforms and newer versions; names type checkers provide
            "WindowsError", "PythonFinalizationError", "reveal_type", "reveal_locals",
        }
    )
)  # fmt: skip

# Globals of ECMAScript, browsers and workers, Node and common test runners, as far as the judged names go
# (calls of camelCase names that start in lowercase: classes, constants, ``$`` and ``_`` names never are).
_ECMA_PREDEFINED = _words(
    """
    parseInt parseFloat isNaN isFinite decodeURI decodeURIComponent encodeURI encodeURIComponent escape
    unescape eval globalThis undefined require define requirejs importScripts
    alert confirm prompt print open close stop focus blur fetch setTimeout clearTimeout setInterval
    clearInterval setImmediate clearImmediate requestAnimationFrame cancelAnimationFrame requestIdleCallback
    cancelIdleCallback queueMicrotask structuredClone atob btoa getComputedStyle getSelection matchMedia
    scroll scrollTo scrollBy moveTo moveBy resizeTo resizeBy postMessage dispatchEvent addEventListener
    removeEventListener reportError createImageBitmap showOpenFilePicker showSaveFilePicker
    showDirectoryPicker find captureEvents releaseEvents webkitRequestAnimationFrame
    webkitCancelAnimationFrame acquireVsCodeApi gtag ga fbq
    describe it test expect beforeEach afterEach beforeAll afterAll before after suite setup teardown
    suiteSetup suiteTeardown context specify xit xdescribe xtest xcontext xspecify fit fdescribe spyOn
    fail pending assert expectTypeOf assertType
    defineProps defineEmits defineExpose defineModel defineOptions defineSlots withDefaults
    """
)

_GO_PREDECLARED = _words(
    """
    append cap clear close complex copy delete imag len make max min new panic print println real recover
    bool byte complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string uint uint8
    uint16 uint32 uint64 uintptr any comparable true false iota nil
    """
)


@dataclass(frozen=True)
class _Rules:
    """What is judged in a language."""

    references: bool  # plain names used, not only called, are judged
    predefined: frozenset[str]
    judged: re.Pattern[str] | None = None  # only plain names like this are judged
    uses_in_suggestion_count: bool = (
        False  # a use of the name in the suggestion other than a call makes it known
    )
    needs_module: bool = False  # judged only in a module (a script shares its names with other scripts)
    needs_known: bool = False  # plain names judged only with the workspace lookup (a package spans files)
    identifier_chars: str = "_"


_CAMEL_CASE = re.compile(r"[a-z][A-Za-z0-9]*\Z")
_ECMA_RULES = _Rules(
    references=False,
    predefined=_ECMA_PREDEFINED,
    judged=_CAMEL_CASE,
    uses_in_suggestion_count=True,
    needs_module=True,
    identifier_chars="_$",
)
_RULES: dict[str, _Rules] = {
    "python": _Rules(references=True, predefined=_PYTHON_PREDEFINED),
    "javascript": _ECMA_RULES,
    "typescript": _ECMA_RULES,
    "tsx": _ECMA_RULES,
    "go": _Rules(
        references=False, predefined=_GO_PREDECLARED, uses_in_suggestion_count=True, needs_known=True
    ),
}

_JS_MODULE_MARKERS = ("require(", "module.exports", "exports.")
_PY_STAR_IMPORT = re.compile(r"import[ \t\\]*\*")
_CONSTANT = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_DOTTED = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*\Z")
_GO_PACKAGE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_GO_MAJOR_VERSION = re.compile(r"v[0-9]+\Z")

# --- queries --------------------------------------------------------------------------------------------

_NAME_CAPTURES = frozenset(
    {"binding", "binding.global", "reference", "reference.call", "reference.type", "ignore"}
)
_CAPTURE = re.compile(r"@([A-Za-z_][\w.]*)")


@dataclass(frozen=True)
class _Queries:
    """identifiers.scm split by what its patterns capture (a small query is cheap around one name)."""

    names: Query  # bindings, uses, ignored identifiers
    members: Query | None  # bindings in class bodies
    imports: Query | None
    attributes: Query | None
    scopes: Query | None
    guards: Query | None  # code that expects names to be missing
    module: Query | None  # @module, @dynamic, @export


def _group(captures: set[str]) -> str:
    if "binding.member" in captures:
        return "members"
    groups = (("import", "imports"), ("attribute", "attributes"), ("scope", "scopes"), ("guard", "guards"))
    for prefix, group in groups:
        if any(name == prefix or name.startswith(prefix + ".") for name in captures):
            return group
    if captures <= _NAME_CAPTURES:
        return "names"
    return "module"


@cache
def _queries(language: str) -> _Queries | None:
    try:
        source = query_source(language, "identifiers")
        if source is None:
            return None
        whole = Query(grammar(language), source)
        data = source.encode("utf-8")
        groups: dict[str, list[str]] = {}
        for index in range(whole.pattern_count):
            pattern = data[whole.start_byte_for_pattern(index) : whole.end_byte_for_pattern(index)].decode()
            captures = {name for name in _CAPTURE.findall(pattern) if not name.startswith("_")}
            groups.setdefault(_group(captures), []).append(pattern)

        def compiled(group: str) -> Query | None:
            patterns = groups.get(group)
            return Query(grammar(language), "\n".join(patterns)) if patterns else None

        names = compiled("names")
        if names is None:
            return None
        return _Queries(
            names,
            compiled("members"),
            compiled("imports"),
            compiled("attributes"),
            compiled("scopes"),
            compiled("guards"),
            compiled("module"),
        )
    except Exception:  # a grammar that no longer fits the query must not break completion: nothing judged
        log.warning(
            "identifiers query for %s does not compile; names are not judged", language, exc_info=True
        )
        return None


def _matches(
    query: Query, root: Node, start_byte: int, end_byte: int, depth: int | None = None
) -> list[dict[str, list[Node]]]:
    cursor = QueryCursor(query)
    cursor.set_byte_range(start_byte, end_byte)
    if depth is not None:
        cursor.set_max_start_depth(depth)
    return [captures for _, captures in cursor.matches(root)]


# --- imports as data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Import:
    """One name an import binds: ``bound`` refers to ``root`` followed by ``attributes``.

    ``import a.b`` binds ``a`` to ``("a", ())``; ``import a.b as c`` binds ``c`` to ``("a", ("b",))``;
    ``from a.b import n`` binds ``n`` to ``("a", ("b", "n"))``; relative modules stay whole (``(".x", ("n",))``).
    Go and JavaScript import paths are roots of their own."""

    bound: str
    bound_byte: int  # where the bound name is written
    root: str
    attributes: tuple[str, ...]
    module_byte: int  # where the module path is written
    statement: Node
    name_byte: int | None = None  # where the imported name is written (``from m import name``)
    star: bool = False
    written: tuple[str, ...] = ()  # the module path after its root as written (``import a.b.c``: b, c)


def _module_parts(module: str) -> tuple[str, tuple[str, ...]]:
    module = "".join(module.split())
    if module.startswith("."):
        return module, ()
    first, *rest = module.split(".")
    return first, tuple(rest)


def _python_import(doc: ParsedText, captures: dict[str, list[Node]]) -> _Import | None:
    statement = captures["import"][0]
    module_node = captures["import.module"][0]
    root, attributes = _module_parts(doc.node_text(module_node))
    alias = _first(captures.get("import.alias"))
    name = _first(captures.get("import.name"))
    module_byte = module_node.start_byte
    if "import.star" in captures:
        return _Import("*", statement.start_byte, root, attributes, module_byte, statement, star=True)
    if name is not None:  # from m import name [as alias]
        bound = alias if alias is not None else name
        imported = (*attributes, doc.node_text(name))
        return _Import(
            doc.node_text(bound), bound.start_byte, root, imported, module_byte, statement, name.start_byte
        )
    if alias is not None:  # import a.b as c
        return _Import(
            doc.node_text(alias),
            alias.start_byte,
            root,
            attributes,
            module_byte,
            statement,
            written=attributes,
        )
    if root.startswith("."):
        return None
    return _Import(root, module_byte, root, (), module_byte, statement, written=attributes)


def _first(nodes: list[Node] | None) -> Node | None:
    return nodes[0] if nodes else None


def _string_content(doc: ParsedText, node: Node) -> str:
    return doc.node_text(node).strip()


# --- modules ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Module:
    """What a module binds at its top level (None: anything may be there) and which of those names are
    modules themselves (``os.path``: ``posixpath`` or ``ntpath``)."""

    names: frozenset[str] | None
    modules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    bound: frozenset[str] = frozenset()  # what its source binds, even when run-time code may add more
    open_constants: bool = False  # CONSTANTS come from a compiled module: they differ between platforms


_OPAQUE = _Module(None)
_MODULE_DUNDERS = frozenset(
    {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__path__", "__cached__",
     "__builtins__", "__dict__", "__all__", "__annotations__"}
)  # fmt: skip
# Names a platform's module has on other platforms: `os` star-imports `posix` or `nt`, and a Linux server must
# flag neither `os.startfile` in code meant for Windows nor `os.lchmod` in code meant for macOS. A missing
# `nt` brings in these names (the rest it shares with `posix`).
_OTHER_PLATFORMS: dict[str, frozenset[str]] = {
    "nt": _words(
        """
        startfile add_dll_directory get_handle_inheritable set_handle_inheritable listdrives listmounts
        listvolumes O_BINARY O_NOINHERIT O_RANDOM O_SEQUENTIAL O_SHORT_LIVED O_TEMPORARY O_TEXT P_DETACH
        P_OVERLAY _getfullpathname _getfinalpathname _getvolumepathname _getdiskusage _path_splitroot
        _path_normpath _add_dll_directory _remove_dll_directory _path_splitroot_ex
        """
    ),
    "posix": _words(
        """
        lchmod chflags lchflags plock _fcopyfile _COPYFILE_DATA O_EXLOCK O_SHLOCK O_EVTONLY O_SYMLINK
        O_NOFOLLOW_ANY O_FSYNC O_SEARCH O_EXEC O_TTY_INIT O_ALT_IO O_NOSIGPIPE O_DIRECT O_RSYNC
        """
    ),
    "_codecs": _words("mbcs_encode mbcs_decode oem_encode oem_decode code_page_encode code_page_decode"),
}


def _stdlib_paths() -> tuple[list[str], list[str]]:
    """The directories of the standard library's source, and those of its extension modules."""
    source = [sysconfig.get_paths()["stdlib"]]
    extensions = [path for path in sys.path if os.path.basename(path) in ("lib-dynload", "DLLs")]
    return [path for path in source if os.path.isdir(path)], extensions


_STDLIB_SOURCE, _STDLIB_EXTENSIONS = _stdlib_paths()
_stdlib_lock = threading.Lock()
_stdlib_modules: dict[str, _Module | None] = {}
_stdlib_specs: dict[str, ModuleSpec | None] = {}
_resolving = threading.local()


def _stdlib_spec(path: str) -> ModuleSpec | None:
    """Where a standard library module is (found on disk, never imported); None when it is not one."""
    with _stdlib_lock:
        if path in _stdlib_specs:
            return _stdlib_specs[path]
    spec: ModuleSpec | None = None
    parent, _, _ = path.rpartition(".")
    try:
        if not parent:
            spec = PathFinder.find_spec(path, _STDLIB_SOURCE) or PathFinder.find_spec(
                path, _STDLIB_EXTENSIONS
            )
        else:
            parent_spec = _stdlib_spec(parent)
            locations = parent_spec.submodule_search_locations if parent_spec is not None else None
            if locations:
                spec = PathFinder.find_spec(path, list(locations))
    except (ImportError, OSError, ValueError):
        spec = None
    with _stdlib_lock:
        _stdlib_specs[path] = spec
    return spec


def _stdlib_exists(path: str) -> bool:
    if "." not in path and path in sys.builtin_module_names:
        return True
    return _stdlib_spec(path) is not None


def _stdlib_module(path: str) -> _Module | None:
    """A standard library module read from its source (cached); opaque without source; None if none."""
    with _stdlib_lock:
        if path in _stdlib_modules:
            return _stdlib_modules[path]
    if ("." not in path and path in sys.builtin_module_names) or path.split(".")[0] in _REPLACED_STDLIB:
        return _OPAQUE
    spec = _stdlib_spec(path)
    module: _Module | None = None
    if spec is not None:
        origin = spec.origin if spec.has_location else None
        if origin is None or not origin.endswith(".py"):
            module = _OPAQUE  # a namespace package or an extension module
        else:
            resolving: set[str] = getattr(_resolving, "paths", None) or set()
            _resolving.paths = resolving
            if path in resolving:  # a `*` import cycle
                return _OPAQUE
            resolving.add(path)
            try:
                with open(origin, encoding="utf-8") as source:
                    text = source.read()
                package = path if spec.submodule_search_locations is not None else path.rpartition(".")[0]
                module = _python_module(text, package, _stdlib_exists, _star_names_stdlib)
                if module.names is not None:  # what other Python versions have there counts too
                    module = replace(module, names=module.names | _other_versions(path))
            except (OSError, UnicodeDecodeError, ValueError):
                module = _OPAQUE
            finally:
                resolving.discard(path)
    with _stdlib_lock:
        _stdlib_modules[path] = module
    return module


# Modules most code reaches: `preload` reads them ahead.
_COMMON_MODULES = (
    "os", "posixpath", "ntpath", "json", "re", "typing", "collections", "pathlib", "logging", "subprocess",
    "shutil", "asyncio", "functools", "dataclasses", "argparse", "tempfile", "threading", "enum",
)  # fmt: skip


def preload(modules: Iterable[str] = _COMMON_MODULES) -> None:
    """Read standard modules (and the packages above them) ahead: a module's first check otherwise reads and
    parses its source (10 ms; 100 ms for `os` or `asyncio` with what they import). Modules that are not
    there are skipped."""
    for path in modules:
        parts = path.split(".")
        for index in range(len(parts)):
            _stdlib_module(".".join(parts[: index + 1]))


def _star_names_stdlib(path: str) -> frozenset[str] | None:
    """The names ``from path import *`` brings in, when a standard library module says (all its names, a
    superset of its public ones); None when it cannot be told."""
    module = _stdlib_module(path)
    if module is None:
        return _OTHER_PLATFORMS.get(path)
    if module.names is not None:
        return module.names
    loaded = sys.modules.get(path)  # a module compiled into the interpreter, already loaded: its names
    if loaded is not None and path in sys.builtin_module_names:
        return frozenset(dir(loaded)) | _OTHER_PLATFORMS.get(path, frozenset()) | _other_versions(path)
    return None


def _absolute(module: str, package: str | None) -> str | None:
    """A relative module path made absolute against ``package``; None when it reaches above it."""
    if not module.startswith("."):
        return module
    if package is None:
        return None
    level = len(module) - len(module.lstrip("."))
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    rest = module[level:]
    return ".".join([*base, rest] if rest else base) or None


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _inside(spans: list[tuple[int, int]], byte: int) -> bool:
    low, high = 0, len(spans)
    while low < high:
        middle = (low + high) // 2
        if spans[middle][1] <= byte:
            low = middle + 1
        else:
            high = middle
    return low < len(spans) and spans[low][0] <= byte


# Occurrences of one name read at most (each costs a small query): past them, what cannot be told is allowed.
_MAX_HITS = 400
# Handlers that expect a kind of name to be missing (`except ImportError:`; a bare `except:` too), and
# conditions under which names may not exist (another version or platform, type checking only).
_HANDLED = {
    "import": re.compile(
        r"^except\s*(\*\s*)?(:|[^:]*\b(ImportError|ModuleNotFoundError|Exception|BaseException)\b)"
    ),
    "attribute": re.compile(r"^except\s*(\*\s*)?(:|[^:]*\b(AttributeError|BaseException)\b)"),
}
_GUARDING_CONDITION = re.compile(r"TYPE_CHECKING|version_info|platform|\bos\.name\b")
# Standard modules other packages replace at run time (setuptools' distutils): never read.
_REPLACED_STDLIB = frozenset({"distutils"})
# Identifiers that the @dynamic patterns capture, searched for in a document before its query runs there.
_DYNAMIC_NAMES = ("globals", "exec", "global_enum", "_convert_", "modules")


def _python_module(
    text: str,
    package: str | None,
    exists: Callable[[str], bool],
    star_names: Callable[[str], frozenset[str] | None],
) -> _Module:
    """The names a Python module binds outside its functions and classes, and its names bound to modules."""
    queries = _queries("python")
    if queries is None or queries.scopes is None or queries.imports is None:
        return _OPAQUE
    doc = parse_text(text, "python")
    root = doc.tree.root_node
    end = len(doc.source)
    local: list[tuple[int, int]] = []  # function parameters and bodies, class bodies
    for captures in _matches(queries.scopes, root, 0, end):
        if "scope.function" in captures:
            node = captures["scope.function"][0]
            name = _first(captures.get("scope.name"))
            local.append((name.end_byte if name is not None else node.start_byte, node.end_byte))
        elif "scope.body" in captures:
            body = captures["scope.body"][0]
            local.append((body.start_byte, body.end_byte))
    local = _merged(local)
    names: set[str] = set(_MODULE_DUNDERS)
    is_open = compiled = False
    modules: dict[str, list[str]] = {}
    import_spans: list[tuple[int, int]] = []
    for captures in _matches(queries.imports, root, 0, end):
        found = _python_import(doc, captures)
        if found is None or _inside(local, found.statement.start_byte):
            continue
        import_spans.append((found.statement.start_byte, found.statement.end_byte))
        base = _absolute(found.root, package)
        if found.star:
            source = ".".join([base, *found.attributes]) if base is not None else None
            star = star_names(source) if source is not None else None
            if star is None:
                is_open = True
            else:
                names.update(star)
                compiled = compiled or source in sys.builtin_module_names or source in _OTHER_PLATFORMS
            continue
        names.add(found.bound)
        if base is None:
            continue
        target = ".".join([base, *found.attributes])
        if found.attributes and not exists(target):
            target = ""  # a value imported from a module, not a module
        modules.setdefault(found.bound, []).append(target)
    import_spans = _merged(import_spans)
    valued: set[str] = set()
    captured = QueryCursor(queries.names).captures(root)
    for binding in captured.get("binding", ()):
        if not _inside(local, binding.start_byte):
            bound = doc.node_text(binding)
            names.add(bound)
            if not _inside(import_spans, binding.start_byte):
                valued.add(bound)
    names.update(doc.node_text(binding) for binding in captured.get("binding.global", ()))
    if queries.module is not None:
        aliases_of_globals: set[str] = set()
        writes: set[str] = set()
        for captures in _matches(queries.module, root, 0, end):
            at_top = not _inside(local, min(nodes[0].start_byte for nodes in captures.values()))
            for role, nodes in captures.items():
                node = nodes[0]
                if role == "dynamic":
                    # a class's `__getattr__` or `exec(code)` in a function's own namespace make none; a
                    # function that writes `globals()` mostly runs at import time
                    own_scope = doc.node_text(node) == "__getattr__" or (
                        doc.node_text(node) == "exec" and "_globals" not in captures
                    )
                    is_open = is_open or at_top or not own_scope
                elif role == "dynamic.module":
                    is_open = True
                elif role == "dynamic.alias":
                    aliases_of_globals.add(doc.node_text(node))
                elif role == "dynamic.write":
                    writes.add(doc.node_text(node))
                elif role == "binding.exported":
                    names.add(doc.node_text(node))
        is_open = is_open or bool(aliases_of_globals & writes)
    aliases = {
        name: tuple(targets)
        for name, targets in modules.items()
        if name not in valued and all(targets)  # bound to modules only
    }
    top_level = frozenset(names)
    return _Module(None if is_open else top_level, aliases, top_level, compiled)


def _ecma_exports(doc: ParsedText, queries: _Queries) -> frozenset[str] | None:
    if any(marker in doc.text for marker in ("module.exports", "exports.")) or queries.module is None:
        return None
    names: set[str] = set()
    for captures in _matches(queries.module, doc.tree.root_node, 0, len(doc.source), depth=1):
        if "export.star" in captures:
            return None
        names.update(doc.node_text(node) for node in captures.get("export", ()))
    return frozenset(names)


def _go_exports(doc: ParsedText, queries: _Queries) -> frozenset[str]:
    names: set[str] = set()
    if queries.module is not None:
        for captures in _matches(queries.module, doc.tree.root_node, 0, len(doc.source), depth=0):
            names.update(doc.node_text(node) for node in captures.get("export", ()))
    return frozenset(names)


_module_names_lock = threading.Lock()
_module_names_cache: OrderedDict[tuple[str, str], frozenset[str] | None] = OrderedDict()
_MODULE_NAMES_CACHED = 64
_MODULE_NAMES_CACHED_CHARS = 1_000_000  # larger sources are not kept


def module_names(text: str, language: str, package: str | None = None) -> frozenset[str] | None:
    """The names a module's source makes available to its importers, for a ``members`` callback; None when
    it cannot be told (names made at run time, ``*`` imports or re-exports of what does not resolve).

    Python: what it binds outside functions and classes (``package``: its package, for its relative ``*``
    imports). JavaScript/TypeScript: what it exports (``default`` included); None for CommonJS exports.
    Go: what one file declares at package level (a package's names are the union over its files).
    Cached on the text."""
    name = canonical_language(language)
    if name is None:
        return None
    key = (name + "\0" + (package or ""), text)
    with _module_names_lock:
        if key in _module_names_cache:
            _module_names_cache.move_to_end(key)
            return _module_names_cache[key]
    result: frozenset[str] | None = None
    queries = _queries(name)
    if queries is not None:
        try:
            if name == "python":
                result = _python_module(text, package, _stdlib_exists, _star_names_stdlib).names
            elif name in ("javascript", "typescript", "tsx"):
                result = _ecma_exports(parse_text(text, name), queries)
            elif name == "go":
                result = _go_exports(parse_text(text, name), queries)
        except (ValueError, RuntimeError):
            result = None
    if len(text) <= _MODULE_NAMES_CACHED_CHARS:
        with _module_names_lock:
            _module_names_cache[key] = result
            while len(_module_names_cache) > _MODULE_NAMES_CACHED:
                _module_names_cache.popitem(last=False)
    return result


class _Resolver:
    """Modules by path: the workspace's first (``members``), then the standard library (Python)."""

    def __init__(self, language: str, members: Members | None) -> None:
        self._stdlib = language == "python"
        self._members = members
        self._memo: dict[str, frozenset[str] | None] = {}

    def _workspace(self, path: str) -> frozenset[str] | None:
        if self._members is None:
            return None
        if path not in self._memo:
            try:
                self._memo[path] = self._members(path)
            except Exception:  # a failing lookup must not lose the suggestion: the module is then unknown
                log.debug("members(%r) failed", path, exc_info=True)
                self._memo[path] = None
        return self._memo[path]

    def exists(self, path: str) -> bool:
        if self._workspace(path) is not None:
            return True
        return self._stdlib and not path.startswith(".") and _stdlib_exists(path)

    def module(self, path: str) -> _Module | None:
        names = self._workspace(path)
        if names is not None:
            return _Module(names)
        if self._stdlib and not path.startswith("."):
            return _stdlib_module(path)
        return None

    def missing(self, root: str, attributes: Sequence[str]) -> int | None:
        """The index of the first of ``attributes`` that ``root`` (a module) surely lacks; None when they all
        exist or it cannot be told."""
        if not self.exists(root) and not (attributes and self.exists(_joined(root, attributes[0]))):
            return None  # a package whose own names cannot be told may still have a module of that name
        current = [root]
        for index, attribute in enumerate(attributes):
            found, current = self._step(current, attribute)
            if found is False:
                return index
            if found is None or not current:
                return None
        return None

    def names_of(self, root: str, attributes: Sequence[str]) -> frozenset[str] | None:
        """What ``from root.attributes import *`` brings in; None when it cannot be told."""
        current = [root]
        for attribute in attributes:
            found, current = self._step(current, attribute)
            if not found or not current:
                return None
        names: set[str] = set()
        for path in current:
            module = self.module(path)
            star = module.names if module is not None else None
            if star is None and self._stdlib and not path.startswith("."):
                star = _star_names_stdlib(path)  # a module compiled into the interpreter
            if star is None:
                return None
            names |= star
        return frozenset(names)

    def _step(self, paths: list[str], attribute: str) -> tuple[bool | None, list[str]]:
        """Whether any of ``paths`` (modules) has ``attribute`` (None: cannot tell), and the modules it names."""
        targets: list[str] = []
        found = undecided = value = False
        for path in paths:
            sub = _joined(path, attribute)
            if self.exists(sub):
                found = True
                targets.append(sub)
                continue
            module = self.module(path)
            if module is None:
                undecided = True
            elif attribute in module.modules:
                found = True
                targets.extend(module.modules[attribute])
            elif module.names is None or (module.open_constants and _CONSTANT.match(attribute)):
                undecided = True
            elif attribute in module.names:
                found = value = True
        if found:
            return True, [] if undecided or value else targets
        return (None if undecided else False), []


def _joined(module: str, attribute: str) -> str:
    """The module path of ``attribute`` in ``module`` (``.`` + ``events``: ``.events``)."""
    return module + attribute if module.endswith(".") else f"{module}.{attribute}"


# --- the check ---------------------------------------------------------------------------------------------


def unknown_names(
    text: str,
    language: str,
    start: int,
    end: int,
    known: Known | None = None,
    members: Members | None = None,
    *,
    document: SyntaxDocument | ParsedText | None = None,
) -> list[UnknownName]:
    """Names inside ``text[start:end]`` (a suggestion already inserted in its document) that are defined
    nowhere, sorted by offset; every use is listed. Names partly typed before ``start`` and completed by the
    suggestion are judged too (their offset is then ``start``).

    ``known(name)``: whether the workspace index defines ``name`` (consulted last, for plain names).
    ``members(module)``: every name a workspace module offers its importers, or None when it is not a
    workspace module or that cannot be told. ``module`` comes as the import writes it (``pkg.mod``, ``.mod``,
    ``./util``, a Go import path); the names are ``module_names`` of its source, plus its submodules for a
    package (Python) and the union over its files for a Go package: a name missing from them is judged
    missing. ``document``: an already parsed document holding exactly ``text`` (no parse here then; e.g.
    ``SyntaxDocument.with_edit`` of the server's copy). A parser failure judges nothing."""
    name = canonical_language(language)
    rules = _RULES.get(name) if name is not None else None
    queries = _queries(name) if name is not None else None
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    if name is None or rules is None or queries is None or start == end:
        return []
    try:
        view = parsed_for(text, name, document)
        return _Check(view, rules, queries, start, end, known, _Resolver(name, members)).run()
    except (ValueError, RuntimeError):  # a parse that fails must not lose the suggestion
        log.debug("unknown-name check failed", exc_info=True)
        return []


@dataclass
class _Use:
    name: str
    node: Node
    called: bool


class _Check:
    """One suggestion in one document."""

    def __init__(
        self,
        view: ParsedText,
        rules: _Rules,
        queries: _Queries,
        start: int,
        end: int,
        known: Known | None,
        resolver: _Resolver,
    ) -> None:
        self.view = view
        self.text = view.text
        self.root = view.tree.root_node
        self.rules = rules
        self.queries = queries
        self.language = view.language
        self.start, self.end = start, end
        self.start_byte, self.end_byte = view.byte_offset(start), view.byte_offset(end)
        self.known = known
        self.resolver = resolver
        self.found: dict[tuple[int, str], UnknownName] = {}
        self._status: dict[str, tuple[bool, list[Node]]] = {}
        self._imports_of: dict[str, list[_Import] | None] = {}
        self._shallow_imports: list[_Import] | None = None

    # --- the suggestion ----------------------------------------------------------------------------------

    def run(self) -> list[UnknownName]:
        uses, bound, suggestion_uses, member_bound = self._names_in_suggestion()
        imports = self._imports_in_suggestion()
        if self._judges_plain_names(imports):
            self._judge_plain(uses, bound, suggestion_uses, member_bound, imports)
        self._judge_imports(imports)
        self._judge_attributes(imports)
        return sorted(self.found.values(), key=lambda item: (item.offset, item.name))

    def _overlaps(self, node: Node) -> bool:
        return node.end_byte > self.start_byte and node.start_byte < self.end_byte

    def _names_in_suggestion(self) -> tuple[list[_Use], set[str], set[str], dict[str, list[Node]]]:
        """Plain names used in the suggestion, names it binds, names it uses other than by calling them,
        and names it binds in class bodies (with their classes)."""
        roles: dict[int, set[str]] = {}
        nodes: dict[int, Node] = {}
        captured = QueryCursor(self.queries.names)
        captured.set_byte_range(self.start_byte, self.end_byte)
        for role, found in captured.captures(self.root).items():
            for node in found:
                if self._overlaps(node):
                    roles.setdefault(node.start_byte, set()).add(role)
                    nodes[node.start_byte] = node
        member_bound: dict[str, list[Node]] = {}
        member_bytes: set[int] = set()
        if self.queries.members is not None:
            for captures in _matches(self.queries.members, self.root, self.start_byte, self.end_byte):
                for node in captures.get("binding.member", ()):
                    if self._overlaps(node):
                        member_bound.setdefault(self.view.node_text(node), []).append(
                            captures["scope.class"][0]
                        )
                        member_bytes.add(node.start_byte)
        uses: list[_Use] = []
        bound: set[str] = set()
        used: set[str] = set()
        for byte, node_roles in roles.items():
            if "ignore" in node_roles:
                continue
            name = self.view.node_text(nodes[byte])
            if node_roles & {"binding", "binding.global"}:
                if byte not in member_bytes:
                    bound.add(name)
                continue
            if "reference.call" not in node_roles:
                used.add(name)
            if "reference" in node_roles:
                uses.append(_Use(name, nodes[byte], "reference.call" in node_roles))
        return uses, bound, used, member_bound

    def _imports_in_suggestion(self) -> list[_Import]:
        if self.queries.imports is None:
            return []
        found: list[_Import] = []
        for captures in _matches(self.queries.imports, self.root, self.start_byte, self.end_byte):
            item = self._import(captures)
            if item is None:
                continue
            written = item.name_byte if item.name_byte is not None else item.module_byte
            if self.start_byte <= written < self.end_byte:
                found.append(item)
        return found

    def _import(self, captures: dict[str, list[Node]]) -> _Import | None:
        if self.language == "python":
            return _python_import(self.view, captures)
        statement = captures["import"][0]
        module_node = captures["import.module"][0]
        module = _string_content(self.view, module_node)
        alias = _first(captures.get("import.alias"))
        name = _first(captures.get("import.name"))
        module_byte = module_node.start_byte
        if "import.star" in captures:
            return _Import("*", statement.start_byte, module, (), module_byte, statement, star=True)
        if name is not None:  # import { name } from "m"
            text = self.view.node_text(name)
            return _Import(text, name.start_byte, module, (text,), module_byte, statement, name.start_byte)
        if alias is not None:  # import * as ns from "m"; import ns "path"
            return _Import(self.view.node_text(alias), alias.start_byte, module, (), module_byte, statement)
        if self.language == "go":  # import "a/b/name": binds the package's name, mostly the last element
            last = module.rstrip("/").rpartition("/")[2]
            if _GO_PACKAGE_NAME.match(last) and not _GO_MAJOR_VERSION.match(last):
                return _Import(last, module_byte, module, (), module_byte, statement)
        return None

    # --- plain names -------------------------------------------------------------------------------------

    def _judges_plain_names(self, imports: list[_Import]) -> bool:
        """Whether the document lets plain names be judged at all."""
        if self.rules.needs_known and self.known is None:
            return False
        if self.rules.needs_module and not self._is_module():
            return False
        if self.language == "go":
            return not any(item.star for item in [*imports, *self._go_imports()])
        return True

    def _is_module(self) -> bool:
        text = self.text
        if any(marker in text for marker in _JS_MODULE_MARKERS):
            return True
        if self.queries.module is None:
            return False
        return any(
            "module" in captures
            for captures in _matches(self.queries.module, self.root, 0, len(self.view.source), 0)
        )

    def _go_imports(self) -> list[_Import]:
        """A Go file's imports (they all come before its declarations: a shallow query reaches them)."""
        if self._shallow_imports is None:
            self._shallow_imports = self._imports_up_to(3)
        return self._shallow_imports

    def _top_level_imports(self) -> list[_Import]:
        """A JavaScript module's imports (all at its top level), outside the suggestion."""
        if self._shallow_imports is None:
            self._shallow_imports = [
                item
                for item in self._imports_up_to(1)
                if not self.start_byte <= item.bound_byte < self.end_byte
            ]
        return self._shallow_imports

    def _imports_up_to(self, depth: int) -> list[_Import]:
        if self.queries.imports is None:
            return []
        found = []
        for captures in _matches(self.queries.imports, self.root, 0, len(self.view.source), depth=depth):
            item = self._import(captures)
            if item is not None:
                found.append(item)
        return found

    def _judge_plain(
        self,
        uses: list[_Use],
        bound: set[str],
        suggestion_uses: set[str],
        member_bound: dict[str, list[Node]],
        imports: list[_Import],
    ) -> None:
        rules = self.rules
        star: frozenset[str] | None = frozenset()  # what `*` imports in the suggestion bring in
        for item in imports:
            if item.star:
                names = self._star_names(item)
                star = None if names is None or star is None else star | names
        candidates: list[_Use] = []
        for use in uses:
            if not rules.references and not use.called:
                continue
            if use.name in rules.predefined or use.name in bound or use.name == "*":
                continue
            if rules.judged is not None and not rules.judged.match(use.name):
                continue
            if rules.uses_in_suggestion_count and use.name in suggestion_uses:
                continue
            if self._after_dot(use.node):
                continue
            candidates.append(use)
        unknown: list[_Use] = []
        for use in candidates:
            known_here, classes = self._occurs_outside(use.name)
            if known_here:
                continue
            classes = classes + member_bound.get(use.name, [])
            if classes and self._sees_class_member(use.node, classes):
                continue
            if self._known_in_workspace(use.name):
                continue
            unknown.append(use)
        if unknown and self.language == "python":  # names a `*` import or run-time code may bring in
            document_star = self._document_star_names()
            if document_star is None or star is None or self._document_is_dynamic():
                return
            unknown = [use for use in unknown if use.name not in star and use.name not in document_star]
        for use in unknown:
            offset = max(self.start, self.view.char_offset(use.node.start_byte))
            kind: UnknownKind = "call" if use.called else "reference"
            self.found.setdefault((offset, use.name), UnknownName(use.name, offset, kind))

    def _after_dot(self, node: Node) -> bool:
        """A name right after a ``.`` is a member even where the parse lost the structure."""
        before = self.view.source[max(0, node.start_byte - 64) : node.start_byte].rstrip(b" \t")
        return before.endswith(b".")

    def _known_in_workspace(self, name: str) -> bool:
        if self.known is None:
            return False
        try:
            return bool(self.known(name))
        except Exception:  # a failing lookup must not drop a suggestion: the name then counts as known
            log.debug("known(%r) failed", name, exc_info=True)
            return True

    def _hits(self, name: str) -> Iterator[tuple[int, int]]:
        """Byte spans of whole-word occurrences of ``name`` outside the suggestion."""
        text = self.text
        chars = self.rules.identifier_chars
        size = len(name)
        index = text.find(name)
        while index >= 0:
            after = index + size
            if (
                (index == 0 or not (text[index - 1].isalnum() or text[index - 1] in chars))
                and (after == len(text) or not (text[after].isalnum() or text[after] in chars))
                and (after <= self.start or index >= self.end)
            ):
                yield self.view.byte_offset(index), self.view.byte_offset(after)
            index = text.find(name, after)

    def _roles_at(self, start_byte: int, end_byte: int) -> set[str]:
        cursor = QueryCursor(self.queries.names)
        cursor.set_byte_range(start_byte, end_byte)
        return {
            role
            for role, nodes in cursor.captures(self.root).items()
            if any(node.start_byte == start_byte and node.end_byte == end_byte for node in nodes)
        }

    def _occurs_outside(self, name: str) -> tuple[bool, list[Node]]:
        """Whether the document outside the suggestion binds or uses ``name`` as a plain name; else the
        classes whose bodies bind it (seen only there)."""
        cached = self._status.get(name)
        if cached is not None:
            return cached
        classes: list[Node] = []
        result: tuple[bool, list[Node]] | None = None
        for count, (start_byte, end_byte) in enumerate(self._hits(name)):
            if count >= _MAX_HITS:  # a name written this often (in strings, as a member ...): taken as known
                result = (True, [])
                break
            roles = self._roles_at(start_byte, end_byte)
            if not roles or "ignore" in roles:
                continue
            if "binding" in roles and self.queries.members is not None:
                member_class = self._member_class(start_byte)
                if member_class is not None:
                    classes.append(member_class)
                    continue
            result = (True, [])
            break
        self._status[name] = result or (False, classes)
        return self._status[name]

    def _member_class(self, byte: int) -> Node | None:
        assert self.queries.members is not None
        for captures in _matches(self.queries.members, self.root, byte, byte + 1):
            if any(node.start_byte == byte for node in captures.get("binding.member", ())):
                return captures["scope.class"][0]
        return None

    def _sees_class_member(self, node: Node, classes: list[Node]) -> bool:
        """Whether a use sits in the body of one of ``classes`` itself (not in a function it holds)."""
        if self.queries.scopes is None:
            return True
        byte = node.start_byte
        class_bodies: dict[int, Node] = {}
        functions: list[Node] = []
        for captures in _matches(self.queries.scopes, self.root, byte, byte + 1):
            body = _first(captures.get("scope.body"))
            if body is None or not body.start_byte <= byte < body.end_byte:
                continue
            if "scope.class" in captures:
                class_bodies[captures["scope.class"][0].start_byte] = captures["scope.class"][0]
            else:
                functions.append(captures["scope.function"][0])
        for owner in classes:
            if owner.start_byte in class_bodies and not any(
                function.start_byte > owner.start_byte for function in functions
            ):
                return True
        return False

    def _star_names(self, item: _Import) -> frozenset[str] | None:
        return self.resolver.names_of(item.root, item.attributes)

    def _document_star_names(self) -> frozenset[str] | None:
        """The names ``*`` imports outside the suggestion bring in; None when one of them cannot be told."""
        names: frozenset[str] = frozenset()
        if self.queries.imports is None:
            return names
        for match in _PY_STAR_IMPORT.finditer(self.text):
            if self.start <= match.start() < self.end:
                continue
            byte = self.view.byte_offset(match.start())
            for captures in _matches(self.queries.imports, self.root, byte, byte + 1):
                item = self._import(captures)
                if item is not None and item.star:
                    star = self._star_names(item)
                    if star is None:
                        return None
                    names |= star
        return names

    def _document_is_dynamic(self) -> bool:
        """Whether the document makes names at run time (writes to ``globals()``, ``exec`` ...) outside the
        suggestion."""
        if self.queries.module is None:
            return False
        aliases: set[str] = set()  # names bound to globals(): writes through them make names too
        for name in _DYNAMIC_NAMES:
            for captures in self._module_matches_at(name):
                if captures.keys() & {"dynamic", "binding.exported"}:
                    return True
                aliases.update(self.view.node_text(node) for node in captures.get("dynamic.alias", ()))
        for alias in aliases:
            for captures in self._module_matches_at(alias):
                if any(self.view.node_text(node) == alias for node in captures.get("dynamic.write", ())):
                    return True
        return False

    def _module_matches_at(self, name: str) -> Iterator[dict[str, list[Node]]]:
        assert self.queries.module is not None
        for start_byte, end_byte in self._hits(name):
            yield from _matches(self.queries.module, self.root, start_byte, end_byte)

    # --- imports and members -----------------------------------------------------------------------------

    def _judge_imports(self, imports: list[_Import]) -> None:
        """``from m import name`` with ``name`` missing from ``m``; ``import a.b`` with no ``b`` in ``a``."""
        for item in imports:
            if item.star or self.language == "go":  # a Go import names a package path: nothing to judge in it
                continue
            attributes = item.attributes if item.name_byte is not None else item.written
            missing = self.resolver.missing(item.root, attributes)
            if missing is None:
                continue
            if item.name_byte is not None and missing == len(attributes) - 1:
                name, byte = attributes[missing], item.name_byte
            else:
                name, byte = ".".join([item.root, *attributes[: missing + 1]]), item.module_byte
            if self._guarded(byte, "import", name.rpartition(".")[2]):
                continue
            offset = max(self.start, self.view.char_offset(byte))
            self.found.setdefault((offset, name), UnknownName(name, offset, "import"))

    def _guarded(self, byte: int, kind: str, name: str) -> bool:
        """Whether code at ``byte`` expects a ``kind`` of name to be missing: a handler catches the failure,
        a condition on the version or the platform holds it, or ``hasattr(m, "name")`` does."""
        if self.queries.guards is None:
            return False
        for captures in _matches(self.queries.guards, self.root, byte, byte + 1):
            body = captures["guard.body"][0]
            if not body.start_byte <= byte < body.end_byte:
                continue
            handler = _first(captures.get("guard.handler"))
            if handler is not None:
                pattern = _HANDLED.get(kind)
                if pattern is not None and pattern.match(self.view.node_text(handler)):
                    return True
            condition = _first(captures.get("guard.condition"))
            if condition is None:
                continue
            written = self.view.node_text(condition)
            if _GUARDING_CONDITION.search(written):
                return True
            if "hasattr" in written and re.search(rf"""['"]{re.escape(name)}['"]""", written):
                return True
        return False

    def _judge_attributes(self, imports: list[_Import]) -> None:
        if self.queries.attributes is None:
            return
        for captures in _matches(self.queries.attributes, self.root, self.start_byte, self.end_byte):
            member = captures["attribute.name"][0]
            if not self._overlaps(member):
                continue
            written = self.view.node_text(captures["attribute.object"][0])
            if not _DOTTED.match(written):
                continue
            parts = written.split(".")
            chain = [*parts, self.view.node_text(member)]
            bindings = self._module_bindings(parts[0], imports)
            if not bindings:
                continue
            missing_at: set[int] = set()
            for item in bindings:
                missing = self.resolver.missing(item.root, (*item.attributes, *chain[1:]))
                if missing is None or missing < len(item.attributes):
                    missing_at.clear()
                    break
                missing_at.add(missing - len(item.attributes))
            if not missing_at:
                continue
            index = max(missing_at) + 1
            name = ".".join(chain[: index + 1])
            object_start = captures["attribute.object"][0].start_byte
            if self._written_outside(name) or self._guarded(object_start, "attribute", chain[index]):
                continue
            offset = max(self.start, self.view.char_offset(object_start))
            self.found.setdefault((offset, name), UnknownName(name, offset, "attribute"))

    def _module_bindings(self, name: str, imports: list[_Import]) -> list[_Import]:
        """The imports that bind ``name``, when nothing else binds it (then it may name a module)."""
        if name in self._imports_of:
            return self._imports_of[name] or []
        if name in self.rules.predefined:
            self._imports_of[name] = None
            return []
        found = [item for item in imports if item.bound == name and not item.star]
        shadowed = False
        if self.language == "go":
            found += [item for item in self._go_imports() if item.bound == name]
        elif self.language in ("javascript", "typescript", "tsx"):
            found += [item for item in self._top_level_imports() if item.bound == name]
        source = self.view.source
        for count, (start_byte, end_byte) in enumerate(self._hits(name)):
            if count >= _MAX_HITS:  # too many to read: whether something else binds it is not told
                shadowed = True
                break
            if source[end_byte : end_byte + 1] == b".":  # `name.member`: a use, never a binding
                continue
            roles = self._roles_at(start_byte, end_byte)
            if not roles & {"binding", "binding.global"}:
                continue
            item = self._import_binding_at(start_byte)
            if item is None:
                shadowed = True
                break
            if self.language == "python":
                found.append(item)
        if not shadowed:
            shadowed = self._bound_in_suggestion_otherwise(name, imports)
        result = None if shadowed else found
        self._imports_of[name] = result
        return result or []

    def _bound_in_suggestion_otherwise(self, name: str, imports: list[_Import]) -> bool:
        cursor = QueryCursor(self.queries.names)
        cursor.set_byte_range(self.start_byte, self.end_byte)
        import_bytes = {item.bound_byte for item in imports}
        for role in ("binding", "binding.global"):
            for node in cursor.captures(self.root).get(role, ()):
                if (
                    self._overlaps(node)
                    and node.start_byte not in import_bytes
                    and self.view.node_text(node) == name
                ):
                    return True
        return False

    def _import_binding_at(self, byte: int) -> _Import | None:
        if self.queries.imports is None:
            return None
        for captures in _matches(self.queries.imports, self.root, byte, byte + 1):
            item = self._import(captures)
            if item is not None and item.bound_byte == byte and not item.star:
                return item
        return None

    def _written_outside(self, dotted: str) -> bool:
        """Whether the document outside the suggestion writes ``dotted`` (the user's own code uses it)."""
        for _ in self._hits(dotted):
            return True
        return False


# --- other Python versions ------------------------------------------------------------------------------

# Top-level names of common standard modules that some of Python 3.9 to 3.13 have and others lack: code
# written for another version than the server's is real code (`from typing import override`). Generated by
# `bench/audit_bench.py --versions PYTHON ...` (each interpreter's sources parsed with this module).
_OTHER_VERSIONS_TABLE: dict[str, str] = {
    "abc": "update_abstractmethods",
    "argparse": "warnings",
    "asyncio": (
        "Barrier BrokenBarrierError CoroWrapper EventLoop Optional QueueShutDown Runner TaskGroup Timeout "
        "TracebackType Type can_use_pidfd coroutine create_eager_task_factory eager_task_factory enum "
        "final mixins on_fork partial queues timeout timeout_at timeouts waitstatus_to_exitcode"
    ),
    "base64": "b32hexdecode b32hexencode test z85decode z85encode",
    "calendar": (
        "APRIL AUGUST DECEMBER Day FEBRUARY February IntEnum JANUARY JULY JUNE January MARCH MAY Month "
        "NOVEMBER OCTOBER SEPTEMBER global_enum warnings"
    ),
    "collections.abc": (
        "ABCMeta AsyncGenerator AsyncIterable AsyncIterator Awaitable Buffer ByteString Callable "
        "Collection Container Coroutine EllipsisType FunctionType Generator GenericAlias Hashable "
        "ItemsView Iterable Iterator KeysView Mapping MappingView MutableMapping MutableSequence "
        "MutableSet Reversible Sequence Set Sized ValuesView abstractmethod async_generator "
        "bytearray_iterator bytes_iterator coroutine dict_itemiterator dict_items dict_keyiterator "
        "dict_keys dict_valueiterator dict_values generator list_iterator list_reverseiterator "
        "longrange_iterator mappingproxy range_iterator set_iterator str_iterator tuple_iterator "
        "zip_iterator"
    ),
    "configparser": (
        "Iterable LegacyInterpolation MultilineContinuationError SafeConfigParser UNNAMED_SECTION "
        "contextlib types warnings"
    ),
    "contextlib": "AsyncContextDecorator aclosing chdir os",
    "copy": "PyStringMap replace",
    "csv": "QUOTE_NOTNULL QUOTE_STRINGS complex types",
    "dataclasses": "FunctionType GenericAlias KW_ONLY abc builtins functools itertools recursive_repr",
    "datetime": "UTC",
    "decimal": (
        "BasicContext Clamped Context ConversionSyntax Decimal DecimalException DecimalTuple "
        "DefaultContext DivisionByZero DivisionImpossible DivisionUndefined ExtendedContext "
        "FloatOperation HAVE_CONTEXTVAR HAVE_THREADS Inexact InvalidContext InvalidOperation MAX_EMAX "
        "MAX_PREC MIN_EMIN MIN_ETINY Overflow ROUND_05UP ROUND_CEILING ROUND_DOWN ROUND_FLOOR "
        "ROUND_HALF_DOWN ROUND_HALF_EVEN ROUND_HALF_UP ROUND_UP Rounded Subnormal Underflow contextvars "
        "getcontext localcontext re setcontext"
    ),
    "email.message": "Policy binascii uu",
    "email.utils": "Charset random socket supports_strict_parsing",
    "enum": (
        "CONFORM CONTINUOUS EJECT EnumCheck EnumDict EnumType FlagBoundary KEEP NAMED_FLAGS ReprEnum "
        "STRICT StrEnum UNIQUE bin bltns global_enum global_enum_repr global_flag_repr global_str member "
        "nonmember pickle_by_enum_name pickle_by_global_name property reduce show_flag_values verify"
    ),
    "fnmatch": "count",
    "fractions": "functools",
    "genericpath": "isdevdrive isjunction islink lexists",
    "gettext": "bind_textdomain_codeset ldgettext ldngettext lgettext lngettext operator",
    "glob": "functools itertools operator stat translate",
    "gzip": "READ_BUFFER_SIZE",
    "hashlib": "file_digest",
    "http": "HTTPMethod StrEnum",
    "http.client": "MAXAMOUNT sys",
    "importlib": "find_loader types warnings",
    "importlib.metadata": (
        "Any ConfigParser Deprecated DeprecatedList DeprecatedNonAbstract DeprecatedTuple EntryPoints "
        "FreezableDefaultDict Iterable List Lookup Mapping Match Optional PackageMetadata Pair Sectioned "
        "SelectableGroups Set SimplePath Union always_iterable cast contextlib csv inspect io json "
        "method_cache packages_distributions pass_none textwrap types unique_everseen warnings"
    ),
    "importlib.resources": (
        "Anchor BinaryIO BytesIO ContextManager Iterable ModuleSpec ModuleType Optional Path Resource "
        "ResourceLoader ResourceReader Sequence TextIO TextIOWrapper Union cast contextmanager "
        "import_module io os resources_abc singledispatch suppress"
    ),
    "importlib.util": "Loader abc contextmanager functools module_for_loader set_loader set_package warnings",
    "inspect": (
        "AGEN_CLOSED AGEN_CREATED AGEN_RUNNING AGEN_SUSPENDED ArgSpec BufferFlags formatargspec "
        "get_annotations getargspec getasyncgenlocals getasyncgenstate getmembers_static iskeyword "
        "ismethodwrapper make_weakref markcoroutinefunction warnings"
    ),
    "io": "OpenWrapper text_encoding",
    "locale": "format getencoding localize resetlocale",
    "logging": "GenericAlias getHandlerByName getHandlerNames getLevelNamesMapping logAsyncioTasks",
    "logging.handlers": "ST_DEV ST_INO ST_MTIME io",
    "ntpath": "isdevdrive isjunction isreserved splitroot",
    "operator": "call",
    "os": (
        "CLONE_FILES CLONE_FS CLONE_NEWCGROUP CLONE_NEWIPC CLONE_NEWNET CLONE_NEWNS CLONE_NEWPID "
        "CLONE_NEWTIME CLONE_NEWUSER CLONE_NEWUTS CLONE_SIGHAND CLONE_SYSVSEM CLONE_THREAD CLONE_VM "
        "EFD_CLOEXEC EFD_NONBLOCK EFD_SEMAPHORE O_FSYNC POSIX_SPAWN_CLOSEFROM RWF_APPEND SPLICE_F_MORE "
        "SPLICE_F_MOVE SPLICE_F_NONBLOCK TFD_CLOEXEC TFD_NONBLOCK TFD_TIMER_ABSTIME "
        "TFD_TIMER_CANCEL_ON_SET eventfd eventfd_read eventfd_write grantpt login_tty posix_openpt "
        "process_cpu_count ptsname setns splice timerfd_create timerfd_gettime timerfd_gettime_ns "
        "timerfd_settime timerfd_settime_ns unlockpt unshare"
    ),
    "pathlib": (
        "EINVAL ParserBase PathBase PurePathBase UnsupportedOperation attrgetter chain fnmatch grp nt "
        "operator pwd re supports_symlinks urlquote_from_bytes warnings"
    ),
    "pickle": "PyStringMap fn",
    "platform": "AndroidVer IOSVersionInfo android_ver freedesktop_os_release ios_ver subprocess",
    "posix": (
        "CLONE_FILES CLONE_FS CLONE_NEWCGROUP CLONE_NEWIPC CLONE_NEWNET CLONE_NEWNS CLONE_NEWPID "
        "CLONE_NEWTIME CLONE_NEWUSER CLONE_NEWUTS CLONE_SIGHAND CLONE_SYSVSEM CLONE_THREAD CLONE_VM "
        "EFD_CLOEXEC EFD_NONBLOCK EFD_SEMAPHORE O_FSYNC POSIX_SPAWN_CLOSEFROM RWF_APPEND SPLICE_F_MORE "
        "SPLICE_F_MOVE SPLICE_F_NONBLOCK TFD_CLOEXEC TFD_NONBLOCK TFD_TIMER_ABSTIME "
        "TFD_TIMER_CANCEL_ON_SET eventfd eventfd_read eventfd_write grantpt login_tty posix_openpt "
        "ptsname setns splice timerfd_create timerfd_gettime timerfd_gettime_ns timerfd_settime "
        "timerfd_settime_ns unlockpt unshare"
    ),
    "posixpath": "isdevdrive isjunction splitroot",
    "queue": "ShutDown",
    "random": "binomialvariate main",
    "re": (
        "ASCII DEBUG DOTALL IGNORECASE LOCALE MULTILINE NOFLAG PatternError TEMPLATE UNICODE VERBOSE "
        "sre_compile sre_parse template"
    ),
    "secrets": "binascii",
    "shutil": "getgrnam getpwnam warnings",
    "site": "gethistoryfile register_readline stat",
    "socketserver": "ForkingUnixDatagramServer ForkingUnixStreamServer",
    "sqlite3": "enable_shared_cache threadsafety version_info",
    "ssl": "HAS_PSK RAND_pseudo_bytes match_hostname wrap_socket",
    "stat": "SF_DATALESS SF_FIRMLINK SF_RESTRICTED SF_SETTABLE UF_DATAVAULT UF_SETTABLE UF_TRACKED",
    "statistics": (
        "LinearRegression acos asin atan correlation cos cosh count covariance defaultdict isfinite isinf "
        "itemgetter kde kde_random linear_regression mul namedtuple pi reduce repeat sin sumprod sys tan"
    ),
    "subprocess": "STARTF_FORCEOFFFEEDBACK STARTF_FORCEONFEEDBACK fcntl grp locale pwd",
    "sysconfig": "expand_makefile_vars get_default_scheme get_preferred_scheme pardir threading",
    "tarfile": "warnings",
    "threading": "functools getprofile gettrace setprofile_all_threads settrace_all_threads warnings",
    "traceback": "ANSIColors BUILTIN_EXCEPTION_LIMIT suppress textwrap warnings",
    "types": "EllipsisType NoneType NotImplementedType UnionType exc get_original_bases tb",
    "typing": (
        "AsyncContextManager Concatenate ContextManager LiteralString Match Never NoDefault NotRequired "
        "ParamSpec ParamSpecArgs ParamSpecKwargs Pattern ReadOnly Required Self TypeAlias TypeAliasType "
        "TypeGuard TypeIs TypeVarTuple Unpack assert_never assert_type clear_overloads contextlib copyreg "
        "dataclass_transform defaultdict get_overloads get_protocol_members io is_protocol is_typeddict "
        "override re reveal_type stdlib_re warnings"
    ),
    "unittest": "doModuleCleanups enterModuleContext findTestCases getTestCaseNames load_tests makeSuite",
    "unittest.mock": "InvalidSpecError RLock ThreadingMixin ThreadingMock open_spec pkgutil threading",
    "urllib.parse": "MAX_CACHE_SIZE Quoter collections functools ipaddress math sys",
    "urllib.request": "posixpath",
    "uuid": "main",
    "warnings": "deprecated",
    "zipfile": "FastLookup contextlib itertools pathlib posixpath",
}


@cache
def _other_versions(path: str) -> frozenset[str]:
    return _words(_OTHER_VERSIONS_TABLE.get(path, ""))
