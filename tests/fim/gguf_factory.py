"""Tiny, loadable llama-architecture GGUF models whose vocabularies carry a model family's FIM tokens.

No real FIM model can be downloaded in CI, so tests build these in milliseconds and load them with
``llama_cpp.Llama(model_path=..., verbose=False)``: tokenization and special-token handling are llama.cpp's
own; the weights are seeded random f32 values (generation works, its text is noise).

Token ids (stable, documented so tests can assert them without loading the model):

- ``0..255``: the 256 byte tokens; **id == byte value** (so plain ASCII text that no merge touches tokenizes
  to its byte values, e.g. ``"x"`` -> ``[120]``). ``tokenizer="bpe"`` (default): a GPT-2 byte-level BPE
  vocabulary (``tokenizer.ggml.model = "gpt2"``, pre-tokenizer ``gpt-2``); ``tokenizer="spm"``: a
  SentencePiece vocabulary (``"llama"``, like CodeLlama/Mistral) whose byte tokens are ``<0xNN>``
  byte-fallback tokens, spaces stored as ``"▁"``, and llama.cpp's SPM space prefix on.
- ``256..``: one token per merge, in the order of :data:`MERGE_WORDS` (each word merged left to right,
  e.g. ``"p"+"r"`` -> ``"pr"``, ``"pr"+"i"`` -> ``"pri"``...; duplicates skipped). For SPM, id 256 is the
  ``"▁"`` piece and the merge texts follow from 257 as scored pieces (later pieces score higher).
- then the family's special tokens (:data:`FAMILY_SPECIALS`) in listed order, typed CONTROL (an SPM
  vocabulary of a family without ``<unk>`` gets ``<unk>`` appended as the last special);
- then ``user_defined`` tokens (stored verbatim, typed USER_DEFINED: llama.cpp matches these even in text
  tokenized with ``special=False``);
- then ``extra_tokens`` (plain text, typed NORMAL) in the given order.

:func:`tiny_vocab` returns the same list and an id map; ``TinyVocab.ids[text]`` gives the id of a merge
token, special, user-defined or extra token by its plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, TokenType

MERGE_WORDS: tuple[str, ...] = ("def", "return", "print", " print", " return", "self", "  ", "    ")
"""Words whose left-to-right merges make up the vocabulary's multi-byte tokens."""


@dataclass(frozen=True)
class FamilySpec:
    """What a real model of the family carries: special tokens, BOS/EOS texts, GGUF FIM metadata."""

    specials: tuple[str, ...]
    bos: str
    eos: str
    name: str
    fim_metadata: dict[str, str] = field(default_factory=dict)
    """GGUF key suffix (``fim_pre``...) -> special token text written as ``tokenizer.ggml.<key>_token_id``."""
    add_bos: bool = False


_QWEN_META = {
    "fim_pre": "<|fim_prefix|>",
    "fim_suf": "<|fim_suffix|>",
    "fim_mid": "<|fim_middle|>",
    "fim_pad": "<|fim_pad|>",
    "fim_rep": "<|repo_name|>",
    "fim_sep": "<|file_sep|>",
}
_STARCODER_META = {"fim_pre": "<fim_prefix>", "fim_suf": "<fim_suffix>", "fim_mid": "<fim_middle>"}
_STARCODER1_SPECIALS = (
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<filename>",
    "<gh_stars>",
    "<reponame>",
)

