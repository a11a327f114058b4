"""Handing work from other threads (model loading, backends, the index) to the server's event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: object) -> None:
    """Run ``callback`` on the server's event loop from another thread; nothing once the loop has closed (a
    backend's or the index's news arriving during shutdown)."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        log.debug("the event loop is closed: %s dropped", getattr(callback, "__name__", callback))
