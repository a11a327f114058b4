"""Fill-in-the-middle prompt templates, detected from the model's own vocabulary.

llama-cpp-python's ``create_completion(suffix=...)`` builds FIM prompts with hard-coded token ids, so the
engine builds them itself: :func:`detect_template` finds the family from the vocabulary (plus GGUF metadata),
:func:`fim_pieces` lays out the prompt as :class:`PromptPiece` objects. Only pieces with ``special=True`` may
be tokenized with special-token parsing; user text is always tokenized with ``special=False`` so a document
that contains e.g. ``<|fim_prefix|>`` can never inject a control token.

Token texts and orders per family (checked against llama.cpp's ``llama-vocab.cpp`` FIM lists and the model
cards; ``[BOS]`` is the model's BOS token, prepended when ``FimTemplate.bos`` is true):

- qwen2.5-coder  ``<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>``, plus ``<|repo_name|>``, ``<|file_sep|>``
- codegemma      ``[BOS]<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>``, files split by ``<|file_separator|>``
- starcoder      ``<fim_prefix>P<fim_suffix>S<fim_middle>`` (StarCoder2 adds ``<repo_name>``/``<file_sep>``);
  granite (Granite Code) and stablecode (stable-code) use the same tokens
- santacoder     ``<fim-prefix>P<fim-suffix>S<fim-middle>``
- deepseek-coder ``[BOS]<|fim▁begin|>P<|fim▁hole|>S<|fim▁end|>`` where each bar is U+FF5C (full width)
- codellama      ``[BOS]▁<PRE>P▁<SUF>S▁<MID>`` (or ``<PRE>``... when the GGUF stores them without "▁"), ends
  with ``▁<EOT>``
- codestral      ``[BOS][SUFFIX]S[PREFIX]P`` (Mistral's SPM order, no middle token)

Caveats: detection goes by tokens, so a general model sharing a coder's tokenizer (Qwen2.5/Qwen3,
Mistral v0.3) gets that coder's template; users pick ``none`` there. SentencePiece vocabularies with a space
prefix (CodeLlama, Mistral v3) get a leading space on every separately tokenized text piece, as llama.cpp's
own infill does. :func:`injectable_texts` reports special texts a GGUF typed USER_DEFINED (llama.cpp
matches those even with ``special=False``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

TokenLookup = Callable[[str], int | None]
"""``token_id(text)``: the id when ``text`` is exactly one special/control token of the vocabulary."""


@dataclass(frozen=True)
class FimTemplate:
    """How one model family lays out a fill-in-the-middle prompt (texts of its special tokens)."""

    family: str
    prefix: str
    suffix: str
    middle: str
    """Empty when the family has no middle token (codestral: generation starts right after the prefix)."""
    order: str
    """``"psm"``: prefix, suffix, middle. ``"spm"``: suffix token + suffix, prefix token + prefix, middle."""
    stop: tuple[str, ...]
    """Special tokens that end a middle; generation stops there and none of them reaches a suggestion."""
    repo_name: str | None = None
    file_sep: str | None = None
    bos: bool = False
    """Whether the prompt starts with the model's BOS token (the caller prepends ``token_bos()``)."""

    def special_texts(self) -> tuple[str, ...]:
        """Every special token text the template knows, longest first (for stripping leaked text)."""
        texts = {self.prefix, self.suffix, self.middle, *self.stop, self.repo_name or "", self.file_sep or ""}
        texts.discard("")
        return tuple(sorted(texts, key=lambda text: (-len(text), text)))

    def required_texts(self) -> tuple[str, ...]:
        """Tokens that must exist in the vocabulary for the template to be usable."""
        return tuple(text for text in (self.prefix, self.suffix, self.middle) if text)


@dataclass(frozen=True)
class PromptPiece:
    """One run of prompt text. ``special=True``: a single control token, tokenized with special parsing;
    ``special=False``: user text, always tokenized with ``special=False``."""

    text: str
    special: bool


