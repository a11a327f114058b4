"""FIM templates checked against real llama.cpp tokenization of tiny GGUF models carrying each family's
vocabulary: detection, exact token ids of the prompt, no control-token injection from document text,
overrides, prefix-only models, and no special token leaking into generated text."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from completion import fim
from completion.fim import PromptPiece, TokenLookup

from .conftest import TinyModelLoader
from .gguf_factory import FAMILY_SPECIALS, tiny_vocab

PREFIX = "a = ("  # no merges apply: token ids are the byte values
SUFFIX = ")\nb"

# tiny-model family -> (detected family, prefix token, suffix token, middle token or "", order, bos)
EXPECTED = {
    "qwen2.5-coder": ("qwen2.5-coder", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "psm", False),
    "starcoder": ("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "psm", False),
    "granite": ("granite", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "psm", False),
    "stablecode": ("stablecode", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "psm", False),
    "santacoder": ("santacoder", "<fim-prefix>", "<fim-suffix>", "<fim-middle>", "psm", False),
    "deepseek-coder": ("deepseek-coder", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "psm", True),  # noqa: RUF001
    "codellama": ("codellama", "▁<PRE>", "▁<SUF>", "▁<MID>", "psm", True),
    "codellama-bare": ("codellama", "<PRE>", "<SUF>", "<MID>", "psm", True),
    "codegemma": ("codegemma", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "psm", True),
    "codestral": ("codestral", "[PREFIX]", "[SUFFIX]", "", "spm", True),
}


def lookup_for(model: Any) -> TokenLookup:
    return fim.llama_token_lookup(model)


def ids_of(model: Any, text: str) -> int:
    found = lookup_for(model)(text)
    assert found is not None, text
    return found


def detect(model: Any) -> fim.FimTemplate | None:
    return fim.detect_template(lookup_for(model), model.metadata)


def prompt_ids(model: Any, template: fim.FimTemplate, prefix: str, suffix: str) -> list[int]:
    pieces = fim.fim_pieces(template, prefix, suffix)
    return fim.tokenize_pieces(model, pieces, model.token_bos() if template.bos else None)


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_detects_family_and_places_fim_tokens_at_exact_ids(tiny_llama: TinyModelLoader, family: str) -> None:
    model = tiny_llama(family)
    ids = tiny_vocab(family).ids
    detected, prefix, suffix, middle, order, bos = EXPECTED[family]
    template = detect(model)
    assert template is not None
    assert (template.family, template.prefix, template.suffix, template.middle) == (
        detected,
        prefix,
        suffix,
        middle,
    )
    assert (template.order, template.bos) == (order, bos)
    start = [ids[FAMILY_SPECIALS[family].bos]] if bos else []
    if order == "psm":
        expected = [*start, ids[prefix], *PREFIX.encode(), ids[suffix], *SUFFIX.encode(), ids[middle]]
    else:
        expected = [*start, ids[suffix], *SUFFIX.encode(), ids[prefix], *PREFIX.encode()]
    assert prompt_ids(model, template, PREFIX, SUFFIX) == expected


@pytest.mark.parametrize("family", ["codellama", "codestral"])
def test_sentencepiece_vocabularies_place_fim_tokens_exactly(
    tiny_llama: TinyModelLoader, family: str
) -> None:
    """CodeLlama and Codestral ship SentencePiece vocabularies: llama.cpp adds its space prefix to each text
    piece (as in Meta's/Mistral's " prefix"), the control ids sit exactly where the template says."""
    model = tiny_llama(family, tokenizer="spm")
    ids = tiny_vocab(family, tokenizer="spm").ids
    template = detect(model)
    assert template is not None and template.family == family
    space = ids[" "]
    prefix_ids = [space, ord("a"), space, ord("="), space, ord("(")]
    assert model.tokenize(PREFIX.encode(), add_bos=False, special=False) == prefix_ids
    suffix_ids = [space, ord(")"), ord("\n"), ord("b")]
    if family == "codellama":
        expected = [ids["<s>"], ids["▁<PRE>"], *prefix_ids, ids["▁<SUF>"], *suffix_ids, ids["▁<MID>"]]
    else:
        expected = [ids["<s>"], ids["[SUFFIX]"], *suffix_ids, ids["[PREFIX]"], *prefix_ids]
    assert prompt_ids(model, template, PREFIX, SUFFIX) == expected


def test_user_defined_special_texts_are_reported_as_injectable(tiny_llama: TinyModelLoader) -> None:
    model = tiny_llama(None, user_defined=("<fim_hole>",))
    template = fim.template_from_override("<fim_hole>,<s>,</s>")
    assert fim.injectable_texts(model, template) == ["<fim_hole>"]
    assert ids_of(model, "<fim_hole>") in model.tokenize(b"x <fim_hole>", add_bos=False, special=False)
    qwen = tiny_llama("qwen2.5-coder")
    qwen_template = detect(qwen)
    assert qwen_template is not None
    assert fim.injectable_texts(qwen, qwen_template) == []


def test_qwen_ids_match_the_documented_layout(tiny_llama: TinyModelLoader) -> None:
    model = tiny_llama("qwen2.5-coder")
    template = detect(model)
    assert template is not None
    # 256 bytes + 28 merge tokens, then <|endoftext|> 284, <|im_start|>, <|im_end|>, <|fim_prefix|> 287, ...
    assert prompt_ids(model, template, "x", "y") == [287, ord("x"), 289, ord("y"), 288]
    assert model.metadata["tokenizer.ggml.fim_pre_token_id"] == "287"


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_document_text_never_becomes_a_control_token(tiny_llama: TinyModelLoader, family: str) -> None:
    model = tiny_llama(family)
    template = detect(model)
    assert template is not None
    hostile = "".join(template.special_texts())
    ids = prompt_ids(model, template, f"x = '{hostile}'", hostile)
    control_ids = fim.stop_token_ids(template, lookup_for(model)) | {
        lookup_for(model)(text) for text in template.required_texts()
    }
    placed = [token for token in ids if token in control_ids]
    expected_markers = [ids_of(model, text) for text in template.required_texts()]
    assert sorted(placed) == sorted(expected_markers)  # only the template's own markers, once each
    text_ids = model.tokenize(hostile.encode(), add_bos=False, special=False)
    assert not set(text_ids) & control_ids
    assert model.detokenize(text_ids) == hostile.encode()


def test_special_piece_missing_from_vocabulary_is_an_error(tiny_llama: TinyModelLoader) -> None:
    model = tiny_llama("starcoder")
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        fim.tokenize_pieces(model, [PromptPiece("<|fim_prefix|>", True)], None)


def test_model_without_fim_tokens_is_prefix_only(tiny_llama: TinyModelLoader) -> None:
    model = tiny_llama(None)
    assert detect(model) is None


def test_lookup_rejects_plain_text_and_multi_token_strings(tiny_llama: TinyModelLoader) -> None:
    model = tiny_llama("qwen2.5-coder")
    lookup = lookup_for(model)
    assert lookup("<|fim_prefix|>") == tiny_vocab("qwen2.5-coder").ids["<|fim_prefix|>"]
    assert lookup("x") == ord(
        "x"
    )  # any single token spelling exactly `text`; detection asks for specials only
    assert lookup("<|fim_prefix|><|fim_suffix|>") is None
    assert lookup("<fim_prefix>") is None
    assert lookup("") is None


def test_repo_level_pieces_use_file_separators(tiny_llama: TinyModelLoader) -> None:
    model = tiny_llama("qwen2.5-coder")
    ids = tiny_vocab("qwen2.5-coder").ids
    template = detect(model)
    assert template is not None
    context = fim.repo_pieces(template, "r", [("a.py", "x")], "b.py")
    tokens = fim.tokenize_pieces(model, fim.fim_pieces(template, "p", "s", context=context), None)
    assert tokens == [
        ids["<|repo_name|>"],
        *b"r\n",
        ids["<|file_sep|>"],
        *b"a.py\nx\n",
        ids["<|file_sep|>"],
        *b"b.py\n",
        ids["<|fim_prefix|>"],
        ord("p"),
        ids["<|fim_suffix|>"],
        ord("s"),
        ids["<|fim_middle|>"],
    ]
    deepseek = detect(tiny_llama("deepseek-coder"))
    assert deepseek is not None
    assert fim.repo_pieces(deepseek, "r", [("a.py", "x")], "b.py") == []


def test_starcoder1_vocab_resolves_its_repo_token_and_has_no_file_separator(
    tiny_llama: TinyModelLoader,
) -> None:
    template = detect(tiny_llama("granite"))
    assert template is not None
    assert (template.repo_name, template.file_sep) == ("<reponame>", None)
    assert "<file_sep>" not in template.stop  # stop tokens are limited to what the vocabulary has


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_override_names_resolve_against_the_vocabulary(tiny_llama: TinyModelLoader, family: str) -> None:
    model = tiny_llama(family)
    template = fim.template_from_override(EXPECTED[family][0])
    missing = fim.missing_tokens(template, lookup_for(model))
    if family == "codellama-bare":
        assert missing == ["▁<PRE>", "▁<SUF>", "▁<MID>"]  # the named family's canonical texts
    else:
        assert missing == []


def test_custom_override_builds_a_prompt_on_a_real_model(tiny_llama: TinyModelLoader) -> None:
    model = tiny_llama("codellama-bare")
    ids = tiny_vocab("codellama-bare").ids
    template = fim.template_from_override("bos: <PRE>, <SUF>, <MID>, <EOT>")
    assert template.stop == ("<EOT>", "<PRE>", "<SUF>", "<MID>")
    assert prompt_ids(model, template, "x", "y") == [
        ids["<s>"],
        ids["<PRE>"],
        120,
        ids["<SUF>"],
        121,
        ids["<MID>"],
    ]
    assert fim.stop_token_ids(template, lookup_for(model)) == {
        ids[t] for t in ("<EOT>", "<PRE>", "<SUF>", "<MID>")
    }


class ForceToken:
    """A logits processor that lets the model pick freely for ``after`` tokens, then forces ``token``."""

    def __init__(self, token: int, after: int) -> None:
        self.token, self.after, self.start = token, after, -1

    def __call__(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        if self.start < 0:
            self.start = len(input_ids)
        if len(input_ids) - self.start < self.after:
            return scores
        forced = np.full_like(scores, -np.inf)
        forced[self.token] = 0.0
        return forced


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_stop_tokens_end_generation_without_leaking_text(tiny_llama: TinyModelLoader, family: str) -> None:
    """Drive generation token by token (as the engine does) and stop at the template's stop ids."""
    model = tiny_llama(family)
    template = detect(model)
    assert template is not None
    stop_ids = fim.stop_token_ids(template, lookup_for(model))
    assert template.stop and all(lookup_for(model)(text) in stop_ids for text in template.stop)
    for stop_text in template.stop:
        stop_id = lookup_for(model)(stop_text)
        assert stop_id is not None
        prompt = prompt_ids(model, template, PREFIX, SUFFIX)
        processor = ForceToken(stop_id, after=2)
        generated: list[int] = []
        for token in model.generate(prompt, temp=0.0, logits_processor=[processor]):
            if token in stop_ids:
                break
            generated.append(token)
            assert len(generated) < 5
        assert len(generated) == 2
        text = model.detokenize(generated).decode("utf-8", errors="replace")
        assert not any(special in text for special in template.special_texts())
        # the control token itself renders as nothing without special=True
        assert model.detokenize([stop_id]) == b""


