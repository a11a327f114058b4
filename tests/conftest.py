"""Shared fixtures; the end-to-end helpers live in lsp_helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("tests.llama_servers",)  # real llama-server fixtures


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root
