"""Documents with LSP's line breaks (only ``\\n``, ``\\r\\n`` and ``\\r`` end a line), and positions converted
at C speed.

pygls splits a document with ``str.splitlines``, which also breaks at form feeds, ``\\v``, U+001C-U+001E,
U+0085, U+2028 and U+2029; the client does not, so every position after such a character named another place
and incremental edits corrupted the server's copy. Every position conversion and edit in pygls goes through
``TextDocument.lines``, so this is the one place to get it right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.workspace import PositionCodec, ServerTextPosition, TextDocument, Workspace

from syntax.text import line_at, lsp_lines


@dataclass(frozen=True)
class DocumentEvent:
    """What happened to an open document. A change carries the lines its edits touched (in the new text),
    so listeners never diff whole texts to find them (a 1 MB document made that cost per keystroke)."""

    kind: str  # "open" | "change" | "close"
    uri: str
    lines: tuple[int, int] | None = None  # change: first and last edited line; None for a full replacement


def line_of_offset(text: str, offset: int) -> tuple[int, int]:
    """(0-based LSP line, offset where it starts) of ``offset`` in ``text`` (C-speed counts: called for
    every diagnostic)."""
    line = line_at(text, offset)
    start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    return line, start


_CODECS = {
    types.PositionEncodingKind.Utf8: ("utf-8", 1),
    types.PositionEncodingKind.Utf16: ("utf-16-le", 2),
    types.PositionEncodingKind.Utf32: ("utf-32-le", 4),
}


class LspPositionCodec(PositionCodec):
    """pygls' codec counts code units one Python character at a time: 1.7 s per keystroke on a 1 MB line.
    These count them by encoding (C speed), with pygls' own answers, edge cases included."""

    def __init__(self, encoding: Any = types.PositionEncodingKind.Utf16) -> None:
        super().__init__(encoding)
        self._codec, self._width = _CODECS.get(encoding, _CODECS[types.PositionEncodingKind.Utf16])

    def client_num_units(self, string: str) -> int:
        if string.isascii():
            return len(string)
        return len(string.encode(self._codec, "surrogatepass")) // self._width

    def position_from_client_units(
        self, lines: Sequence[str], position: types.Position
    ) -> ServerTextPosition:
        if not lines or position.line >= len(lines):
            return super().position_from_client_units(lines, position)
        line = lines[position.line]
        if not line.isascii():
            line = line.replace("\r\n", "\n")
            return ServerTextPosition(position.line, self._index_of_units(line, position.character))
        length = len(line) - 1 if line.endswith("\r\n") else len(line)  # pygls counts CRLF as one
        if position.character > length:  # pygls' clamp: before the line break
            return ServerTextPosition(position.line, max(0, length - 1))
        return ServerTextPosition(position.line, max(0, position.character))

    def _index_of_units(self, line: str, units: int) -> int:
        """The code-point index where ``units`` code units into ``line`` fall (a cut inside a character counts
        that character, as pygls does)."""
        encoded = line.encode(self._codec, "surrogatepass")
        total = len(encoded) // self._width
        if total == 0:
            return 0
        if units > total:
            units = total - 1
        if units <= 0:
            return 0
        head = encoded[: units * self._width].decode(self._codec, "ignore")
        index = len(head)
        if index < len(line) and self.client_num_units(line[:index]) < units:
            index += 1  # the cut fell inside a character (or on one that "ignore" dropped)
        if self.client_num_units(line[:index]) < units or not line.startswith(head):
            return self._slow_index(line, units)  # lone surrogates: count them one by one
        return index

    def _slow_index(self, line: str, units: int) -> int:
        position = super().position_from_client_units([line], types.Position(0, units))
        return position.character


class LspTextDocument(TextDocument):
    @property
    def lines(self) -> Sequence[str]:
        source = self.source
        cached: tuple[str, tuple[str, ...]] | None = getattr(self, "_lsp_lines", None)
        if cached is None or cached[0] is not source:
            cached = (source, tuple(lsp_lines(source, keepends=True)))
            self._lsp_lines = cached  # asked several times per edit; a 100k-line split costs milliseconds
        return cached[1]


class LspWorkspace(Workspace):
    def use_lsp_positions(self) -> None:
        """Documents opened from now on convert positions with :class:`LspPositionCodec`."""
        self._position_codec = LspPositionCodec(self.position_encoding)

    def _create_text_document(self, doc_uri: str, *args: Any, **kwargs: Any) -> TextDocument:
        created = super()._create_text_document(doc_uri, *args, **kwargs)
        created.__class__ = LspTextDocument  # the same object, with LSP's lines
        return created
