"""`infill-ls complete` and `infill-ls doctor` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fim.gguf_factory import build_tiny_model
from tests.worker.fakes import SESSION_ENV

REPO = Path(__file__).resolve().parents[2]


def infill_ls(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp_server", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.default_model
def test_complete_prints_a_suggestion_for_the_quickstart_sample(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"completion": {"timeBudgetMs": 120000}}')
    result = infill_ls(
        "--settings",
        str(settings),
        "complete",
        "bench/samples/stats.py",
        "--line",
        "7",
        "--character",
        "11",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    answer = result.stdout.strip().splitlines()[-1]
    assert '"text": "' in answer and '"model": "Gemma 3 270m"' in answer


def test_complete_reports_bad_input_clearly(tmp_path: Path) -> None:
    missing = infill_ls("complete", str(tmp_path / "nope.py"), "--line", "0", "--character", "0")
    assert missing.returncode == 2 and "nope.py" in missing.stderr
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"\0\1\2" * 100)
    result = infill_ls("complete", str(binary), "--line", "0", "--character", "0")
    assert result.returncode == 2 and "binary" in result.stderr
    source = tmp_path / "a.py"
    source.write_text("x = 1\n")
    beyond = infill_ls("complete", str(source), "--line", "40", "--character", "0")
    assert beyond.returncode == 2 and "line 40" in beyond.stderr
    no_model = infill_ls(
        "--model", str(tmp_path / "none.gguf"), "complete", str(source), "--line", "0", "--character", "4"
    )
    assert no_model.returncode == 1 and "model file not found" in no_model.stderr


def test_doctor_reports_model_template_and_grammars(tmp_path: Path) -> None:
    model = build_tiny_model(tmp_path / "qwen.gguf", "qwen2.5-coder")
    result = infill_ls("--model", str(model), "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in (
        str(model),
        "family:       qwen2.5-coder",
        "<|fim_prefix|>",
        "context size:",
        "threads:",
        "llama-cpp-python: 0.",
        "AVX2 = 1",  # llama.cpp's system info: the CPU features this build uses
        "model (worker process ",
        "self-check:   first decode ok, prefix reuse ok",
        "tokens/s, generation",
    ):
        assert expected in out, (expected, out)
    for language in ("python", "typescript", "tsx", "rust", "lua"):
        assert f"  {language}" in out
    assert "problems: none" in out


def test_doctor_lists_a_missing_model_as_a_problem(tmp_path: Path) -> None:
    result = infill_ls("--model", str(tmp_path / "gone.gguf"), "doctor")
    assert result.returncode == 1
    assert "problems:" in result.stdout and "gone.gguf" in result.stdout
    assert "python" in result.stdout  # grammars are still reported


def test_a_crashing_model_is_reported_in_words_not_a_segfault(tmp_path: Path) -> None:
    """The Quickstart's failure on AMX machines: the CLI must say what happened instead of exiting 139."""
    source = tmp_path / "a.py"
    source.write_text("x = 1\n")
    crash = {**SESSION_ENV, "INFILL_FAKE_CRASH": "first-decode"}
    result = infill_ls(
        "--model", "fake.gguf", "complete", str(source), "--line", "0", "--character", "4", env=crash
    )
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert (
        "llama.cpp crashed in its CPU backend (signal 11, SIGSEGV) during the first decode" in result.stderr
    )
    assert ".ci/install" in result.stderr
    doctor = infill_ls("--model", "fake.gguf", "doctor", env=crash)
    assert doctor.returncode == 1 and "signal 11" in doctor.stdout
