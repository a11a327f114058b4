"""What each server's documented API wants and returns: request bodies from a prompt, deltas from events.

- llama-server (tools/server/README.md): ``POST /infill`` with ``input_prefix``, ``input_suffix``,
  ``input_extra`` ([{filename, text}]) and ``prompt`` (placed after the middle token: the typed start of the
  cursor's line, so the stable prefix stays cached while the user types), ``n_indent``, ``t_max_predict_ms``,
  ``samplers``, ``cache_prompt``, ``id_slot``; ``POST /completion`` with ``prompt`` for models without FIM
  tokens (``/infill`` answers 501 for them). Streams server-sent events ``data: {content, stop, ...}``.
- OpenAI-compatible (``POST /v1/completions``): the FIM prompt built here from the template (vLLM rejects a
  ``suffix`` field, llama-server ignores it), ``max_tokens``, ``stop`` (at most 4), ``logprobs``; events
  ``data: {choices: [{text, logprobs, finish_reason}]}`` and ``data: [DONE]``.
- Ollama (docs/api.md, ``POST /api/generate``): ``prompt`` + ``suffix`` (Ollama applies the model's own FIM
  template) or ``raw: true`` with a prompt built here; ``options.num_predict``, ``options.stop``,
  ``keep_alive``; NDJSON lines ``{response, done, done_reason, prompt_eval_count, eval_count}``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from completion.backend import GenerationSpec
from completion.fim import FimTemplate
from completion.prompt import Prompt

_ZERO_WIDTH_SPACE = "\u200b"
_OPENAI_MAX_STOPS = 4
OLLAMA_KEEP_ALIVE = "30m"

# Marks "FIM on, the server applies its own template": the engine lays out FIM prompts (suffix window,
# end-of-middle ranking), the backend sends their parts unrendered. The token texts follow llama-server's
# documentation, so ``infill/prompt`` shows the layout the server builds.
SERVER_TEMPLATE = FimTemplate(
    family="server", prefix="<FIM_PRE>", suffix="<FIM_SUF>", middle="<FIM_MID>", order="psm", stop=()
)


@dataclass(frozen=True)
class Delta:
    """One event of an answer, whatever the API: new text, and what the server said about it."""

    text: str = ""
    logprob: float = 0.0
    done: bool = False
    stop_reason: str | None = None  # the engine's words: "eog" | "max_tokens" | "stop"
    tokens_prompt: int | None = None
    tokens_evaluated: int | None = None
    tokens_generated: int | None = None


def wire_text(prompt: Prompt, template: FimTemplate | None, start: str = "") -> str:
    """The prompt as one string for a server that tokenizes it with special-token parsing: the template's own
    token texts inside user text are broken up, so a document cannot inject a control token."""
    specials = template.special_texts() if template is not None else ()
    parts = []
    for piece in prompt.pieces:
        text = piece.text
        if not piece.special:
            for special in specials:
                if special in text:
                    text = text.replace(special, special[0] + _ZERO_WIDTH_SPACE + special[1:])
        parts.append(text)
    return "".join(parts) + start


def _line_split(prefix: str) -> tuple[str, str]:
    """(text up to the cursor's line, the cursor's line before the cursor)."""
    cut = prefix.rfind("\n") + 1
    return prefix[:cut], prefix[cut:]


def _stop_reason(value: Any) -> str | None:
    return {"eos": "eog", "stop": "eog", "limit": "max_tokens", "length": "max_tokens", "word": "stop"}.get(
        str(value)
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _logprob_sum(items: Any) -> float:
    """The sum of ``logprob`` fields (llama-server's and Ollama's per-token entries)."""
    if not isinstance(items, list):
        return 0.0
    return sum(
        float(item["logprob"]) for item in items if isinstance(_dict(item).get("logprob"), int | float)
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class LlamaServerApi:
    name = "llama-server"
    ndjson = False

    def __init__(self, fim: bool, slots: int) -> None:
        self.fim = fim
        self.slots = max(1, slots)

    def slot_for(self, path: str | None) -> int:
        """A stable slot per document, so each keeps its own cached prompt on a multi-slot server."""
        return zlib.crc32((path or "").encode("utf-8", "surrogatepass")) % self.slots

    def request(self, prompt: Prompt, spec: GenerationSpec, start: str = "") -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "n_predict": spec.max_tokens,
            "temperature": spec.temperature,
            "seed": spec.seed,
            "stream": True,
            "cache_prompt": True,
            "id_slot": self.slot_for(prompt.path),
        }
        if spec.ranked:  # costs a softmax over the vocabulary per token: only where candidates are ranked
            body["n_probs"] = 1
        if spec.time_limit_s is not None:
            body["t_max_predict_ms"] = max(1, int(spec.time_limit_s * 1000))
        if spec.stop is not None and spec.stop.kind == "block" and spec.stop.indent:
            body["n_indent"] = len(spec.stop.indent.expandtabs(4))
        if not self.fim:
            return "/completion", {"prompt": wire_text(prompt, None, start), **body}
        before_line, line_start = _line_split(prompt.prefix)
        return "/infill", {
            "input_prefix": before_line,
            "input_suffix": prompt.suffix,
            "input_extra": [{"filename": path, "text": text} for path, text in prompt.files],
            "prompt": line_start + start,
            "samplers": ["top_k", "top_p", "infill"],
            "top_k": 40,
            "top_p": 0.99,
            **body,
        }

    def delta(self, event: dict[str, Any]) -> Delta:
        timings = _dict(event.get("timings"))
        content = event.get("content")
        return Delta(
            text=content if isinstance(content, str) else "",
            logprob=_logprob_sum(event.get("completion_probabilities")),
            done=event.get("stop") is True,
            stop_reason=_stop_reason(event.get("stop_type")),
            tokens_prompt=_int_or_none(event.get("tokens_evaluated")),
            tokens_evaluated=_int_or_none(timings.get("prompt_n")),
            tokens_generated=_int_or_none(timings.get("predicted_n")),
        )


class OpenAIApi:
    name = "openai"
    ndjson = False

    def __init__(self, model: str, template: FimTemplate | None, logprobs: bool = True) -> None:
        self.model = model
        self.template = template
        self.logprobs = logprobs

    def request(self, prompt: Prompt, spec: GenerationSpec, start: str = "") -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": wire_text(prompt, self.template, start),
            "max_tokens": spec.max_tokens,
            "temperature": spec.temperature,
            "seed": spec.seed,
            "stream": True,
        }
        if self.template is not None and self.template.stop:
            body["stop"] = list(self.template.stop[:_OPENAI_MAX_STOPS])
        if self.logprobs and spec.ranked:
            body["logprobs"] = 1
        return "/v1/completions", body

    def delta(self, event: dict[str, Any]) -> Delta:
        choices = event.get("choices")
        choice = _dict(choices[0]) if isinstance(choices, list) and choices else {}
        text = choice.get("text")
        values = _dict(choice.get("logprobs")).get("token_logprobs")
        values = values if isinstance(values, list) else []
        usage = _dict(event.get("usage"))
        reason = choice.get("finish_reason")
        return Delta(
            text=text if isinstance(text, str) else "",
            logprob=sum(float(value) for value in values if isinstance(value, int | float)),
            done=reason is not None,
            stop_reason=_stop_reason(reason),
            tokens_prompt=_int_or_none(usage.get("prompt_tokens")),
            tokens_generated=_int_or_none(usage.get("completion_tokens")),
        )


class OllamaApi:
    name = "ollama"
    ndjson = True

    def __init__(self, model: str, template: FimTemplate | None, suffix_mode: bool) -> None:
        self.model = model
        self.template = template
        self.suffix_mode = suffix_mode  # Ollama's own FIM template (``suffix``), else ``raw`` with ours

    def request(self, prompt: Prompt, spec: GenerationSpec, start: str = "") -> tuple[str, dict[str, Any]]:
        options: dict[str, Any] = {
            "num_predict": spec.max_tokens,
            "temperature": spec.temperature,
            "seed": spec.seed,
        }
        body: dict[str, Any] = {"model": self.model, "stream": True, "keep_alive": OLLAMA_KEEP_ALIVE}
        if self.suffix_mode:
            body["prompt"] = prompt.header + prompt.prefix + start
            body["suffix"] = prompt.suffix
        else:
            body["prompt"] = wire_text(prompt, self.template, start)
            body["raw"] = True
            if self.template is not None and self.template.stop:
                options["stop"] = list(self.template.stop)
        body["options"] = options
        return "/api/generate", body

    def delta(self, event: dict[str, Any]) -> Delta:
        text = event.get("response")
        return Delta(
            text=text if isinstance(text, str) else "",
            logprob=_logprob_sum(event.get("logprobs")),
            done=event.get("done") is True,
            stop_reason=_stop_reason(event.get("done_reason")),
            tokens_prompt=_int_or_none(event.get("prompt_eval_count")),
            tokens_evaluated=_int_or_none(event.get("prompt_eval_count")),
            tokens_generated=_int_or_none(event.get("eval_count")),
        )


Api = LlamaServerApi | OpenAIApi | OllamaApi
