"""Hybrid routing: the local model answers every request at once; the remote one is asked where it is likely
to do better, and its answer is shown when it is in before the local one, or kept for the next request at
the same position.

Where the remote model is asked: a blank line or a multi-line (block) position, an explicit invoke, or a
local suggestion the local model itself is unsure of (its mean log-probability per token below
``infill.routing.minLocalConfidence``; that answer arrives after the local one and is kept).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from syntax.options import option

T = TypeVar("T")


@dataclass
class RoutingOptions:
    min_local_confidence: float = option(
        -1.0,
        "hybrid: when the local suggestion's mean log-probability per token is below "
        "this, the remote model is asked too; its answer is kept for that position (shown on the next "
        "request there). Blank lines, block positions and explicit invokes always ask it.",
        maximum=0.0,
        restricted=True,  # how much code goes to the remote server
    )


def wants_remote(text: str, offset: int, multiline: bool, invoked: bool) -> bool:
    """Where a large model is likely to do better than the small one: a new line or block, or on request
    (mid-line typing stays local: the small model is fast and right there more often)."""
    line_start = text.rfind("\n", 0, offset) + 1
    return invoked or multiline or not text[line_start:offset].strip()


def position_key(uri: str, text: str, offset: int) -> tuple[str, int, int]:
    """The same document text around the same cursor: where a kept remote answer still applies."""
    return uri, hash(text[:offset]), hash(text[offset:])


@dataclass
class RemoteAsk(Generic[T]):
    """A remote request running (or done) in the background for one position of one document."""

    key: tuple[str, int, int]
    future: Future[T | None]
    cancel: threading.Event = field(default_factory=threading.Event)

    def result_if_done(self) -> T | None:
        if not self.future.done() or self.future.cancelled():
            return None
        return self.future.result()