# --- detection logic on synthetic vocabularies (no model needed) --------------------------------------------


def vocab_lookup(*texts: str) -> TokenLookup:
    table = {text: 1000 + index for index, text in enumerate(texts)}
    return table.get


QWEN = ("<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|file_sep|>")
GEMMA = ("<eos>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>")


def test_plain_gemma3_with_codegemma_tokens_is_prefix_only() -> None:
    lookup = vocab_lookup(*GEMMA)
    gemma3 = {"general.architecture": "gemma3", "general.name": "Gemma 3 270m"}
    assert fim.detect_template(lookup, gemma3) is None
    codegemma = fim.detect_template(lookup, {"general.architecture": "gemma", "general.name": "codegemma-2b"})
    assert codegemma is not None and codegemma.family == "codegemma"
    assert codegemma.stop == (
        "<|file_separator|>",
        "<eos>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
    )


def test_qwen_markers_win_over_codegemma() -> None:
    template = fim.detect_template(vocab_lookup(*QWEN, "<|file_separator|>"), {})
    assert template is not None and template.family == "qwen2.5-coder"
    assert template.repo_name is None and template.file_sep == "<|file_sep|>"


def test_metadata_fim_prefix_id_picks_among_several_families() -> None:
    texts = ("<fim_prefix>", "<fim_suffix>", "<fim_middle>", *QWEN)
    lookup = vocab_lookup(*texts)
    assert fim.detect_template(lookup, {}).family == "qwen2.5-coder"  # type: ignore[union-attr]
    starcoder_id = str(lookup("<fim_prefix>"))
    chosen = fim.detect_template(lookup, {"tokenizer.ggml.fim_pre_token_id": starcoder_id})
    assert chosen is not None and chosen.family == "starcoder"


