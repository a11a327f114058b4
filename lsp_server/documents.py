"""Documents with LSP's line breaks: only ``\\n``, ``\\r\\n`` and ``\\r`` end a line.

pygls splits a document with ``str.splitlines``, which also breaks at form feeds, ``\\v``, U+001C-U+001E,
U+0085, U+2028 and U+2029; the client does not, so every position after such a character named another place
and incremental edits corrupted the server's copy. Every position conversion and edit in pygls goes through
``TextDocument.lines``, so this is the one place to get it right.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pygls.workspace import TextDocument, Workspace

_LSP_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def lsp_lines(text: str) -> tuple[str, ...]:
    """``text`` split after each LSP line break, the breaks kept (as ``splitlines(True)``, LSP's rules)."""
    return tuple(_LSP_LINE.findall(text))


def line_of_offset(text: str, offset: int) -> tuple[int, int]:
    """(0-based LSP line, offset where it starts) of ``offset`` in ``text`` (C-speed counts: called for
    every diagnostic)."""
    line = text.count("\n", 0, offset) + text.count("\r", 0, offset) - text.count("\r\n", 0, offset)
    start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    return line, start


class LspTextDocument(TextDocument):
    @property
    def lines(self) -> Sequence[str]:
        return lsp_lines(self.source)


class LspWorkspace(Workspace):
    def _create_text_document(self, doc_uri: str, *args: Any, **kwargs: Any) -> TextDocument:
        created = super()._create_text_document(doc_uri, *args, **kwargs)
        created.__class__ = LspTextDocument  # the same object, with LSP's lines
        return created
