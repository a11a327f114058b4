"""The privacy policy: which documents and snippets may reach a remote model, and why not."""

from __future__ import annotations

import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.privacy import PrivacyOptions, PrivacyPolicy
from completion.remote.backend import RemoteBackend
from completion.remote.options import RemoteOptions
from tests.remote.fakes import FakeServer

PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
)
GITHUB_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
POLICY = PrivacyPolicy()


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        (".env", ".env"),
        ("config/.env.production", ".env.*"),
        ("/home/u/project/certs/server.pem", "*.pem"),
        ("deploy/id_rsa", "id_rsa*"),
        ("app/secrets/db.py", "**/secrets/**"),
        ("credentials.json", "credentials*"),
        (".npmrc", ".npmrc"),
    ],
)
def test_local_only_files_by_pattern(path: str, pattern: str) -> None:
    route = POLICY.route(path, "anything\n")
    assert not route.remote and route.reason == f"matches {pattern}"


def test_ordinary_files_may_be_sent() -> None:
    assert POLICY.route("app/models.py", "def f():\n    return 1\n").remote
    assert POLICY.route(None, "x = 1\n").remote


@pytest.mark.parametrize(
    ("text", "kind", "line"),
    [
        ("import os\n\n" + PRIVATE_KEY, "Private Key", 3),
        (f'TOKEN = "{GITHUB_TOKEN}"\n', "GitHub Token", 1),
        ('def connect():\n    password = "hunter2hunter2"\n', "Secret Keyword", 2),
        ('aws = "AKIAIOSFODNN7EXAMPLE"\n', "AWS Access Key", 1),
    ],
)
def test_a_file_holding_a_secret_is_local_only_while_it_does(text: str, kind: str, line: int) -> None:
    route = POLICY.route("app/settings.py", text)
    assert not route.remote and route.reason == f"secret detected at line {line} ({kind})"
    assert route.describe().startswith("local only: secret detected")
    assert POLICY.route(
        "app/settings.py", "def connect():\n    password = os.environ['DB_PASSWORD']\n"
    ).remote


def test_detection_can_be_turned_off_and_patterns_replaced() -> None:
    policy = PrivacyPolicy(PrivacyOptions(local_only=["*.secret.py"], detect_secrets=False))
    assert policy.route("a.py", PRIVATE_KEY).remote
    assert policy.route(".env", "X=1").remote
    assert not policy.route("db.secret.py", "").remote


def test_real_code_is_not_taken_for_secrets() -> None:
    """Precision on real code: the standard library's own lines are (nearly) never flagged."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = [
        stdlib / name for name in ("textwrap.py", "shlex.py", "json/encoder.py", "ftplib.py", "smtplib.py")
    ]
    flagged = [path.name for path in files if not POLICY.route(path.name, path.read_text()).remote]
    assert flagged == []


def test_snippets_from_local_only_files_or_with_secrets_are_never_sent() -> None:
    assert POLICY.allows_snippet("util.py", "def helper():\n    pass\n")
    assert not POLICY.allows_snippet(".env", "X=1")
    assert not POLICY.allows_snippet("keys.py", PRIVATE_KEY)


def test_the_engine_sends_nothing_of_a_local_only_document(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server("openai", model="starcoder2-7b")
    backend = RemoteBackend(RemoteOptions(url=server.url))
    backend.connect()
    engine = CompletionEngine(CompletionOptions(parse_context=False, time_budget_ms=10_000))
    engine.set_model(backend)
    sent = len(server.posts("/v1/completions"))
    env = "DATABASE_URL=postgres://app@db/app\nDEBUG=1\n"
    assert engine.complete(CompletionRequest(env, len(env), language_id="dotenv", path=".env")) is None
    keys = f'KEY = """{PRIVATE_KEY}"""\n\ndef load():\n    '
    assert engine.complete(CompletionRequest(keys, len(keys), language_id="python", path="keys.py")) is None
    assert engine.infill_candidates(keys, "\n", 2, 16, 5.0, language="python", path="keys.py") == []
    assert len(server.posts("/v1/completions")) == sent  # nothing left the machine
    code = "def add(a, b):\n    "
    engine.complete(CompletionRequest(code, len(code), language_id="python", path="calc.py"))
    assert len(server.posts("/v1/completions")) > sent  # an ordinary file still goes


def test_hybrid_completes_a_local_only_document_with_the_local_model(
    fake_server: Callable[..., FakeServer],
) -> None:
    from tests.engine.test_ranking import ScriptedModel

    server = fake_server("openai", model="starcoder2-7b")
    backend = RemoteBackend(RemoteOptions(url=server.url))
    backend.connect()
    local = ScriptedModel(["DEBUG=1\n"], likelihood=lambda text: 0.0)
    engine = CompletionEngine(CompletionOptions(parse_context=False, time_budget_ms=10_000))
    engine.set_model(backend, fallback=local)  # type: ignore[arg-type]
    sent = len(server.posts("/v1/completions"))
    env = "SECRET_KEY=abc\n"
    completion = engine.complete(CompletionRequest(env, len(env), language_id="dotenv", path=".env"))
    assert completion is not None and completion.text == "DEBUG=1"
    assert len(server.posts("/v1/completions")) == sent and local.attempts >= 1


def test_a_remote_suggestion_holding_a_secret_is_never_shown(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server("openai", model="starcoder2-7b", answer=[f'    token = "{GITHUB_TOKEN}"\n'])
    backend = RemoteBackend(RemoteOptions(url=server.url))
    backend.connect()
    engine = CompletionEngine(CompletionOptions(parse_context=False, candidates=1, time_budget_ms=10_000))
    engine.set_model(backend)
    code = "import os\n\n\ndef connect():\n    "  # (os imported: the audit of names would cut an unknown one)
    assert engine.complete(CompletionRequest(code, len(code), language_id="python", path="net.py")) is None
    server.answer = ["    token = os.environ['TOKEN']\n"]
    shown = engine.complete(CompletionRequest(code + " ", len(code) + 1, language_id="python", path="net.py"))
    assert shown is not None and "environ" in shown.text
