"""Over stdio, with scripted models that always write the same broken text: what is shown never breaks syntax."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_helpers import lsp_session, open_document
from lsprotocol import types

from syntax.document import SyntaxDocument
from tests.fim.gguf_factory import build_tiny_model


def scripted_model(folder: Path, text: str) -> Path:
    return build_tiny_model(folder / "scripted.gguf", None, extra_tokens=(text,), always_emit=text)


def apply(document: str, line: int, character: int, item: types.InlineCompletionItem) -> str:
    lines = document.splitlines(keepends=True)
    assert item.range is not None and item.range.start == types.Position(line, character)
    start = sum(len(text) for text in lines[:line]) + character
    end = sum(len(text) for text in lines[: item.range.end.line]) + item.range.end.character
    assert isinstance(item.insert_text, str)
    return document[:start] + item.insert_text + document[end:]


def error_count(text: str, language: str) -> int:
    tree = SyntaxDocument(text, language).tree
    return str(tree.root_node).count("(ERROR") + str(tree.root_node).count("(MISSING")


CASES = [
    # (language id, document, line, character, what the model always writes)
    ("python", "def f(values):\n    return sum(values)\n", 1, 21, ")) + (1\n"),
    ("python", "items = [1, 2]\nprint(items)\n", 0, 13, ", 3]]]\n"),
    ("javascript", "function f(a) {\n  return g(a);\n}\n", 1, 12, ")));\n"),
    ("go", "package main\n\nfunc f() int {\n\treturn 1\n}\n", 3, 9, " + 2 }}\n"),
]


@pytest.mark.parametrize(("language", "document", "line", "character", "raw"), CASES)
async def test_broken_suggestion_is_truncated_or_withheld(
    tmp_path: Path, language: str, document: str, line: int, character: int, raw: str
) -> None:
    model = scripted_model(tmp_path, raw)
    async with lsp_session("neovim", server_args=["--model", str(model)], root=tmp_path) as client:
        assert client.statuses[-1]["state"] == "ready", client.statuses
        extension = {"python": "py", "javascript": "js", "go": "go"}[language]
        uri = open_document(client, tmp_path / f"doc.{extension}", document, language)
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri),
                position=types.Position(line, character),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
        )
    canonical = {"python": "python", "javascript": "javascript", "go": "go"}[language]
    before = error_count(document, canonical)
    assert before == 0
    raw_document = document.splitlines(keepends=True)
    raw_applied = (
        "".join(raw_document[:line]) + raw_document[line][:character] + raw + raw_document[line][character:]
    )
    raw_applied += "".join(raw_document[line + 1 :])
    assert error_count(raw_applied, canonical) > before  # the model's text as written would break the file
    if result is None or not result.items:
        return  # withheld
    shown = apply(document, line, character, result.items[0])
    assert error_count(shown, canonical) <= before, shown
    assert result.items[0].insert_text != raw.rstrip("\n")
