"""The VS Code extension end to end, in a real VS Code: the packaged .vsix installed into code-server, driven
by headless Chromium (tests/editors/codeserver/drive.mjs, playwright-core) against the real infill-ls and its
default model. A user's view: open a Python file, type, see the grey suggestion in the editor, Tab, save.

code-server and chromium come from `bash .ci/code-server` (run by `bash .ci/install test`), which records what
it did in tests/editors/codeserver/.install-status.json. The tests skip only where that script found that
code-server cannot run on this machine (and say why); a failed or missing install fails them.

Screenshots of each run are kept in $INFILL_TEST_ARTIFACTS, else tests/editors/codeserver/screenshots/<test>/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.editors.vscode_build import Vsix

HERE = Path(__file__).resolve().parent
CODESERVER = HERE / "codeserver"
STATUS = CODESERVER / ".install-status.json"
DRIVER = CODESERVER / "drive.mjs"
PNG = b"\x89PNG\r\n\x1a\n"
# One wait (the first model load on a shared 2-core machine included); the whole run gets a few of them.
WAIT_MS = 150_000

FILE = "main.py"
BEFORE = "def add(a, b):\n    "
TYPED = "return "
MARKER = "workspace-command-ran"


def _install_status() -> dict[str, Any]:
    if not STATUS.is_file():
        return {}
    status: dict[str, Any] = json.loads(STATUS.read_text(encoding="utf-8"))
    return status


def _require_code_server() -> dict[str, Any]:
    status = _install_status()
    if "unavailable" in status:
        pytest.skip(f"code-server cannot run here: {status['unavailable']}")
    if "error" in status:
        log = Path(status.get("log", ""))
        tail = log.read_text(encoding="utf-8", errors="replace")[-4000:] if log.is_file() else ""
        pytest.fail(f".ci/code-server failed: {status['error']}\n{tail}")
    if not status.get("installed"):
        # As the llama-server tests: the test install provides it, so its absence is a failure, not a skip.
        pytest.fail(
            "code-server and chromium are not installed: run `bash .ci/code-server` (`.ci/install test` does)"
        )
    binary = CODESERVER / "node_modules" / ".bin" / "code-server"
    assert binary.is_file(), f"{binary} is gone since .ci/code-server installed it: run it again"
    assert shutil.which(status["chromium"]) is not None, f"{status['chromium']} is gone: run .ci/code-server"
    return status


def _artifacts(request: pytest.FixtureRequest) -> Path:
    base = Path(os.environ.get("INFILL_TEST_ARTIFACTS") or CODESERVER / "screenshots")
    name: str = request.node.name
    directory = base / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _user_settings(server: list[str]) -> dict[str, Any]:
    return {
        "workbench.startupEditor": "none",
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "workbench.enableExperiments": False,
        # VS Code for the web saves after a delay by default: here the user saves (Ctrl+S).
        "files.autoSave": "off",
        # Only the inline suggestion: no suggest widget that Tab would accept instead.
        "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
        "editor.suggestOnTriggerCharacters": False,
        "infill.server.command": server,
        # A shared CI machine may be slow: all the time the first suggestion needs, and a short one.
        "infill.completion.timeBudgetMs": 60_000,
        "infill.completion.maxTokens": 32,
        "infill.index.enabled": False,
        # Restricted Mode without a start-up prompt where the workspace is not trusted.
        "security.workspace.trust.enabled": True,
        "security.workspace.trust.startupPrompt": "never",
    }


def _drive(
    tmp_path: Path,
    artifacts: Path,
    status: dict[str, Any],
    vsix: Vsix,
    workspace_settings: dict[str, Any],
    **how: Any,
) -> dict[str, Any]:
    """Runs drive.mjs on a fresh workspace holding BEFORE in main.py; returns its RESULT."""
    workspace = tmp_path / "workspace"
    (workspace / ".vscode").mkdir(parents=True)
    (workspace / FILE).write_text(BEFORE, encoding="utf-8")
    (workspace / ".vscode" / "settings.json").write_text(json.dumps(workspace_settings), encoding="utf-8")
    scenario = {
        "codeServer": str(CODESERVER / "node_modules" / ".bin" / "code-server"),
        "chromiumPath": shutil.which(status["chromium"]),
        "vsix": str(vsix.path),
        "scratch": str(tmp_path / "scratch"),
        "workspace": str(workspace),
        "file": FILE,
        "typed": TYPED,
        "outDir": str(artifacts),
        "userSettings": _user_settings([sys.executable, "-m", "lsp_server"]),
        "timeoutMs": WAIT_MS,
        **how,
    }
    (tmp_path / "scenario.json").write_text(json.dumps(scenario), encoding="utf-8")
    result = subprocess.run(
        ["node", str(DRIVER), str(tmp_path / "scenario.json")],
        cwd=CODESERVER,
        capture_output=True,
        text=True,
        timeout=WAIT_MS / 1000 * 4,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    (artifacts / "drive.log").write_text(result.stderr, encoding="utf-8")
    print(f"screenshots and the driver's log: {artifacts}")
    if result.returncode != 0:
        pytest.fail(
            f"drive.mjs failed (exit {result.returncode}); screenshots in {artifacts}\n"
            f"{result.stderr[-8000:]}\n{_extension_log(tmp_path / 'scratch')}"
        )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, result.stdout
    report: dict[str, Any] = json.loads(lines[0].removeprefix("RESULT "))
    for shot in report["screenshots"]:
        assert Path(shot).read_bytes().startswith(PNG), shot
    return report


def _extension_log(scratch: Path) -> str:
    """The tail of the extension's "infill-ls" output channel, as code-server logged it."""
    logs = sorted((scratch / "user-data" / "logs").glob("**/*infill-ls*.log"))
    return "\n".join(
        f"--- {log}\n{log.read_text(encoding='utf-8', errors='replace')[-3000:]}" for log in logs
    )