_QWEN_FIM = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
_STARCODER_FIM = ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")
_SANTACODER_FIM = ("<fim-prefix>", "<fim-suffix>", "<fim-middle>")
_DEEPSEEK_FIM = ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>")  # noqa: RUF001
_CODELLAMA_FIM = ("▁<PRE>", "▁<SUF>", "▁<MID>")

TEMPLATES: dict[str, FimTemplate] = {
    "qwen2.5-coder": FimTemplate(
        family="qwen2.5-coder",
        prefix=_QWEN_FIM[0],
        suffix=_QWEN_FIM[1],
        middle=_QWEN_FIM[2],
        order="psm",
        stop=("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>", *_QWEN_FIM),
        repo_name="<|repo_name|>",
        file_sep="<|file_sep|>",
        bos=False,
    ),
    "codegemma": FimTemplate(
        family="codegemma",
        prefix=_QWEN_FIM[0],
        suffix=_QWEN_FIM[1],
        middle=_QWEN_FIM[2],
        order="psm",
        stop=("<|file_separator|>", "<eos>", "<end_of_turn>", *_QWEN_FIM),
        file_sep="<|file_separator|>",
        bos=True,
    ),
    "starcoder": FimTemplate(
        family="starcoder",
        prefix=_STARCODER_FIM[0],
        suffix=_STARCODER_FIM[1],
        middle=_STARCODER_FIM[2],
        order="psm",
        stop=(
            "<|endoftext|>",
            "<fim_pad>",
            "<file_sep>",
            "<repo_name>",
            "<reponame>",
            "<filename>",
            *_STARCODER_FIM,
        ),
        repo_name="<repo_name>",
        file_sep="<file_sep>",
        bos=False,
    ),
    "santacoder": FimTemplate(
        family="santacoder",
        prefix=_SANTACODER_FIM[0],
        suffix=_SANTACODER_FIM[1],
        middle=_SANTACODER_FIM[2],
        order="psm",
        stop=("<|endoftext|>", "<fim-pad>", *_SANTACODER_FIM),
        bos=False,
    ),
    "deepseek-coder": FimTemplate(
        family="deepseek-coder",
        prefix=_DEEPSEEK_FIM[0],
        suffix=_DEEPSEEK_FIM[1],
        middle=_DEEPSEEK_FIM[2],
        order="psm",
        stop=("<｜end▁of▁sentence｜>", "<|EOT|>", *_DEEPSEEK_FIM),  # noqa: RUF001
        bos=True,
    ),
    "codellama": FimTemplate(
        family="codellama",
        prefix=_CODELLAMA_FIM[0],
        suffix=_CODELLAMA_FIM[1],
        middle=_CODELLAMA_FIM[2],
        order="psm",
        stop=("▁<EOT>", "</s>", *_CODELLAMA_FIM),
        bos=True,
    ),
    "codestral": FimTemplate(
        family="codestral",
        prefix="[PREFIX]",
        suffix="[SUFFIX]",
        middle="",
        order="spm",
        stop=("</s>", "[PREFIX]", "[SUFFIX]", "[MIDDLE]"),
        bos=True,
    ),
}
# Same vocabulary as StarCoder (Granite Code and stable-code were trained with StarCoder-style FIM tokens).
TEMPLATES["granite"] = dataclasses.replace(TEMPLATES["starcoder"], family="granite")
TEMPLATES["stablecode"] = dataclasses.replace(TEMPLATES["starcoder"], family="stablecode")

_ALIASES = {
    "qwen": "qwen2.5-coder",
    "qwen2.5": "qwen2.5-coder",
    "qwen2": "qwen2.5-coder",
    "qwen-coder": "qwen2.5-coder",
    "qwen3-coder": "qwen2.5-coder",
    "starcoder2": "starcoder",
    "starcoderbase": "starcoder",
    "deepseek": "deepseek-coder",
    "deepseek-coder-v2": "deepseek-coder",
    "code-llama": "codellama",
    "llama": "codellama",
    "mistral": "codestral",
    "granite-code": "granite",
    "stable-code": "stablecode",
    "gemma": "codegemma",
}

