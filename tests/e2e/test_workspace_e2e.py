"""End to end: the workspace index feeds other files' definitions into the prompt and follows the disk.

No model is needed (the prompt is built without one), so the server is pointed at a missing model file.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

from lsp_helpers import SERVER_COMMAND, StatusClient, capabilities, open_document
from lsprotocol import types
from pytest_lsp import ClientServerConfig

TIMEOUT_S = 60.0  # generous: the CPU is shared; every wait ends as soon as its condition holds


HELPER = '''\
def compute_checksum(payload: bytes, seed: int = 7) -> int:
    """Fold the payload into a 32-bit checksum."""
    total = seed
    for byte in payload:
        total = (total * 31 + byte) & 0xFFFFFFFF
    return total
'''

MAIN = """\
from helpers import compute_checksum


def run(data: bytes) -> int:
    value = compute_checksum(data)
    return value
"""
CURSOR = (5, 16)  # the end of "    return value"


@contextlib.asynccontextmanager
async def session(root: Path, log_file: Path) -> AsyncIterator[StatusClient]:
    config = ClientServerConfig(
        server_command=[*SERVER_COMMAND, "--log-file", str(log_file)], client_factory=StatusClient
    )
    client = cast(StatusClient, await config.start())
    try:
        caps = capabilities("vscode")
        assert caps.workspace is not None
        caps.workspace.configuration = False
        client.initialize_result = await client.initialize_session(
            types.InitializeParams(
                capabilities=caps,
                initialization_options={"model": {"path": str(root / "no-such-model.gguf")}},
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(root.as_uri(), root.name)],
            )
        )
        yield client
        if client._server is not None and client._server.returncode is None:
            await asyncio.wait_for(client.shutdown_session(), TIMEOUT_S)
    finally:
        server = client._server
        if server is not None and server.returncode is None:  # a failed test skipped the shutdown
            try:
                await asyncio.wait_for(client.shutdown_session(), 10)
            except Exception:
                server.kill()
        await cast(Any, client).stop()


async def prompt_when(client: StatusClient, uri: str, holds: Callable[[str], bool]) -> str:
    """The prompt at CURSOR once ``holds(prompt)``; fails with the last prompt after TIMEOUT_S."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        params = {"textDocument": {"uri": uri}, "position": {"line": CURSOR[0], "character": CURSOR[1]}}
        result: Any = await cast(Any, client.protocol).send_request_async("infill/prompt", params)
        prompt = str(result.prompt)
        if holds(prompt):
            return prompt
        assert time.monotonic() < deadline, f"condition never held; last prompt:\n{prompt}"
        await asyncio.sleep(0.05)  # poll interval, not a timing assumption


async def status_when(client: StatusClient, holds: Callable[[Any], bool]) -> Any:
    """infill/indexStatus once ``holds(status)``; fails with the last status after TIMEOUT_S."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        status: Any = await cast(Any, client.protocol).send_request_async("infill/indexStatus", {})
        if holds(status):
            return status
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.05)  # poll interval, not a timing assumption


async def test_definitions_from_another_file_follow_the_disk(workspace: Path, tmp_path: Path) -> None:
    helper = workspace / "helpers.py"
    helper.write_text(HELPER)
    (workspace / "main.py").write_text(MAIN)
    async with session(workspace, tmp_path / "server.log") as client:
        uri = open_document(client, workspace / "main.py", MAIN)
        prompt = await prompt_when(
            client, uri, lambda p: "def compute_checksum(payload: bytes, seed: int = 7)" in p
        )
        assert "Fold the payload into a 32-bit checksum." in prompt

        helper.write_text(HELPER.replace("payload: bytes, seed: int = 7", "buffer: memoryview"))
        prompt = await prompt_when(client, uri, lambda p: "def compute_checksum(buffer: memoryview)" in p)
        assert "seed: int = 7" not in prompt

        helper.unlink()
        await prompt_when(client, uri, lambda p: "def compute_checksum" not in p)


async def test_unsaved_edits_of_another_open_file_win(workspace: Path, tmp_path: Path) -> None:
    (workspace / "helpers.py").write_text(HELPER)
    (workspace / "main.py").write_text(MAIN)
    async with session(workspace, tmp_path / "server.log") as client:
        uri = open_document(client, workspace / "main.py", MAIN)
        await prompt_when(client, uri, lambda p: "seed: int = 7" in p)
        edited = HELPER.replace("seed: int = 7", "seed: int = 99")
        open_document(client, workspace / "helpers.py", edited)
        await prompt_when(client, uri, lambda p: "seed: int = 99" in p and "seed: int = 7" not in p)


async def test_indexing_reports_progress_and_shutdown_leaves_no_threads(
    workspace: Path, tmp_path: Path
) -> None:
    for number in range(30):
        (workspace / f"module_{number}.py").write_text(f"def function_{number}(value):\n    return value\n")
    log_file = tmp_path / "server.log"
    async with session(workspace, log_file) as client:
        status = await status_when(client, lambda status: status.idle and status.files == 30)
        assert status.running and status.roots == [str(workspace)] and status.definitions == 30
        reported: list[Any] = [value for reports in client.progress_reports.values() for value in reports]
        ends = [
            value
            for value in reported
            if isinstance(value, types.WorkDoneProgressEnd) and "files indexed" in (value.message or "")
        ]
        assert ends and ends[0].message == "30 files indexed"
        await asyncio.wait_for(client.shutdown_session(), TIMEOUT_S)
        assert client._server is not None and client._server.returncode == 0
    assert "index threads left: []" in log_file.read_text()


async def test_index_follows_settings_changes(workspace: Path, tmp_path: Path) -> None:
    (workspace / "a.py").write_text("def first():\n    pass\n")
    (workspace / "b.py").write_text("def second():\n    pass\n")
    model = {"path": str(workspace / "no-such-model.gguf")}
    async with session(workspace, tmp_path / "server.log") as client:
        await status_when(client, lambda status: status.idle and status.files == 2)

        def configure(index: dict[str, Any]) -> None:
            settings = {"infill": {"model": model, "index": index}}
            client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))

        configure({"enabled": False})
        await status_when(client, lambda status: not status.running)
        configure({"maxFiles": 1})
        await status_when(client, lambda status: status.running and status.idle and status.files == 1)


async def test_workspace_folders_can_come_and_go(workspace: Path, tmp_path: Path) -> None:
    (workspace / "a.py").write_text("def first():\n    pass\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.py").write_text("def second():\n    pass\n")
    folder = types.WorkspaceFolder(other.as_uri(), other.name)
    async with session(workspace, tmp_path / "server.log") as client:
        await status_when(client, lambda status: status.idle and status.files == 1)

        def change(added: list[types.WorkspaceFolder], removed: list[types.WorkspaceFolder]) -> None:
            event = types.WorkspaceFoldersChangeEvent(added=added, removed=removed)
            client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(event=event))

        change([folder], [])
        status = await status_when(client, lambda status: status.idle and status.files == 2)
        assert status.roots == [str(workspace), str(other)]
        change([], [folder])
        status = await status_when(client, lambda status: status.files == 1)
        assert status.roots == [str(workspace)]


BILLING = '''\
def charge_customer(customer_id: int, amount: float) -> float:
    """Charge a customer's card."""
    return amount


