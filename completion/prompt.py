"""Prompt layout: stable parts first, so llama.cpp's cached token prefix survives typing.

Order: cross-file snippets, the file's parse context (imports, referenced definitions, enclosing scope headers
that are above the window), then the prefix window, whose start is snapped to a multiple of `stride_lines` so
it only moves when the cursor crosses such a boundary (a "last N characters" window moves on every keystroke and
defeats the KV cache). FIM models then get the suffix window and the middle token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from completion.fim import FimTemplate, PromptPiece, fim_pieces, repo_pieces

if TYPE_CHECKING:
    from syntax.context import CursorOutline
    from syntax.document import ParsedText, SyntaxDocument


class SnippetLike(Protocol):
    """A piece of another file chosen by retrieval (completion.workspace.retrieval.Snippet)."""

    @property
    def path(self) -> str: ...

    @property
    def text(self) -> str: ...


class Retriever(Protocol):
    """What the engine needs from cross-file retrieval (completion.workspace.index.WorkspaceIndex)."""

    def retrieve(
        self,
        path: str,
        text: str,
        offset: int,
        budget_chars: int | None = None,
        document: SyntaxDocument | ParsedText | None = None,
        outline: CursorOutline | None = None,
    ) -> Sequence[SnippetLike]:
        """Snippets of other files for a completion at ``offset`` of ``text`` (``document``: its parse;
        ``outline``: the cursor's outline, the one the parse context reads, so that retrieval need not work
        out imports and nearby references again)."""
        ...

    def file_text(self, path: str) -> str | None:
        """The whole text of a snippet's file as retrieval sees it (for the privacy policy)."""
        ...

    def member_names(
        self, path: str, text: str, receiver: str, document: ParsedText | None = None
    ) -> frozenset[str] | None:
        """Every name that can follow ``receiver.`` in ``text``, when the index knows them all, else None."""
        ...

    def module_members(self, module: str, importer: str | None = None) -> frozenset[str] | None:
        """The names a workspace Python module binds (``.mod``: relative to ``importer``), else None."""
        ...

    def defines(self, name: str) -> bool:
        """Some workspace file defines ``name`` at its top level."""
        ...


