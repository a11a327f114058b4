"""The audit of names in the engine: a remote suggestion that calls a function defined nowhere is cut before
it or dropped; a local candidate with such a name loses to one without; the workspace index's definitions
and modules count as defined."""

from __future__ import annotations

from pathlib import Path

import pytest

from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.workspace.index import WorkspaceIndex
from completion.workspace.options import IndexOptions
from tests.engine.test_hybrid import ScriptedRemote
from tests.engine.test_ranking import ScriptedModel

SITE = "import json\n\n\ndef load(path):\n    with open(path) as f:\n        |\n"


def engine_with(model: object, mode: str = "cut", candidates: int = 1) -> CompletionEngine:
    engine = CompletionEngine(
        CompletionOptions(parse_context=False, time_budget_ms=60_000, candidates=candidates)
    )
    engine.audit.unknown_names = mode
    engine.set_model(model)  # type: ignore[arg-type]
    return engine


def shown(engine: CompletionEngine, text: str = SITE, path: str = "m.py") -> str | None:
    offset = text.index("|")
    request = CompletionRequest(text.replace("|", "", 1), offset, "file:///m.py", "python", path)
    completion = engine.complete(request)
    return None if completion is None else completion.text


def remote(answer: str) -> ScriptedRemote:
    model = ScriptedRemote(answer)
    model.gate.set()
    return model


@pytest.mark.parametrize(
    ("answer", "mode", "expected"),
    [
        ("return json.load(f)\n", "cut", "return json.load(f)"),  # clean: shown as it is
        ("return json.parse(f)\n", "drop", None),  # json has no parse
        ("data = f.read()\n        return parse_config(data)\n", "cut", "data = f.read()"),  # cut before it
        ("return parse_config(f)\n", "cut", None),  # no whole line before the name: nothing shown
        ("return parse_config(f)\n", "allow", "return parse_config(f)"),
    ],
)
def test_remote_suggestions_with_names_defined_nowhere(answer: str, mode: str, expected: str | None) -> None:
    assert shown(engine_with(remote(answer), mode)) == expected


def test_a_local_candidate_using_an_unknown_name_loses_to_one_that_does_not() -> None:
    local = ScriptedModel(["return parse_config(f)\n", "return json.load(f)\n"], likelihood=lambda text: -1.0)
    assert shown(engine_with(local, candidates=2)) == "return json.load(f)"
    alone = ScriptedModel(["return parse_config(f)\n"], likelihood=lambda text: -1.0)
    assert shown(engine_with(alone, mode="allow")) == "return parse_config(f)"


def test_names_the_workspace_defines_count_as_defined(tmp_path: Path) -> None:
    (tmp_path / "config.py").write_text("def parse_config(f):\n    return {}\n")
    (tmp_path / "m.py").write_text(SITE.replace("|", ""))
    index = WorkspaceIndex([str(tmp_path)], IndexOptions())
    index.start()
    try:
        assert index.wait_idle(30)
        assert index.defines("parse_config") and not index.defines("parse_configuration")
        members = index.module_members("config")
        assert members is not None and "parse_config" in members and "parse_everything" not in members
        engine = engine_with(remote("return parse_config(f)\n"), "drop")
        engine.retriever = index
        assert shown(engine, path=str(tmp_path / "m.py")) == "return parse_config(f)"
        (tmp_path / "pkg").mkdir()
        (tmp_path / "pkg" / "__init__.py").write_text("VERSION = 1\n")
        (tmp_path / "pkg" / "tools.py").write_text("def helper():\n    pass\n")
        assert index.wait_for(lambda: index.module_members("pkg") is not None, 30)
        package = index.module_members("pkg")
        assert package is not None and {"VERSION", "tools"} <= package  # its modules too
        site = SITE.replace("import json", "import config")
        engine = engine_with(remote("return config.parse_everything(f)\n"), "drop")
        engine.retriever = index
        assert shown(engine, site, path=str(tmp_path / "m.py")) is None  # the module is read: no such name
    finally:
        index.stop()
