"""End to end over stdio with a remote backend: the real server, a real llama-server, and loopback fakes.

The fakes (``tests.remote.fakes``) follow each API's documentation and fail on demand; they run in this
process, the language server in its own, talking over loopback. Waits are on statuses, answers and
conditions with timeouts, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import lsp_session, open_document
from lsprotocol import types

from tests.e2e.test_worker_e2e import inline, inline_params, messages, server_process, stats
from tests.llama_servers import LlamaServer
from tests.remote.fakes import FAULTS, FakeServer
from tests.worker.fakes import SESSION_ENV

FAST = {"completion": {"debounceMs": 0, "candidates": 1}}
FUNCTION = "def add(a, b):\n    \n\nprint(add(1, 2))\n"
SECRET = "sk-e2e-5a4b3c2d1e"


def remote(url: str, **options: Any) -> dict[str, Any]:
    return {**FAST, "backend": "remote", "remote": {"url": url, **options}}


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeServer]]:
    started: list[FakeServer] = []

    def start(api: str, **fields: Any) -> FakeServer:
        server = FakeServer(api, **fields).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def eventually(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_inline_completion_through_llama_server_without_a_local_model(
    workspace: Path, default_llama_server: LlamaServer
) -> None:
    async with lsp_session("neovim", remote(default_llama_server.url), root=workspace) as client:
        ready = await client.wait_for_status("ready", "error")
        assert ready["state"] == "ready" and "via llama-server" in ready["message"], ready
        uri = open_document(client, workspace / "calc.py", 'def add(a, b):\n    """Sum."""\n    return ')
        assert len(await inline(client, uri, 2, 11, timeout=60)) == 1
        worker = (await stats(client)).worker
        assert worker.state == "none" and worker.pid is None  # no local model was loaded
        assert rss_mb(server_process(client).pid) < 200


@pytest.mark.parametrize("api", ["llama-server", "openai", "ollama"])
async def test_each_api_gives_a_checked_suggestion(
    api: str, workspace: Path, fake: Callable[..., FakeServer]
) -> None:
    server = fake(api, model="qwen2.5-coder:7b")
    async with lsp_session("vscode", remote(server.url), root=workspace) as client:
        assert (await client.wait_for_status("ready", "error"))["state"] == "ready"
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        assert await inline(client, uri, 1, 4) == ["return a + b"]
        server.answer = ["    return a +\n"]  # a syntax error: only the part that parses is shown
        uri = open_document(client, workspace / "other.py", FUNCTION.replace("add", "plus"))
        assert await inline(client, uri, 1, 4) == ["return a"]


async def test_a_newer_request_closes_the_stream(workspace: Path, fake: Callable[..., FakeServer]) -> None:
    # 2000 tokens of 0.05 s and 1024 allowed: only a cancellation ends this stream within 30 s
    server = fake("llama-server", answer=["    return"] + [" a"] * 2000, token_delay_s=0.05)
    settings = {**remote(server.url), "completion": {**FAST["completion"], "maxTokens": 1024}}
    async with lsp_session("neovim", settings, root=workspace) as client:
        await client.wait_for_status("ready", "error")
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        first = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 1, 4)))
        await eventually(lambda: server.streams_open == 1)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                [
                    types.TextDocumentContentChangePartial(
                        types.Range(types.Position(1, 4), types.Position(1, 4)), "r"
                    )
                ],
            )
        )
        second = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 1, 5)))
        await eventually(lambda: server.disconnects >= 1)  # the first stream was closed, not read to its end
        server.token_delay_s = 0.0  # let the second one finish at once
        await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 30)


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_a_failing_server_is_one_message_then_recovers(
    fault: str, workspace: Path, fake: Callable[..., FakeServer]
) -> None:
    server = fake("openai", model="starcoder2-7b")
    settings = remote(server.url, maxResponseKb=1, stallTimeoutMs=1000)
    async with lsp_session("vscode", settings, root=workspace) as client:
        await client.wait_for_status("ready", "error")
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        mark = len(client.statuses)
        server.fault = fault
        for _ in range(5):  # keystrokes during the failure: each answered, with nothing
            assert await inline(client, uri, 1, 4) == []
        error = await client.wait_for_status("error", after=mark, timeout=30)
        assert re.search(FAULTS[fault], error["message"]), error
        failures = [text for text in messages(client, types.MessageType.Error) if "remote server" in text]
        assert len(failures) == 1, failures  # one message per episode, not per keystroke
        server.fault = None
        deadline = time.monotonic() + 60
        while await inline(client, uri, 1, 4) != ["return a + b"]:
            assert time.monotonic() < deadline
        ready = await client.wait_for_status("ready", after=mark, timeout=30)
        assert "via openai" in ready["message"], ready


async def test_an_unreachable_server_leaves_syntax_features_working(workspace: Path) -> None:
    async with lsp_session("neovim", remote("http://127.0.0.1:9"), root=workspace) as client:
        error = await client.wait_for_status("ready", "error")
        assert error["state"] == "error" and "refused" in error["message"], error
        uri = open_document(client, workspace / "broken.py", "def f(:\n    pass\n")
        assert await inline(client, uri, 1, 4) == []
        report = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(types.TextDocumentIdentifier(uri))
        )
        assert report.items, report


async def test_the_api_key_never_reaches_the_log(workspace: Path, fake: Callable[..., FakeServer]) -> None:
    server = fake("openai", model="starcoder2-7b")
    log = workspace.parent / "server.log"
    session = lsp_session(
        "vscode",
        remote(server.url, apiKeyEnv="INFILL_E2E_TOKEN"),
        root=workspace,
        server_args=["--log-file", str(log), "--verbose"],
        env={"INFILL_E2E_TOKEN": SECRET},
    )
    async with session as client:
        await client.wait_for_status("ready", "error")
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        assert await inline(client, uri, 1, 4) == ["return a + b"]
        server.fault = "unauthorized"
        assert await inline(client, uri, 1, 4 + 0) in ([], ["return a + b"])  # cached or refused
        open_document(client, workspace / "b.py", FUNCTION.replace("add", "mul"))
        assert await inline(client, (workspace / "b.py").as_uri(), 1, 4) == []
        await client.wait_for_status("error", timeout=30)
        said = [status["message"] for status in client.statuses] + messages(client, types.MessageType.Error)
    assert all(request.headers.get("Authorization") == f"Bearer {SECRET}" for request in server.requests)
    assert SECRET not in log.read_text() and all(SECRET not in text for text in said)
    assert "API key" in " ".join(said)


async def test_hybrid_serves_from_the_local_model_while_the_remote_is_down(workspace: Path) -> None:
    settings = {**FAST, "backend": "hybrid", "remote": {"url": "http://127.0.0.1:9"}}
    session = lsp_session(
        "neovim",
        settings,
        root=workspace,
        server_args=["--model", str(workspace / "fake.gguf")],
        env=SESSION_ENV,
    )
    async with session as client:
        ready = await client.wait_for_status("ready", "error")
        assert ready["state"] == "ready" and "local model" in ready["message"], ready
        warnings = messages(client, types.MessageType.Warning)
        assert any("refused" in text and "local model" in text for text in warnings), warnings
        uri = open_document(client, workspace / "a.py", "import os\n\n")
        assert await inline(client, uri, 1, 0) == ["value = 1"]


ENV_LINES = ["STRIPE_SECRET=sk_live_51H8mXqLkQ9aZ3bN4cD5eF6gH", "DATABASE_URL=postgres://app:pw@db/app"]
PRIVATE_KEY_LINE = "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB"
TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
KEYS = (
    f'PRIVATE_KEY = """-----BEGIN RSA PRIVATE KEY-----\n{PRIVATE_KEY_LINE}\n-----END RSA PRIVATE KEY-----"""\n'
    f'GITHUB_TOKEN = "{TOKEN}"\n\n\ndef load_key(name):\n    return PRIVATE_KEY if name == "rsa" else GITHUB_TOKEN\n'
)
APP = "from keys import load_key\n\n\ndef main():\n    key = load_key(\n"


async def test_secrets_and_local_only_files_never_reach_the_remote(
    workspace: Path, fake: Callable[..., FakeServer]
) -> None:
    (workspace / ".env").write_text("\n".join(ENV_LINES) + "\n")
    (workspace / "keys.py").write_text(KEYS)
    (workspace / "app.py").write_text(APP)
    server = fake("openai", model="starcoder2-7b")
    async with lsp_session("vscode", remote(server.url), root=workspace) as client:
        await client.wait_for_status("ready", "error")
        sent = len(server.posts("/v1/completions"))
        env = open_document(client, workspace / ".env", "\n".join(ENV_LINES) + "\nDEBUG=", "dotenv")
        assert await inline(client, env, 2, 6) == []
        keys = open_document(client, workspace / "keys.py", KEYS + "\n\ndef other():\n    ")
        assert await inline(client, keys, KEYS.count("\n") + 3, 4) == []
        assert len(server.posts("/v1/completions")) == sent  # completing in either sent nothing
        app = open_document(client, workspace / "app.py", APP)
        await inline(client, app, 4, 20)
        assert len(server.posts("/v1/completions")) > sent  # an ordinary file does go out
        prompt: Any = await client.protocol.send_request_async(
            "infill/prompt", {"textDocument": {"uri": app}, "position": {"line": 4, "character": 20}}
        )
        assert "load_key" in prompt.prompt and "keys.py" not in prompt.prompt  # keys.py holds secrets
        # with detection off the same retrieval does bring keys.py in: the policy was what kept it out
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"infill": {**remote(server.url), "privacy": {"detectSecrets": False}}}
            )
        )
        deadline = time.monotonic() + 30
        while "keys.py" not in prompt.prompt:
            assert time.monotonic() < deadline, prompt.prompt
            await asyncio.sleep(0.05)  # poll interval, not a timing assumption
            prompt = await client.protocol.send_request_async(
                "infill/prompt", {"textDocument": {"uri": app}, "position": {"line": 4, "character": 20}}
            )
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"infill": remote(server.url)})
        )
    bodies = json.dumps([request.body for request in server.requests])
    for secret in [*ENV_LINES, PRIVATE_KEY_LINE, TOKEN, "BEGIN RSA PRIVATE KEY"]:
        assert secret not in bodies, secret


async def test_the_command_line_remote_holds_against_the_editors_defaults(
    workspace: Path, fake: Callable[..., FakeServer]
) -> None:
    server = fake("openai", model="starcoder2-7b")
    editor_defaults = {**FAST, "backend": "local", "remote": {"url": "", "api": "auto"}}
    session = lsp_session("vscode", editor_defaults, root=workspace, server_args=["--remote", server.url])
    async with session as client:
        ready = await client.wait_for_status("ready", "error")
        assert ready["state"] == "ready" and "via openai" in ready["message"], ready


def hybrid_session(client_kind: str, workspace: Path, url: str) -> Any:
    """The real server in hybrid mode: the scripted local model and the remote server at ``url``."""
    settings = {**FAST, "backend": "hybrid", "remote": {"url": url}}
    model = ["--model", str(workspace / "fake.gguf")]
    return lsp_session(client_kind, settings, root=workspace, server_args=model, env=SESSION_ENV)


async def route_of(client: Any, uri: str, after: int) -> dict[str, Any]:
    """The route the status shows for ``uri``, from a route sent after index ``after`` of ``client.routes``."""

    def shown() -> dict[str, Any] | None:
        return next((r for r in reversed(client.routes[after:]) if r and r["uri"] == uri), None)

    await eventually(lambda: shown() is not None)
    route = shown()
    assert route is not None
    return route


async def test_the_status_tells_the_active_files_route(
    workspace: Path, fake: Callable[..., FakeServer]
) -> None:
    (workspace / ".env").write_text("\n".join(ENV_LINES) + "\n")
    server = fake("openai", model="starcoder2-7b")
    async with hybrid_session("vscode", workspace, server.url) as client:
        await client.wait_for_status("ready", "error")
        app = open_document(client, workspace / "app.py", "import os\n")
        env = open_document(client, workspace / ".env", "\n".join(ENV_LINES) + "\n", "dotenv")
        keys = open_document(client, workspace / "keys.py", "x = 1\n")
        mark = len(client.routes)
        client.protocol.notify("textDocument/didFocus", {"textDocument": {"uri": env}})
        route = await route_of(client, env, mark)
        assert route["target"] == "local" and route["text"] == "local only: matches .env", route
        mark = len(client.routes)
        client.protocol.notify("textDocument/didFocus", {"textDocument": {"uri": app}})
        route = await route_of(client, app, mark)
        assert route["target"] == "remote" and "starcoder2-7b" in route["text"], route
        # a secret typed into the focused file makes it local-only, and the status says where
        mark = len(client.routes)
        client.protocol.notify("textDocument/didFocus", {"textDocument": {"uri": keys}})
        assert (await route_of(client, keys, mark))["target"] == "remote"
        mark = len(client.routes)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=keys, version=2),
                [types.TextDocumentContentChangeWholeDocument(text=f'x = 1\nGITHUB_TOKEN = "{TOKEN}"\n')],
            )
        )
        await eventually(lambda: any(route and route["target"] == "local" for route in client.routes[mark:]))
        route = await route_of(client, keys, mark)
        assert route["target"] == "local" and "secret detected at line 2" in route["reason"], route


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (["    ) +* a b(\n"], []),  # breaks the syntax
        (["    return combine_numbers(a, b)\n"], []),  # calls a function defined nowhere
        ([f'    return "{TOKEN}"\n'], []),  # carries a token
        (["    return a + b\n"], ["return a + b"]),  # clean
    ],
)
async def test_only_clean_remote_answers_are_shown(
    answer: list[str], shown: list[str], workspace: Path, fake: Callable[..., FakeServer]
) -> None:
    server = fake("openai", model="starcoder2-7b", answer=answer)
    async with lsp_session("vscode", remote(server.url), root=workspace) as client:
        assert (await client.wait_for_status("ready", "error"))["state"] == "ready"
        uri = open_document(client, workspace / "calc.py", FUNCTION)
        assert await inline(client, uri, 1, 4) == shown
        assert server.posts("/v1/completions")  # the remote model was asked each time


async def test_hybrid_asks_the_remote_model_on_a_blank_line_not_while_typing_a_line(
    workspace: Path, fake: Callable[..., FakeServer]
) -> None:
    server = fake("openai", model="starcoder2-7b", answer=["value = 2\n"])
    async with hybrid_session("neovim", workspace, server.url) as client:
        await client.wait_for_status("ready", "error")
        typing = open_document(client, workspace / "typing.py", "import os\nvalue = os.pa")
        await inline(client, typing, 1, 12)
        assert server.posts("/v1/completions") == []  # mid-line: the local model alone
        blank = open_document(client, workspace / "blank.py", "import os\n\n")
        await inline(client, blank, 1, 0)
        await eventually(lambda: len(server.posts("/v1/completions")) == 1)  # a new line: the remote one too
