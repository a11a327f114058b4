"""The engine's backend for a remote inference server: probe, stream, stop early, fail softly, recover.

:meth:`RemoteBackend.connect` finds the API (``auto`` probes llama-server's ``/props``, Ollama's
``/api/version``, then ``/v1/models``), the model and the FIM template, and says why it chose each
(:attr:`RemoteBackend.choices`, for ``doctor`` and the status). :meth:`generate` streams and applies the
engine's stop rule to the text as it arrives, closing the stream once the rule is met. Every fault — refused,
unresolvable, 4xx/5xx, malformed, stalled, killed mid-answer, too large — gives ``ModelUnavailable`` for that
request, one ``failed`` state per failure episode, and a growing backoff during which requests are answered
at once without a network call; the first success after it reports ``ready`` again.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from completion.backend import (
    BackendState,
    CancelFlag,
    Generation,
    GenerationSpec,
    ModelInfo,
    ModelLoadError,
    ModelUnavailable,
    PromptCost,
)
from completion.fim import FimTemplate, template_for_model_name, template_from_override
from completion.prompt import Prompt, build_prompt
from completion.remote.apis import SERVER_TEMPLATE, Api, Delta, LlamaServerApi, OllamaApi, OpenAIApi
from completion.remote.options import RemoteOptions
from completion.remote.streams import Interrupted, RemoteError, StreamLimits, get_json, stream_events

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request would drown the log
logging.getLogger("httpcore").setLevel(logging.WARNING)

_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_DEFAULT_CALL_S = 30.0
_MODEL_LOAD_S = 60.0  # a call without a time limit (CLI fixes) still ends
_PROBE_TIMEOUT_S = 5.0  # per probe when connecting; a reconnect on a request gets what is left of its budget


@dataclass(frozen=True)
class Choice:
    """One decision made when connecting, and why (shown by ``doctor`` and in the status)."""

    what: str
    value: str
    why: str


class RemoteBackend:
    def __init__(
        self,
        options: RemoteOptions,
        on_state: Callable[[BackendState], None] = lambda state: None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options
        self.lock = threading.Lock()
        self.on_state = on_state
        self.choices: list[Choice] = []
        self.url = _base_url(options.url)
        self._client = httpx.Client(
            base_url=self.url,
            headers=_auth_headers(options, os.environ if environ is None else environ),
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=1),
            follow_redirects=False,
        )
        self._api: Api | None = None
        self._info: ModelInfo | None = None
        self._closed = False
        self._failures = 0
        self._retry_at = 0.0
        self._failing: str | None = None  # the first failure of the current episode
        self._state_lock = threading.Lock()
        self._probe_s = _PROBE_TIMEOUT_S
        self._placeholder = self._make_info("not connected", None, 0, options.api)

    # --- connecting -------------------------------------------------------------------------------------------

    def connect(self, timeout_s: float = _PROBE_TIMEOUT_S) -> ModelInfo:
        """Probe the endpoint and choose API, model and template; raises ModelLoadError in words.

        A server that cannot be reached starts a failure episode: the backend stays usable and connects on a
        request after the backoff, reporting "ready" when it succeeds."""
        self.choices = []
        self._probe_s = max(0.05, timeout_s)
        try:
            api_name = self.options.api if self.options.api != "auto" else self._detect_api()
            if api_name == "llama-server":
                self._api, info = self._connect_llama_server()
            elif api_name == "openai":
                self._api, info = self._connect_openai()
            elif api_name == "ollama":
                self._api, info = self._connect_ollama()
            else:
                raise ModelLoadError(f"unknown infill.remote.api {api_name!r}")
        except RemoteError as error:
            raise ModelLoadError(self._failed(str(error), report=False)) from None
        self._info = info
        return info

    def _detect_api(self) -> str:
        probes = (("/props", "llama-server"), ("/api/version", "ollama"), ("/v1/models", "openai"))
        failures = []
        for path, name in probes:
            try:
                body = get_json(self._client, path, self._probe_s)
            except RemoteError as error:
                if error.status is None:  # not an answer at all: the server is not there
                    raise
                failures.append(f"{path}: {error}")
                continue
            if _looks_like(name, body):
                self.choices.append(Choice("api", name, f"{path} answered like {name}"))
                return name
            failures.append(f"{path}: not {name}'s answer")
        raise RemoteError("no known API answered (" + "; ".join(failures) + "); set infill.remote.api")

    def _connect_llama_server(self) -> tuple[Api, ModelInfo]:
        props = get_json(self._client, "/props", self._probe_s)
        props = props if isinstance(props, dict) else {}
        model = os.path.basename(str(props.get("model_path") or props.get("model_alias") or "unknown model"))
        slots = props.get("total_slots")
        slots = slots if isinstance(slots, int) else 1
        settings = props.get("default_generation_settings")
        context = settings.get("n_ctx", 0) if isinstance(settings, dict) else 0
        fim = self._llama_server_has_fim()
        self.choices.append(Choice("model", model, "/props model_path"))
        if fim:
            self.choices.append(Choice("template", "the server's own (/infill)", "the model has FIM tokens"))
        else:
            why = "/infill answered 501: the model has no FIM tokens"
            self.choices.append(Choice("template", "prefix-only (/completion)", why))
        api = LlamaServerApi(fim=fim, slots=slots)
        return api, self._make_info(model, SERVER_TEMPLATE if fim else None, int(context or 0), api.name)

    def _llama_server_has_fim(self) -> bool:
        body = {"input_prefix": "", "input_suffix": "", "n_predict": 0, "cache_prompt": False}
        try:
            response = self._client.post("/infill", json=body, timeout=self._probe_s)
        except httpx.HTTPError as error:
            raise RemoteError(f"/infill probe failed: {error}") from None
        if response.status_code == 501:
            return False
        if response.status_code >= 400:
            raise RemoteError(f"/infill probe answered {response.status_code}", response.status_code)
        return True

    def _connect_openai(self) -> tuple[Api, ModelInfo]:
        model = self.options.model or self._first_model("/v1/models", "data", "id")
        template, why = self._client_template(model)
        self.choices.append(Choice("template", template.family if template else "prefix-only", why))
        api = OpenAIApi(model, template)
        return api, self._make_info(model, template, 0, api.name)

    def _connect_ollama(self) -> tuple[Api, ModelInfo]:
        model = self.options.model or self._first_model("/api/tags", "models", "name")
        choice = self.options.fim_template.strip().lower()
        if choice in ("", "auto"):
            if self._ollama_inserts(model):
                self.choices.append(
                    Choice("template", "Ollama's own (suffix)", "the model's template has a suffix")
                )
                api = OllamaApi(model, None, suffix_mode=True)
                return api, self._make_info(model, SERVER_TEMPLATE, 0, api.name)
            why = "Ollama says the model does not support insert (no FIM template)"
            self.choices.append(Choice("template", "prefix-only (raw)", why))
            api = OllamaApi(model, None, suffix_mode=False)
            return api, self._make_info(model, None, 0, api.name)
        template, why = self._client_template(model)
        self.choices.append(
            Choice("template", (template.family if template else "prefix-only") + " (raw)", why)
        )
        api = OllamaApi(model, template, suffix_mode=False)
        return api, self._make_info(model, template, 0, api.name)

    def _ollama_inserts(self, model: str) -> bool:
        body = {"model": model, "prompt": "", "suffix": "\n", "stream": False, "options": {"num_predict": 1}}
        try:
            # the first connection may wait for Ollama to load the model; a reconnect has a request's budget
            wait = _MODEL_LOAD_S if self._probe_s >= _PROBE_TIMEOUT_S else self._probe_s
            response = self._client.post("/api/generate", json=body, timeout=wait)
        except httpx.HTTPError as error:
            raise RemoteError(f"/api/generate probe failed: {error}") from None
        if response.status_code == 400 and "insert" in response.text.lower():
            return False
        if response.status_code >= 400:
            raise RemoteError(f"/api/generate probe answered {response.status_code}: {response.text[:160]}")
        return True

    def _first_model(self, path: str, key: str, field: str) -> str:
        body = get_json(self._client, path, self._probe_s)
        listed = body.get(key) if isinstance(body, dict) else None
        names: list[str] = [
            item[field]
            for item in listed or []
            if isinstance(item, dict) and isinstance(item.get(field), str)
        ]
        if not names:
            raise RemoteError(f"{path} lists no model; set infill.remote.model")
        self.choices.append(
            Choice("model", names[0], f"the first model {path} lists (infill.remote.model is empty)")
        )
        return names[0]

    def _client_template(self, model: str) -> tuple[FimTemplate | None, str]:
        """The template for prompts built here: the setting, else the one the model's name implies."""
        choice = self.options.fim_template.strip()
        if choice.lower() == "none":
            return None, "infill.remote.fimTemplate is 'none'"
        if choice.lower() not in ("", "auto"):
            try:
                return template_from_override(choice), "set by infill.remote.fimTemplate"
            except ValueError as error:
                raise ModelLoadError(f"infill.remote.fimTemplate: {error}") from None
        template = template_for_model_name(model)
        if template is not None:
            return template, f"the model name {model!r} is a {template.family} model"
        served = self._served_file()  # an alias hides the model: llama-server's /props names its file
        template = template_for_model_name(served) if served else None
        if template is not None:
            return template, f"/props serves {served!r}, a {template.family} model"
        return None, (
            f"no FIM template is known for the model name {model!r}: prefix-only "
            "(set infill.remote.fimTemplate if the model has FIM tokens)"
        )

    def _served_file(self) -> str | None:
        try:
            props = get_json(self._client, "/props", self._probe_s)
        except RemoteError:
            return None
        path = props.get("model_path") if isinstance(props, dict) else None
        return os.path.basename(path) if isinstance(path, str) and path else None

    def _make_info(self, model: str, fim: FimTemplate | None, context: int, api: str) -> ModelInfo:
        return ModelInfo(
            path=self.url,
            size_bytes=0,
            name=model,
            architecture="remote",
            family=fim.family if fim is not None else "prefix-only",
            fim=fim,
            context_size=context,
            threads=0,
            n_vocab=0,
            warnings=tuple(_url_warnings(self.url)),
            api=api,
            heals=False,
            scores=False,
            logprobs=api != "ollama",
        )

    # --- the backend seam -------------------------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        """The served model; before the first successful connection, a placeholder (prefix-only)."""
        return self._info if self._info is not None else self._placeholder

    def generate(
        self, prompt: Prompt, spec: GenerationSpec, cancel: CancelFlag | None = None, start: str = ""
    ) -> Generation:
        limit = spec.time_limit_s if spec.time_limit_s is not None else _DEFAULT_CALL_S
        deadline = time.monotonic() + limit
        api = self._ready_api(limit)  # a reconnect spends from the same budget
        path, body = api.request(prompt, spec, start)
        limits = StreamLimits(
            deadline=deadline,
            connect_s=self.options.connect_timeout_ms / 1000,
            stall_s=self.options.stall_timeout_ms / 1000,
            max_bytes=self.options.max_response_kb * 1024,
        )
        answer = _Answer()
        stops = (
            api.template.special_texts() if isinstance(api, OpenAIApi | OllamaApi) and api.template else ()
        )
        try:
            events = stream_events(self._client, path, body, ndjson=api.ndjson, limits=limits, cancel=cancel)
            try:
                for event in events:
                    if answer.add(api.delta(event), spec, stops):
                        break
            finally:
                events.close()
        except Interrupted as interrupted:
            answer.stop_reason = interrupted.reason
        except RemoteError as error:
            raise ModelUnavailable(self._failed(str(error))) from None
        self._succeeded()
        return answer.generation(spec.max_tokens)

    def score(self, prompt: Prompt, continuation: str, ends: bool) -> float | None:
        return None  # no remote API scores a given text; candidates rank by their own logprobs

    def prompt_cost(self, prompt: Prompt) -> PromptCost:
        return PromptCost(0, None)  # the server's cache is its own: a remote prompt is never cut to fit

    def forget_prompt(self) -> None:
        """Nothing to forget here: the server keeps (and reuses) its own prompt cache per slot."""

    def close(self) -> None:
        self._closed = True
        self._client.close()

    def measure_latency(self) -> float:
        """Seconds for a one-token request (``doctor``)."""
        prompt = build_prompt(
            text="def add(a, b):\n    return ",
            offset=25,
            path="probe.py",
            line_comment="#",
            template=self.info.fim,
            context=None,
            snippets=(),
            window_start=0,
            suffix_end=25,
        )
        started = time.monotonic()
        with self.lock:
            self.generate(prompt, GenerationSpec(max_tokens=1, time_limit_s=30.0))
        return time.monotonic() - started

    # --- failure episodes ---------------------------------------------------------------------------------------

    @property
    def failing(self) -> str | None:
        """The failure that started the current episode; None while the server answers."""
        return self._failing

    def _ready_api(self, limit_s: float) -> Api:
        if self._closed:
            raise ModelUnavailable("the remote backend is closed")
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            raise ModelUnavailable(f"remote server unavailable ({self._failing}); next try in {wait:.1f} s")
        if self._api is None:
            try:
                self.connect(timeout_s=min(_PROBE_TIMEOUT_S, limit_s))
            except ModelLoadError as error:
                raise ModelUnavailable(str(error)) from None
        assert self._api is not None
        return self._api

    def _failed(self, cause: str, report: bool = True) -> str:
        with self._state_lock:
            delay = _BACKOFF_S[min(self._failures, len(_BACKOFF_S) - 1)]
            self._failures += 1
            self._retry_at = time.monotonic() + delay
            first = self._failing is None
            if first:
                self._failing = cause
        message = f"remote server at {self.url}: {cause}; retrying in the background"
        log.warning("%s (failure %d, next try in %.1f s)", message, self._failures, delay)
        if first and report:
            self.on_state(BackendState("failed", message))
        return message

    def _succeeded(self) -> None:
        with self._state_lock:
            recovered = self._failing is not None
            self._failures, self._retry_at, self._failing = 0, 0.0, None
        if recovered:
            log.info("remote server at %s is answering again", self.url)
            self.on_state(BackendState("ready", f"remote server at {self.url} is answering again"))


