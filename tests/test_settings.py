"""Settings: camelCase JSON to typed dataclasses, bad values fall back with messages, one schema everywhere."""

from __future__ import annotations

import json

from lsp_server.settings import (
    PACKAGE_JSON,
    Settings,
    main,
    schema_properties,
    settings_from_dict,
)


def test_camel_case_values_reach_the_dataclasses() -> None:
    settings, errors = settings_from_dict(
        {"infill": {"model": {"path": "/m.gguf", "contextSize": 2048}, "completion": {"maxTokens": 40}}}
    )
    assert errors == []
    assert settings.model.path == "/m.gguf"
    assert settings.model.context_size == 2048
    assert settings.completion.max_tokens == 40
    assert settings.completion.enabled is True  # untouched fields keep their defaults


def test_snake_case_and_bare_sections_are_accepted() -> None:
    settings, errors = settings_from_dict({"completion": {"time_budget_ms": 900}})
    assert errors == []
    assert settings.completion.time_budget_ms == 900


def test_invalid_values_fall_back_to_defaults_with_a_message_each() -> None:
    settings, errors = settings_from_dict(
        {
            "completion": {"maxTokens": "many", "debounceMs": -1, "multiline": "sometimes", "enabled": 1},
            "model": "not an object",
            "colour": {},
            "diagnostics": {"nonsense": True},
        }
    )
    defaults = Settings()
    assert settings.completion.max_tokens == defaults.completion.max_tokens
    assert settings.completion.debounce_ms == defaults.completion.debounce_ms
    assert settings.completion.multiline == defaults.completion.multiline
    assert settings.completion.enabled is True
    assert settings.model == defaults.model
    text = "\n".join(errors)
    for fragment in ("maxTokens", "debounceMs", "multiline", "enabled", "infill.model", "colour", "nonsense"):
        assert fragment in text, (fragment, errors)
    assert len(errors) == 7


def test_non_object_settings_give_defaults() -> None:
    for data in (None, [], "x", 3):
        settings, errors = settings_from_dict(data)
        assert settings == Settings()
        assert (errors == []) == (data is None)


def test_client_only_groups_are_not_errors() -> None:
    _, errors = settings_from_dict({"server": {"command": ["infill-ls"]}, "trace": {"server": "off"}})
    assert errors == []


def test_every_schema_default_reads_back_as_the_default() -> None:
    """What an editor sends from the schema (its defaults) is what the server starts with."""
    client: dict[str, object] = {}
    for key, entry in schema_properties().items():
        *groups, name = key.split(".")
        target = client
        for group in groups:
            target = target.setdefault(group, {})  # type: ignore[assignment]
        target[name] = entry["default"]
    settings, errors = settings_from_dict(client)
    assert errors == [] and settings == Settings()


def test_top_level_backend_and_the_remote_group() -> None:
    settings, errors = settings_from_dict(
        {"infill": {"backend": "remote", "remote": {"url": "http://127.0.0.1:8012", "apiKeyEnv": "TOKEN"}}}
    )
    assert errors == []
    assert settings.backend == "remote"
    assert (settings.remote.url, settings.remote.api_key_env, settings.remote.api) == (
        "http://127.0.0.1:8012",
        "TOKEN",
        "auto",
    )
    settings, errors = settings_from_dict({"backend": "cloud"})
    assert settings.backend == "local"
    assert errors == [
        'infill.backend: "cloud" is not one of local, remote, hybrid (using the default "local")'
    ]
    assert "infill.backend" in schema_properties()


def test_schema_has_types_defaults_and_descriptions_for_every_field() -> None:
    properties = schema_properties()
    assert properties["infill.model.path"] == {
        "type": "string",
        "default": "",
        "description": properties["infill.model.path"]["description"],
    }
    assert properties["infill.completion.multiline"]["enum"] == ["auto", "never", "always"]
    for key, entry in properties.items():
        assert entry["description"], key
        assert entry["type"] in ("boolean", "integer", "number", "string", "array"), key


def test_vscode_manifest_readme_and_nvim_doc_agree_with_the_schema() -> None:
    assert main(["--check"]) == 0, "run: python -m lsp_server.settings --sync"
    manifest = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    contributed = manifest["contributes"]["configuration"]["properties"]
    for key, entry in schema_properties().items():
        assert contributed[key]["default"] == entry["default"], key


def test_settings_that_choose_where_code_goes_are_restricted_in_untrusted_workspaces() -> None:
    from lsp_server.settings import restricted_settings

    restricted = set(restricted_settings())
    assert {
        "infill.backend",
        "infill.remote.url",
        "infill.remote.apiKeyEnv",
        "infill.model.path",
    } <= restricted
    package = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    listed = set(package["capabilities"]["untrustedWorkspaces"]["restrictedConfigurations"])
    assert restricted <= listed and {"infill.server.command", "infill.server.python"} <= listed
