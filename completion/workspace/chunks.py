"""Sliding-window chunks of source files, searchable by identifier overlap (BM25 to gather candidates,
Jaccard to rank them, as in RepoCoder).

Memory is the constraint on large trees, so a chunk keeps only its file, line range and the sorted ids of
its distinct identifiers (``array('I')``); the text is re-read when a chunk is retrieved. Postings are
append-only arrays; removed chunks become tombstones that ``compact()`` sweeps once they outnumber the live.
"""

from __future__ import annotations

import heapq
import math
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter

from syntax.text import lsp_lines

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
_MAX_QUERY_TOKENS = 24
_MAX_POSTINGS = 3000


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
        self._span = max(1, round(self.window_lines / self.stride_lines))  # blocks per window
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
        """Line ranges of the chunks of a file with ``line_count`` lines (the last one reaches the end).

        A window is ``_span`` consecutive blocks of ``stride_lines`` lines, so each line is tokenized once.
        """
        blocks = max(1, -(-line_count // self.stride_lines))
        first = 0
        while True:
            yield first * self.stride_lines, min((first + self._span) * self.stride_lines, line_count)
            if first + self._span >= blocks:
                return
            first += 1

    def add_file(self, path: str, text: str) -> int:
        """Chunk ``text`` and index it in place of the file's previous chunks; returns how many were added
        (fewer once the store holds ``max_chunks``)."""
        self.remove_file(path)
        lines = lsp_lines(text)
        stride = self.stride_lines
        token_id = self._token_id
        block_ids = [
            {token_id(token) for token in identifier_tokens("\n".join(lines[start : start + stride]))}
            for start in range(0, max(1, len(lines)), stride)
        ]
        added: list[int] = []
        for start, end in self.windows(len(lines)):
            if self._live >= self.max_chunks:
                break
            first_block = start // stride
            merged = set().union(*block_ids[first_block : first_block + self._span])
            if len(merged) < 3:
                continue
            ids = array("I", sorted(merged))
            chunk_id = len(self._chunk_path)
            self._chunk_path.append(path)
            self._chunk_lines.extend((start, end))
            self._chunk_tokens.append(ids)
            frequency, postings = self._document_frequency, self._postings
            for token in ids:
                frequency[token] += 1
                posting = postings.get(token)
                if posting is None:
                    postings[token] = array("I", (chunk_id,))
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

    def search(self, query: set[str], limit: int, exclude_path: str | None = None) -> list[ChunkHit]:
        """The ``limit`` chunks sharing the most (rare) identifiers with ``query``, best Jaccard first.

        Candidates are gathered from the postings of the query's rarest identifiers only (at most
        ``_MAX_QUERY_TOKENS``, each in at most ``_MAX_POSTINGS`` chunks): common words would cost a scan of
        most postings and add almost nothing to BM25. All query identifiers count for Jaccard.
        """
        if self._live == 0 or not query:
            return []
        query_ids = {self._vocabulary[token] for token in query if token in self._vocabulary}
        frequency = self._document_frequency
        rare = sorted(
            (frequency[token_id], token_id)
            for token_id in query_ids
            if 0 < frequency[token_id] <= _MAX_POSTINGS
        )[:_MAX_QUERY_TOKENS]
        if not rare:
            return []
        total = self._live
        idf_sums: dict[int, float] = {}
        get = idf_sums.get
        for document_frequency, token_id in rare:
            idf = math.log(1.0 + (total - document_frequency + 0.5) / (document_frequency + 0.5))
            for chunk_id in self._postings[token_id]:
                idf_sums[chunk_id] = get(chunk_id, 0.0) + idf
        average_length = self._live_tokens / total
        hits: list[ChunkHit] = []
        for chunk_id, idf_sum in heapq.nlargest(limit * 8, idf_sums.items(), key=itemgetter(1)):
            ids = self._chunk_tokens[chunk_id]
            path = self._chunk_path[chunk_id]
            if ids is None or path is None or path == exclude_path:
                continue
            norm = (_K1 + 1) / (1 + _K1 * (1 - _B + _B * len(ids) / average_length))
            shared = len(query_ids.intersection(ids))
            jaccard = shared / (len(query) + len(ids) - shared)
            start, end = self._chunk_lines[2 * chunk_id], self._chunk_lines[2 * chunk_id + 1]
            hits.append(ChunkHit(path, start, end, jaccard, idf_sum * norm))
        hits.sort(key=lambda hit: (-hit.jaccard, -hit.bm25, hit.path, hit.start_line))
        return hits[:limit]
