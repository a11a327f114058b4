"""Names a suggestion uses that nothing defines (``syntax.unknown_names``): the check behind the audit of
remote suggestions and the ranking of local candidates."""

from __future__ import annotations

import threading

import pytest

from syntax.document import SyntaxDocument
from syntax.unknown_names import UnknownName, module_names, preload, unknown_names

START, END = "<<", ">>"


def split(source: str) -> tuple[str, int, int]:
    """The text without the markers, and where the suggestion between them lies."""
    start = source.index(START)
    source = source.replace(START, "", 1)
    end = source.index(END)
    return source.replace(END, "", 1), start, end


def judged(source: str, language: str = "python", **options: object) -> list[tuple[str, str]]:
    """(kind, name) of every unknown name in the marked suggestion."""
    text, start, end = split(source)
    found = unknown_names(text, language, start, end, **options)  # type: ignore[arg-type]
    return [(item.kind, item.name) for item in found]


# --- plain names (Python) -------------------------------------------------------------------------------


def test_an_undefined_call_is_caught_where_a_cut_leaves_it_out() -> None:
    text, start, end = split(
        "import os\n\ndef f(path):\n    <<data = load_settings(path)>>\n    return data\n"
    )
    found = unknown_names(text, "python", start, end)
    assert found == [UnknownName("load_settings", text.index("load_settings"), "call")]
    assert text[start : found[0].offset] == "data = "


def test_an_undefined_reference_is_caught_and_every_use_is_listed_in_order() -> None:
    assert judged("def f(a):\n    <<return a + offset * scale - offset>>\n") == [
        ("reference", "offset"),
        ("reference", "scale"),
        ("reference", "offset"),
    ]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(
            "def f(x):\n    <<return later(x)>>\n\n\ndef later(y):\n    return y\n", id="defined-later"
        ),
        pytest.param("def f(xs):\n    <<for x in xs: print(x)>>\n", id="bound-in-the-suggestion-for"),
        pytest.param(
            "<<def helper():\n    return 1\n\nvalue = helper()>>\n", id="bound-in-the-suggestion-before"
        ),
        pytest.param(
            "<<value = helper()\n\ndef helper():\n    return 1>>\n", id="bound-in-the-suggestion-after"
        ),
        pytest.param(
            "def f(width, *rest, height=2, **extra):\n    <<return width + height, rest, extra>>\n",
            id="params",
        ),
        pytest.param(
            "def f(n):\n    <<return [k * 2 for k in range(n) if k]>>\n", id="comprehension-variable"
        ),
        pytest.param("<<values = sorted(map(len, list(dict(a=1))))>>\n", id="builtins"),
        pytest.param("import numpy as np\n<<matrix = np.zeros(3)>>\n", id="import-alias"),
        pytest.param("from collections import OrderedDict as OD\n<<seen = OD()>>\n", id="from-import-alias"),
        pytest.param("def bump():\n    global counter\n    <<counter += 1>>\n", id="global"),
        pytest.param("<<f = lambda q, r=1: q + r>>\n", id="lambda-parameters"),
        pytest.param("<<with open('f') as handle:\n    handle.read()>>\n", id="with-target"),
        pytest.param(
            "<<try:\n    pass\nexcept ValueError as error:\n    print(error)>>\n", id="except-target"
        ),
        pytest.param(
            "def f(p):\n    <<match p:\n        case [a, *rest]:\n            return a, rest>>\n",
            id="match-capture",
        ),
        pytest.param("<<def f[T](a: T) -> T:\n    return a>>\n", id="type-parameter"),
        pytest.param("<<if (n := 10) > 5:\n    print(n)>>\n", id="walrus"),
        pytest.param("def f():\n    return helper()\n\n<<result = helper()>>\n", id="used-elsewhere-unbound"),
        pytest.param("<<print(__name__, __file__)>>\n", id="module-dunders"),
    ],
)
def test_names_that_exist_are_not_flagged(source: str) -> None:
    assert judged(source) == []


