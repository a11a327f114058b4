"""The local audit of names: a suggestion that calls, imports or references a name defined nowhere.

One check (``syntax.unknown_names``) for both uses: a remote suggestion with such a name is cut before its line
or dropped (``infill.audit.unknownNames``) before it is shown; among local candidates, one without such a name
wins over one with it, which is cut before that line when nothing better exists. What is defined comes from
the document, builtins and the standard library (the check itself), and the workspace index
(:class:`NameLookup`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from completion.postprocess import Suggestion
from syntax.document import ParsedText, SyntaxDocument
from syntax.options import option
from syntax.unknown_names import UnknownName, unknown_names

AUDIT_MODES = ("cut", "drop", "allow")


@dataclass
class AuditOptions:
    unknown_names: str = option(
        "cut",
        "A suggestion that uses a name defined nowhere (not in the document, the "
        "workspace index, the builtins or a module that can be read): 'cut' before the line of that name, "
        "'drop' it (remote suggestions; local candidates without such a name win over those with one), or "
        "'allow'.",
        enum=list(AUDIT_MODES),
    )


@dataclass(frozen=True)
class NameLookup:
    """What the workspace defines: a name anywhere (``known``), a module's names (``members``, None where
    the module is not the workspace's)."""

    known: Callable[[str], bool] | None = None
    members: Callable[[str], frozenset[str] | None] | None = None


def first_unknown(
    text: str,
    offset: int,
    suggestion: Suggestion,
    language: str | None,
    lookup: NameLookup,
    document: SyntaxDocument | ParsedText | None = None,
) -> UnknownName | None:
    """The first name in ``suggestion`` (inserted at ``offset`` of ``text``) that is defined nowhere."""
    if language is None or not suggestion.text.strip():
        return None
    inserted = text[:offset] + suggestion.text + text[suggestion.replace_end :]
    edited = (
        document.with_edit(offset, suggestion.replace_end, suggestion.text) if document is not None else None
    )
    found = unknown_names(
        inserted,
        language,
        offset,
        offset + len(suggestion.text),
        lookup.known,
        lookup.members,
        document=edited,
    )
    return found[0] if found else None
