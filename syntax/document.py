"""An open document kept parsed by tree-sitter, updated incrementally on every edit, and the immutable
versions of text and tree (``ParsedText``) that every reader takes.

Callers speak Python ``str`` offsets (code points); tree-sitter speaks UTF-8 bytes and (row, byte column)
points. The conversion must stay cheap on multi-megabyte files, so each text snapshot keeps a lazily built
table of checkpoints (byte offset and newline count every ``_CHUNK`` characters): a conversion encodes at
most one chunk, and an edit only drops the checkpoints after the edited position.

Text is encoded with ``surrogatepass`` so that lone UTF-16 surrogates (which a client may send) and NUL bytes
never raise: every code point has a fixed byte length, which keeps offsets and bytes in step.
"""

from __future__ import annotations

import threading
from bisect import bisect_right

from tree_sitter import Node, Parser, Point, Tree

from syntax.languages import grammar, spec_by_name, spec_for

__all__ = [
    "LARGE_TEXT_BYTES",
    "ParsedText",
    "SyntaxDocument",
    "UnsupportedLanguageError",
    "encode",
    "parse",
    "parse_text",
    "parsed_for",
    "thread_parser",
]

_CHUNK = 2048
LARGE_TEXT_BYTES = 256 * 1024  # above this a text is parsed at first use, letting other threads run meanwhile
_READ_CHUNK = 64 * 1024
_ENCODING = "utf-8"
_ERRORS = "surrogatepass"


def encode(text: str) -> bytes:
    """The bytes tree-sitter parses for ``text`` (lone surrogates pass as 3-byte sequences)."""
    return text.encode(_ENCODING, _ERRORS)


def _decode(data: bytes) -> str:
    return data.decode(_ENCODING, _ERRORS)