def test_a_method_called_without_self_is_caught_but_a_class_body_sees_its_names() -> None:
    methods = "class C:\n    def helper(self):\n        return 1\n\n"
    assert judged(methods + "    def run(self):\n        <<return helper()>>\n") == [("call", "helper")]
    assert judged(methods + "    <<alias = helper>>\n") == []
    assert judged("class C:\n    limit = 3\n\n    def run(self, n=<<limit>>):\n        return n\n") == []


def test_a_name_completed_from_what_the_user_typed_is_judged_and_cut_at_the_suggestion() -> None:
    text, start, end = split("x = 1\nresult = comp<<ute(x)>>\n")
    found = unknown_names(text, "python", start, end)
    assert [(item.name, item.offset) for item in found] == [("compute", start)]


def test_offsets_are_str_offsets_past_wide_characters() -> None:
    text, start, end = split("title = 'naïve 🐍 façade'\n<<value = helperz(title)>>\n")
    found = unknown_names(text, "python", start, end)
    assert [(item.name, text[item.offset : item.offset + 7]) for item in found] == [("helperz", "helperz")]


def test_members_and_keyword_names_are_not_plain_names() -> None:
    assert judged("def f(obj):\n    <<return obj.anything(key=obj.other)>>\n") == []


def test_star_imports_bring_in_names_only_when_their_module_resolves() -> None:
    assert judged("from os.path import *\n<<p = join('a', 'b')>>\n") == []
    assert judged("from os.path import *\n<<p = joinz('a', 'b')>>\n") == [("call", "joinz")]
    assert judged("from somewhere_else import *\n<<p = joinz('a', 'b')>>\n") == []


def test_a_document_that_writes_its_globals_leaves_plain_names_alone() -> None:
    assert judged("globals()['made'] = 1\n<<print(made)>>\n") == []
    assert judged("exec(source)\n<<print(made)>>\n") == []
    assert judged("exec(source, {})\n<<print(made)>>\n") == [("reference", "made")]


def test_the_workspace_lookup_is_asked_last() -> None:
    asked: list[str] = []

    def known(name: str) -> bool:
        asked.append(name)
        return name == "shared_helper"

    assert judged("<<shared_helper(len([]))\nmissing()>>\n", known=known) == [("call", "missing")]
    assert asked == ["shared_helper", "missing"]


# --- modules (Python) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import json\n<<data = json.parse(text)>>\n", [("attribute", "json.parse")]),
        ("import json\n<<data = json.loads(text)>>\n", []),
        ("import os\n<<p = os.path.joinpath('a', 'b')>>\n", [("attribute", "os.path.joinpath")]),
        ("import os\n<<p = os.path.join('a', 'b')>>\n", []),
        ("import os\n<<names = os.listfiles('.')>>\n", [("attribute", "os.listfiles")]),
        ("import os\n<<names = os.listdir('.')>>\n", []),
        ("from os import path\n<<path.joinpath('a')>>\n", [("attribute", "path.joinpath")]),
        ("import xml.dom.minidom as md\n<<md.parseStringz(s)>>\n", [("attribute", "md.parseStringz")]),
        ("<<from json import loadz>>\n", [("import", "loadz")]),
        ("<<from json import loads, dumps>>\n", []),
        ("<<from os.path import join, joinx>>\n", [("import", "joinx")]),
        ("<<import json.parse>>\n", [("import", "json.parse")]),
        ("<<import os.path, email.mime.text>>\n", []),
    ],
)
def test_members_of_standard_modules_are_read_from_their_sources(
    source: str, expected: list[tuple[str, str]]
) -> None:
    text, start, end = split(source)
    found = [
        (item.kind, item.name) for item in unknown_names(text, "python", start, end, known=lambda _: True)
    ]
    assert found == expected


