"""LspPositionCodec gives pygls' answers (the reference) at C speed, whatever the text and the position."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import PositionCodec

from lsp_server.documents import LspPositionCodec

ENCODINGS = [
    types.PositionEncodingKind.Utf16,
    types.PositionEncodingKind.Utf8,
    types.PositionEncodingKind.Utf32,
]
characters = st.sampled_from(["a", " ", "é", "ß", "中", "😋", "🇫🇷", "👍🏽", "\udc80", "\ud83d", "\t", "\x0c"])
lines = st.lists(characters | st.characters(), max_size=30).map("".join)


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(line=lines, ending=st.sampled_from(["", "\n", "\r\n", "\r"]), character=st.integers(0, 80))
@example(line="x😋y", ending="\n", character=2)  # inside the surrogate pair
@example(line="\ud83d\ude00", ending="", character=1)  # two lone surrogates that look like a pair
def test_positions_match_pygls(encoding: str, line: str, ending: str, character: int) -> None:
    text = [line + ending, "next\n"]
    position = types.Position(0, character)
    expected = PositionCodec(encoding).position_from_client_units(text, types.Position(0, character))
    assert LspPositionCodec(encoding).position_from_client_units(text, position) == expected


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(line=lines)
def test_unit_counts_match_pygls(encoding: str, line: str) -> None:
    assert LspPositionCodec(encoding).client_num_units(line) == PositionCodec(encoding).client_num_units(line)