class _Answer:
    """The text streamed so far, and whether the stop rule, a special text or the token limit ended it."""

    def __init__(self) -> None:
        self.text = ""
        self.logprob = 0.0
        self.deltas = 0
        self.stop_reason = "eog"
        self.tokens_prompt = 0
        self.tokens_evaluated = 0
        self.tokens_generated: int | None = None

    def add(self, delta: Delta, spec: GenerationSpec, stops: tuple[str, ...]) -> bool:
        """Take one delta; True when the answer is complete (the caller closes the stream)."""
        self.text += delta.text
        self.logprob += delta.logprob
        self.deltas += 1 if delta.text else 0
        self.tokens_prompt = delta.tokens_prompt or self.tokens_prompt
        self.tokens_evaluated = delta.tokens_evaluated or self.tokens_evaluated
        self.tokens_generated = delta.tokens_generated or self.tokens_generated
        for special in stops:  # a leaked end-of-middle text ends the middle, as the token would
            cut = self.text.find(special)
            if cut >= 0:
                self.text, self.stop_reason = self.text[:cut], "special"
                return True
        if delta.done:
            self.stop_reason = delta.stop_reason or "eog"
            return True
        if spec.stop is not None and spec.stop(self.text):
            self.stop_reason = "stop"
            return True
        if self.deltas >= spec.max_tokens:
            self.stop_reason = "max_tokens"
            return True
        return False

    def generation(self, max_tokens: int) -> Generation:
        generated = (
            self.tokens_generated if self.tokens_generated is not None else min(self.deltas, max_tokens)
        )
        return Generation(
            text=self.text,
            logprob=self.logprob,
            tokens_prompt=self.tokens_prompt,
            tokens_evaluated=self.tokens_evaluated,
            tokens_generated=generated,
            stop_reason=self.stop_reason,
        )