def refund_order(order_id: int) -> None:
    return None
'''
BOOKS = """\
import billing


def buy(customer_id, amount):
    total = billing.
"""
MEMBER_CURSOR = (4, 20)  # right after "billing."


async def prompt_at(client: StatusClient, uri: str, position: tuple[int, int]) -> str:
    params = {"textDocument": {"uri": uri}, "position": {"line": position[0], "character": position[1]}}
    result: Any = await cast(Any, client.protocol).send_request_async("infill/prompt", params)
    return str(result.prompt)


async def test_after_module_dot_the_prompt_carries_the_module_and_follows_a_rename(
    workspace: Path, tmp_path: Path
) -> None:
    (workspace / "billing.py").write_text(BILLING)
    (workspace / "books.py").write_text(BOOKS)
    async with session(workspace, tmp_path / "server.log") as client:
        uri = open_document(client, workspace / "books.py", BOOKS)
        await status_when(client, lambda status: status.idle and status.files == 2)
        prompt = await prompt_at(client, uri, MEMBER_CURSOR)
        assert "def charge_customer(customer_id: int, amount: float) -> float:" in prompt
        assert "Charge a customer's card." in prompt and "def refund_order(order_id: int) -> None:" in prompt
        assert prompt.index("def charge_customer") < prompt.index("total = billing.")
        (workspace / "billing.py").write_text(BILLING.replace("charge_customer", "bill_customer"))
        deadline = time.monotonic() + TIMEOUT_S
        while "def bill_customer" not in (prompt := await prompt_at(client, uri, MEMBER_CURSOR)):
            assert time.monotonic() < deadline, prompt
            await asyncio.sleep(0.05)  # poll interval, not a timing assumption
        assert "def charge_customer" not in prompt
        elsewhere = await prompt_at(client, uri, (3, 0))  # not after the dot: the members are not pushed in
        assert "def bill_customer" not in elsewhere


async def test_after_self_dot_the_members_out_of_view_are_named(workspace: Path, tmp_path: Path) -> None:
    body = "".join(f"    def step_{number}(self):\n        return {number}\n\n" for number in range(200))
    text = f"class Pipeline:\n    limit = 3\n\n{body}    def run(self):\n        return self.\n"
    (workspace / "pipeline.py").write_text(text)
    cursor = (text.count("\n") - 1, len("        return self."))
    async with session(workspace, tmp_path / "server.log") as client:
        uri = open_document(client, workspace / "pipeline.py", text)
        prompt = await prompt_at(client, uri, cursor)
        hint = prompt[: prompt.rindex("return self.")].rstrip().rsplit("\n", 1)[-1]
        assert hint.startswith("        # self has: limit, step_0, step_1"), (
            hint
        )  # the window shows the last steps
        assert "step_199" not in hint and "limit" in hint