FAMILY_SPECIALS: dict[str | None, FamilySpec] = {
    None: FamilySpec(specials=("<s>", "</s>"), bos="<s>", eos="</s>", name="Plain Tiny Test", add_bos=True),
    "qwen2.5-coder": FamilySpec(
        specials=(
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "<|fim_prefix|>",
            "<|fim_middle|>",
            "<|fim_suffix|>",
            "<|fim_pad|>",
            "<|repo_name|>",
            "<|file_sep|>",
        ),
        bos="<|endoftext|>",
        eos="<|endoftext|>",
        name="Qwen2.5 Coder Tiny Test",
        fim_metadata=_QWEN_META,
    ),
    "starcoder": FamilySpec(
        specials=(
            "<|endoftext|>",
            "<fim_prefix>",
            "<fim_middle>",
            "<fim_suffix>",
            "<fim_pad>",
            "<repo_name>",
            "<file_sep>",
            "<issue_start>",
        ),
        bos="<|endoftext|>",
        eos="<|endoftext|>",
        name="StarCoder2 Tiny Test",
        fim_metadata=_STARCODER_META,
    ),
    "granite": FamilySpec(
        specials=_STARCODER1_SPECIALS,
        bos="<|endoftext|>",
        eos="<|endoftext|>",
        name="Granite 3b Code Base Tiny Test",
        fim_metadata=_STARCODER_META,
    ),
    "stablecode": FamilySpec(
        specials=_STARCODER1_SPECIALS,
        bos="<|endoftext|>",
        eos="<|endoftext|>",
        name="Stable Code 3b Tiny Test",
    ),
    "santacoder": FamilySpec(
        specials=("<|endoftext|>", "<fim-prefix>", "<fim-middle>", "<fim-suffix>", "<fim-pad>"),
        bos="<|endoftext|>",
        eos="<|endoftext|>",
        name="SantaCoder Tiny Test",
    ),
    "deepseek-coder": FamilySpec(
        specials=(
            "<｜begin▁of▁sentence｜>",  # noqa: RUF001
            "<｜end▁of▁sentence｜>",  # noqa: RUF001
            "<｜fim▁hole｜>",  # noqa: RUF001
            "<｜fim▁begin｜>",  # noqa: RUF001
            "<｜fim▁end｜>",  # noqa: RUF001
            "<|EOT|>",
        ),
        bos="<｜begin▁of▁sentence｜>",  # noqa: RUF001
        eos="<｜end▁of▁sentence｜>",  # noqa: RUF001
        name="DeepSeek Coder Tiny Test",
        fim_metadata={"fim_pre": "<｜fim▁begin｜>", "fim_suf": "<｜fim▁hole｜>", "fim_mid": "<｜fim▁end｜>"},  # noqa: RUF001
        add_bos=True,
    ),
    "codellama": FamilySpec(
        specials=("<unk>", "<s>", "</s>", "▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"),
        bos="<s>",
        eos="</s>",
        name="CodeLlama Tiny Test",
        fim_metadata={"fim_pre": "▁<PRE>", "fim_suf": "▁<SUF>", "fim_mid": "▁<MID>"},
        add_bos=True,
    ),
    "codellama-bare": FamilySpec(
        specials=("<unk>", "<s>", "</s>", "<PRE>", "<SUF>", "<MID>", "<EOT>"),
        bos="<s>",
        eos="</s>",
        name="CodeLlama Tiny Test",
        add_bos=True,
    ),
    "codegemma": FamilySpec(
        specials=(
            "<pad>",
            "<eos>",
            "<bos>",
            "<unk>",
            "<|fim_prefix|>",
            "<|fim_middle|>",
            "<|fim_suffix|>",
            "<|file_separator|>",
            "<start_of_turn>",
            "<end_of_turn>",
        ),
        bos="<bos>",
        eos="<eos>",
        name="CodeGemma 2b Tiny Test",
        fim_metadata={"fim_pre": "<|fim_prefix|>", "fim_suf": "<|fim_suffix|>", "fim_mid": "<|fim_middle|>"},
        add_bos=True,
    ),
    "codestral": FamilySpec(
        specials=("<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]"),
        bos="<s>",
        eos="</s>",
        name="Codestral 22B Tiny Test",
        add_bos=True,
    ),
}
"""Vocabulary specials per family (``None``: a model without FIM tokens, like the default Gemma 3 270M)."""


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE vocabularies."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping = {byte: chr(byte) for byte in printable}
    shifted = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + shifted)
            shifted += 1
    return mapping


BYTE_TO_UNICODE = _byte_to_unicode()


def byte_level(text: str) -> str:
    """``text`` in the byte-level form a GPT-2 style vocabulary stores (``" print"`` -> ``"Ġprint"``)."""
    return "".join(BYTE_TO_UNICODE[byte] for byte in text.encode("utf-8"))


@dataclass(frozen=True)
class TinyVocab:
    """The vocabulary written into a tiny model."""

    tokens: list[str]
    """Token texts as stored in the GGUF (byte tokens and merges in byte-level form)."""
    types: list[int]
    merges: list[str]
    ids: dict[str, int]
    """Plain text -> id for merge tokens, specials and extras (byte tokens: id == byte value)."""
    spec: FamilySpec
    spm: bool = False


def tiny_vocab(
    family: str | None,
    extra_tokens: Sequence[str] = (),
    *,
    tokenizer: str = "bpe",
    user_defined: Sequence[str] = (),
) -> TinyVocab:
    """The vocabulary :func:`build_tiny_model` writes (see the module docstring for the id layout)."""
    if family not in FAMILY_SPECIALS:
        raise ValueError(f"unknown tiny model family {family!r}: one of {sorted(map(str, FAMILY_SPECIALS))}")
    if tokenizer not in ("bpe", "spm"):
        raise ValueError(f"tokenizer must be 'bpe' or 'spm', not {tokenizer!r}")
    spm = tokenizer == "spm"
    spec = FAMILY_SPECIALS[family]
    if spm and "<unk>" not in spec.specials:
        spec = replace(spec, specials=(*spec.specials, "<unk>"))

    def stored_form(text: str) -> str:
        return text.replace(" ", "▁") if spm else byte_level(text)

    if spm:
        tokens = [f"<0x{byte:02X}>" for byte in range(256)]
        types = [int(TokenType.BYTE)] * 256
    else:
        tokens = [BYTE_TO_UNICODE[byte] for byte in range(256)]
        types = [int(TokenType.NORMAL)] * 256
    ids: dict[str, int] = {}
    merges: list[str] = []
    if spm:
        ids[" "] = len(tokens)
        tokens.append("▁")
        types.append(int(TokenType.NORMAL))
    for word in MERGE_WORDS:
        for end in range(2, len(word) + 1):
            left, merged = stored_form(word[: end - 1]), stored_form(word[:end])
            if merged in tokens:
                continue
            merges.append(f"{left} {merged[len(left) :]}")
            ids[word[:end]] = len(tokens)
            tokens.append(merged)
            types.append(int(TokenType.NORMAL))
    for special in spec.specials:
        ids[special] = len(tokens)
        tokens.append(special)
        types.append(int(TokenType.CONTROL))
    for text in user_defined:
        if text in tokens:
            raise ValueError(f"user-defined token {text!r} is already in the vocabulary")
        ids[text] = len(tokens)
        tokens.append(text)
        types.append(int(TokenType.USER_DEFINED))
    for extra in extra_tokens:
        stored_extra = stored_form(extra)
        if stored_extra in tokens:
            raise ValueError(f"extra token {extra!r} is already in the vocabulary")
        ids[extra] = len(tokens)
        tokens.append(stored_extra)
        types.append(int(TokenType.NORMAL))
    return TinyVocab(tokens=tokens, types=types, merges=[] if spm else merges, ids=ids, spec=spec, spm=spm)


