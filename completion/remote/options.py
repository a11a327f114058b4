"""Settings of a remote endpoint (``infill.remote.*``); the schema in lsp_server.settings reads them from here."""

from __future__ import annotations

from dataclasses import dataclass

from syntax.options import option

APIS = ("auto", "llama-server", "openai", "ollama")


@dataclass
class RemoteOptions:
    url: str = option(
        "",
        "Inference server used when infill.backend is 'remote' or 'hybrid', e.g. "
        "http://127.0.0.1:8012 (llama-server), http://host:8000/v1 (OpenAI-compatible), "
        "http://127.0.0.1:11434 (Ollama).",
        restricted=True,
    )
    api: str = option(
        "auto",
        "The server's API: 'auto' (probe /props, /api/version, /v1/models), "
        "'llama-server' (/infill, /completion), 'openai' (/v1/completions) or 'ollama' (/api/generate).",
        enum=list(APIS),
        restricted=True,
    )
    model: str = option(
        "",
        "Model name sent to OpenAI-compatible servers and Ollama; empty: the server's first listed model.",
        restricted=True,
    )
    api_key_env: str = option(
        "",
        "Name of an environment variable holding a bearer token for the server (the token "
        "itself is never put in settings, logs or messages).",
        restricted=True,
    )
    fim_template: str = option(
        "auto",
        "FIM template for prompts built here (OpenAI-compatible servers, Ollama raw mode): "
        "'auto' (from the served model's name; llama-server's /infill and Ollama apply their own), "
        "'none' (prefix-only) or the forms of infill.model.fimTemplate.",
        restricted=True,
    )
    connect_timeout_ms: int = option(2000, "Give up connecting to the server after this long.", minimum=50)
    stall_timeout_ms: int = option(
        5000,
        "A server that stops sending mid-answer for this long has failed (the request "
        "shows nothing and the server is retried after a backoff).",
        minimum=100,
    )
    max_response_kb: int = option(512, "Largest answer read from the server per request.", minimum=1)
