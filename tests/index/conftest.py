"""Helpers for the workspace index tests: a small tree written from a dict."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

WriteTree = Callable[[dict[str, str | bytes]], Path]


@pytest.fixture
def write_tree(tmp_path: Path) -> WriteTree:
    """Write ``{relative path: content}`` below a fresh workspace root and return the root."""
    root = tmp_path / "ws"
    root.mkdir()

    def write(files: dict[str, str | bytes]) -> Path:
        for relative, content in files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(textwrap.dedent(content))
        return root

    return write
