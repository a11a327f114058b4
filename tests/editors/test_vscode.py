"""The VS Code extension's own checks (node unit and integration tests, ESLint, tsc), run from pytest for CI.

The node integration test starts the real server with this interpreter, so it checks the extension's protocol
use against the server of this checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syntax.languages import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "editors" / "vscode"
NPM = shutil.which("npm")

needs_npm = pytest.mark.skipif(NPM is None, reason="npm is not on PATH")


def _run(
    args: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-6000:]


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """Installs the locked dependencies unless node_modules already matches package-lock.json."""
    assert NPM is not None
    installed = EXTENSION / "node_modules" / ".package-lock.json"
    lock = EXTENSION / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        result = _run([NPM, "ci", "--no-audit", "--no-fund"], timeout=300)
        assert result.returncode == 0, _output(result)
    return EXTENSION / "node_modules"


@needs_npm
def test_npm_test_passes_including_the_real_server(node_modules: Path) -> None:
    env = {**os.environ, "INFILL_LS_COMMAND": json.dumps([sys.executable, "-m", "lsp_server"])}
    result = _run([str(NPM), "test"], timeout=300, env=env)
    output = _output(result)
    assert result.returncode == 0, output
    counts = {
        name: int(value)
        for name, value in re.findall(r"^\S*\s*(pass|fail|skipped) (\d+)$", result.stdout, re.M)
    }
    assert counts.get("fail") == 0, output
    assert counts.get("skipped") == 0, f"the integration test must run, not skip:\n{output}"
    assert counts.get("pass", 0) >= 40, output


@needs_npm
def test_eslint_is_clean(node_modules: Path) -> None:
    result = _run([str(NPM), "run", "--silent", "lint"], timeout=180)
    assert result.returncode == 0, _output(result)


@needs_npm
def test_typescript_type_checks(node_modules: Path) -> None:
    result = _run([str(node_modules / ".bin" / "tsc"), "-p", ".", "--noEmit"], timeout=180)
    assert result.returncode == 0, _output(result)


def test_extension_activates_for_every_language_the_server_knows() -> None:
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    activated = {
        event.split(":", 1)[1] for event in manifest["activationEvents"] if event.startswith("onLanguage:")
    }
    known = {language_id for spec in LANGUAGES for language_id in spec.language_ids}
    assert activated == known


def test_client_only_settings_are_declared_next_to_the_generated_ones() -> None:
    properties = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))["contributes"][
        "configuration"
    ]["properties"]
    assert properties["infill.server.command"]["type"] == "array"
    assert properties["infill.server.python"]["type"] == "string"
    assert properties["infill.trace.server"]["enum"] == ["off", "messages", "verbose"]
