"""syntax.members: the enclosing class's members after ``self.`` / ``this.`` / a Go receiver's ``r.``."""

from __future__ import annotations

import pytest

from syntax.document import SyntaxDocument
from syntax.members import Member, MemberAccess, member_access

CURSOR = "|"


def access(language: str, marked: str) -> MemberAccess | None:
    """The access at the ``|`` in ``marked`` (the marker removed from the text)."""
    offset = marked.index(CURSOR)
    return member_access(marked.replace(CURSOR, "", 1), language, offset)


def names(language: str, marked: str) -> list[str]:
    found = access(language, marked)
    assert found is not None and found.kind == "self" and found.members is not None, found
    return [member.name for member in found.members]


def member(language: str, marked: str, name: str) -> Member:
    found = access(language, marked)
    assert found is not None and found.members is not None, found
    return next(item for item in found.members if item.name == name)


PYTHON = '''\
class Base:
    def base_method(self):
        """From the base."""
        self.base_attr = 1


class Other:
    other_attr = 0

    def other_method(self):
        self.other_assigned = 2


class Cart(Base):
    """A cart."""

    limit: int = 3
    label = "cart"

    def __init__(self, items):
        self.items = items
        self._cache, self.count = {}, 0

    def __len__(self):
        return len(self.items)

    @property
    def total(self) -> int:
        """The sum of the prices."""
        return 0

    @total.setter
    def total(self, value): ...

    def add(self, item):
        def inner():
            self.inner_attr = 3
        self.|

    def later(self, x: int,
              y: str) -> None:
        self.later_attr: int = 0

    @staticmethod
    def make(size):
        size.not_a_member = 1
'''

PYTHON_MEMBERS = [
    "limit",
    "label",
    "items",
    "_cache",
    "count",
    "total",
    "add",
    "inner_attr",
    "later",
    "later_attr",
    "make",
    "base_method",
    "base_attr",
]


def test_python_self_gives_the_class_members_its_attributes_and_its_bases() -> None:
    found = access("python", PYTHON)
    assert found is not None
    assert (found.receiver, found.partial, found.kind) == ("self", "", "self")
    assert found.start == PYTHON.index(CURSOR)
    assert [item.name for item in found.members or ()] == PYTHON_MEMBERS


def test_python_members_carry_kind_signature_and_docstring() -> None:
    assert member("python", PYTHON, "total") == Member(
        "total", "property", "def total(self) -> int:", "The sum of the prices."
    )
    assert member("python", PYTHON, "later") == Member(
        "later", "method", "def later(self, x: int, y: str) -> None:", ""
    )
    assert member("python", PYTHON, "later_attr") == Member(
        "later_attr", "attribute", "self.later_attr: int = 0", ""
    )
    assert member("python", PYTHON, "limit") == Member("limit", "attribute", "limit: int = 3", "")
    assert member("python", PYTHON, "base_method").doc == "From the base."


def test_python_partial_word_is_reported_and_dunders_come_only_after_two_underscores() -> None:
    typed = PYTHON.replace("self.|", "self.ad|")
    found = access("python", typed)
    assert found is not None
    assert (found.partial, found.start) == ("ad", typed.index(CURSOR) - 2)
    assert [item.name for item in found.members or ()] == PYTHON_MEMBERS
    dunders = names("python", PYTHON.replace("self.|", "self.__|"))
    assert dunders[:3] == ["limit", "label", "__init__"]
    assert "__len__" in dunders


def test_python_the_access_being_typed_is_not_a_member() -> None:
    assigned = names("python", PYTHON.replace("self.|", "self.fresh| = 1"))
    assert "fresh" not in assigned
    assert assigned == PYTHON_MEMBERS


def test_python_cursor_in_a_middle_of_an_open_header_still_parses() -> None:
    source = "class A:\n    def f(self):\n        if self.|\n\n    def g(self):\n        self.x = 1\n"
    assert names("python", source) == ["f", "g", "x"]


@pytest.mark.parametrize(
    "line",
    ['        text = "self.|"', "        # self.|", '        """self.|"""'],
    ids=["string", "comment", "docstring"],
)
def test_python_string_or_comment_is_not_a_member_access(line: str) -> None:
    assert access("python", PYTHON.replace("        self.|", line)) is None


def test_python_other_receivers_are_names_without_members() -> None:
    found = access("python", PYTHON.replace("self.|", "billing.to|"))
    assert found == MemberAccess("billing", "to", PYTHON.index("self.|") + len("billing."), "name", None)
    chained = access("python", PYTHON.replace("self.|", "self.items.|"))
    assert chained is not None and (chained.receiver, chained.kind, chained.members) == (
        "self.items",
        "name",
        None,
    )
    static = access("python", PYTHON.replace("        self.|\n", "").replace("size.not_a_member", "size.|"))
    assert static is not None and (static.receiver, static.kind, static.members) == ("size", "name", None)
    outside = access("python", "def f(self):\n    self.|\n")
    assert outside is not None and (outside.kind, outside.members) == ("name", None)


def test_no_dot_before_the_word_or_an_unsupported_language_gives_none() -> None:
    assert access("python", PYTHON.replace("self.|", "self|")) is None
    assert access("python", PYTHON.replace("self.|", "x = 1.|")) is None
    assert access("rust", "impl A { fn f(&self) { self.| } }") is None