N_EMBD = 32
N_HEAD = 2
N_FF = 64
CONTEXT_LENGTH = 1024


def build_tiny_model(
    path: str | Path,
    family: str | None,
    extra_tokens: Sequence[str] = (),
    *,
    tokenizer: str = "bpe",
    user_defined: Sequence[str] = (),
    seed: int = 0,
    always_emit: str | None = None,
    weight_scale: float = 0.2,
) -> Path:
    """Write a 1-layer llama GGUF (n_embd 32, f32, seeded random weights) with ``family``'s vocabulary.

    ``always_emit`` (a token text of the vocabulary, e.g. one of ``extra_tokens``) makes a scripted model:
    every token embeds to the same vector and the layer adds nothing, so greedy decoding emits that token
    forever, whatever the prompt — a deterministic model for end-to-end tests of post-processing.

    ``weight_scale`` is the standard deviation of the random weights: a larger one (2.0) makes a model that
    is sure of its next token (speculative decoding's tests need positions that batch rounding cannot flip).

    ``family`` is a key of :data:`FAMILY_SPECIALS` (``None``: no FIM tokens). ``extra_tokens`` are plain-text
    NORMAL tokens appended at the end (e.g. ``" ghostly"`` for token-healing tests); ``tokenizer`` is
    ``"bpe"`` or ``"spm"``; ``user_defined`` adds USER_DEFINED tokens. Returns ``path``. Writing takes a few
    milliseconds; the file is about 100 KB.
    """
    vocab = tiny_vocab(family, extra_tokens, tokenizer=tokenizer, user_defined=user_defined)
    spec = vocab.spec
    target = Path(path)
    writer = GGUFWriter(str(target), "llama")
    writer.add_name(spec.name)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(1)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_vocab_size(len(vocab.tokens))
    writer.add_file_type(0)  # all f32
    if vocab.spm:
        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        writer.add_token_list(vocab.tokens)
        writer.add_token_scores(
            [float(index) if kind == TokenType.NORMAL else 0.0 for index, kind in enumerate(vocab.types)]
        )
        writer.add_token_types(vocab.types)
        writer.add_unk_token_id(vocab.ids["<unk>"])
        writer.add_add_space_prefix(True)
    else:
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("gpt-2")
        writer.add_token_list(vocab.tokens)
        writer.add_token_types(vocab.types)
        writer.add_token_merges(vocab.merges)
    writer.add_bos_token_id(vocab.ids[spec.bos])
    writer.add_eos_token_id(vocab.ids[spec.eos])
    writer.add_add_bos_token(spec.add_bos)
    for key, text in spec.fim_metadata.items():
        writer.add_uint32(f"tokenizer.ggml.{key}_token_id", vocab.ids[text])

    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * weight_scale).astype(np.float32)

    n_vocab = len(vocab.tokens)
    embeddings, output = weights(n_vocab, N_EMBD), weights(n_vocab, N_EMBD)
    attn_output, ffn_down = weights(N_EMBD, N_EMBD), weights(N_EMBD, N_FF)
    if always_emit is not None:
        embeddings = np.ones((n_vocab, N_EMBD), dtype=np.float32)
        output = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
        output[vocab.ids[always_emit]] = 1.0
        attn_output, ffn_down = np.zeros_like(attn_output), np.zeros_like(ffn_down)
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v"):
        writer.add_tensor(f"blk.0.{name}.weight", weights(N_EMBD, N_EMBD))
    writer.add_tensor("blk.0.attn_output.weight", attn_output)
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", weights(N_FF, N_EMBD))
    writer.add_tensor("blk.0.ffn_up.weight", weights(N_FF, N_EMBD))
    writer.add_tensor("blk.0.ffn_down.weight", ffn_down)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target
