"""An open document kept parsed by tree-sitter, updated incrementally on every edit.

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

__all__ = ["LARGE_TEXT_BYTES", "SyntaxDocument", "encode", "parse", "thread_parser"]

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


class _TextSnapshot:
    """One immutable version of the text with its bytes and a lazily extended offset table.

    ``_byte_marks[i]`` is the byte offset of character ``i * _CHUNK`` and ``_row_marks[i]`` the number of
    newlines before it. Only the table grows (under a lock), so a snapshot can be shared between threads.
    """

    __slots__ = ("_byte_marks", "_lock", "_row_marks", "data", "text")

    def __init__(self, text: str, data: bytes, byte_marks: list[int], row_marks: list[int]) -> None:
        self.text = text
        self.data = data
        self._byte_marks = byte_marks
        self._row_marks = row_marks
        self._lock = threading.Lock()

    @classmethod
    def of(cls, text: str) -> _TextSnapshot:
        return cls(text, encode(text), [0], [0])

    def derived(self, text: str, data: bytes, valid_chars: int) -> _TextSnapshot:
        """A snapshot of an edited text whose first ``valid_chars`` characters are unchanged."""
        keep = valid_chars // _CHUNK + 1
        with self._lock:
            return _TextSnapshot(text, data, self._byte_marks[:keep], self._row_marks[:keep])

    def _extend_to_chunk(self, index: int) -> None:
        """Make checkpoints exist up to chunk ``index`` (bounded by the text length)."""
        if index < len(self._byte_marks):
            return
        text = self.text
        limit = len(text) // _CHUNK
        with self._lock:
            byte_marks, row_marks = self._byte_marks, self._row_marks
            while len(byte_marks) <= min(index, limit):
                last = len(byte_marks) - 1
                chunk = text[last * _CHUNK : (last + 1) * _CHUNK]
                byte_marks.append(byte_marks[last] + (len(chunk) if chunk.isascii() else len(encode(chunk))))
                row_marks.append(row_marks[last] + chunk.count("\n"))

    def clamp(self, offset: int) -> int:
        return 0 if offset < 0 else min(offset, len(self.text))

    def byte_offset(self, offset: int) -> int:
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
        offset = self.clamp(offset)
        line_start = self.text.rfind("\n", 0, offset) + 1
        return Point(self.row(offset), self.byte_offset(offset) - self.byte_offset(line_start))

    def char_offset(self, byte: int) -> int:
        data = self.data
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
        return self.text.rfind("\n", 0, self.clamp(offset)) + 1


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

    Readers may use ``text``/``tree`` from other threads: an edit builds a new snapshot and swaps it in, and
    never mutates a tree that was already handed out (it edits a copy).
    """

    def __init__(self, text: str, language: str) -> None:
        spec_by_name(language)  # KeyError for a name that is not canonical
        self.language = language
        self._edit_lock = threading.Lock()
        # (text snapshot, tree, stale): a stale tree is a private copy carrying edits not yet reparsed; None
        # until a large text is first parsed (by whoever needs its tree first: never the event loop).
        self._state: tuple[_TextSnapshot, Tree | None, bool] = _fresh(text, language)
        self._parsing: Tree | None = None  # a stale tree being reparsed: edits meanwhile copy it
        self._edits_while_parsing: list[tuple[int, int, str]] | None = None  # ... and are recorded here
        self._parse_lock = threading.Lock()  # one reparse at a time; whoever else needs the tree waits for it
        self.version = 0

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
        return self._state[0].text

    @property
    def source(self) -> bytes:
        """The UTF-8 bytes of the text, as tree-sitter sees them."""
        return self._state[0].data

    @property
    def tree(self) -> Tree:
        """The tree of the current text. Edits are reparsed here, lazily, so a burst of keystrokes costs one
        incremental parse (on multi-megabyte files a parse costs far more than recording an edit)."""
        return self._reparsed()[1]

    def _reparsed(self) -> tuple[_TextSnapshot, Tree, int]:
        """The text and its tree, reparsing pending edits outside the edit lock: a 1 MB reparse takes half a
        second, and the edits arriving meanwhile (on the event loop) must not wait for it. They are carried
        over onto the new tree, so the next reparse starts from it."""
        with self._parse_lock:
            with self._edit_lock:
                snapshot, tree, stale = self._state
                version = self.version
                if not stale and tree is not None:
                    return snapshot, tree, version
                self._parsing, self._edits_while_parsing = tree, []
            try:
                parsed = parse(self.language, snapshot.data, tree)
            except BaseException:
                with self._edit_lock:
                    self._parsing = self._edits_while_parsing = None
                raise
            with self._edit_lock:
                edits, self._parsing, self._edits_while_parsing = self._edits_while_parsing or [], None, None
                if not edits:
                    self._state = (snapshot, parsed, False)
                else:  # replay them on the new tree, so the next reparse starts from it
                    replayed: tuple[_TextSnapshot, Tree | None] = (snapshot, parsed.copy())
                    for start, end, new_text in edits:
                        replayed = _edited(replayed[0], replayed[1], start, end, new_text, in_place=True)
                    if replayed[0].text == self._state[0].text:
                        self._state = (self._state[0], replayed[1], True)
            return snapshot, parsed, version

    # --- edits -------------------------------------------------------------------------------------------

    def edit(self, start: int, end: int, new_text: str) -> None:
        """Replace ``text[start:end]`` with ``new_text``; the old tree is edited and reparsed incrementally
        on the next ``tree`` access."""
        with self._edit_lock:
            snapshot, tree, stale = self._state
            in_place = stale and tree is not self._parsing
            new_snapshot, edited = _edited(snapshot, tree, start, end, new_text, in_place=in_place)
            if self._edits_while_parsing is not None:
                self._edits_while_parsing.append((start, end, new_text))
            self._state = (new_snapshot, edited, True)
            self.version += 1

    def replace_all(self, text: str) -> None:
        """Replace the whole text (a full-sync change): a fresh parse, no incremental reuse."""
        state = _fresh(text, self.language)
        with self._edit_lock:
            self._state = state
            self.version += 1

    def with_insertion(self, start: int, end: int, new_text: str) -> Tree:
        """The tree of the text with ``[start, end)`` replaced, parsed incrementally; self is unchanged."""
        if self._state[1] is None:
            self._reparsed()
        with self._edit_lock:  # a stale tree may be edited in place by edit(); copy it under the lock
            snapshot, tree, _ = self._state
            new_snapshot, edited = _edited(snapshot, tree, start, end, new_text, in_place=False)
        return parse(self.language, new_snapshot.data, edited)

    def snapshot(self, parse: bool = True) -> SyntaxDocument:
        """An independent document with the current text and tree, sharing both: cheap.

        Work that reads text, tree and offsets together from a worker thread uses one, so that an edit
        arriving meanwhile cannot mix two versions. It keeps this document's ``version``. With
        ``parse=False`` pending edits are not reparsed here (the snapshot reparses a copy if it needs to),
        for callers that may not need a tree at all."""
        if parse:
            snapshot, tree, version = self._reparsed()
            return self._derived(snapshot, tree, False, version)
        with self._edit_lock:
            snapshot, current, stale = self._state
            if stale and current is not None:
                current = current.copy()  # the stale tree is edited in place by later edits: never share it
            return self._derived(snapshot, current, stale, self.version)

    def _derived(
        self, snapshot: _TextSnapshot, tree: Tree | None, stale: bool, version: int
    ) -> SyntaxDocument:
        derived = SyntaxDocument.__new__(SyntaxDocument)
        derived.language = self.language
        derived._edit_lock = threading.Lock()
        derived._parsing = None
        derived._edits_while_parsing = None
        derived._parse_lock = threading.Lock()
        derived._state = (snapshot, tree, stale)
        derived.version = version
        return derived

    def with_edit(self, start: int, end: int, new_text: str) -> SyntaxDocument:
        """A separate document of the text with ``[start, end)`` replaced; self is unchanged.

        Its tree is reparsed incrementally from this one on first use, so it is cheap to make."""
        with self._edit_lock:
            snapshot, tree, _ = self._state
            new_snapshot, edited = _edited(snapshot, tree, start, end, new_text, in_place=False)
        return self._derived(new_snapshot, edited, True, 0)

    # --- offsets -----------------------------------------------------------------------------------------

    def byte_offset(self, offset: int) -> int:
        """UTF-8 byte offset of a str offset (clamped to the text)."""
        return self._state[0].byte_offset(offset)

    def char_offset(self, byte: int) -> int:
        """str offset of a UTF-8 byte offset (clamped; a byte inside a character maps to that character)."""
        return self._state[0].char_offset(byte)

    def point(self, offset: int) -> Point:
        """tree-sitter point (row, UTF-8 byte column) of a str offset."""
        return self._state[0].point(offset)

    def line_start(self, offset: int) -> int:
        """str offset of the start of the line containing ``offset``."""
        return self._state[0].line_start(offset)

    def node_span(self, node: Node) -> tuple[int, int]:
        """str offsets ``(start, end)`` of a node of the current tree."""
        snapshot = self._state[0]
        return snapshot.char_offset(node.start_byte), snapshot.char_offset(node.end_byte)

    def node_text(self, node: Node) -> str:
        """The text of a node of the current tree."""
        data = self._state[0].data
        return _decode_lenient(data[node.start_byte : node.end_byte])


