"""The workspace index's settings (``settings.index``): what is indexed and how much retrieval may add."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["IndexOptions"]


@dataclass
class IndexOptions:
    """Settings of the workspace index and of cross-file retrieval (``settings.index``)."""

    enabled: bool = field(
        default=True, metadata={"description": "Index the workspace so completions can see other files."}
    )
    max_files: int = field(
        default=20000,
        metadata={
            "description": "Most files indexed; the rest are ignored.",
            "minimum": 0,
            "maximum": 1_000_000,
        },
    )
    max_file_bytes: int = field(
        default=1_000_000,
        metadata={"description": "Files larger than this many bytes are not indexed.", "minimum": 1024},
    )
    exclude: list[str] = field(
        default_factory=list,
        metadata={
            "description": "Extra gitignore-style patterns (relative to a workspace folder) never indexed."
        },
    )
    use_gitignore: bool = field(
        default=True, metadata={"description": "Skip files that .gitignore files ignore."}
    )
    watch: bool = field(
        default=True,
        metadata={"description": "Watch the workspace folders for changes made outside the editor."},
    )
    retrieval: bool = field(
        default=True,
        metadata={"description": "Put definitions and similar code from other files into prompts."},
    )
    budget_chars: int = field(
        default=1500,
        metadata={
            "description": "Most characters of cross-file context per prompt.",
            "minimum": 0,
            "maximum": 20000,
        },
    )
    min_similarity: float = field(
        default=0.12,
        metadata={
            "description": "Least identifier overlap (Jaccard) for a similar chunk to be used.",
            "minimum": 0.0,
            "maximum": 1.0,
        },
    )
    chunk_lines: int = field(
        default=20, metadata={"description": "Lines per similarity chunk.", "minimum": 4, "maximum": 200}
    )
    max_chunks: int = field(
        default=400_000,
        metadata={
            "description": "Most similarity chunks kept in memory (bounds memory on huge trees).",
            "minimum": 0,
        },
    )
