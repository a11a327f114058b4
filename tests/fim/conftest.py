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
    """``tiny_model_path(family, extra_tokens=(), **options)`` -> path of a cached tiny GGUF model
    (options: ``tokenizer="spm"``, ``user_defined=(...)``, see ``build_tiny_model``)."""
    folder = tmp_path_factory.mktemp("tiny-gguf")
    built: dict[tuple[object, ...], Path] = {}

    def build(family: str | None, extra_tokens: tuple[str, ...] = (), **options: Any) -> Path:
        key = (family, tuple(extra_tokens), *sorted((name, repr(value)) for name, value in options.items()))
        if key not in built:
            path = folder / f"{family or 'plain'}-{len(built)}.gguf"
            built[key] = build_tiny_model(path, family, extra_tokens, **options)
        return built[key]

    return build


@pytest.fixture(scope="session")
def tiny_llama(tiny_model_path: TinyModelBuilder) -> Iterator[TinyModelLoader]:
    """``tiny_llama(family, extra_tokens=(), **options)`` -> a cached ``llama_cpp.Llama`` for that model."""
    llama_cpp = pytest.importorskip("llama_cpp")
    loaded: dict[Path, Any] = {}

    def load(family: str | None, extra_tokens: tuple[str, ...] = (), **options: Any) -> Any:
        path = tiny_model_path(family, extra_tokens, **options)
        if path not in loaded:
            loaded[path] = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=1, verbose=False)
        return loaded[path]

    yield load
    for model in loaded.values():
        model.close()
