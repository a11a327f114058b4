"""The VS Code extension's own checks (node unit and integration tests, ESLint, tsc), run from pytest for CI.

The node integration test starts the real server with this interpreter, so it checks the extension's protocol
use against the server of this checkout.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from lsp_server.settings import restricted_settings, schema_properties
from syntax.languages import LANGUAGES
from tests.editors.vscode_build import EXTENSION, NPM, Vsix, output_of, run_in_extension

needs_npm = pytest.mark.skipif(NPM is None, reason="npm is not on PATH")


@needs_npm
def test_npm_test_passes_including_the_real_server(node_modules: Path) -> None:
    env = {**os.environ, "INFILL_LS_COMMAND": json.dumps([sys.executable, "-m", "lsp_server"])}
    result = run_in_extension([str(NPM), "test"], timeout=300, env=env)
    output = output_of(result)
    assert result.returncode == 0, output
    counts = {
        name: int(value)
        for name, value in re.findall(r"^\S*\s*(pass|fail|skipped) (\d+)$", result.stdout, re.M)
    }
    assert counts.get("fail") == 0, output
    assert counts.get("skipped") == 0, f"the integration test must run, not skip:\n{output}"
    assert counts.get("pass", 0) >= 60, output


@needs_npm
def test_eslint_is_clean(node_modules: Path) -> None:
    result = run_in_extension([str(NPM), "run", "--silent", "lint"], timeout=180)
    assert result.returncode == 0, output_of(result)


@needs_npm
def test_typescript_type_checks(node_modules: Path) -> None:
    result = run_in_extension([str(node_modules / ".bin" / "tsc"), "-p", ".", "--noEmit"], timeout=180)
    assert result.returncode == 0, output_of(result)


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


# The extension ships as one esbuild bundle: the manifest, readme, licence and dist/extension.js, nothing else.
VSIX_FILES = {
    "extension.vsixmanifest",
    "[Content_Types].xml",
    "extension/package.json",
    "extension/readme.md",
    "extension/LICENSE.txt",
    "extension/dist/extension.js",
}


@needs_npm
def test_package_is_one_small_bundle(packaged_vsix: Vsix) -> None:
    assert set(packaged_vsix.files) == VSIX_FILES, sorted(packaged_vsix.files)
    # Unbundled it was 238 files and 413 KB (node_modules and out/ included); bundled about 115 KB.
    assert packaged_vsix.path.stat().st_size < 200_000
    bundle = packaged_vsix.files["extension/dist/extension.js"]
    assert 100_000 < bundle < 1_000_000, bundle  # vscode-languageclient is inside, minified


@needs_npm
def test_package_builds_offline_from_the_lockfile(packaged_vsix: Vsix) -> None:
    if not packaged_vsix.offline:
        pytest.skip("`unshare -n` cannot make a network namespace here, so the build could not be cut off")
    assert packaged_vsix.path.is_file()


CLIENT_RESTRICTED = {"infill.server.command", "infill.server.python"}


def test_settings_that_choose_what_runs_or_where_code_goes_are_restricted() -> None:
    """Workspace trust: VS Code ignores an untrusted workspace's own values of these settings. The list is
    the schema's `restricted` settings plus the client's own launch settings, and every key is contributed."""
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    trust = manifest["capabilities"]["untrustedWorkspaces"]
    assert trust["supported"] == "limited"
    listed = trust["restrictedConfigurations"]
    assert listed == sorted(listed)
    assert set(listed) == set(restricted_settings()) | CLIENT_RESTRICTED
    assert {"infill.model.path", "infill.backend", "infill.remote.url", "infill.remote.apiKeyEnv"} <= set(
        listed
    )
    properties = manifest["contributes"]["configuration"]["properties"]
    for key in listed:
        assert key in properties, key
    schema = schema_properties()
    assert all(key in schema for key in set(listed) - CLIENT_RESTRICTED)
    # Tuning knobs stay settable per workspace.
    assert "infill.completion.maxTokens" not in listed and "infill.trace.server" not in listed