def test_a_document_holding_the_text_is_used_and_another_text_is_not() -> None:
    text = PYTHON.replace(CURSOR, "")
    offset = PYTHON.index(CURSOR)
    document = SyntaxDocument(text, "python")
    found = member_access(text, "python", offset, document)
    assert found is not None and [item.name for item in found.members or ()] == PYTHON_MEMBERS
    stale = SyntaxDocument("class Other:\n    def f(self):\n        self.\n", "python")
    again = member_access(text, "python", offset, stale)
    assert again is not None and [item.name for item in again.members or ()] == PYTHON_MEMBERS


JAVASCRIPT = """\
class Base {
  baseMethod() {}
}

class Other {
  otherMethod() { this.otherField = 1; }
}

class Counter extends Base {
  #count = 0;
  step = 1;
  static instances = 0;

  constructor(start) {
    this.start = start;
  }

  static create() { return new Counter(0); }

  /** How far it counted. */
  get value() { return this.#count; }

  increment() {
    const later = () => { this.arrowSet = true; };
    function detached() { this.notMine = 1; }
    this.|
  }

  #reset() {}

  reset() { this.#reset(); }
}
"""

JAVASCRIPT_MEMBERS = [
    "#count",
    "step",
    "start",
    "value",
    "increment",
    "arrowSet",
    "#reset",
    "reset",
    "baseMethod",
]


def test_javascript_this_gives_fields_methods_getters_and_assigned_fields() -> None:
    found = access("javascript", JAVASCRIPT)
    assert found is not None and (found.receiver, found.kind) == ("this", "self")
    assert [item.name for item in found.members or ()] == JAVASCRIPT_MEMBERS
    assert member("javascript", JAVASCRIPT, "value") == Member(
        "value", "property", "get value()", "How far it counted."
    )
    assert member("javascript", JAVASCRIPT, "#count") == Member("#count", "field", "#count = 0", "")
    assert member("javascript", JAVASCRIPT, "start").kind == "attribute"


def test_javascript_private_partial_and_a_static_method_sees_static_members() -> None:
    private = access("javascript", JAVASCRIPT.replace("this.|", "this.#|"))
    assert private is not None and private.partial == "#"
    assert [item.name for item in private.members or ()] == JAVASCRIPT_MEMBERS
    static = JAVASCRIPT.replace("static create() { return new Counter(0); }", "static create() { this.| }")
    static = static.replace("    this.|\n", "")
    assert names("javascript", static) == ["instances", "create"]


def test_javascript_this_in_a_function_or_a_comment_is_not_the_class() -> None:
    detached = access("javascript", JAVASCRIPT.replace("this.notMine = 1;", "this.|"))
    assert detached is not None and (detached.kind, detached.members) == ("name", None)
    assert access("javascript", JAVASCRIPT.replace("    this.|", "    // this.|")) is None
    assert access("javascript", JAVASCRIPT.replace("    this.|", "    `this.|`")) is None
    arrow = JAVASCRIPT.replace("this.arrowSet = true;", "this.|").replace("    this.|\n", "")
    assert names("javascript", arrow)[:3] == ["#count", "step", "start"]


TYPESCRIPT = """\
interface Shape { area(): number; }

class Circle implements Shape {
  private radius: number = 1;
  readonly label?: string;
  static unit = 1;

  constructor(private readonly center: number, public scale = 2, plain: number) {
    this.cached = plain;
  }

  area(): number { return this.| }

  describe(prefix: string): string { return prefix; }

  abstractish(): void;
}

class Square { side = 1; }
"""


def test_typescript_this_gives_property_declarations_and_parameter_properties() -> None:
    assert names("typescript", TYPESCRIPT) == [
        "radius",
        "label",
        "center",
        "scale",
        "cached",
        "area",
        "describe",
        "abstractish",
    ]
    assert member("typescript", TYPESCRIPT, "radius") == Member(
        "radius", "field", "private radius: number = 1", ""
    )
    assert member("typescript", TYPESCRIPT, "describe").signature == "describe(prefix: string): string"


def test_tsx_uses_the_typescript_queries() -> None:
    source = "class View { count = 1; render() { return <div>{this.|}</div>; } }\n"
    assert names("tsx", source) == ["count", "render"]


GO = """\
package shop

import "fmt"

type Base struct {
	ID int
}

func (b Base) Describe() string { return fmt.Sprint(b.ID) }

type Server struct {
	Base
	name, addr string
	// Port is where it listens.
	Port int
}

type Other struct{ hidden bool }

func (o *Other) Hide() {}

func (s *Server) Start() error {
	s.|
	return nil
}

// Stop stops the server.
func (s Server) Stop(force bool) {}
"""


def test_go_receiver_gives_struct_fields_methods_and_promoted_members() -> None:
    found = access("go", GO)
    assert found is not None and (found.receiver, found.kind) == ("s", "self")
    assert [item.name for item in found.members or ()] == [
        "Base",
        "name",
        "addr",
        "Port",
        "Start",
        "Stop",
        "ID",
        "Describe",
    ]
    assert member("go", GO, "Stop") == Member(
        "Stop", "method", "func (s Server) Stop(force bool)", "Stop stops the server."
    )
    assert member("go", GO, "Port") == Member("Port", "field", "Port int", "")


def test_go_other_receivers_strings_and_partials() -> None:
    package = access("go", GO.replace("s.|", "fmt.Pr|"))
    assert package is not None and (package.receiver, package.partial, package.kind) == ("fmt", "Pr", "name")
    assert package.members is None
    assert access("go", GO.replace("s.|", 'x := "s.|"')) is None
    assigned = access("go", GO.replace("s.|", "x := s.Po|"))
    assert assigned is not None and (assigned.partial, assigned.kind) == ("Po", "self")
    assert "Port" in [item.name for item in assigned.members or ()]
