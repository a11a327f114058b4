"""The workspace index's settings (``settings.index``): what is indexed and how much retrieval may add."""

from __future__ import annotations

from dataclasses import dataclass

from syntax.options import list_option, option

__all__ = ["IndexOptions"]


@dataclass
class IndexOptions:
    """Settings of the workspace index and of cross-file retrieval (``settings.index``)."""

    enabled: bool = option(True, "Index the workspace so completions can see other files.")
    max_files: int = option(20000, "Most files indexed; the rest are ignored.", minimum=0, maximum=1_000_000)
    max_file_bytes: int = option(
        1_000_000, "Files larger than this many bytes are not indexed.", minimum=1024
    )
    exclude: list[str] = list_option(
        (), "Extra gitignore-style patterns (relative to a workspace folder) never indexed."
    )
    use_gitignore: bool = option(True, "Skip files that .gitignore files ignore.")
    watch: bool = option(True, "Watch the workspace folders for changes made outside the editor.")
    retrieval: bool = option(True, "Put definitions and similar code from other files into prompts.")
    budget_chars: int = option(
        1500, "Most characters of cross-file context per prompt.", minimum=0, maximum=20000
    )
    min_similarity: float = option(
        0.12, "Least identifier overlap (Jaccard) for a similar chunk to be used.", minimum=0.0, maximum=1.0
    )
    chunk_lines: int = option(20, "Lines per similarity chunk.", minimum=4, maximum=200)
    max_chunks: int = option(
        400_000, "Most similarity chunks kept in memory (bounds memory on huge trees).", minimum=0
    )
