"""Session caches for the tiny GGUF models: built once (milliseconds) and loaded once per family."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .gguf_factory import build_tiny_model

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # `completion` must import even when pytest is run without -m / pythonpath
    sys.path.insert(0, _REPO_ROOT)

TinyModelBuilder = Callable[..., Path]
TinyModelLoader = Callable[..., Any]


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> TinyModelBuilder:
    """``tiny_model_path(family, extra_tokens=())`` -> path of a cached tiny GGUF model."""
    folder = tmp_path_factory.mktemp("tiny-gguf")
    built: dict[tuple[str | None, tuple[str, ...]], Path] = {}

    def build(family: str | None, extra_tokens: tuple[str, ...] = ()) -> Path:
        key = (family, tuple(extra_tokens))
        if key not in built:
            built[key] = build_tiny_model(
                folder / f"{family or 'plain'}-{len(built)}.gguf", family, extra_tokens
            )
        return built[key]

    return build


@pytest.fixture(scope="session")
def tiny_llama(tiny_model_path: TinyModelBuilder) -> Iterator[TinyModelLoader]:
    """``tiny_llama(family, extra_tokens=())`` -> a cached ``llama_cpp.Llama`` over the tiny model."""
    llama_cpp = pytest.importorskip("llama_cpp")
    loaded: dict[tuple[str | None, tuple[str, ...]], Any] = {}

    def load(family: str | None, extra_tokens: tuple[str, ...] = ()) -> Any:
        key = (family, tuple(extra_tokens))
        if key not in loaded:
            path = tiny_model_path(family, extra_tokens)
            loaded[key] = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=1, verbose=False)
        return loaded[key]

    yield load
    for model in loaded.values():
        model.close()