_METADATA_FIM_PREFIX_KEYS = ("tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id")
_METADATA_FIM_SUFFIX_KEYS = ("tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id")
_METADATA_FIM_MIDDLE_KEYS = ("tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id")


def _first_present(token_id: TokenLookup, texts: Iterable[str]) -> str | None:
    """The first of ``texts`` that is a single token of the vocabulary."""
    for text in texts:
        if _safe_lookup(token_id, text) is not None:
            return text
    return None


def _safe_lookup(token_id: TokenLookup, text: str) -> int | None:
    """``token_id(text)``, treating any failure of the lookup as "not in the vocabulary"."""
    try:
        found = token_id(text)
    except Exception:
        return None
    return found if isinstance(found, int) and found >= 0 else None


def _resolve_optional(
    template: FimTemplate, token_id: TokenLookup, **alternatives: Sequence[str]
) -> FimTemplate:
    """Fill the optional token fields (repo_name, file_sep) with the alternative the vocabulary has."""
    changes = {field: _first_present(token_id, texts) for field, texts in alternatives.items()}
    stop = tuple(text for text in template.stop if _safe_lookup(token_id, text) is not None)
    return dataclasses.replace(template, stop=stop, **changes)  # type: ignore[arg-type]


def _metadata_int(metadata: Mapping[str, str], keys: Sequence[str]) -> int | None:
    for key in keys:
        raw = metadata.get(key)
        if raw is None:
            continue
        try:
            return int(str(raw).strip())
        except ValueError:
            continue
    return None


def _name_mentions(metadata: Mapping[str, str], *words: str) -> bool:
    name = " ".join(str(metadata.get(key, "")) for key in ("general.name", "general.basename")).lower()
    return any(word in name for word in words)


def _candidates(token_id: TokenLookup, metadata: Mapping[str, str]) -> list[FimTemplate]:
    """Every family template the vocabulary supports, most specific first, optional tokens resolved."""
    arch = str(metadata.get("general.architecture", "")).lower()
    found: list[FimTemplate] = []

    def has(*texts: str) -> bool:
        return all(_safe_lookup(token_id, text) is not None for text in texts)

    if has(*_DEEPSEEK_FIM):
        found.append(_resolve_optional(TEMPLATES["deepseek-coder"], token_id))
    if has("[PREFIX]", "[SUFFIX]"):
        found.append(_resolve_optional(TEMPLATES["codestral"], token_id))
    llama_texts = [_first_present(token_id, (marked, marked[1:])) for marked in _CODELLAMA_FIM]
    if all(llama_texts):
        prefix, suffix, middle = (text or "" for text in llama_texts)
        eot = _first_present(token_id, ("▁<EOT>", "<EOT>"))
        base = TEMPLATES["codellama"]
        stop = (*((eot,) if eot else ()), "</s>", prefix, suffix, middle)
        found.append(
            _resolve_optional(
                dataclasses.replace(base, prefix=prefix, suffix=suffix, middle=middle, stop=stop), token_id
            )
        )
    if has(*_QWEN_FIM):
        qwen_markers = has("<|fim_pad|>") or has("<|file_sep|>") or has("<|endoftext|>")
        gemma_markers = has("<|file_separator|>")
        # Gemma 2/3 vocabularies may carry CodeGemma's tokens without being trained for FIM.
        plain_gemma = arch in ("gemma2", "gemma3") and not _name_mentions(metadata, "code")
        if gemma_markers and not qwen_markers and not plain_gemma:
            found.append(_resolve_optional(TEMPLATES["codegemma"], token_id))
        elif not gemma_markers or qwen_markers:
            qwen = TEMPLATES["qwen2.5-coder"]
            found.append(
                _resolve_optional(
                    qwen, token_id, repo_name=("<|repo_name|>", "<|fim_repo|>"), file_sep=("<|file_sep|>",)
                )
            )
    if has(*_STARCODER_FIM):
        family = "starcoder"
        if arch == "granite" or _name_mentions(metadata, "granite"):
            family = "granite"
        elif arch == "stablelm" or _name_mentions(metadata, "stable-code", "stablecode", "stable code"):
            family = "stablecode"
        found.append(
            _resolve_optional(
                TEMPLATES[family], token_id, repo_name=("<repo_name>", "<reponame>"), file_sep=("<file_sep>",)
            )
        )
    if has(*_SANTACODER_FIM):
        found.append(_resolve_optional(TEMPLATES["santacoder"], token_id))
    return found


