"""Every supported language: the index reads definitions and imports, resolves the import to the other file
and retrieval brings that file's definition to a completion that uses it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from completion.workspace.index import WorkspaceIndex
from completion.workspace.options import IndexOptions

WriteTree = Callable[[dict[str, str | bytes]], Path]


@dataclass(frozen=True)
class Case:
    files: dict[str, str]
    current: str  # the file being edited; "<CURSOR>" marks the position
    expected_path: str
    expected_text: str  # the snippet must start with this
    definitions: tuple[str, ...]  # names the index must find in expected_path


CASES = {
    "python": Case(
        {
            "app/__init__.py": "",
            "app/billing.py": "def charge_customer(account_id: str, cents: int) -> bool:\n    return True\n",
            "app/main.py": "from .billing import charge_customer\n\nok = charge_customer('a', 5)\n<CURSOR>\n",
        },
        "app/main.py",
        "app/billing.py",
        "def charge_customer(account_id: str, cents: int) -> bool:",
        ("charge_customer",),
    ),
    "typescript": Case(
        {
            "src/billing.ts": "export function chargeCustomer(accountId: string, cents: number): boolean {\n"
            "  return true;\n}\n",
            "src/main.ts": "import { chargeCustomer } from './billing';\n\n"
            "const ok = chargeCustomer('a', 5);\n"
            "<CURSOR>\n",
        },
        "src/main.ts",
        "src/billing.ts",
        "export function chargeCustomer(accountId: string, cents: number): boolean {",
        ("chargeCustomer",),
    ),
    "tsx": Case(
        {
            "src/Button.tsx": "export function Button(props: { label: string }) {\n"
            "  return <b>{props.label}</b>;\n}\n",
            "src/App.tsx": "import { Button } from './Button';\n\n"
            "const view = <Button label='x' />;\nconst b = Button;\n"
            "<CURSOR>\n",
        },
        "src/App.tsx",
        "src/Button.tsx",
        "export function Button(props: { label: string }) {",
        ("Button",),
    ),
    "javascript": Case(
        {
            "lib/billing.js": "export function chargeCustomer(accountId, cents) {\n  return true;\n}\n",
            "lib/main.js": "import { chargeCustomer } from './billing.js';\n\n"
            "const ok = chargeCustomer('a', 5);\n"
            "<CURSOR>\n",
        },
        "lib/main.js",
        "lib/billing.js",
        "export function chargeCustomer(accountId, cents) {",
        ("chargeCustomer",),
    ),
    "go": Case(
        {
            "go.mod": "module example.com/shop\n\ngo 1.22\n",
            "billing/billing.go": "package billing\n\n// ChargeCustomer bills an account.\n"
            "func ChargeCustomer(accountID string, cents int) bool {\n\treturn true\n}\n",
            "cmd/main.go": 'package main\n\nimport "example.com/shop/billing"\n\nfunc main() {\n'
            '\tok := billing.ChargeCustomer("a", 5)\n\t_ = ok\n\t<CURSOR>\n}\n',
        },
        "cmd/main.go",
        "billing/billing.go",
        "func ChargeCustomer(accountID string, cents int) bool {",
        ("ChargeCustomer",),
    ),
    "rust": Case(
        {
            "Cargo.toml": "[package]\nname = 'shop'\n",
            "src/billing.rs": "pub fn charge_customer(account_id: &str, cents: u32) -> bool {\n    true\n}\n",
            "src/main.rs": "mod billing;\nuse crate::billing::charge_customer;\n\nfn main() {\n"
            '    let ok = charge_customer("a", 5);\n    <CURSOR>\n}\n',
        },
        "src/main.rs",
        "src/billing.rs",
        "pub fn charge_customer(account_id: &str, cents: u32) -> bool {",
        ("charge_customer",),
    ),
    "java": Case(
        {
            "src/com/shop/billing/Billing.java": "package com.shop.billing;\n\npublic class Billing {\n"
            "    public static boolean chargeCustomer(String accountId, int cents) {\n        return true;\n"
            "    }\n}\n",
            "src/com/shop/Main.java": "package com.shop;\n\nimport com.shop.billing.Billing;\n\n"
            'public class Main {\n    void run() {\n        boolean ok = Billing.chargeCustomer("a", 5);\n'
            "        <CURSOR>\n    }\n}\n",
        },
        "src/com/shop/Main.java",
        "src/com/shop/billing/Billing.java",
        "public static boolean chargeCustomer(String accountId, int cents) {",
        ("Billing", "chargeCustomer"),
    ),
    "c": Case(
        {
            "src/billing.h": "/* Bills an account. */\n"
            "int charge_customer(const char *account_id, int cents);\n",
            "src/main.c": '#include "billing.h"\n\nint main(void) {\n    int ok = charge_customer("a", 5);\n'
            "    <CURSOR>\n}\n",
        },
        "src/main.c",
        "src/billing.h",
        "int charge_customer(const char *account_id, int cents);",
        ("charge_customer",),
    ),
    "cpp": Case(
        {
            "include/shop/billing.hpp": "namespace shop {\nclass Billing {\n public:\n"
            "  bool chargeCustomer(const char *accountId, int cents);\n};\n}\n",
            "src/main.cpp": '#include "shop/billing.hpp"\n\nint main() {\n    shop::Billing billing;\n'
            '    bool ok = billing.chargeCustomer("a", 5);\n    <CURSOR>\n}\n',
        },
        "src/main.cpp",
        "include/shop/billing.hpp",
        "bool chargeCustomer(const char *accountId, int cents);",
        ("Billing", "chargeCustomer"),
    ),
    "lua": Case(
        {
            "lua/shop/billing.lua": "local M = {}\n\nfunction M.charge_customer(account_id, cents)\n"
            "  return true\nend\n\nreturn M\n",
            "lua/shop/init.lua": "local billing = require('shop.billing')\n\n"
            "local ok = billing.charge_customer('a', 5)\n<CURSOR>\n",
        },
        "lua/shop/init.lua",
        "lua/shop/billing.lua",
        "function M.charge_customer(account_id, cents)",
        ("charge_customer",),
    ),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_language_definitions_imports_and_retrieval(language: str, write_tree: WriteTree) -> None:
    case = CASES[language]
    files: dict[str, str | bytes] = {path: text.replace("<CURSOR>", "") for path, text in case.files.items()}
    root = write_tree(files)
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.start()
    try:
        assert index.wait_idle(20.0)
        names = {definition.name for definition in index.definitions(str(root / case.expected_path))}
        assert set(case.definitions) <= names
        assert index.imports(str(root / case.current)), "the import statement was not indexed"
        source = textwrap.dedent(case.files[case.current])
        offset = source.index("<CURSOR>")
        snippets = index.retrieve(str(root / case.current), source.replace("<CURSOR>", ""), offset, 1500)
        matching = [s for s in snippets if s.path == case.expected_path and s.kind == "definition"]
        assert matching, snippets
        assert any(case.expected_text in s.text for s in matching), matching
    finally:
        index.stop()