def test_unknown_family_uses_gguf_metadata_ids_when_texts_are_available() -> None:
    texts = {7: "<|code_prefix|>", 8: "<|code_suffix|>", 9: "<|code_middle|>", 2: "<|end|>"}
    lookup: TokenLookup = {text: token for token, text in texts.items()}.get
    metadata = {
        "tokenizer.ggml.fim_pre_token_id": "7",
        "tokenizer.ggml.fim_suf_token_id": "8",
        "tokenizer.ggml.fim_mid_token_id": "9",
        "tokenizer.ggml.eos_token_id": "2",
    }
    assert fim.detect_template(lookup, metadata) is None  # without id -> text there is nothing to build on
    template = fim.detect_template(lookup, metadata, token_text=texts.get)
    assert template is not None
    assert (template.family, template.prefix, template.suffix, template.middle) == (
        "gguf-metadata",
        "<|code_prefix|>",
        "<|code_suffix|>",
        "<|code_middle|>",
    )
    assert template.stop[0] == "<|end|>"
    broken = dict(metadata, **{"tokenizer.ggml.fim_mid_token_id": "not a number"})
    assert fim.detect_template(lookup, broken, token_text=texts.get) is None


def test_failing_lookup_counts_as_missing() -> None:
    def explode(text: str) -> int | None:
        raise RuntimeError("tokenizer crashed")

    assert fim.detect_template(explode, {}) is None