def detect_template(
    token_id: TokenLookup,
    metadata: Mapping[str, str],
    token_text: Callable[[int], str | None] | None = None,
) -> FimTemplate | None:
    """The FIM template of a model, or ``None`` when it has no FIM tokens (then complete prefix-only).

    ``token_id`` looks up single special tokens (see :data:`TokenLookup`); ``metadata`` is the GGUF key/value
    metadata as strings (``Llama.metadata``). When the GGUF names its FIM prefix token
    (``tokenizer.ggml.fim_pre_token_id``), the family whose prefix token has that id wins. ``token_text``
    (id -> token text) is optional: with it, a vocabulary of an unknown family whose GGUF metadata names the
    three FIM token ids still gets a PSM template (family ``"gguf-metadata"``).
    """
    candidates = _candidates(token_id, metadata)
    metadata_prefix_id = _metadata_int(metadata, _METADATA_FIM_PREFIX_KEYS)
    if candidates:
        if metadata_prefix_id is not None:
            for candidate in candidates:
                if _safe_lookup(token_id, candidate.prefix) == metadata_prefix_id:
                    return candidate
        return candidates[0]
    if token_text is None or metadata_prefix_id is None:
        return None
    ids = (
        metadata_prefix_id,
        _metadata_int(metadata, _METADATA_FIM_SUFFIX_KEYS),
        _metadata_int(metadata, _METADATA_FIM_MIDDLE_KEYS),
    )
    texts: list[str] = []
    for token in ids:
        text = None if token is None else _safe_text(token_text, token)
        if not text or _safe_lookup(token_id, text) != token:
            return None
        texts.append(text)
    eos_id = _metadata_int(metadata, ("tokenizer.ggml.eos_token_id",))
    eos_text = None if eos_id is None else _safe_text(token_text, eos_id)
    stop = tuple(text for text in (eos_text, *texts) if text)
    return FimTemplate("gguf-metadata", texts[0], texts[1], texts[2], "psm", stop)


def _safe_text(token_text: Callable[[int], str | None], token: int) -> str | None:
    try:
        return token_text(token)
    except Exception:
        return None


_ORDER_OPTIONS = frozenset({"psm", "spm", "bos"})


# Served model names (an OpenAI/Ollama model id, a GGUF file name) -> FIM family, most specific first. Only
# code models trained for FIM: a general model of the same lineage (qwen2.5-7b-instruct) must not match.
_NAME_FAMILIES: tuple[tuple[str, str], ...] = (
    ("qwen2.5-coder", "qwen2.5-coder"),
    ("qwen2.5coder", "qwen2.5-coder"),
    ("qwen3-coder", "qwen2.5-coder"),
    ("qwen-coder", "qwen2.5-coder"),
    ("codeqwen", "qwen2.5-coder"),
    ("starcoder", "starcoder"),
    ("deepseek-coder", "deepseek-coder"),
    ("codestral", "codestral"),
    ("codellama", "codellama"),
    ("code-llama", "codellama"),
    ("codegemma", "codegemma"),
    ("granite-code", "granite"),
    ("granite-3b-code", "granite"),
    ("granite-8b-code", "granite"),
    ("granite-20b-code", "granite"),
    ("granite-34b-code", "granite"),
    ("stable-code", "stablecode"),
    ("santacoder", "santacoder"),
)