class ParsedText:
    """One immutable version of a text with its tree: what every reader of a document works on.

    Made by ``SyntaxDocument.snapshot()``, ``parse_text()`` and ``with_edit()``. A tree still to be
    (re)parsed after an edit is parsed once, on first use, under a lock, so a snapshot can be shared between
    threads. ``_byte_marks[i]`` is the byte offset of character ``i * _CHUNK`` and ``_row_marks[i]`` the number
    of newlines before it; only that table grows (under its own lock).
    """

    __slots__ = (
        "__weakref__",
        "_byte_marks",
        "_marks_lock",
        "_parse_lock",
        "_row_marks",
        "_stale",
        "_tree",
        "language",
        "source",
        "text",
        "version",
    )

    def __init__(
        self,
        text: str,
        language: str,
        tree: Tree | None,
        *,
        source: bytes | None = None,
        stale: bool = False,
        version: int = 0,
        marks: tuple[list[int], list[int]] | None = None,
    ) -> None:
        self.text = text
        self.language = language
        self.source = encode(text) if source is None else source  # the UTF-8 bytes tree-sitter sees
        self.version = version  # the document's version this text is
        self._tree = tree
        self._stale = stale or tree is None  # the tree carries edits not yet reparsed (or is not parsed yet)
        self._byte_marks, self._row_marks = marks if marks is not None else ([0], [0])
        self._marks_lock = threading.Lock()
        self._parse_lock = threading.Lock()

    @property
    def tree(self) -> Tree:
        """The tree of this text, parsed (incrementally, from the edited tree) on first use."""
        if not self._stale:  # read before the tree: a reparse sets the tree first
            tree = self._tree
            if tree is not None:
                return tree
        return self._parse()

    def _parse(self) -> Tree:
        with self._parse_lock:
            if self._stale:
                self._tree = parse(self.language, self.source, self._tree)
                self._stale = False
            assert self._tree is not None
            return self._tree

    def snapshot(self, parse: bool = True) -> ParsedText:
        """Itself: already one version (so a reader may take a document or a snapshot alike)."""
        return self

    def _replaced(self, tree: Tree | None, stale: bool, version: int | None = None) -> ParsedText:
        """The same text with another tree (its offset table copied, not shared: each has its own lock)."""
        with self._marks_lock:
            marks = (self._byte_marks[:], self._row_marks[:])
        version = self.version if version is None else version
        return ParsedText(
            self.text, self.language, tree, source=self.source, stale=stale, version=version, marks=marks
        )

    # --- edits -------------------------------------------------------------------------------------------

    def with_edit(self, start: int, end: int, new_text: str) -> ParsedText:
        """This text with ``[start, end)`` replaced; its tree is reparsed incrementally from this one on first
        use, so it is cheap to make."""
        return _edited(self, self._tree, start, end, new_text, in_place=False)

    def with_insertion(self, start: int, end: int, new_text: str) -> Tree:
        """The tree of this text with ``[start, end)`` replaced, parsed now (incrementally from this one's)."""
        return _edited(self, self.tree, start, end, new_text, in_place=False).tree

    def reparsed(self, start: int, end: int, new_text: str) -> tuple[ParsedText, Tree]:
        """The edited text, parsed now, and this tree with the edit applied: what ``Tree.changed_ranges``
        compares the new tree with."""
        after = _edited(self, self.tree, start, end, new_text, in_place=False)
        edited = after._tree
        assert edited is not None
        after._parse()  # now, from the edited tree (which the parse leaves as it is)
        return after, edited

    # --- offsets -----------------------------------------------------------------------------------------

    def _extend_to_chunk(self, index: int) -> None:
        """Make checkpoints exist up to chunk ``index`` (bounded by the text length)."""
        if index < len(self._byte_marks):
            return
        text = self.text
        limit = len(text) // _CHUNK
        with self._marks_lock:
            byte_marks, row_marks = self._byte_marks, self._row_marks
            while len(byte_marks) <= min(index, limit):
                last = len(byte_marks) - 1
                chunk = text[last * _CHUNK : (last + 1) * _CHUNK]
                byte_marks.append(byte_marks[last] + (len(chunk) if chunk.isascii() else len(encode(chunk))))
                row_marks.append(row_marks[last] + chunk.count("\n"))

    def _marks_before(self, valid_chars: int) -> tuple[list[int], list[int]]:
        """The checkpoints that stay true for an edited text whose first ``valid_chars`` are unchanged."""
        keep = valid_chars // _CHUNK + 1
        with self._marks_lock:
            return self._byte_marks[:keep], self._row_marks[:keep]

    def clamp(self, offset: int) -> int:
        return 0 if offset < 0 else min(offset, len(self.text))

    def byte_offset(self, offset: int) -> int:
        """UTF-8 byte offset of a str offset (clamped to the text)."""
        offset = self.clamp(offset)
        if self.text.isascii():
            return offset
        index = offset // _CHUNK
        self._extend_to_chunk(index)
        base = index * _CHUNK
        piece = self.text[base:offset]
        return self._byte_marks[index] + (len(piece) if piece.isascii() else len(encode(piece)))

    def row(self, offset: int) -> int:
        offset = self.clamp(offset)
        index = offset // _CHUNK
        self._extend_to_chunk(index)
        return self._row_marks[index] + self.text.count("\n", index * _CHUNK, offset)

    def point(self, offset: int) -> Point:
        """tree-sitter point (row, UTF-8 byte column) of a str offset."""
        offset = self.clamp(offset)
        line_start = self.text.rfind("\n", 0, offset) + 1
        return Point(self.row(offset), self.byte_offset(offset) - self.byte_offset(line_start))

    def char_offset(self, byte: int) -> int:
        """str offset of a UTF-8 byte offset (clamped; a byte inside a character maps to that character)."""
        data = self.source
        byte = 0 if byte < 0 else min(byte, len(data))
        while 0 < byte < len(data) and (data[byte] & 0xC0) == 0x80:  # inside a multi-byte sequence
            byte -= 1
        if self.text.isascii():
            return byte
        # Grow the table until it passes `byte` (or covers the text), then search it.
        last_index = len(self.text) // _CHUNK
        while self._byte_marks[-1] < byte and len(self._byte_marks) - 1 < last_index:
            self._extend_to_chunk(len(self._byte_marks) + 15)
        index = bisect_right(self._byte_marks, byte) - 1
        start = self._byte_marks[index]
        try:
            return index * _CHUNK + len(_decode(data[start:byte]))
        except UnicodeDecodeError:  # invalid bytes cannot come from our own encoding; be safe anyway
            return index * _CHUNK + len(data[start:byte].decode(_ENCODING, "replace"))

    def line_start(self, offset: int) -> int:
        """str offset of the start of the line containing ``offset``."""
        return self.text.rfind("\n", 0, self.clamp(offset)) + 1

    def node_span(self, node: Node) -> tuple[int, int]:
        """str offsets ``(start, end)`` of a node of this tree."""
        return self.char_offset(node.start_byte), self.char_offset(node.end_byte)

    def node_text(self, node: Node) -> str:
        """The text of a node of this tree."""
        return _decode_lenient(self.source[node.start_byte : node.end_byte])


