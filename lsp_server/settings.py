"""Settings: the engines' option dataclasses composed into one tree, read from camelCase client JSON.

This module is the single source of the settings schema: `python -m lsp_server.settings --sync` writes it into
editors/vscode/package.json, the README table and the Neovim doc, and `--check` (run by the tests) fails when
any of them disagrees. Invalid values never stop the server: they fall back to defaults with a message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from completion.audit import AuditOptions
from completion.engine import CompletionOptions
from completion.model import ModelOptions
from completion.privacy import PrivacyOptions
from completion.remote.options import RemoteOptions
from completion.routing import RoutingOptions
from completion.workspace.options import IndexOptions
from syntax import options
from syntax.diagnostics import DiagnosticsOptions

SECTION = "infill"


BACKENDS = ("local", "remote", "hybrid")


@dataclass
class Settings:
    """Groups of options (``infill.<group>.<name>``), plus the few top-level ones (``infill.<name>``)."""

    backend: str = options.option(
        "local",
        "Where suggestions come from: 'local' (the model in infill.model, on this machine), "
        "'remote' (the server in infill.remote; no local model is loaded) or 'hybrid' (the local model "
        "answers at once; the remote server is asked on new lines, blocks and invokes, see infill.routing).",
        enum=list(BACKENDS),
        restricted=True,
    )
    model: ModelOptions = field(default_factory=ModelOptions)
    completion: CompletionOptions = field(default_factory=CompletionOptions)
    diagnostics: DiagnosticsOptions = field(default_factory=DiagnosticsOptions)
    index: IndexOptions = field(default_factory=IndexOptions)
    remote: RemoteOptions = field(default_factory=RemoteOptions)
    privacy: PrivacyOptions = field(default_factory=PrivacyOptions)
    routing: RoutingOptions = field(default_factory=RoutingOptions)
    audit: AuditOptions = field(default_factory=AuditOptions)


def _is_group(option: dataclasses.Field[Any]) -> bool:
    return dataclasses.is_dataclass(_field_types(Settings)[option.name])


_ACRONYMS = {"mb": "MB"}  # units spelled in capitals in setting names: stateCacheMB


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(_ACRONYMS.get(part, part.title()) for part in rest)


def snake(name: str) -> str:
    for part, spelled in _ACRONYMS.items():
        name = name.replace(spelled, part.title())
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(value: Any, expected: Any, where: str) -> Any:
    """Check/convert one JSON value against a field's type; raises ValueError with a readable message."""
    origin = typing.get_origin(expected)
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif expected is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif expected is str:
        if isinstance(value, str):
            return value
    elif origin is list:
        (item_type,) = typing.get_args(expected)
        if isinstance(value, list):
            return [_convert(item, item_type, f"{where}[]") for item in value]
    elif origin in (types.UnionType, typing.Union):
        for option in typing.get_args(expected):
            if option is type(None) and value is None:
                return None
            try:
                return _convert(value, option, where)
            except ValueError:
                continue
    raise ValueError(f"{where}: expected {_type_name(expected)}, got {json.dumps(value)}")


def _type_name(expected: Any) -> str:
    return getattr(expected, "__name__", str(expected))


def _check_bounds(value: Any, metadata: typing.Mapping[str, Any], where: str) -> None:
    if "minimum" in metadata and value < metadata["minimum"]:
        raise ValueError(f"{where}: {value} is below the minimum {metadata['minimum']}")
    if "maximum" in metadata and value > metadata["maximum"]:
        raise ValueError(f"{where}: {value} is above the maximum {metadata['maximum']}")
    if "enum" in metadata and value not in metadata["enum"]:
        raise ValueError(f"{where}: {json.dumps(value)} is not one of {', '.join(metadata['enum'])}")