def template_for_model_name(name: str) -> FimTemplate | None:
    """The FIM template a served model's name implies (None: no known FIM code model by that name)."""
    normalized = name.lower().replace("_", "-").replace(" ", "-")
    for needle, family in _NAME_FAMILIES:
        if needle in normalized:
            return TEMPLATES[family]
    return None


def template_from_override(value: str) -> FimTemplate:
    """A template from a user setting; raises ``ValueError`` with a readable message on bad input.

    Accepted forms:

    - a family name from :data:`TEMPLATES` (or an alias such as ``qwen``, ``starcoder2``, ``deepseek``,
      ``mistral``), case-insensitive;
    - a custom ``"prefix,suffix,middle[,stop...]"`` list of token texts, e.g.
      ``"<PRE>,<SUF>,<MID>,<EOT>"``; it may start with options ``"<opts>:"`` where ``<opts>`` joins any of
      ``psm``/``spm``/``bos`` with ``+`` (``"spm+bos:[PREFIX],[SUFFIX],,</s>"``: SPM order, BOS first, no
      middle token). Token texts cannot contain commas; surrounding whitespace is stripped.
    """
    text = value.strip()
    if not text:
        raise ValueError("empty FIM template override")
    key = text.lower()
    key = _ALIASES.get(key, key)
    if key in TEMPLATES:
        return TEMPLATES[key]
    if "," not in text:
        known = ", ".join(sorted(TEMPLATES))
        raise ValueError(
            f"unknown FIM template {value!r}: use one of {known} or 'prefix,suffix,middle[,stop...]'"
        )
    options: set[str] = set()
    head, colon, rest = text.partition(":")
    head_options = {option.strip().lower() for option in head.split("+")}
    if colon and head_options <= _ORDER_OPTIONS:
        options, text = head_options, rest
    if {"psm", "spm"} <= options:
        raise ValueError(f"FIM template override {value!r} names both psm and spm")
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 3 or not parts[0] or not parts[1]:
        raise ValueError(f"FIM template override {value!r} needs at least 'prefix,suffix,middle' token texts")
    prefix, suffix, middle, *stop = parts
    order = "spm" if "spm" in options else "psm"
    if order == "psm" and not middle:
        raise ValueError(f"FIM template override {value!r}: PSM order needs a middle token")
    stops = tuple(dict.fromkeys(token for token in (*stop, prefix, suffix, middle) if token))
    return FimTemplate("custom", prefix, suffix, middle, order, stops, bos="bos" in options)


def missing_tokens(template: FimTemplate, token_id: TokenLookup) -> list[str]:
    """Token texts of ``template`` the vocabulary lacks (an override that names foreign tokens)."""
    return [text for text in template.required_texts() if _safe_lookup(token_id, text) is None]


def repo_pieces(
    template: FimTemplate, repo_name: str | None, files: Sequence[tuple[str, str]], path: str | None
) -> list[PromptPiece]:
    """Repository-level context (Qwen2.5-Coder / StarCoder2 style) for families with a file separator token.

    Layout: ``<repo_name>name\\n`` then ``<file_sep>path\\ncontent\\n`` per file, then ``<file_sep>path\\n``
    for the current file; pass the result as ``fim_pieces(..., context=...)``. Returns ``[]`` when the
    family has no file separator (render neighbour files as comments in ``header`` instead).
    """
    if template.file_sep is None:
        return []
    pieces: list[PromptPiece] = []
    if repo_name and template.repo_name:
        pieces += [PromptPiece(template.repo_name, True), PromptPiece(repo_name + "\n", False)]
    for file_path, content in files:
        body = content if content.endswith("\n") else content + "\n"
        pieces += [PromptPiece(template.file_sep, True), PromptPiece(f"{file_path}\n{body}", False)]
    if path is not None:
        pieces += [PromptPiece(template.file_sep, True), PromptPiece(f"{path}\n", False)]
    return pieces


