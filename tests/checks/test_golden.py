"""Golden cases: a document, a cursor, a raw model output and the suggestion that must be shown."""

from __future__ import annotations

import pytest

from completion.postprocess import postprocess
from syntax.checks import syntax_errors
from syntax.document import SyntaxDocument
from syntax.shape import completion_shape

from .casefile import GOLDEN, Case, all_cases

CASES = all_cases()
REQUIRED_LANGUAGES = {"python", "javascript", "typescript", "go", "rust", "java", "c", "cpp", "lua"}


def test_every_required_language_has_cases() -> None:
    assert {case.language for case in CASES} >= REQUIRED_LANGUAGES
    assert {path.name for path in GOLDEN.iterdir() if path.is_dir()} >= REQUIRED_LANGUAGES


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_golden_case(case: Case) -> None:
    shape = completion_shape(case.text, case.offset, case.language)
    if case.reason is not None:
        assert shape.reason == case.reason
    suggestion = postprocess(case.raw, case.text, case.offset, shape, case.language)
    if case.expected is None:
        assert suggestion is None
        return
    assert suggestion is not None
    assert suggestion.text == case.expected
    assert suggestion.replace_end - case.offset == case.replace


@pytest.mark.parametrize("case", [case for case in CASES if case.expected is not None], ids=lambda c: c.id)
def test_shown_suggestions_add_no_syntax_error(case: Case) -> None:
    assert case.expected is not None
    before = SyntaxDocument(case.text, case.language)
    end = case.offset + case.replace
    after = SyntaxDocument(case.text[: case.offset] + case.expected + case.text[end:], case.language)
    assert len(syntax_errors(after.tree)) <= len(syntax_errors(before.tree))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_same_result_with_the_servers_document(case: Case) -> None:
    shape = completion_shape(case.text, case.offset, case.language)
    document = SyntaxDocument(case.text, case.language)
    shared = postprocess(case.raw, case.text, case.offset, shape, case.language, document=document)
    alone = postprocess(case.raw, case.text, case.offset, shape, case.language)
    assert shared == alone
