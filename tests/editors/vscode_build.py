"""Building the VS Code extension from the tests: npm in editors/vscode, and what a packaged .vsix holds."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "editors" / "vscode"
NPM = shutil.which("npm")


def run_in_extension(
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


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-6000:]


def can_isolate_network() -> bool:
    """Whether `unshare -n` gives a command a network namespace of its own (no network at all)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@dataclass(frozen=True)
class Vsix:
    path: Path
    offline: bool  # built in a network namespace without any network
    files: dict[str, int]  # name in the archive -> uncompressed size
