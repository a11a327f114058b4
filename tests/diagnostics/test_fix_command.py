"""`infill-ls fix`: the diff it prints, --write, and its exit status on clean, unfixable and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from completion.backends import BackendChoice
from completion.model import ModelOptions
from lsp_server.cli import main
from lsp_server.fix_command import fix_text, run_fix

BROKEN = "def area(w, h)\n    return w * h\n\nx = (1, 2\ny = [3 4]\n"
FIXED = "def area(w, h):\n    return w * h\n\nx = (1, 2)\ny = [3, 4]\n"


def test_fixes_every_error_and_prints_a_unified_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "area.py"
    path.write_text(BROKEN, encoding="utf-8")
    assert run_fix(str(path), write=False, language=None, use_model=False) == 0
    out, err = capsys.readouterr()
    assert f"--- {path}\n+++ {path}\n" in out
    assert "-def area(w, h)\n+def area(w, h):\n" in out and "+y = [3, 4]\n" in out
    assert "3 fix(es) applied, 0 syntax error(s) left" in err
    assert path.read_text(encoding="utf-8") == BROKEN  # not written without --write


def test_write_applies_the_fixes_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "area.py"
    path.write_bytes(BROKEN.replace("\n", "\r\n").encode())
    assert main(["fix", str(path), "--write", "--no-model"]) == 0
    assert path.read_bytes() == FIXED.replace("\n", "\r\n").encode()  # line endings kept
    capsys.readouterr()
    assert main(["fix", str(path), "--no-model"]) == 0
    assert capsys.readouterr().out == ""  # already clean: empty diff


def test_unfixable_error_exits_1_and_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "odd.py"
    path.write_text("a = 1\nb = ?? 2 ??\n", encoding="utf-8")
    assert run_fix(str(path), write=True, language=None, use_model=False) == 1
    assert f"{path}:2: unexpected '??' (no verified fix)" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == "a = 1\nb = ?? 2 ??\n"


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("(((", encoding="utf-8")
    assert run_fix(str(notes), write=False, language=None, use_model=False) == 2
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"\xff\xfe\x00junk")
    assert run_fix(str(binary), write=False, language=None, use_model=False) == 2
    assert run_fix(str(tmp_path / "missing.py"), write=False, language=None, use_model=False) == 2
    assert "cannot read" in capsys.readouterr().err
    # an explicit language makes an unknown extension usable
    assert run_fix(str(notes), write=False, language="python", use_model=False) == 0


def test_bad_model_path_falls_back_to_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "area.py"
    path.write_text(BROKEN, encoding="utf-8")
    choice = BackendChoice(model=ModelOptions(path="/nope.gguf"))
    assert run_fix(str(path), write=False, language=None, use_model=True, choice=choice) == 0
    assert "rule-based fixes only" in capsys.readouterr().err


def test_fix_text_reports_what_is_left() -> None:
    text, applied, remaining = fix_text("x = (1\n", "python")
    assert (text, applied, remaining) == ("x = (1)\n", 1, [])


def test_write_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "outside.py"
    target.write_text(BROKEN)
    link = tmp_path / "ws" / "link.py"
    link.parent.mkdir()
    link.symlink_to(target)
    assert run_fix(str(link), write=True, language=None, use_model=False) == 2
    assert target.read_text() == BROKEN  # the file outside was not touched
    assert run_fix(str(link), write=False, language=None, use_model=False) == 0  # printing the diff is fine