def _decode_lenient(data: bytes) -> str:
    try:
        return _decode(data)
    except UnicodeDecodeError:
        return data.decode(_ENCODING, "replace")


def _fresh(text: str, language: str) -> tuple[_TextSnapshot, Tree | None, bool]:
    """The state of a new text: parsed now when small, at first use when large."""
    snapshot = _TextSnapshot.of(text)
    if len(snapshot.data) >= LARGE_TEXT_BYTES:
        return snapshot, None, True
    return snapshot, parse(language, snapshot.data), False


def _edited(
    snapshot: _TextSnapshot, tree: Tree | None, start: int, end: int, new_text: str, *, in_place: bool
) -> tuple[_TextSnapshot, Tree | None]:
    """The new text snapshot and ``tree`` (or a copy of it) with the edit applied, ready for a reparse.

    A tree that was handed out is never edited in place: another thread may be reading it."""
    start = snapshot.clamp(start)
    end = max(start, snapshot.clamp(end))
    start_byte = snapshot.byte_offset(start)
    old_end_byte = snapshot.byte_offset(end)
    start_point = snapshot.point(start)
    old_end_point = snapshot.point(end)
    inserted = encode(new_text)
    last_newline = new_text.rfind("\n")
    if last_newline < 0:
        new_end_point = Point(start_point.row, start_point.column + len(inserted))
    else:
        new_end_point = Point(
            start_point.row + new_text.count("\n"), len(encode(new_text[last_newline + 1 :]))
        )
    text = snapshot.text
    new_snapshot = snapshot.derived(
        text[:start] + new_text + text[end:],
        snapshot.data[:start_byte] + inserted + snapshot.data[old_end_byte:],
        start,
    )
    if tree is None:
        return new_snapshot, None
    edited = tree if in_place else tree.copy()
    edited.edit(
        start_byte, old_end_byte, start_byte + len(inserted), start_point, old_end_point, new_end_point
    )
    return new_snapshot, edited