class UnsupportedLanguageError(ValueError):
    """The language name is not one infill-ls has a grammar for."""


def parse_text(text: str, language: str) -> ParsedText:
    """``text`` parsed now as ``language`` (a canonical name such as "python"); raises
    UnsupportedLanguageError."""
    try:
        spec_by_name(language)
    except KeyError:
        raise UnsupportedLanguageError(f"unsupported language {language!r}") from None
    source = encode(text)
    return ParsedText(text, language, parse(language, source), source=source)


def parsed_for(text: str, language: str, document: SyntaxDocument | ParsedText | None = None) -> ParsedText:
    """``text`` with its tree: the snapshot of ``document`` when that holds exactly ``text`` in ``language``
    (no parse; a document edited meanwhile is not), else a parse of ``text`` (``parse_text``)."""
    if document is not None and document.language == language and document.text == text:
        view = document.snapshot()
        if view.text == text:
            return view
    return parse_text(text, language)


_thread_state = threading.local()


def thread_parser(language: str) -> Parser:
    """A parser for the calling thread: tree-sitter parsers must not be shared between threads."""
    parsers: dict[str, Parser] | None = getattr(_thread_state, "parsers", None)
    if parsers is None:
        parsers = {}
        _thread_state.parsers = parsers
    parser = parsers.get(language)
    if parser is None:
        parser = Parser(grammar(language))
        parsers[language] = parser
    return parser


def parse(language: str, data: bytes, old_tree: Tree | None = None) -> Tree:
    """``data`` parsed with this thread's parser (incrementally from ``old_tree``, edited to match).

    tree-sitter holds the GIL while it parses bytes: a 1 MB line took the event loop away for 0.6 s. Large
    inputs are read through a callback with a progress callback, which hands the GIL over every few
    milliseconds, at about 1.5 times the cost of the parse."""
    parser = thread_parser(language)
    if len(data) < LARGE_TEXT_BYTES:
        tree = parser.parse(data, old_tree) if old_tree is not None else parser.parse(data)
    else:
        view = memoryview(data)

        def read(offset: int, _point: Point) -> bytes:
            return bytes(view[offset : offset + _READ_CHUNK])

        if old_tree is not None:
            tree = parser.parse(read, old_tree, progress_callback=_keep_going)
        else:
            tree = parser.parse(read, progress_callback=_keep_going)
    if tree is None:  # only on a cancellation, which we never ask for
        raise RuntimeError(f"tree-sitter failed to parse a {language} document")
    return tree


def _keep_going(*_state: object) -> bool:
    return False  # "do not cancel"; being called at all is what lets other threads run