def fim_pieces(
    template: FimTemplate,
    prefix: str,
    suffix: str,
    header: str = "",
    *,
    context: Sequence[PromptPiece] = (),
) -> list[PromptPiece]:
    """The FIM prompt as pieces: ``context`` first (e.g. :func:`repo_pieces`), then the family's layout.

    ``header`` is plain text placed right before the prefix text (file path comment, snippets of other
    files); it never becomes a special token. Empty text pieces are dropped. BOS is not a piece: prepend the
    model's BOS id when ``template.bos``.
    """
    before = header + prefix

    def text(value: str) -> list[PromptPiece]:
        return [PromptPiece(value, False)] if value else []

    pieces = list(context)
    if template.order == "spm":
        pieces += [PromptPiece(template.suffix, True), *text(suffix)]
        pieces += [PromptPiece(template.prefix, True), *text(before)]
        if template.middle:
            pieces.append(PromptPiece(template.middle, True))
        return pieces
    pieces += [PromptPiece(template.prefix, True), *text(before)]
    pieces += [PromptPiece(template.suffix, True), *text(suffix)]
    pieces.append(PromptPiece(template.middle, True))
    return pieces


class VocabTokenizer(Protocol):
    """The part of ``llama_cpp.Llama`` the helpers below need (keeps this module free of llama_cpp)."""

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]: ...

    def detokenize(
        self, tokens: list[int], prev_tokens: list[int] | None = None, special: bool = False
    ) -> bytes: ...


def llama_token_lookup(model: VocabTokenizer) -> TokenLookup:
    """A cached :data:`TokenLookup` over a llama-cpp model: ``text`` tokenized with special parsing must give
    exactly one token whose piece is ``text``."""
    cache: dict[str, int | None] = {}

    def token_id(text: str) -> int | None:
        if text not in cache:
            cache[text] = _lookup_once(model, text)
        return cache[text]

    return token_id


def _lookup_once(model: VocabTokenizer, text: str) -> int | None:
    if not text:
        return None
    encoded = text.encode("utf-8")
    try:
        tokens = model.tokenize(encoded, add_bos=False, special=True)
        if len(tokens) != 1:
            return None
        piece = model.detokenize(tokens, special=True)
    except Exception:
        return None
    return tokens[0] if piece == encoded else None


def tokenize_pieces(model: VocabTokenizer, pieces: Sequence[PromptPiece], bos_id: int | None) -> list[int]:
    """Token ids of a prompt: special pieces parsed as control tokens, user text never.

    A special piece that is not a single token of the vocabulary raises ``ValueError`` instead of silently
    becoming plain text.
    """
    tokens: list[int] = [] if bos_id is None else [bos_id]
    for piece in pieces:
        if not piece.special:
            tokens += model.tokenize(piece.text.encode("utf-8"), add_bos=False, special=False)
            continue
        found = _lookup_once(model, piece.text)
        if found is None:
            raise ValueError(f"special token {piece.text!r} is not in the model's vocabulary")
        tokens.append(found)
    return tokens


def injectable_texts(model: VocabTokenizer, template: FimTemplate) -> list[str]:
    """Special texts of ``template`` that llama.cpp would match even in text tokenized with special=False.

    That happens when the GGUF types a token USER_DEFINED instead of CONTROL; a document containing such
    a text would then smuggle the control id into the prompt. llama.cpp retypes the FIM tokens it knows by
    name to CONTROL, so this is normally empty; log a warning when it is not.
    """
    found: list[str] = []
    for text in template.special_texts():
        token = _lookup_once(model, text)
        if token is None:
            continue
        try:
            plain = model.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        except Exception:
            continue
        if token in plain:
            found.append(text)
    return found


def stop_token_ids(template: FimTemplate, token_id: TokenLookup) -> frozenset[int]:
    """Ids of the template's special tokens present in the vocabulary (stop generation on any of them)."""
    ids = (_safe_lookup(token_id, text) for text in template.special_texts())
    return frozenset(found for found in ids if found is not None)
