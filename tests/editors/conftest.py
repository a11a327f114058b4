"""Fixtures shared by the VS Code tests: the extension's locked npm dependencies and its packaged .vsix."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.editors.vscode_build import EXTENSION, NPM, Vsix, can_isolate_network, output_of, run_in_extension


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """Installs the locked dependencies unless node_modules already matches package-lock.json."""
    if NPM is None:
        pytest.skip("npm is not on PATH")
    installed = EXTENSION / "node_modules" / ".package-lock.json"
    lock = EXTENSION / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        result = run_in_extension([NPM, "ci", "--no-audit", "--no-fund"], timeout=300)
        assert result.returncode == 0, output_of(result)
    return EXTENSION / "node_modules"


@pytest.fixture(scope="session")
def packaged_vsix(node_modules: Path, tmp_path_factory: pytest.TempPathFactory) -> Vsix:
    """`npm run package` (typecheck, esbuild bundle, vsce), without network where a namespace can cut it."""
    assert NPM is not None
    out = tmp_path_factory.mktemp("vsix") / "infill-ls.vsix"
    offline = can_isolate_network()
    command = [NPM, "run", "package", "--", "--out", str(out)]
    result = run_in_extension(["unshare", "-n", *command] if offline else command, timeout=300)
    assert result.returncode == 0, output_of(result)
    with zipfile.ZipFile(out) as archive:
        files = {info.filename: info.file_size for info in archive.infolist()}
    return Vsix(out, offline, files)
