"""`infill-ls --remote URL complete|doctor|fix` as a user runs them, against a real llama-server and fakes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.engine.test_cli import infill_ls
from tests.llama_servers import LlamaServer
from tests.remote.fakes import FakeServer


def slow_machine_settings(folder: Path) -> list[str]:
    """A budget no loaded machine runs out of: the tests assert behaviour, never speed."""
    settings = folder / "settings.json"
    settings.write_text('{"completion": {"timeBudgetMs": 120000}}')
    return ["--settings", str(settings)]


FUNCTION = 'def add(a, b):\n    """Return the sum of a and b."""\n    return \n'


def test_complete_through_llama_server(tmp_path: Path, default_llama_server: LlamaServer) -> None:
    source = tmp_path / "calc.py"
    source.write_text(FUNCTION)
    result = infill_ls(
        *slow_machine_settings(tmp_path),
        "--remote",
        default_llama_server.url,
        "complete",
        str(source),
        "--line",
        "2",
        "--character",
        "11",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["text"] and answer["model"].lower().startswith("gemma-3-270m")


def test_doctor_probes_the_endpoint(default_llama_server: LlamaServer) -> None:
    result = infill_ls("--remote", default_llama_server.url, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"remote server: {default_llama_server.url}" in out
    assert "reachable:    yes, llama-server API" in out
    assert "template: prefix-only (/completion) (/infill answered 501" in out
    assert "ms for a 1-token request" in out
    assert "model (worker process" not in out  # remote only: no local model is loaded


def test_doctor_names_an_unreachable_server_as_a_problem() -> None:
    result = infill_ls("--remote", "http://127.0.0.1:9", "--remote-api", "openai", "doctor")
    assert result.returncode == 1
    assert "remote: remote server at http://127.0.0.1:9: the server refused the connection" in result.stdout


def test_complete_and_fix_with_openai_api_and_model(
    tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    server = fake_server("openai", model="other", answer=["    return a + b\n"])
    source = tmp_path / "calc.py"
    source.write_text("def add(a, b):\n    \n")
    args = [*slow_machine_settings(tmp_path), "--remote", server.url, "--remote-api", "openai"]
    args += ["--remote-model", "starcoder2-15b"]
    result = infill_ls(*args, "complete", str(source), "--line", "1", "--character", "4")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "return a + b"
    body = server.posts("/v1/completions")[-1].body
    assert body["model"] == "starcoder2-15b" and body["prompt"].startswith("<repo_name>workspace\n<file_sep>")
    broken = tmp_path / "broken.py"
    broken.write_text("def f(a, b)\n    return a\n")
    asked = len(server.posts("/v1/completions"))
    fixed = infill_ls(*args, "fix", str(broken))
    assert fixed.returncode == 0, fixed.stderr
    assert "+def f(a, b):" in fixed.stdout
    assert len(server.posts("/v1/completions")) > asked  # model-written fix candidates came from the remote


def test_doctor_explains_where_each_file_goes(tmp_path: Path, fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server("openai", model="starcoder2-7b")
    env, keys, app = tmp_path / ".env", tmp_path / "keys.py", tmp_path / "app.py"
    env.write_text("DEBUG=1\n")
    keys.write_text('x = 1\nGITHUB_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"\n')
    app.write_text("import os\n")
    result = infill_ls(
        "--remote", server.url, "--remote-api", "openai", "doctor", str(env), str(keys), str(app)
    )
    out = result.stdout
    assert f"  {env}: none - local only: matches .env; no local model, no suggestions" in out, out
    assert f"  {keys}: none - local only: secret detected at line 2 (GitHub Token)" in out, out
    assert f"  {app}: remote - remote: {server.url}" in out, out