def test_a_member_is_cut_before_its_module() -> None:
    text, start, end = split("import json\n<<data = json.parse(text)>>\n")
    assert [item.offset for item in unknown_names(text, "python", start, end, known=lambda _: True)] == [
        text.index("json.parse")
    ]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("import sys\n<<sys.anything()>>\n", id="c-module"),
        pytest.param("import concurrent.futures\n<<concurrent.futures.Anything>>\n", id="module-getattr"),
        pytest.param("import re\n<<re.IGNORECASE>>\n", id="enum-members-made-module-names"),
        pytest.param("import third_party_pkg\n<<third_party_pkg.anything()>>\n", id="not-found"),
        pytest.param("<<from third_party_pkg import anything>>\n", id="not-found-import"),
        pytest.param("import json\njson = make_codec()\n<<json.parse(1)>>\n", id="shadowed"),
        pytest.param("import json\n<<print(json.parse)>>\nprint(json.parse)\n", id="written-elsewhere"),
        pytest.param("<<from typing import override, TypeIs>>\n", id="names-of-other-python-versions"),
        pytest.param(
            "import os\n<<os.startfile(path); os.lchmod(path, 0)>>\n", id="names-of-other-platforms"
        ),
        pytest.param("import logging\n<<logging.getLogger(__name__).anything()>>\n", id="values-not-judged"),
    ],
)
def test_what_cannot_be_told_is_allowed(source: str) -> None:
    text, start, end = split(source)
    assert unknown_names(text, "python", start, end, known=lambda _: True) == []


def test_workspace_modules_come_from_members() -> None:
    utils = "import os\n\ndef read_config(path):\n    return os.path.exists(path)\n\nDEFAULTS = {}\n"
    names = module_names(utils, "python")
    assert names is not None and {"read_config", "DEFAULTS", "os"} <= names
    members = {"mypkg": frozenset({"utils"}), "mypkg.utils": names}.get
    source = "<<from mypkg.utils import read_config, read_conf\nimport mypkg.utils as u\nu.DEFAULTZ>>\n"
    assert judged(source, members=members) == [("import", "read_conf"), ("attribute", "u.DEFAULTZ")]
    assert judged("<<from .utils import nothing_known>>\n", members=lambda module: None) == []


def test_a_module_of_a_package_whose_own_names_cannot_be_told() -> None:
    """``from . import events`` in a package whose ``__init__`` star-imports (asyncio's): the package's names
    cannot be told, but ``events`` is a module whose names can."""
    members = {".": None, ".events": frozenset({"get_event_loop"})}.get
    source = "<<from . import events\nevents.get_event_loop()\nevents.get_the_loop()>>\n"
    assert judged(source, members=members) == [("attribute", "events.get_the_loop")]
    assert judged("<<from . import events\nevents.anything()>>\n", members=lambda module: None) == []


def test_a_workspace_module_with_getattr_is_not_judged() -> None:
    lazy = "def __getattr__(name):\n    return name\n"
    assert module_names(lazy, "python") is None
    members = {"lazy": module_names(lazy, "python")}.get
    assert judged("<<from lazy import anything\nimport lazy\nlazy.other()>>\n", members=members) == []


def test_module_names_of_python_skip_locals_and_follow_enum_exports() -> None:
    source = (
        "import enum\n\ndef f(a):\n    local = a\n    return local\n\nclass C:\n    member = 1\n\n"
        "@enum.global_enum\nclass Flag(enum.IntFlag):\n    RED = R = 1\n\nfor item in []:\n    pass\n"
    )
    names = module_names(source, "python")
    assert names is not None
    assert {"enum", "f", "C", "Flag", "RED", "R", "item"} <= names
    assert not {"local", "member", "a"} & names


# --- the document and its cost ----------------------------------------------------------------------------


