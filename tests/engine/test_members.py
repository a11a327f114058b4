"""Names that exist: where the members at the cursor are known, the model can only start with one of them.

A recording stand-in shows what the engine asks of the model (``GenerationSpec.names``) — nothing at all
where nothing is known; the embedded default model shows that the constraint holds for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from completion.backend import Generation, GenerationSpec
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.model import ModelSession
from completion.prompt import member_hint
from completion.workspace.index import WorkspaceIndex
from completion.workspace.options import IndexOptions
from tests.engine.test_ranking import ScriptedModel

ACCOUNT = '''class Account:
    """A bank account."""

    rate = 0.01

    def __init__(self, owner):
        self.owner = owner
        self.entries = []

    def deposit(self, amount):
        """Add money."""
        self.entries.append(amount)

    def statement(self):
        return self.|

    def balance_of(self, day):
        return sum(self.entries[:day])


def helper(items):
    return len(items)
'''
MEMBERS = {"rate", "owner", "entries", "deposit", "statement", "balance_of"}


@dataclass
class RecordingModel(ScriptedModel):
    specs: list[GenerationSpec] = field(default_factory=list)

    def generate(self, tokens: list[int], spec: GenerationSpec, cancel: object = None) -> Generation:
        self.specs.append(spec)
        return super().generate(tokens, spec, cancel)


def asked(
    text: str, constrain: bool = True, language: str = "python", path: str = "m.py"
) -> list[GenerationSpec]:
    model = RecordingModel(["x\n"], likelihood=lambda text: -1.0)
    engine = CompletionEngine(
        CompletionOptions(parse_context=False, time_budget_ms=60_000, constrain_names=constrain)
    )
    engine.model = model  # type: ignore[assignment]
    offset = text.index("|")
    engine.complete(CompletionRequest(text.replace("|", "", 1), offset, "file:///m", language, path))
    return model.specs


def test_after_self_the_first_name_is_one_of_the_class_members() -> None:
    (spec,) = asked(ACCOUNT)[:1]
    assert {name.decode() for name in spec.names} == MEMBERS  # no dunders, nothing of `helper`


def test_a_half_typed_member_keeps_the_names_it_can_still_become() -> None:
    spec = asked(ACCOUNT.replace("self.|", "self.de|"))[0]
    assert spec.healed == b"de"
    assert spec.names == (b"deposit",)  # the healed bytes first: generation re-types them


def test_a_typed_word_no_member_starts_with_is_left_alone() -> None:
    spec = asked(ACCOUNT.replace("self.|", "self.zz|"))[0]
    assert spec.names == () and spec.healed == b"zz"


@pytest.mark.parametrize(
    "text",
    [
        ACCOUNT.replace("return self.|", "|"),  # a blank line in a method
        ACCOUNT.replace("return self.|", "return sum(|"),  # mid-line code
        ACCOUNT.replace("return self.|", "return os.|"),  # a module nobody resolved: no guessing
        ACCOUNT.replace("return self.|", "return items.|"),  # a plain variable
        ACCOUNT.replace("return self.|", 'return "self.|"'),  # inside a string
        ACCOUNT.replace("return self.|", "return self  # self.|"),  # inside a comment
    ],
)
def test_nothing_is_constrained_where_nothing_is_known(text: str) -> None:
    assert all(spec.names == () for spec in asked(text))


def test_the_setting_turns_it_off() -> None:
    assert all(spec.names == () for spec in asked(ACCOUNT, constrain=False))


def test_this_and_go_receivers() -> None:
    script = (
        "class Cart {\n  constructor() { this.items = []; }\n  total() { return this.|; }\n  clear() {}\n}\n"
    )
    names = {name.decode() for name in asked(script, language="javascript", path="m.js")[0].names}
    assert names == {"items", "total", "clear"}
    go = (
        "package shop\n\ntype Cart struct {\n\tItems []int\n\towner string\n}\n\n"
        "func (c *Cart) Total() int {\n\treturn c.|\n}\n\nfunc (c Cart) Empty() bool { return true }\n"
    )
    names = {name.decode() for name in asked(go, language="go", path="m.go")[0].names}
    assert names == {"Items", "owner", "Total", "Empty"}


def test_the_default_model_only_writes_members_that_exist(default_model: ModelSession) -> None:
    engine = CompletionEngine(CompletionOptions(time_budget_ms=60_000, candidates=1, mid_line_candidates=1))
    engine.set_model(default_model)
    sites = [
        ACCOUNT,
        ACCOUNT.replace("return self.|", "total = self.|"),
        ACCOUNT.replace("return self.|", "self.|"),
        ACCOUNT.replace("return self.|", "if self.|"),
    ]
    for text in sites:
        offset = text.index("|")
        engine.clear_cache()
        completion = engine.complete(
            CompletionRequest(text.replace("|", "", 1), offset, "file:///m.py", "python", "m.py")
        )
        assert completion is not None, text
        written = completion.text
        assert any(
            written.startswith(name) and not written[len(name) : len(name) + 1].isidentifier()
            for name in MEMBERS
        ), written


BILLING = '''"""Billing."""
import os

TAX_RATE = 0.2


def charge_customer(customer_id, amount):
    """Charge a customer's card."""
    return amount * (1 + TAX_RATE)