def _read_group(cls: type, data: Any, prefix: str, errors: list[str]) -> Any:
    instance = cls()
    if data is None:
        return instance
    if not isinstance(data, dict):
        errors.append(f"{prefix}: expected an object, got {json.dumps(data)}")
        return instance
    hints = _field_types(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        name = snake(key)
        where = f"{prefix}.{key}"
        if name not in known:
            errors.append(f"{where}: unknown setting")
            continue
        try:
            converted = _convert(value, hints[name], where)
            _check_bounds(converted, known[name].metadata, where)
        except (ValueError, TypeError) as error:
            errors.append(f"{error} (using the default {json.dumps(getattr(instance, name))})")
            continue
        setattr(instance, name, converted)
    return instance


def settings_from_dict(data: Any) -> tuple[Settings, list[str]]:
    """Settings from client JSON (camelCase or snake_case; an optional top-level "infill" section), plus errors."""
    errors: list[str] = []
    if isinstance(data, dict) and SECTION in data and isinstance(data[SECTION], dict):
        data = data[SECTION]
    if data is None:
        return Settings(), errors
    if not isinstance(data, dict):
        return Settings(), [f"settings: expected an object, got {json.dumps(data)}"]
    groups = {f.name: f for f in dataclasses.fields(Settings) if _is_group(f)}
    top_level = {f.name: f for f in dataclasses.fields(Settings) if not _is_group(f)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = snake(key)
        if name in top_level:
            values.update(vars(_read_group(_TopLevel, {key: value}, SECTION, errors)))
            continue
        if name not in groups:
            if name not in ("server", "trace"):  # client-only groups (how editors start the server)
                errors.append(f"{SECTION}.{key}: unknown setting group")
            continue
        values[name] = _read_group(_field_types(Settings)[name], value, f"{SECTION}.{key}", errors)
    return Settings(**values), errors


@dataclass
class _TopLevel:
    """The top-level options read as one group (same checks, same messages)."""

    backend: str = field(default=Settings.backend, metadata=Settings.__dataclass_fields__["backend"].metadata)


# --- the schema and the files it feeds -------------------------------------------------------------------------


def _json_type(expected: Any) -> dict[str, Any]:
    if expected is bool:
        return {"type": "boolean"}
    if expected is int:
        return {"type": "integer"}
    if expected is float:
        return {"type": "number"}
    if expected is str:
        return {"type": "string"}
    if typing.get_origin(expected) is list:
        return {"type": "array", "items": _json_type(typing.get_args(expected)[0])}
    raise TypeError(f"no JSON type for {expected}")


def schema_properties() -> dict[str, dict[str, Any]]:
    """Flat JSON-schema properties `infill.<group>.<camelName>` (the VS Code configuration format)."""
    properties: dict[str, dict[str, Any]] = {}
    defaults = Settings()
    for group in dataclasses.fields(Settings):
        if not _is_group(group):
            properties[f"{SECTION}.{camel(group.name)}"] = _property(group, Settings, defaults)
            continue
        cls = _field_types(Settings)[group.name]
        for option in dataclasses.fields(cls):
            entry = _property(option, cls, getattr(defaults, group.name))
            properties[f"{SECTION}.{group.name}.{camel(option.name)}"] = entry
    return properties


def _property(option: dataclasses.Field[Any], cls: type, defaults: Any) -> dict[str, Any]:
    entry = _json_type(_field_types(cls)[option.name])
    entry["default"] = getattr(defaults, option.name)
    for key in ("minimum", "maximum", "enum"):
        if key in option.metadata:
            entry[key] = option.metadata[key]
    entry["description"] = option.metadata.get("description", "")
    return entry


ROOT = Path(__file__).resolve().parent.parent
PACKAGE_JSON = ROOT / "editors" / "vscode" / "package.json"
README = ROOT / "README.md"
NVIM_DOC = ROOT / "editors" / "nvim" / "doc" / "infill.txt"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def markdown_table() -> str:
    rows = ["| Setting | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for key, entry in schema_properties().items():
        kind = entry["type"] + (f" ({' / '.join(entry['enum'])})" if "enum" in entry else "")
        rows.append(f"| `{key}` | {kind} | `{json.dumps(entry['default'])}` | {entry['description']} |")
    return "\n".join(rows)


def vimdoc_section() -> str:
    lines = []
    for key, entry in schema_properties().items():
        lines.append(f"{key} ({entry['type']}, default {json.dumps(entry['default'])})")
        lines.append(f"    {entry['description']}")
    return "\n".join(lines)


def _between_markers(text: str, body: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start == -1 or end < start:
        raise ValueError(f"markers {BEGIN} ... {END} not found")
    return text[: start + len(BEGIN)] + "\n" + body + "\n" + text[end:]


def _synced_package_json(text: str) -> str:
    package = json.loads(text)
    configuration = package.setdefault("contributes", {}).setdefault("configuration", {})
    properties = configuration.setdefault("properties", {})
    server_keys = {
        key for key in properties if key.split(".")[1] in {f.name for f in dataclasses.fields(Settings)}
    }
    for key in server_keys:
        del properties[key]
    properties.update(schema_properties())
    configuration["properties"] = dict(sorted(properties.items()))
    trust = package.setdefault("capabilities", {}).setdefault("untrustedWorkspaces", {"supported": "limited"})
    client_only = [key for key in trust.get("restrictedConfigurations", []) if key not in server_keys]
    client_only = [key for key in client_only if key not in schema_properties()]
    trust["restrictedConfigurations"] = sorted({*client_only, *restricted_settings()})
    trust["description"] = (
        "In untrusted workspaces the server command, the model file and where code is sent "
        "(infill.backend, infill.remote.url) come only from user settings."
    )
    return json.dumps(package, indent=2, ensure_ascii=False) + "\n"


def restricted_settings() -> list[str]:
    """Settings that choose what runs or where code goes (metadata ``restricted``): an untrusted workspace's
    own settings must not set them (VS Code's restrictedConfigurations)."""
    restricted = []
    for group in dataclasses.fields(Settings):
        if not _is_group(group):
            if group.metadata.get("restricted"):
                restricted.append(f"{SECTION}.{camel(group.name)}")
            continue
        for option in dataclasses.fields(_field_types(Settings)[group.name]):
            if option.metadata.get("restricted"):
                restricted.append(f"{SECTION}.{group.name}.{camel(option.name)}")
    return restricted


def synced_files() -> dict[Path, str]:
    """Each schema-fed file with the content it should have."""
    wanted: dict[Path, str] = {}
    if PACKAGE_JSON.exists():
        wanted[PACKAGE_JSON] = _synced_package_json(PACKAGE_JSON.read_text(encoding="utf-8"))
    for path, body in ((README, markdown_table()), (NVIM_DOC, vimdoc_section())):
        if path.exists():
            wanted[path] = _between_markers(path.read_text(encoding="utf-8"), body)
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lsp_server.settings", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--sync", action="store_true", help="rewrite the files fed by the settings schema")
    action.add_argument("--check", action="store_true", help="exit 1 if a schema-fed file is out of date")
    action.add_argument("--schema", action="store_true", help="print the JSON schema properties")
    args = parser.parse_args(argv)
    if args.schema:
        print(json.dumps(schema_properties(), indent=2))
        return 0
    stale = [path for path, content in synced_files().items() if path.read_text(encoding="utf-8") != content]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run python -m lsp_server.settings --sync)")
        return 1 if stale else 0
    for path, content in synced_files().items():
        path.write_text(content, encoding="utf-8")
    print(f"synced {len(stale)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
