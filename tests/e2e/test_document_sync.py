"""Document sync, end to end (issue 16): random incremental edits keep the server's copy equal to the client's.

Edits (hypothesis) insert and delete text made of LSP's line breaks (``\\n``, ``\\r\\n``, ``\\r``), characters
that ``str.splitlines`` also breaks at but LSP does not (form feed, ``\\v``, U+001C-U+001E, U+0085, U+2028,
U+2029), and characters of two UTF-16 units (emoji, flags, skin tones, a ZWJ family), so that positions in
UTF-16 units disagree with code points. One ``didChange`` may carry several changes, each relative to the text
after the one before, and now and then the whole text. The client's copy applies the same edits.

The server's copy is observed through ``infill/prompt``: with the parse context, token healing and the index
off and a prefix window larger than any document, the prompt of a prefix-only model (the scripted one) is the
path header and then the text up to the position. At (0, 0) that is the header alone; at a position past the
end of the document (the server clamps it to the end) it is the header and the whole server copy, which must
be the client's; at the client's own end position, and at a random one, it is the header and the client's
text up to there (so positions agree too). The server's log must hold no traceback of ours (a tree-sitter edit
that failed, a position that did not convert).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import RawServer, start_server
from tests.worker.fakes import SESSION_ENV

PIECES = (
    *("a", "b", "z", " ", "\t", "(", ")", ":", "x = 1", "é", "e\u0301", "中", "\u00a0"),
    *("\n", "\r\n", "\r"),  # LSP's line breaks
    *("\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"),  # not line breaks for LSP
    *("😀", "🇩🇪", "👍🏽", "👨\u200d👩\u200d👧", "\U0001d11e"),  # two UTF-16 units per code point
)
SYNC_OPTIONS: dict[str, Any] = {
    "completion": {"parseContext": False, "tokenHealing": False, "prefixChars": 10**9, "debounceMs": 0},
    "diagnostics": {"debounceMs": 0},
    "index": {"enabled": False},
}
PAST_THE_END = {"line": 2**31 - 1, "character": 2**31 - 1}  # the largest uinteger
DOCUMENTS = itertools.count(1)


def texts(most: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(PIECES), max_size=most).map("".join)


def lsp_position(text: str, offset: int) -> dict[str, int]:
    """The client's view: lines end only at \\n, \\r\\n or \\r; characters are UTF-16 units."""
    before = text[:offset]
    line = before.count("\n") + before.count("\r") - before.count("\r\n")
    start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return {"line": line, "character": len(before[start:].encode("utf-16-le")) // 2}


def inside_crlf(text: str, offset: int) -> bool:
    """Between the \\r and the \\n of a line break: no position names that place."""
    return 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n"


def offsets(text: str) -> st.SearchStrategy[int]:
    return st.integers(0, len(text)).filter(lambda offset: not inside_crlf(text, offset))


@st.composite
def edit(draw: st.DrawFn, text: str) -> tuple[int, int, str]:
    """A range of ``text`` (never inside a CRLF) and what replaces it."""
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 8)))
    if inside_crlf(text, start):
        start -= 1
    if inside_crlf(text, end):
        end += 1
    return start, end, draw(texts(6))


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RawServer, Path]]:
    root = tmp_path_factory.mktemp("sync")
    log = tmp_path_factory.mktemp("sync-log") / "server.log"
    args = ["--model", str(root / "fake.gguf")]
    server = start_server(log, SYNC_OPTIONS, args=args, env=SESSION_ENV, root=root)
    yield server, root
    server.close()


def prompt_at(server: RawServer, uri: str, position: dict[str, int]) -> dict[str, Any]:
    reply = server.request("infill/prompt", {"textDocument": {"uri": uri}, "position": position}, timeout=30)
    assert reply is not None, f"infill/prompt at {position} got no answer"
    result = reply.message.get("result")
    assert isinstance(result, dict), f"infill/prompt at {position}: {reply.message}"
    return result


def assert_in_sync(server: RawServer, uri: str, header: str, text: str, offset: int) -> None:
    whole = prompt_at(server, uri, PAST_THE_END)
    assert whole["windowStart"] == 0 and whole["healed"] == "", whole
    assert whole["prompt"] == header + text, "the server's copy differs from the client's"
    at_end = prompt_at(server, uri, lsp_position(text, len(text)))
    assert at_end["prompt"] == header + text, "the client's end position names another place on the server"
    inner = prompt_at(server, uri, lsp_position(text, offset))
    assert inner["prompt"] == header + text[:offset], (
        f"position {lsp_position(text, offset)} (offset {offset})"
    )


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_servers_copy_follows_random_edits(synced: tuple[RawServer, Path], data: st.DataObject) -> None:
    server, root = synced
    name = f"doc-{next(DOCUMENTS)}.py"
    uri = (root / name).as_uri()
    text = data.draw(texts(30), label="initial text")
    language = data.draw(st.sampled_from(["python", "javascript", "plaintext"]), label="language")
    item = {"uri": uri, "languageId": language, "version": 1, "text": text}
    assert server.notify("textDocument/didOpen", {"textDocument": item})
    header = prompt_at(server, uri, {"line": 0, "character": 0})["prompt"]
    assert name in header and header.endswith("\n"), header  # the path, as a comment: no text yet
    try:
        for version in range(2, 2 + data.draw(st.integers(1, 12), label="didChange count")):
            changes: list[dict[str, Any]] = []
            for _ in range(data.draw(st.integers(1, 3), label="changes in it")):
                if data.draw(st.integers(0, 15), label="whole text?") == 0:
                    text = data.draw(texts(30), label="whole text")
                    changes.append({"text": text})
                    continue
                start, end, inserted = data.draw(edit(text), label="edit")
                edited = {"start": lsp_position(text, start), "end": lsp_position(text, end)}
                changes.append({"range": edited, "text": inserted})
                text = text[:start] + inserted + text[end:]
            document = {"uri": uri, "version": version}
            assert server.notify(
                "textDocument/didChange", {"textDocument": document, "contentChanges": changes}
            )
            if data.draw(st.integers(0, 3), label="check now?") == 0:
                offset = data.draw(offsets(text), label="offset")
                assert_in_sync(server, uri, header, text, offset)
        offset = data.draw(offsets(text), label="offset")
        assert_in_sync(server, uri, header, text, offset)
        ours = server.our_tracebacks()
        assert not ours, [f"{item.kind}: {item.exception}" for item in ours]
    finally:
        server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