def _check_accepted(report: dict[str, Any]) -> None:
    ghost = report["ghost"]
    assert ghost.strip(), f"an empty suggestion: {ghost!r}"
    # What was grey on screen is exactly what Tab put into the file.
    assert report["text"] == BEFORE + TYPED + ghost


def _wrapper(marker: Path) -> list[str]:
    """A server command that leaves a mark, then runs the real server."""
    return ["/bin/sh", "-c", f'echo ran > "{marker}"; exec "$0" -m lsp_server "$@"', sys.executable]


@pytest.mark.default_model
def test_inline_suggestion_is_shown_accepted_with_tab_and_saved(
    tmp_path: Path, request: pytest.FixtureRequest, packaged_vsix: Vsix
) -> None:
    """A trusted workspace: its own `infill.server.command` applies (the marker), the status bar turns
    ready, ghost text appears, Tab accepts it, the file holds it; then **infill: Run Doctor** reports."""
    status = _require_code_server()
    marker = tmp_path / MARKER
    report = _drive(
        tmp_path,
        _artifacts(request),
        status,
        packaged_vsix,
        {"infill.server.command": _wrapper(marker)},
        trusted=True,
        doctor=True,
    )
    _check_accepted(report)
    assert marker.is_file(), "a trusted workspace's infill.server.command was not used"
    assert report["readyStatus"]["text"].startswith("$(check) infill"), report["readyStatus"]
    assert report["restrictedAction"] is None
    # The route the server reports for the focused file (didFocus), shown as this file's: VS Code's URI and
    # the server's name the same document.
    assert "This file: local" in report["status"]["aria"], report["status"]
    assert report["doctor"] == "infill-ls doctor: no problems.", report["doctor"]
    assert "problems: none" in report["doctorOutput"] and "(exit status 0)" in report["doctorOutput"]
    # It was told about the active file, and says where its content goes.
    assert any(line.strip().endswith(f"{FILE}: local - local model") for line in report["doctorOutput"]), (
        report["doctorOutput"]
    )


@pytest.mark.default_model
def test_untrusted_workspace_cannot_choose_the_server_or_the_model(
    tmp_path: Path, request: pytest.FixtureRequest, packaged_vsix: Vsix
) -> None:
    """Restricted Mode: the workspace's `infill.server.command` (which would leave the marker) and its
    `infill.model.path` (a file that does not exist: the status would be an error) are ignored; the user's
    settings start the server, suggestions work, and the infill menu says the workspace is restricted."""
    status = _require_code_server()
    marker = tmp_path / MARKER
    report = _drive(
        tmp_path,
        _artifacts(request),
        status,
        packaged_vsix,
        {
            "infill.server.command": _wrapper(marker),
            "infill.model.path": str(tmp_path / "no-such-model.gguf"),
        },
        trusted=False,
        doctor=False,
    )
    _check_accepted(report)
    assert not marker.exists(), "an untrusted workspace chose the server command"
    assert "Restricted Mode" in report["restrictedAction"]
    assert "Restricted Mode" in report["readyStatus"]["aria"], report["readyStatus"]


def test_the_test_install_provides_code_server_at_the_pinned_versions() -> None:
    """`bash .ci/install test` runs .ci/code-server; the lockfile holds exactly the versions package.json pins,
    and the ripgrep release the script seeds is the one code-server's own lockfile asks for."""
    root = HERE.parents[1]
    install = (root / ".ci" / "install").read_text(encoding="utf-8")
    assert "bash .ci/code-server" in install
    package = json.loads((CODESERVER / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((CODESERVER / "package-lock.json").read_text(encoding="utf-8"))
    for name, version in package["devDependencies"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    script = (root / ".ci" / "code-server").read_text(encoding="utf-8")
    seeded = re.search(r"^ripgrep_package=(\S+)$", script, re.M)
    assert seeded is not None
    shrinkwrap = CODESERVER / "node_modules" / "code-server" / "lib" / "vscode" / "npm-shrinkwrap.json"
    if not shrinkwrap.is_file():
        _require_code_server()  # skips or fails with the reason it is not installed
    wanted = json.loads(shrinkwrap.read_text(encoding="utf-8"))["packages"]["node_modules/@vscode/ripgrep"]
    assert wanted["version"] == seeded.group(1)
