"""Names the code after the cursor needs and nothing defines (``syntax.names``), from names.scm queries."""

from __future__ import annotations

import pytest

from syntax.document import SyntaxDocument
from syntax.names import undefined_names

CURSOR = "<|cursor|>"


def wanted(source: str, language: str = "python") -> list[tuple[str, bool]]:
    offset = source.index(CURSOR)
    document = SyntaxDocument(source.replace(CURSOR, "", 1), language)
    return [(name.name, name.called) for name in undefined_names(document, offset)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "def mean(values):\n<|cursor|>\n    for v in values:\n        total += v\n    return total\n",
            [("total", False)],
            id="accumulator-used-below",
        ),
        pytest.param(
            "def mean(values):\n    total = 0\n<|cursor|>\n    for v in values:\n        total += v\n",
            [],
            id="defined-above",
        ),
        pytest.param(
            "def f(xs):\n<|cursor|>\n    for x in xs:\n        print(x)\n    n = len(xs)\n    return n\n",
            [],
            id="bound-below-before-use",
        ),
        pytest.param(
            "def f(obj):\n<|cursor|>\n    obj.count = 1\n    return dict(key=obj)\n",
            [],
            id="members-keywords-builtins",
        ),
        pytest.param(
            "def f(n):\n<|cursor|>\n    return [k for k in range(n) if is_prime(k)]\n",
            [("is_prime", True)],
            id="helper-called-below-comprehension-variable-local",
        ),
        pytest.param(
            "def f(n):\n<|cursor|>\n    return helper(n) + LIMIT\n\n\ndef helper(n):\n    return n\n\n\nLIMIT = 3\n",
            [],
            id="module-names-defined-later",
        ),
        pytest.param(
            "def f(n):\n<|cursor|>\n    return n\n\n\ndef g():\n    return missing\n",
            [],
            id="other-functions-do-not-count",
        ),
        pytest.param(
            "def f(a, b):\n<|cursor|>\n    lo, hi = sorted((a, b))\n    return lo + step + hi * width\n",
            [("step", False), ("width", False)],
            id="order-of-first-use",
        ),
    ],
)
def test_python_names_the_hole_must_define(source: str, expected: list[tuple[str, bool]]) -> None:
    assert wanted(source) == expected


def test_languages_without_a_names_query_have_none() -> None:
    assert wanted("function f() {\n<|cursor|>\n  return total;\n}\n", "javascript") == []


def test_limit_and_cursor_at_the_end() -> None:
    source = "def f():\n<|cursor|>\n    return a + b + c + d\n"
    offset = source.index(CURSOR)
    document = SyntaxDocument(source.replace(CURSOR, ""), "python")
    assert [name.name for name in undefined_names(document, offset, limit=2)] == ["a", "b"]
    assert undefined_names(document, len(document.text)) == []


def test_a_huge_file_counts_far_imports_and_definitions() -> None:
    filler = "".join(f"def filler_{n}(value):\n    return value + {n}\n\n\n" for n in range(900))
    source = (
        f"import os\n\n\n{filler}def f():\n<|cursor|>\n    return os.path.join(helper(), total)\n\n\n"
        f"{filler}def helper():\n    return 'x'\n"
    )
    assert len(source) > 3 * 20_000
    assert wanted(source) == [("total", False)]