class ContextLike(Protocol):
    """Parse context as text blocks (syntax.context.ParseContext)."""

    @property
    def imports(self) -> tuple[str, ...]: ...

    @property
    def scopes(self) -> tuple[str, ...]: ...

    @property
    def definitions(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Prompt:
    """The prompt laid out for the model's template (``pieces``), and the same parts unrendered for servers
    that apply their own template (llama-server's ``/infill``, Ollama's ``suffix``)."""

    pieces: tuple[PromptPiece, ...]
    window_start: int  # str offset where the visible prefix window begins
    suffix_end: int  # str offset where the suffix window ends (== cursor for prefix-only prompts)
    healed: str  # characters before the cursor taken off the prompt for token healing ("" if none)
    prefix: str = ""  # parse context sketch + prefix window, up to the cursor less ``healed``
    suffix: str = ""  # the suffix window (whatever the template)
    files: tuple[tuple[str, str], ...] = ()  # cross-file snippets as (path, text), one section per file
    header: str = ""  # the path and the snippets as comments: what a prefix-only layout puts first
    path: str | None = None  # the document's path as the model sees it
    names: tuple[bytes, ...] = ()  # what generation must start with (GenerationSpec.names), () = anything

    def text(self) -> str:
        return "".join(piece.text for piece in self.pieces)


def prefix_window_start(text: str, offset: int, max_chars: int, stride_lines: int) -> int:
    """Start of the prefix window: a line start on a multiple of `stride_lines`, within `max_chars` of offset."""
    earliest = offset - max_chars
    if earliest <= 0:
        return 0
    first_line = text.count("\n", 0, earliest) + 1  # first line that starts after `earliest`
    snapped = -(-first_line // stride_lines) * stride_lines
    position = text.find("\n", earliest)
    line = first_line
    while position != -1 and line < snapped:
        position = text.find("\n", position + 1, offset)
        line += 1
    if position == -1 or position + 1 > offset:
        # one enormous line: fall back to a character cut, snapped to a multiple of max_chars // 4
        step = max(1, max_chars // 4)
        return min(offset, -(-earliest // step) * step)
    return position + 1


def suffix_window_end(text: str, offset: int, max_chars: int) -> int:
    """End of the suffix window: whole lines after the cursor, at most `max_chars` (the cursor's line always)."""
    line_end = text.find("\n", offset)
    if line_end == -1:
        return len(text)
    limit = offset + max_chars
    if limit >= len(text):
        return len(text)
    cut = text.rfind("\n", line_end, limit)
    return (cut if cut != -1 else line_end) + 1


def comment_block(text: str, line_comment: str) -> str:
    return "".join(f"{line_comment} {line}".rstrip() + "\n" for line in text.splitlines())


def build_prompt(
    *,
    text: str,
    offset: int,
    path: str | None,
    line_comment: str,
    template: FimTemplate | None,
    context: ContextLike | None,
    snippets: Sequence[SnippetLike],
    window_start: int,
    suffix_end: int,
    healed: str = "",
    hint: str = "",
    names: tuple[bytes, ...] = (),
) -> Prompt:
    """Lay out the prompt pieces; `healed` characters before the cursor are left out (token healing).

    ``hint`` (one line, ``member_hint``) goes right above the cursor line: it changes as that line does, so
    only the tokens from there on are evaluated again, never the cached start of the prompt."""
    text, path = encodable(text), encodable(path) if path is not None else None
    snippets = [_Snippet(encodable(item.path), encodable(item.text)) for item in snippets]
    line_start = max(window_start, text.rfind("\n", 0, offset) + 1)
    hint_line = ""
    if hint:
        before_cursor = text[line_start:offset]
        indent = before_cursor[: len(before_cursor) - len(before_cursor.lstrip())]
        hint_line = f"{indent}{line_comment} {hint}\n"
    window = text[window_start:line_start] + hint_line + text[line_start : offset - len(healed)]
    sketch = _file_sketch(context, line_comment, elided=window_start > 0)
    files = _by_file(snippets)
    suffix = text[offset:suffix_end]
    comments = comment_block(f"Path: {path}", line_comment) if path else ""
    for path_of, text_of in files:
        comments += comment_block(f"From {path_of}:\n{text_of}", line_comment)
    pieces: list[PromptPiece] = []
    if template is not None and template.file_sep:
        pieces += repo_pieces(template, "workspace", files, path or "untitled")
        header = sketch
    else:
        header = comments + sketch
    if template is None:
        pieces.append(PromptPiece(header + window, False))
    else:
        pieces += fim_pieces(template, header + window, suffix)
    return Prompt(
        tuple(pieces),
        window_start,
        suffix_end if template else offset,
        healed,
        prefix=sketch + window,
        suffix=suffix,
        files=tuple(files),
        header=comments,
        path=path,
        names=names,
    )


def member_hint(receiver: str, names: Sequence[str], window: str, limit: int = 12) -> str:
    """What ``receiver.`` can be followed by that the window does not show (``self has: total, items``),
    or "" when the window names them all: the constraint keeps the choice to them, this tells the model of
    the ones it cannot see."""
    unseen = [name for name in names if not re.search(rf"(?<![\w$#]){re.escape(name)}(?![\w$])", window)]
    if not unseen:
        return ""
    shown = ", ".join(unseen[:limit]) + (", ..." if len(unseen) > limit else "")
    return f"{receiver} has: {shown}"


def encodable(text: str) -> str:
    """``text`` with each code point UTF-8 cannot encode (a lone surrogate from a broken file or file name)
    replaced by ``?``: same length, so offsets hold, and every tokenizer and JSON body can take it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


@dataclass(frozen=True)
class _Snippet:
    path: str
    text: str


def _by_file(snippets: Sequence[SnippetLike]) -> list[tuple[str, str]]:
    """Neighbouring snippets of one file as one section (retrieval returns them grouped by file)."""
    sections: list[tuple[str, str]] = []
    for snippet in snippets:
        if sections and sections[-1][0] == snippet.path:
            sections[-1] = (snippet.path, sections[-1][1] + "\n" + snippet.text)
        else:
            sections.append((snippet.path, snippet.text))
    return sections


def _file_sketch(context: ContextLike | None, line_comment: str, elided: bool) -> str:
    """Imports, referenced definitions and enclosing scope headers that the window cannot show."""
    if context is None:
        return ""
    blocks = [*context.imports, *context.definitions, *context.scopes]
    if not blocks:
        return ""
    sketch = "".join(block.rstrip("\n") + "\n" for block in blocks)
    return sketch + (f"{line_comment} ...\n" if elided else "")
