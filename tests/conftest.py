"""Shared fixtures; the end-to-end helpers live in lsp_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from completion.model import ModelSession

pytest_plugins = ("tests.llama_servers",)  # real llama-server fixtures


@pytest.fixture(scope="module")
def default_model() -> Iterator[ModelSession]:
    """The embedded default model, loaded once per test module that asks for it."""
    from completion.model import ModelOptions, ModelSession, model_path_for

    options = ModelOptions()
    session = ModelSession.load(options, model_path_for(options))
    yield session
    session.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root
