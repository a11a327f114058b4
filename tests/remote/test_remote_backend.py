"""RemoteBackend against loopback fakes of each documented API: requests, streaming, stop rules, every fault.

Each fault gives no suggestion for that request (ModelUnavailable), one "failed" report per failure episode,
a backoff during which nothing is sent, and "ready" again once the server answers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

import pytest

from completion.backend import BackendState, GenerationSpec, ModelLoadError, ModelUnavailable, StopRule
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.fim import TEMPLATES, template_for_model_name
from completion.prompt import Prompt
from completion.remote.apis import wire_text
from completion.remote.backend import RemoteBackend
from completion.remote.options import RemoteOptions
from tests.llama_servers import free_port
from tests.remote.fakes import FAULTS, FakeServer, whole_file_prompt

FakeFactory = Callable[..., FakeServer]
CODE = "import os\n\ndef add(a, b):\n    \n\nprint(add(1, 2))\n"
CURSOR = CODE.index("    \n") + 4
SECRET = "sk-test-9f8e7d6c5b4a"


def connected(url: str, states: list[BackendState] | None = None, **options: object) -> RemoteBackend:
    backend = RemoteBackend(
        RemoteOptions(url=url, **options),  # type: ignore[arg-type]
        (states.append if states is not None else lambda state: None),
        environ={"INFILL_TEST_TOKEN": SECRET},
    )
    backend.connect()
    return backend


def prompt_for(backend: RemoteBackend, text: str = CODE, offset: int = CURSOR) -> Prompt:
    return whole_file_prompt(text, offset, backend.info.fim)


def generate(backend: RemoteBackend, spec: GenerationSpec | None = None, **kwargs: object) -> str:
    with backend.lock:
        return backend.generate(
            prompt_for(backend), spec or GenerationSpec(max_tokens=16, time_limit_s=10), **kwargs
        ).text  # type: ignore[arg-type]


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# --- connecting: API, model, template and why --------------------------------------------------------------


@pytest.mark.parametrize("api", ["llama-server", "openai", "ollama"])
def test_auto_finds_each_api(api: str, fake_server: FakeFactory) -> None:
    server = fake_server(api)
    backend = connected(server.url)
    assert backend.info.api == api
    assert backend.choices[0].what == "api" and backend.choices[0].value == api


def test_llama_server_fim_model_uses_infill_with_the_documented_fields(fake_server: FakeFactory) -> None:
    server = fake_server("llama-server")
    backend = connected(server.url, api="llama-server")
    assert backend.info.family == "server" and backend.info.context_size == 4096
    assert generate(backend) == "    return a + b\n"
    body = server.posts("/infill")[-1].body
    assert body["input_prefix"] == "import os\n\ndef add(a, b):\n"  # the cursor's line goes in "prompt"
    assert body["prompt"] == "    "
    assert body["input_suffix"] == CODE[CURSOR:]
    assert body["cache_prompt"] is True and body["stream"] is True and body["n_predict"] == 16
    assert body["t_max_predict_ms"] == 10000 and body["id_slot"] in range(4)
    assert body["input_extra"] == []


def test_one_document_keeps_one_slot(fake_server: FakeFactory) -> None:
    server = fake_server("llama-server")
    backend = connected(server.url)
    generate(backend)
    generate(backend)
    slots = {request.body["id_slot"] for request in server.posts("/infill")[-2:]}
    assert len(slots) == 1


def test_llama_server_without_fim_tokens_completes_prefix_only(fake_server: FakeFactory) -> None:
    server = fake_server("llama-server", fim=False)
    backend = connected(server.url)
    assert backend.info.fim is None and backend.info.family == "prefix-only"
    assert any("501" in choice.why for choice in backend.choices)
    generate(backend)
    assert server.posts("/completion")[-1].body["prompt"].endswith("def add(a, b):\n    ")


def test_openai_builds_the_fim_prompt_from_the_model_name(fake_server: FakeFactory) -> None:
    server = fake_server("openai", model="Qwen/Qwen2.5-Coder-7B")
    backend = connected(server.url + "/v1")  # given as OpenAI clients take it
    assert backend.info.fim == TEMPLATES["qwen2.5-coder"]
    template = next(choice for choice in backend.choices if choice.what == "template")
    assert "Qwen/Qwen2.5-Coder-7B" in template.why
    generate(backend)
    body = server.posts("/v1/completions")[-1].body
    assert body["model"] == "Qwen/Qwen2.5-Coder-7B" and "suffix" not in body
    assert body["prompt"].startswith("<|repo_name|>") and body["prompt"].endswith("<|fim_middle|>")
    assert len(body["stop"]) <= 4 and body["logprobs"] == 1


def test_an_unknown_model_name_is_prefix_only_and_says_so(fake_server: FakeFactory) -> None:
    server = fake_server("openai", model="my-private-llm")
    backend = connected(server.url)
    assert backend.info.fim is None
    template = next(choice for choice in backend.choices if choice.what == "template")
    assert "no FIM template is known" in template.why and "infill.remote.fimTemplate" in template.why


def test_template_names_of_served_models() -> None:
    assert template_for_model_name("qwen2.5-coder:7b-base") == TEMPLATES["qwen2.5-coder"]
    assert template_for_model_name("bigcode/starcoder2-15b") == TEMPLATES["starcoder"]
    assert template_for_model_name("deepseek-coder-6.7b-base.Q4_K_M.gguf") == TEMPLATES["deepseek-coder"]
    assert template_for_model_name("codestral-22b") == TEMPLATES["codestral"]
    assert template_for_model_name("CodeLlama-7b-hf") == TEMPLATES["codellama"]
    assert template_for_model_name("codegemma:2b") == TEMPLATES["codegemma"]
    assert template_for_model_name("qwen2.5:7b-instruct") is None  # a general model: no guessing
    assert template_for_model_name("llama3.1:8b") is None


def test_user_text_cannot_inject_a_control_token() -> None:
    prompt = whole_file_prompt("x = '<|fim_middle|>'\n", 21, TEMPLATES["qwen2.5-coder"], path=None)
    wire = wire_text(prompt, TEMPLATES["qwen2.5-coder"])
    assert wire.count("<|fim_middle|>") == 1 and wire.endswith("<|fim_middle|>")


def test_ollama_uses_suffix_when_the_model_can_insert(fake_server: FakeFactory) -> None:
    server = fake_server("ollama", model="qwen2.5-coder:1.5b")
    backend = connected(server.url)
    assert backend.info.api == "ollama" and backend.info.family == "server"
    generate(backend)
    body = server.posts("/api/generate")[-1].body
    assert body["prompt"].endswith("def add(a, b):\n    ") and body["suffix"] == CODE[CURSOR:]
    assert "raw" not in body and body["stream"] is True and body["keep_alive"]
    assert body["options"]["num_predict"] == 16


def test_ollama_model_without_insert_is_raw_prefix_only(fake_server: FakeFactory) -> None:
    server = fake_server("ollama", model="llama3.1:8b", fim=False)
    backend = connected(server.url)
    assert backend.info.fim is None
    assert generate(backend) == "    return a + b\n"
    body = server.posts("/api/generate")[-1].body
    assert body["raw"] is True and "suffix" not in body


def test_ollama_with_a_template_setting_sends_raw_fim(fake_server: FakeFactory) -> None:
    server = fake_server("ollama", model="my-coder")
    backend = connected(server.url, fim_template="starcoder")
    generate(backend)
    body = server.posts("/api/generate")[-1].body
    assert (body["raw"] is True and body["prompt"].startswith("<file_sep>")) or "<fim_prefix>" in body[
        "prompt"
    ]
    assert body["options"]["stop"]


def test_unreachable_unknown_and_misconfigured_endpoints_are_errors_in_words(
    fake_server: FakeFactory,
) -> None:
    with pytest.raises(ModelLoadError, match="refused the connection"):
        RemoteBackend(RemoteOptions(url="http://127.0.0.1:9")).connect()
    with pytest.raises(ModelLoadError, match=r"host name could not be resolved|could not connect"):
        RemoteBackend(RemoteOptions(url="http://no-such-host.invalid:8080")).connect()
    with pytest.raises(ModelLoadError, match=r"http:// or https://"):
        RemoteBackend(RemoteOptions(url="ftp://host"))
    with pytest.raises(ModelLoadError, match=r"infill\.remote\.url"):
        RemoteBackend(RemoteOptions(url=""))
    with pytest.raises(ModelLoadError, match="INFILL_MISSING_TOKEN"):
        RemoteBackend(RemoteOptions(url="http://127.0.0.1:9", api_key_env="INFILL_MISSING_TOKEN"), environ={})
    server = fake_server("nothing-known")
    with pytest.raises(ModelLoadError, match="no known API answered"):
        RemoteBackend(RemoteOptions(url=server.url)).connect()


def test_plain_http_off_this_machine_is_warned_about() -> None:
    backend = RemoteBackend(RemoteOptions(url="http://gpu-box.example:8012"))
    assert any("unencrypted" in warning for warning in backend.info.warnings)
    assert RemoteBackend(RemoteOptions(url="http://127.0.0.1:8012")).info.warnings == ()
    assert RemoteBackend(RemoteOptions(url="https://gpu-box.example")).info.warnings == ()


# --- streaming: stop rules, cancellation, ranking ----------------------------------------------------------


def test_the_stop_rule_closes_the_stream_early(fake_server: FakeFactory) -> None:
    server = fake_server("llama-server", fault="endless", token_delay_s=0.001)
    backend = connected(server.url)
    spec = GenerationSpec(max_tokens=10_000, stop=StopRule("newline"), time_limit_s=10)
    with backend.lock:
        generation = backend.generate(prompt_for(backend), spec)
    assert generation.text == "value = 1\n" and generation.stop_reason == "stop"
    assert wait_until(lambda: server.disconnects == 1 and server.streams_open == 0)


def test_a_line_rule_stops_at_the_end_of_the_line(fake_server: FakeFactory) -> None:
    server = fake_server("openai", answer=["x = 1", "\n", "y = 2", "\n"], token_delay_s=0.01)
    backend = connected(server.url, model="starcoder2-3b")
    with backend.lock:
        generation = backend.generate(
            prompt_for(backend), GenerationSpec(16, StopRule("line"), time_limit_s=10)
        )
    assert generation.text == "x = 1\n" and generation.stop_reason == "stop"


def test_cancelling_closes_the_stream_at_once(fake_server: FakeFactory) -> None:
    server = fake_server("llama-server", fault="endless", token_delay_s=0.01)
    backend = connected(server.url)

    class AfterFirstEvents:
        calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            return server.streams_open > 0 and self.calls > 5

    with backend.lock:
        generation = backend.generate(
            prompt_for(backend), GenerationSpec(10_000, time_limit_s=30), AfterFirstEvents()
        )
    assert generation.stop_reason == "cancelled"
    assert wait_until(lambda: server.disconnects == 1 and server.streams_open == 0)


def test_the_deadline_ends_a_slow_answer_with_what_came(fake_server: FakeFactory) -> None:
    server = fake_server("ollama", fault="stall", model="codegemma:2b")  # one piece, then silence
    backend = connected(server.url)
    with backend.lock:
        generation = backend.generate(prompt_for(backend), GenerationSpec(10_000, time_limit_s=3.0))
    assert generation.stop_reason == "deadline" and generation.text == "    return a"


def test_remote_candidates_rank_by_their_own_logprobs(fake_server: FakeFactory) -> None:
    scripts = [(["    return a - b\n"], -2.0), (["    return a + b\n"], -0.1), (["    pass\n"], -1.0)]
    server = fake_server("llama-server", scripts=scripts)
    engine = CompletionEngine(CompletionOptions(parse_context=False, candidates=3, time_budget_ms=20_000))
    engine.set_model(connected(server.url))
    completion = engine.complete(CompletionRequest(CODE, CURSOR, language_id="python", path="calc.py"))
    assert completion is not None and completion.text == "return a + b"  # the second, most likely, wins
    bodies = [request.body for request in server.posts("/infill") if request.body.get("stream")]
    assert [body["temperature"] for body in bodies] == [0.0, 0.7, 0.7]  # greedy, then sampled
    assert all(body["n_probs"] == 1 for body in bodies)


# --- faults --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("api", ["llama-server", "openai", "ollama"])
def test_each_fault_is_one_failure_with_backoff_and_recovery(
    api: str, fault: str, fake_server: FakeFactory
) -> None:
    server = fake_server(api, model="qwen2.5-coder:7b")
    states: list[BackendState] = []
    backend = connected(server.url, states, max_response_kb=1, stall_timeout_ms=1000)
    server.fault = fault
    with pytest.raises(ModelUnavailable, match=FAULTS[fault]):
        generate(backend)
    sent = len(server.requests)
    for _ in range(3):  # during the backoff: answered at once, nothing sent, no new report
        with pytest.raises(ModelUnavailable, match="next try in"):
            generate(backend)
    assert len(server.requests) == sent
    assert [state.state for state in states] == ["failed"]
    assert re.search(FAULTS[fault], states[0].message), states
    server.fault = None
    assert wait_until(lambda: _answers(backend), seconds=30)
    assert [state.state for state in states] == ["failed", "ready"]


def _answers(backend: RemoteBackend) -> bool:
    try:
        return generate(backend) == "    return a + b\n"
    except ModelUnavailable:
        return False


def test_a_server_down_at_start_is_retried_and_recovers(fake_server: FakeFactory) -> None:
    port = free_port()
    states: list[BackendState] = []
    backend = RemoteBackend(RemoteOptions(url=f"http://127.0.0.1:{port}"), states.append)
    with pytest.raises(ModelLoadError, match="refused"):
        backend.connect()
    with pytest.raises(ModelUnavailable):
        generate(backend)
    fake_server("llama-server", port=port)  # the server comes up: the backend connects on a request
    assert wait_until(lambda: _answers(backend), seconds=30)
    assert backend.info.api == "llama-server" and [state.state for state in states] == ["ready"]


def test_the_api_key_is_sent_and_never_said(
    fake_server: FakeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = fake_server("openai", model="starcoder2")
    caplog.set_level(logging.DEBUG)
    states: list[BackendState] = []
    backend = connected(server.url, states, api_key_env="INFILL_TEST_TOKEN")
    assert server.requests[-1].headers.get("Authorization") == f"Bearer {SECRET}"
    server.fault = "unauthorized"
    with pytest.raises(ModelUnavailable) as failure:
        generate(backend)
    assert "API key" in str(failure.value)
    said = [str(failure.value), *(state.message for state in states), caplog.text, repr(backend.options)]
    assert all(SECRET not in text for text in said)


def test_an_alias_is_resolved_through_props(fake_server: FakeFactory) -> None:
    """llama-server's OpenAI API under an alias: the served file's name says the template."""
    server = fake_server("llama-server", model="starcoder2-3b-q8_0.gguf")
    backend = connected(server.url, api="openai", model="my-alias")
    assert backend.info.fim == TEMPLATES["starcoder"]
    template = next(choice for choice in backend.choices if choice.what == "template")
    assert "starcoder2-3b-q8_0.gguf" in template.why