def _looks_like(api: str, body: object) -> bool:
    """Whether a probe's answer is the API's own (each has a field the others lack)."""
    if not isinstance(body, dict):
        return False
    if api == "llama-server":
        return "default_generation_settings" in body
    if api == "ollama":
        return "version" in body
    return isinstance(body.get("data"), list)


def _base_url(url: str) -> str:
    """The server's root: OpenAI-style URLs are often given with their ``/v1``."""
    base = url.strip().rstrip("/")
    if not base:
        raise ModelLoadError("no remote server set: set infill.remote.url (or --remote URL)")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelLoadError(f"infill.remote.url must be an http:// or https:// URL, got {url!r}")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _auth_headers(options: RemoteOptions, environ: Mapping[str, str]) -> dict[str, str]:
    name = options.api_key_env.strip()
    if not name:
        return {}
    token = environ.get(name, "")
    if not token:
        raise ModelLoadError(
            f"infill.remote.apiKeyEnv names {name}, but that environment variable is not set"
        )
    return {"Authorization": f"Bearer {token}"}


def _url_warnings(url: str) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or _is_loopback(parts.hostname or ""):
        return []
    return [f"code is sent unencrypted (plain http://) to {parts.hostname}; use https:// off this machine"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def describe_choices(backend: RemoteBackend) -> list[str]:
    """``what: value (why)`` lines for doctor."""
    return [f"{choice.what}: {choice.value} ({choice.why})" for choice in backend.choices]