class SyntaxDocument:
    """A document's text and its tree-sitter tree, kept in sync by incremental edits.

    Readers take ``snapshot()``, one immutable ``ParsedText``: an edit builds a new version and swaps it in,
    and never mutates a tree that was already handed out (it edits a copy).
    """

    def __init__(self, text: str, language: str) -> None:
        spec_by_name(language)  # KeyError for a name that is not canonical
        self.language = language
        self._edit_lock = threading.Lock()
        # The current version. Its tree may be stale: then it is a private copy carrying edits not yet
        # reparsed (never handed out, so edits may change it in place), or None until a large text is first
        # parsed (by whoever needs its tree first: never the event loop).
        self._state: ParsedText = _fresh(text, language)
        self._parsing: Tree | None = None  # a stale tree being reparsed: edits meanwhile copy it
        self._edits_while_parsing: list[tuple[int, int, str]] | None = None  # ... and are recorded here
        self._parse_lock = threading.Lock()  # one reparse at a time; whoever else needs the tree waits for it

    @classmethod
    def for_document(
        cls, text: str, language_id: str | None = None, path: str | None = None
    ) -> SyntaxDocument | None:
        """A parsed document, or None when the language is unsupported or its grammar cannot be loaded."""
        spec = spec_for(language_id, path)
        if spec is None:
            return None
        try:
            return cls(text, spec.name)
        except (ImportError, OSError, ValueError):
            return None

    # --- state -------------------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self._state.text

    @property
    def source(self) -> bytes:
        """The UTF-8 bytes of the text, as tree-sitter sees them."""
        return self._state.source

    @property
    def version(self) -> int:
        """How many edits made the current text (0 when opened)."""
        return self._state.version

    @property
    def tree(self) -> Tree:
        """The tree of the current text. Edits are reparsed here, lazily, so a burst of keystrokes costs one
        incremental parse (on multi-megabyte files a parse costs far more than recording an edit)."""
        return self._reparsed().tree

    def _reparsed(self) -> ParsedText:
        """The current version with its tree, reparsing pending edits outside the edit lock: a 1 MB reparse
        takes half a second, and the edits arriving meanwhile (on the event loop) must not wait for it. They
        are carried over onto the new tree, so the next reparse starts from it."""
        with self._parse_lock:
            with self._edit_lock:
                state = self._state
                if not state._stale and state._tree is not None:
                    return state
                self._parsing, self._edits_while_parsing = state._tree, []
            try:
                parsed = state._replaced(parse(self.language, state.source, state._tree), stale=False)
            except BaseException:
                with self._edit_lock:
                    self._parsing = self._edits_while_parsing = None
                raise
            with self._edit_lock:
                edits, self._parsing, self._edits_while_parsing = self._edits_while_parsing or [], None, None
                if not edits:
                    if self._state is state:  # not replaced meanwhile by replace_all
                        self._state = parsed
                else:  # replay them on the new tree, so the next reparse starts from it
                    assert parsed._tree is not None
                    replayed = parsed._replaced(parsed._tree.copy(), stale=True)
                    for start, end, new_text in edits:
                        replayed = _edited(replayed, replayed._tree, start, end, new_text, in_place=True)
                    current = self._state
                    if replayed.text == current.text:
                        self._state = current._replaced(replayed._tree, stale=True)
            return parsed

    # --- edits -------------------------------------------------------------------------------------------

    def edit(self, start: int, end: int, new_text: str) -> None:
        """Replace ``text[start:end]`` with ``new_text``; the old tree is edited and reparsed incrementally
        on the next ``tree`` access."""
        with self._edit_lock:
            state = self._state
            in_place = state._stale and state._tree is not self._parsing
            version = state.version + 1
            self._state = _edited(
                state, state._tree, start, end, new_text, in_place=in_place, version=version
            )
            if self._edits_while_parsing is not None:
                self._edits_while_parsing.append((start, end, new_text))

    def replace_all(self, text: str) -> None:
        """Replace the whole text (a full-sync change): a fresh parse, no incremental reuse."""
        fresh = _fresh(text, self.language)
        with self._edit_lock:
            self._state = fresh._replaced(fresh._tree, fresh._stale, self._state.version + 1)

    def with_insertion(self, start: int, end: int, new_text: str) -> Tree:
        """The tree of the text with ``[start, end)`` replaced, parsed incrementally; self is unchanged."""
        if self._state._tree is None:
            self._reparsed()
        with self._edit_lock:  # a stale tree may be edited in place by edit(); copy it under the lock
            state = self._state
            edited = _edited(state, state._tree, start, end, new_text, in_place=False)
        return edited.tree

    def snapshot(self, parse: bool = True) -> ParsedText:
        """The current text and tree, one immutable version: cheap (shared until the next edit).

        Work that reads text, tree and offsets together from a worker thread uses one, so that an edit
        arriving meanwhile cannot mix two versions. It keeps this document's ``version``. With
        ``parse=False`` pending edits are not reparsed here (the snapshot reparses a copy if it needs to),
        for callers that may not need a tree at all."""
        if parse:
            return self._reparsed()
        with self._edit_lock:
            state = self._state
            if not state._stale:
                return state
            # the stale tree is edited in place by later edits (or parsed by the document): never share it
            return state._replaced(None if state._tree is None else state._tree.copy(), stale=True)

    def with_edit(self, start: int, end: int, new_text: str) -> ParsedText:
        """The text with ``[start, end)`` replaced, as a separate version; self is unchanged.

        Its tree is reparsed incrementally from this one on first use, so it is cheap to make."""
        with self._edit_lock:  # the stale tree is copied under the lock (edit() may change it in place)
            return self._state.with_edit(start, end, new_text)

    # --- offsets -----------------------------------------------------------------------------------------

    def byte_offset(self, offset: int) -> int:
        """UTF-8 byte offset of a str offset (clamped to the text)."""
        return self._state.byte_offset(offset)

    def char_offset(self, byte: int) -> int:
        """str offset of a UTF-8 byte offset (clamped; a byte inside a character maps to that character)."""
        return self._state.char_offset(byte)

    def point(self, offset: int) -> Point:
        """tree-sitter point (row, UTF-8 byte column) of a str offset."""
        return self._state.point(offset)

    def line_start(self, offset: int) -> int:
        """str offset of the start of the line containing ``offset``."""
        return self._state.line_start(offset)

    def node_span(self, node: Node) -> tuple[int, int]:
        """str offsets ``(start, end)`` of a node of the current tree."""
        return self._state.node_span(node)

    def node_text(self, node: Node) -> str:
        """The text of a node of the current tree."""
        return self._state.node_text(node)


