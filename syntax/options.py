"""The options convention: each package owns its options as dataclasses whose fields are made by ``option``.

A field carries its default and, in its metadata, what ``lsp_server.settings`` reads to check a value and to
write the schema (VS Code's ``package.json``, the README table, the Neovim doc): ``"description"``, and where
useful ``"minimum"``, ``"maximum"``, ``"enum"`` and ``"restricted"`` (the setting chooses what runs or where
code goes, so an untrusted workspace's own settings may not set it). It lives in ``syntax``, the package the
others build on, so that every package can use it without an import circle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Any, TypeVar

__all__ = ["list_option", "option"]

T = TypeVar("T")


def option(
    default: T,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    enum: Sequence[str] | None = None,
    restricted: bool = False,
) -> T:
    """A dataclass field with ``default`` and the metadata the settings schema is made of."""
    return field(default=default, metadata=_metadata(description, minimum, maximum, enum, restricted))


def list_option(default: Iterable[T], description: str, *, restricted: bool = False) -> list[T]:
    """A list-valued field: each instance gets its own copy of ``default``."""
    items = tuple(default)
    return field(
        default_factory=lambda: list(items), metadata=_metadata(description, None, None, None, restricted)
    )


def _metadata(
    description: str,
    minimum: float | None,
    maximum: float | None,
    enum: Sequence[str] | None,
    restricted: bool,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"description": description}
    if minimum is not None:
        metadata["minimum"] = minimum
    if maximum is not None:
        metadata["maximum"] = maximum
    if enum is not None:
        metadata["enum"] = list(enum)
    if restricted:
        metadata["restricted"] = True
    return metadata