@pytest.mark.parametrize(
    ("value", "family"),
    [
        ("qwen", "qwen2.5-coder"),
        ("StarCoder2", "starcoder"),
        ("deepseek", "deepseek-coder"),
        ("mistral", "codestral"),
    ],
)
def test_override_aliases(value: str, family: str) -> None:
    assert fim.template_from_override(value).family == family


def test_custom_override_forms() -> None:
    spm = fim.template_from_override("spm+bos:[PREFIX],[SUFFIX],,</s>")
    assert (spm.order, spm.bos, spm.middle, spm.stop) == ("spm", True, "", ("</s>", "[PREFIX]", "[SUFFIX]"))
    assert fim.fim_pieces(spm, "p", "s") == [
        PromptPiece("[SUFFIX]", True),
        PromptPiece("s", False),
        PromptPiece("[PREFIX]", True),
        PromptPiece("p", False),
    ]
    psm = fim.template_from_override("<a>,<b>,<c>")
    assert (psm.family, psm.order, psm.bos, psm.stop) == ("custom", "psm", False, ("<a>", "<b>", "<c>"))


@pytest.mark.parametrize(
    "value",
    ["", "   ", "llama3000", "<a>,<b>", ",<b>,<c>", "<a>,<b>,", "psm+spm:<a>,<b>,<c>"],
)
def test_bad_overrides_raise_value_error(value: str) -> None:
    with pytest.raises(ValueError):
        fim.template_from_override(value)


def test_fim_pieces_layout_and_header() -> None:
    template = fim.TEMPLATES["qwen2.5-coder"]
    assert fim.fim_pieces(template, "", "", header="# h\n") == [
        PromptPiece("<|fim_prefix|>", True),
        PromptPiece("# h\n", False),
        PromptPiece("<|fim_suffix|>", True),
        PromptPiece("<|fim_middle|>", True),
    ]