def refund_order(order_id):
    return None


def _private_helper():
    return os.getcwd()
'''
BOOKS = "import billing\n\n\ndef buy(customer_id, amount):\n    total = billing.|\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[tuple[Path, WorkspaceIndex]]:
    index = WorkspaceIndex([str(tmp_path)], IndexOptions())
    yield tmp_path, index
    index.stop()


def indexed(root: Path, index: WorkspaceIndex, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.replace("|", ""))
    index.start()
    assert index.wait_idle(30)


def names_at(index: WorkspaceIndex, root: Path, name: str, text: str, language: str) -> set[str] | None:
    engine = CompletionEngine(CompletionOptions(parse_context=False))
    engine.retriever = index
    offset = text.index("|")
    request = CompletionRequest(text.replace("|", "", 1), offset, "file:///x", language, str(root / name))
    known = engine.members_at(request, language)
    return None if known is None else set(known.names)


def test_a_python_module_after_its_name_and_after_from_import(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    indexed(
        root,
        index,
        {"billing.py": BILLING, "books.py": BOOKS, "pkg/__init__.py": "", "pkg/tax.py": "RATE = 1\n"},
    )
    public_and_private = {"os", "TAX_RATE", "charge_customer", "refund_order", "_private_helper"}
    assert names_at(index, root, "books.py", BOOKS, "python") == public_and_private
    assert names_at(index, root, "books.py", "from billing import |\n", "python") == public_and_private
    assert (
        names_at(index, root, "books.py", "from billing import refund_order, ch|\n", "python")
        == public_and_private
    )
    assert names_at(index, root, "books.py", "import pkg.tax as t\nt.|\n", "python") == {"RATE"}
    assert names_at(index, root, "books.py", "from pkg import tax\ntax.|\n", "python") == {"RATE"}
    assert names_at(index, root, "books.py", "from pkg import |\n", "python") == {"tax"}
    assert names_at(index, root, "books.py", "import json\njson.|\n", "python") is None  # not the workspace's
    assert (
        names_at(
            index, root, "books.py", "from billing import charge_customer\ncharge_customer.|\n", "python"
        )
        is None
    )


def test_javascript_namespace_imports_and_go_packages(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    billing_js = "export function chargeCustomer(id) {}\nexport const TAX = 0.2;\nfunction hidden() {}\n"
    go_billing = (
        "package billing\n\nvar Rate = 0.2\n\nfunc Charge(id int) error { return nil }\n\nfunc helper() {}\n"
    )
    indexed(
        root,
        index,
        {"billing.js": billing_js, "go.mod": "module example.com/shop\n", "billing/billing.go": go_billing},
    )
    star = "import * as billing from './billing.js';\nbilling.|\n"
    assert names_at(index, root, "books.js", star, "javascript") == {"chargeCustomer", "TAX"}
    default = "import billing from './billing.js';\nbilling.|\n"
    assert names_at(index, root, "books.js", default, "javascript") is None  # some value: members unknown
    go = 'package main\n\nimport "example.com/shop/billing"\n\nfunc main() {\n\tbilling.|\n}\n'
    assert names_at(index, root, "main.go", go, "go") == {"Charge", "Rate"}


BILLING_JS = (
    "/** Charge a customer's card. */\nexport function chargeCustomer(customerId, amount) {\n  return amount;\n}\n\n"
    "export function refundOrder(orderId) {\n  return null;\n}\n"
)
BOOKS_JS = (
    "import * as billing from './billing.js';\n\n"
    "export function buy(customerId, amount) {\n  const total = billing.|\n}\n"
)
BILLING_GO = (
    "package billing\n\n// Charge charges a customer's card.\nfunc Charge(customerID int, amount float64) float64 {\n"
    "\treturn amount\n}\n\nfunc Refund(orderID int) error {\n\treturn nil\n}\n"
)
BOOKS_GO = (
    'package main\n\nimport "example.com/shop/billing"\n\nfunc buy(customerID int, amount float64) float64 {\n'
    "\ttotal := billing.|\n\treturn total\n}\n"
)
TWO_FILE_WORKSPACES = {
    "python": ({"billing.py": BILLING}, "books.py", BOOKS, "def charge_customer(customer_id, amount):"),
    "javascript": ({"billing.js": BILLING_JS}, "books.js", BOOKS_JS, "export function chargeCustomer("),
    "go": (
        {"go.mod": "module example.com/shop\n", "billing/billing.go": BILLING_GO},
        "main.go",
        BOOKS_GO,
        "func Charge(customerID int, amount float64) float64",
    ),
}


@pytest.mark.parametrize("language", sorted(TWO_FILE_WORKSPACES))
def test_the_default_model_writes_a_member_the_module_has(
    workspace: tuple[Path, WorkspaceIndex], default_model: ModelSession, language: str
) -> None:
    root, index = workspace
    others, name, text, definition = TWO_FILE_WORKSPACES[language]
    indexed(root, index, {**others, name: text})
    members = names_at(index, root, name, text, language)
    assert members, language
    request = CompletionRequest(
        text.replace("|", ""), text.index("|"), f"file:///{name}", language, str(root / name)
    )
    engine = CompletionEngine(CompletionOptions(time_budget_ms=60_000))
    engine.set_model(default_model)
    engine.retriever = index
    assert definition in engine.build_prompt(request).text()  # the module's definitions are in the prompt
    completion = engine.complete(request)
    assert completion is not None, language
    written = completion.text
    assert any(
        written.startswith(member) and not written[len(member) : len(member) + 1].isidentifier()
        for member in members
    ), (language, written)


def test_a_rename_on_disk_changes_the_names(workspace: tuple[Path, WorkspaceIndex]) -> None:
    root, index = workspace
    indexed(root, index, {"billing.py": BILLING, "books.py": BOOKS})
    (root / "billing.py").write_text(BILLING.replace("charge_customer", "bill_customer"))
    assert index.wait_for(
        lambda: "bill_customer" in (names_at(index, root, "books.py", BOOKS, "python") or ()), 30
    )
    assert "charge_customer" not in (names_at(index, root, "books.py", BOOKS, "python") or ())


def test_members_the_window_does_not_show_are_named_right_above_the_cursor_line() -> None:
    engine = CompletionEngine(CompletionOptions(parse_context=False, prefix_chars=120, window_stride_lines=1))
    engine.model = RecordingModel(["x\n"], likelihood=lambda text: -1.0)  # type: ignore[assignment]
    text = ACCOUNT.replace("|", "")
    offset = ACCOUNT.index("|")
    prompt = engine.build_prompt(CompletionRequest(text, offset, "file:///m.py", "python", "m.py"))
    window = prompt.prefix
    assert window.endswith("        # self has: rate, owner, deposit, balance_of\n        return self.")
    # Above the cursor line the prompt is what it is on a line without a member access: the cached start.
    plain = engine.build_prompt(
        CompletionRequest(text, offset - len("self."), "file:///m.py", "python", "m.py")
    )
    above = plain.prefix[: plain.prefix.rindex("\n") + 1]
    assert window == above + "        # self has: rate, owner, deposit, balance_of\n        return self."
    assert prompt.names and plain.names == ()


def test_member_hint_lists_only_what_the_window_lacks() -> None:
    assert member_hint("self", ("items", "total", "clear"), "x = self.items\n") == "self has: total, clear"
    assert member_hint("this", ("items",), "this.items.push(1)") == ""
    many = tuple(f"m{number}" for number in range(20))
    assert member_hint("self", many, "", limit=3) == "self has: m0, m1, m2, ..."