def _decode_lenient(data: bytes) -> str:
    try:
        return _decode(data)
    except UnicodeDecodeError:
        return data.decode(_ENCODING, "replace")


def _fresh(text: str, language: str) -> ParsedText:
    """A new text: parsed now when small, at first use when large."""
    source = encode(text)
    if len(source) >= LARGE_TEXT_BYTES:
        return ParsedText(text, language, None, source=source)
    return ParsedText(text, language, parse(language, source), source=source)


def _edited(
    parsed: ParsedText,
    tree: Tree | None,
    start: int,
    end: int,
    new_text: str,
    *,
    in_place: bool,
    version: int = 0,
) -> ParsedText:
    """The edited text with ``tree`` (or a copy of it) carrying the edit, to be reparsed.

    This is the one place where text and tree are edited together. A tree that was handed out is never edited
    in place: another thread may be reading it."""
    start = parsed.clamp(start)
    end = max(start, parsed.clamp(end))
    start_byte = parsed.byte_offset(start)
    old_end_byte = parsed.byte_offset(end)
    start_point = parsed.point(start)
    old_end_point = parsed.point(end)
    inserted = encode(new_text)
    last_newline = new_text.rfind("\n")
    if last_newline < 0:
        new_end_point = Point(start_point.row, start_point.column + len(inserted))
    else:
        new_end_point = Point(
            start_point.row + new_text.count("\n"), len(encode(new_text[last_newline + 1 :]))
        )
    text = parsed.text
    edited = None
    if tree is not None:
        edited = tree if in_place else tree.copy()
        edited.edit(
            start_byte, old_end_byte, start_byte + len(inserted), start_point, old_end_point, new_end_point
        )
    return ParsedText(
        text[:start] + new_text + text[end:],
        parsed.language,
        edited,
        source=parsed.source[:start_byte] + inserted + parsed.source[old_end_byte:],
        stale=True,
        version=version,
        marks=parsed._marks_before(start),
    )
