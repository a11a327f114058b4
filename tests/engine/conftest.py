"""The embedded default model, loaded once per test module that asks for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from completion.model import ModelOptions, ModelSession, model_path_for


@pytest.fixture(scope="module")
def default_model() -> Iterator[ModelSession]:
    options = ModelOptions()
    session = ModelSession.load(options, model_path_for(options))
    yield session
    session.close()
