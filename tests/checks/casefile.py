"""Reads the golden case files of tests/checks/golden (format described in README.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CURSOR = "<|cursor|>"
GOLDEN = Path(__file__).parent / "golden"
_HEADER = re.compile(r"^=== (\w+)\n", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    path: Path
    language: str
    text: str  # the document without the cursor marker
    offset: int  # where the marker was
    raw: str
    expected: str | None  # None when the file says <none>
    replace: int  # characters right of the cursor the suggestion replaces
    reason: str | None  # the expected completion_shape reason, if given

    @property
    def id(self) -> str:
        return f"{self.language}/{self.path.name}"


def parse_case(path: Path) -> Case:
    source = path.read_text(encoding="utf-8")
    headers = list(_HEADER.finditer(source))
    if not headers or headers[0].start() != 0:
        raise ValueError(f"{path}: must start with a '=== <section>' line")
    sections: dict[str, str] = {}
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(source)
        sections[header.group(1)] = source[header.end() : end].removesuffix("\n")
    document = sections["document"]
    if document.count(CURSOR) != 1:
        raise ValueError(f"{path}: the document needs exactly one {CURSOR}")
    expected = sections["expected"]
    return Case(
        path=path,
        language=path.parent.name,
        text=document.replace(CURSOR, ""),
        offset=document.index(CURSOR),
        raw=sections["raw"],
        expected=None if expected == "<none>" else expected,
        replace=int(sections.get("replace", "0").strip() or 0),
        reason=sections.get("reason", "").strip() or None,
    )


def all_cases() -> list[Case]:
    return [parse_case(path) for path in sorted(GOLDEN.glob("*/*.case"))]
