"""Sliding-window chunks of source files, searchable by identifier overlap (BM25 to gather candidates,
Jaccard to rank them, as in RepoCoder).

Memory is the constraint on large trees, so a chunk keeps only its file, line range and the sorted ids of
its distinct identifiers (``array('I')``); the text is re-read when a chunk is retrieved. Postings are
append-only arrays; removed chunks become tombstones that ``compact()`` sweeps once they outnumber the live.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["STOP_WORDS", "ChunkHit", "ChunkStore", "identifier_tokens"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_STOP_WORD_TEXT = """
    and as assert async await break case catch class const continue def default del do elif else end enum
    except export extends false False final finally fn for from func function go if impl import in interface
    is let local loop match mod mut new nil None not null or package pass pub private protected public raise
    return self Self static struct super switch then this throw throws true True try type typeof undefined
    use var void while with yield int str bool char float double long unsigned signed auto string
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_WORD_TEXT.split())
"""Keywords and ubiquitous names of the supported languages: they say nothing about which code is related."""

_K1 = 1.2
_B = 0.75


def identifier_tokens(text: str) -> set[str]:
    """The distinct identifiers of ``text`` that carry meaning (two characters or more, not keywords)."""
    return {token for token in _IDENTIFIER.findall(text) if len(token) > 1 and token not in STOP_WORDS}


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A chunk similar to the query: where it is and how similar (Jaccard of identifier sets, BM25)."""

    path: str
    start_line: int
    end_line: int  # exclusive
    jaccard: float
    bm25: float


class ChunkStore:
    """All chunks of the workspace with an inverted index from identifier id to chunk ids (not thread-safe:
    the owner serialises access)."""

    def __init__(self, window_lines: int = 20, stride_lines: int = 10, max_chunks: int = 400_000) -> None:
        self.window_lines = max(1, window_lines)
        self.stride_lines = max(1, min(stride_lines, self.window_lines))
        self.max_chunks = max_chunks
        self._vocabulary: dict[str, int] = {}
        self._document_frequency = array("I")
        self._postings: dict[int, array[int]] = {}
        self._chunk_path: list[str | None] = []
        self._chunk_lines = array("I")  # start, end (exclusive) per chunk
        self._chunk_tokens: list[array[int] | None] = []
        self._chunks_of: dict[str, list[int]] = {}
        self._live = 0
        self._live_tokens = 0

    @property
    def live_chunks(self) -> int:
        return self._live

    def _token_id(self, token: str) -> int:
        token_id = self._vocabulary.get(token)
        if token_id is None:
            token_id = len(self._vocabulary)
            self._vocabulary[token] = token_id
            self._document_frequency.append(0)
        return token_id

    def windows(self, line_count: int) -> Iterable[tuple[int, int]]:
        """Line ranges of the chunks of a file with ``line_count`` lines (the last one reaches the end)."""
        start = 0
        while True:
            end = min(start + self.window_lines, line_count)
            yield start, end
            if end >= line_count:
                return
            start += self.stride_lines

    def add_file(self, path: str, text: str) -> int:
        """Chunk ``text`` and index it in place of the file's previous chunks; returns how many were added
        (fewer once the store holds ``max_chunks``)."""
        self.remove_file(path)
        lines = text.splitlines()
        added: list[int] = []
        for start, end in self.windows(len(lines)):
            if self._live >= self.max_chunks:
                break
            tokens = identifier_tokens("\n".join(lines[start:end]))
            if len(tokens) < 3:
                continue
            ids = array("I", sorted(self._token_id(token) for token in tokens))
            chunk_id = len(self._chunk_path)
            self._chunk_path.append(path)
            self._chunk_lines.extend((start, end))
            self._chunk_tokens.append(ids)
            for token_id in ids:
                self._document_frequency[token_id] += 1
                posting = self._postings.get(token_id)
                if posting is None:
                    self._postings[token_id] = array("I", (chunk_id,))
                else:
                    posting.append(chunk_id)
            self._live += 1
            self._live_tokens += len(ids)
            added.append(chunk_id)
        if added:
            self._chunks_of[path] = added
        return len(added)

    def remove_file(self, path: str) -> None:
        for chunk_id in self._chunks_of.pop(path, ()):
            ids = self._chunk_tokens[chunk_id]
            if ids is None:
                continue
            for token_id in ids:
                self._document_frequency[token_id] -= 1
            self._chunk_tokens[chunk_id] = None
            self._chunk_path[chunk_id] = None
            self._live -= 1
            self._live_tokens -= len(ids)
        if len(self._chunk_path) - self._live > max(10_000, self._live):
            self.compact()

    def compact(self) -> None:
        """Drop tombstones and renumber the live chunks."""
        renumbered: dict[int, int] = {}
        paths: list[str | None] = []
        lines = array("I")
        tokens: list[array[int] | None] = []
        for old_id, path in enumerate(self._chunk_path):
            ids = self._chunk_tokens[old_id]
            if path is None or ids is None:
                continue
            renumbered[old_id] = len(paths)
            paths.append(path)
            lines.extend(self._chunk_lines[2 * old_id : 2 * old_id + 2])
            tokens.append(ids)
        postings: dict[int, array[int]] = {}
        for new_id, ids in enumerate(tokens):
            assert ids is not None
            for token_id in ids:
                posting = postings.get(token_id)
                if posting is None:
                    postings[token_id] = array("I", (new_id,))
                else:
                    posting.append(new_id)
        self._chunk_path, self._chunk_lines, self._chunk_tokens, self._postings = (
            paths,
            lines,
            tokens,
            postings,
        )
        self._chunks_of = {path: [renumbered[old] for old in ids] for path, ids in self._chunks_of.items()}

    def chunks_of(self, path: str) -> list[tuple[int, int]]:
        """Line ranges (start, exclusive end) of a file's chunks."""
        return [
            (self._chunk_lines[2 * i], self._chunk_lines[2 * i + 1]) for i in self._chunks_of.get(path, ())
        ]

    def search(
        self, query: set[str], limit: int, exclude_path: str | None = None, max_df_ratio: float = 0.1
    ) -> list[ChunkHit]:
        """The ``limit`` chunks sharing the most (rare) identifiers with ``query``, best Jaccard first.

        Identifiers present in more than ``max_df_ratio`` of all chunks are skipped while gathering (they
        would cost a scan of most postings and add almost nothing to BM25), but count for Jaccard.
        """
        if self._live == 0 or not query:
            return []
        query_ids = {self._vocabulary[token] for token in query if token in self._vocabulary}
        if not query_ids:
            return []
        total = self._live
        max_df = max(50, int(total * max_df_ratio))
        idf_sums: dict[int, float] = {}
        for token_id in sorted(query_ids):
            frequency = self._document_frequency[token_id]
            if frequency == 0 or frequency > max_df:
                continue
            idf = math.log(1.0 + (total - frequency + 0.5) / (frequency + 0.5))
            get = idf_sums.get
            for chunk_id in self._postings[token_id]:
                idf_sums[chunk_id] = get(chunk_id, 0.0) + idf
        average_length = self._live_tokens / total
        scored: list[tuple[float, int]] = []
        for chunk_id, idf_sum in idf_sums.items():
            ids = self._chunk_tokens[chunk_id]
            if ids is None or self._chunk_path[chunk_id] == exclude_path:
                continue
            norm = (_K1 + 1) / (1 + _K1 * (1 - _B + _B * len(ids) / average_length))
            scored.append((idf_sum * norm, chunk_id))
        scored.sort(key=lambda item: (-item[0], item[1]))
        hits: list[ChunkHit] = []
        for bm25, chunk_id in scored[: limit * 4]:
            ids = self._chunk_tokens[chunk_id]
            path = self._chunk_path[chunk_id]
            assert ids is not None and path is not None
            shared = len(query_ids.intersection(ids))
            jaccard = shared / (len(query) + len(ids) - shared)
            start, end = self._chunk_lines[2 * chunk_id], self._chunk_lines[2 * chunk_id + 1]
            hits.append(ChunkHit(path, start, end, jaccard, bm25))
        hits.sort(key=lambda hit: (-hit.jaccard, -hit.bm25, hit.path, hit.start_line))
        return hits[:limit]