def test_a_parsed_document_is_used_as_it_is() -> None:
    text, start, end = split("def f(x):\n    <<return helperz(x)>>\n")
    document = SyntaxDocument(text, "python")
    assert unknown_names(text, "python", start, end, document=document) == unknown_names(
        text, "python", start, end
    )
    other = SyntaxDocument("x = 1\n", "python")  # not the same text: parsed anew
    assert unknown_names(text, "python", start, end, document=other)[0].name == "helperz"


def test_nothing_is_judged_outside_the_suggestion_or_for_other_languages() -> None:
    text = "print(undefined_one)\nprint(undefined_two)\n"
    line = text.index("\n") + 1
    assert [item.name for item in unknown_names(text, "python", line, len(text))] == ["undefined_two"]
    assert unknown_names(text, "python", 3, 3) == []
    assert unknown_names("fn main() { helper(); }", "rust", 0, 23) == []
    assert unknown_names("x", "cobol", 0, 1) == []


def test_concurrent_checks_agree() -> None:
    text, start, end = split("import json\n<<json.parse(helperz())>>\n")
    expected = unknown_names(text, "python", start, end)
    results: list[list[UnknownName]] = []

    def check() -> None:
        results.append(unknown_names(text, "python", start, end))

    threads = [threading.Thread(target=check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4 and len(expected) == 2


def test_preload_reads_modules_ahead() -> None:
    preload(["json", "no_such_module_anywhere"])
    assert judged("import json\n<<json.parse(1)>>\n") == [("attribute", "json.parse")]


# --- JavaScript / TypeScript -------------------------------------------------------------------------------

JS_MODULE = "import { readFile } from 'fs';\n\nfunction load(path) {\n  <<SUGGESTION>>\n}\n"


@pytest.mark.parametrize(
    ("suggestion", "expected"),
    [
        ("return normalizeOptions(path);", [("call", "normalizeOptions")]),
        ("return readFile(path);", []),
        ("console.log(parseInt(path)); setTimeout(load, 1);", []),
        ("return new Widget(path);", []),  # classes and globals of capitals are never judged
        ("return makeThing(path) + someValue;", [("call", "makeThing")]),  # references are not judged
        ("const helper = (p) => p; return helper(path);", []),
        ("return expect(path).toBe(1);", []),  # a test runner's globals
    ],
)
def test_javascript_calls_are_judged_conservatively(suggestion: str, expected: list[tuple[str, str]]) -> None:
    source = JS_MODULE.replace("SUGGESTION", suggestion)
    assert judged(source, "javascript") == expected


def test_javascript_scripts_are_not_judged_and_commonjs_modules_are() -> None:
    assert judged("function load(path) {\n  <<return normalizeOptions(path);>>\n}\n", "javascript") == []
    common = "const fs = require('fs');\nfunction load(path) {\n  <<return normalizeOptions(path);>>\n}\n"
    assert judged(common, "javascript") == [("call", "normalizeOptions")]


def test_javascript_named_and_namespace_imports_use_members() -> None:
    util = "export function formatDate(d) { return d; }\nexport const VERSION = 1;\nexport default 3;\n"
    names = module_names(util, "javascript")
    assert names == frozenset({"formatDate", "VERSION", "default"})
    members = {"./util": names}.get
    source = (
        "import * as util from './util';\n"
        "<<import { formatDate, formatTime } from './util';\nutil.parseDate(1);>>\n"
    )
    assert judged(source, "javascript", members=members) == [
        ("import", "formatTime"),
        ("attribute", "util.parseDate"),
    ]
    assert module_names("export * from './other';\n", "javascript") is None
    assert module_names("module.exports = { a };\n", "javascript") is None


def test_typescript_declarations_and_types() -> None:
    source = (
        "import { Thing } from './thing';\ndeclare function declaredHere(x: number): void;\n"
        "export function run(value: Thing): void {\n  <<declaredHere(1); const t: Thing = value; undeclared(t);>>\n}\n"
    )
    assert judged(source, "typescript") == [("call", "undeclared")]
    assert judged(source.replace("): void {", "): JSX.Element {"), "tsx") == [("call", "undeclared")]
    names = module_names(
        "export interface Shape { x: number }\nexport type Id = string;\nexport enum E { A }\n", "typescript"
    )
    assert names == frozenset({"Shape", "Id", "E"})


# --- Go ------------------------------------------------------------------------------------------------------

GO_FILE = (
    'package main\n\nimport (\n\tf "fmt"\n\t"strings"\n)\n\n'
    "func run(items []string) int {\n\t<<SUGGESTION>>\n\treturn 0\n}\n"
)


@pytest.mark.parametrize(
    ("suggestion", "expected"),
    [
        ("total := sumLengths(items)", [("call", "sumLengths")]),
        ("n := len(items); _ = make([]int, n)", []),
        ('f.Println(strings.Join(items, ","))', []),
        ("helperInPackage(items)", []),  # the workspace lookup knows it
        ("x := MyType(1); _ = x", [("call", "MyType")]),
    ],
)
def test_go_calls_are_judged_with_the_workspace_lookup(
    suggestion: str, expected: list[tuple[str, str]]
) -> None:
    source = GO_FILE.replace("SUGGESTION", suggestion)
    assert judged(source, "go", known=lambda name: name == "helperInPackage") == expected


def test_go_needs_the_workspace_lookup_and_no_dot_imports() -> None:
    source = GO_FILE.replace("SUGGESTION", "total := sumLengths(items)")
    assert judged(source, "go") == []  # a package spans files: without the lookup nothing is judged
    dotted = source.replace('\t"strings"\n', '\t. "strings"\n')
    assert judged(dotted, "go", known=lambda name: False) == []


def test_go_package_members_use_members() -> None:
    package = (
        "package strutil\n\nfunc Reverse(s string) string { return s }\n\nvar (\n\tMax = 3\n)\n\ntype T int\n"
    )
    names = module_names(package, "go")
    assert names == frozenset({"Reverse", "Max", "T"})
    source = (
        'package main\n\nimport "example.com/strutil"\n\n'
        'func main() {\n\t<<strutil.Reverse("a"); strutil.Revers("b")>>\n}\n'
    )
    members = {"example.com/strutil": names}.get
    assert judged(source, "go", known=lambda name: False, members=members) == [
        ("attribute", "strutil.Revers")
    ]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(
            "<<try:\n    from json import loadz\nexcept ImportError:\n    loadz = None>>\n", id="try-import"
        ),
        pytest.param(
            "try:\n    from collections.abc import Set\nexcept ImportError:\n    <<from collections import Sett>>\n",
            id="fallback-import",
        ),
        pytest.param("import os\n<<if hasattr(os, 'listfiles'):\n    os.listfiles('.')>>\n", id="hasattr"),
        pytest.param("import sys, os\n<<if sys.platform == 'win32':\n    os.winonly()>>\n", id="platform"),
        pytest.param(
            "from typing import TYPE_CHECKING\n<<if TYPE_CHECKING:\n    from json import Stub>>\n", id="stubs"
        ),
        pytest.param("<<from __future__ import division\nratio = division>>\n", id="future-import-binds"),
    ],
)
def test_code_that_expects_a_name_to_be_missing_is_left_alone(source: str) -> None:
    text, start, end = split(source)
    assert unknown_names(text, "python", start, end, known=lambda _: True) == []


def test_a_broad_handler_does_not_hide_a_made_up_member() -> None:
    source = "import os\n<<try:\n    os.listfiles('.')\nexcept Exception:\n    pass>>\n"
    assert judged(source) == [("attribute", "os.listfiles")]


def test_hasattr_guards_only_the_name_it_asks_for() -> None:
    source = "import os\n<<if hasattr(os, 'startfile'):\n    os.listfiles('.')>>\n"
    assert judged(source) == [("attribute", "os.listfiles")]
