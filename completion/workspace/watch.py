"""Glue from watchdog's file-system events to the index's change methods (which debounce)."""

from __future__ import annotations

import os
from typing import Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler

__all__ = ["IndexEventHandler"]


class _ChangeSink(Protocol):
    def file_changed(self, path: str) -> None: ...
    def file_deleted(self, path: str) -> None: ...
    def file_moved(self, source: str, destination: str) -> None: ...
    def add_directory(self, path: str) -> None: ...


def _text(path: bytes | str) -> str:
    return os.fsdecode(path)


class IndexEventHandler(FileSystemEventHandler):
    """Forwards created/modified/deleted/moved events; opened/closed-without-write events are noise."""

    def __init__(self, sink: _ChangeSink) -> None:
        super().__init__()
        self._sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        path = _text(event.src_path)
        if kind == "moved":
            self._sink.file_moved(path, _text(event.dest_path))
        elif kind == "deleted":
            self._sink.file_deleted(path)
        elif kind == "created" and event.is_directory:
            self._sink.add_directory(path)
        elif kind in ("created", "modified", "closed") and not event.is_directory:
            self._sink.file_changed(path)
