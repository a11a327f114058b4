"""textDocument/inlineCompletion, the textDocument/completion fallback, and infill/prompt (what the model sees)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from completion.engine import Completion
from lsp_server.methods import DID_FOCUS, PROMPT_REQUEST, STATS_REQUEST, DidFocusParams

if TYPE_CHECKING:
    from lsp_server.server import InfillServer

_WORD_BEFORE = re.compile(r"[\w$]*\Z")


def register(server: InfillServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: InfillServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        request = ls.completion_request(params.text_document.uri, params.position, invoked)
        if request is None:
            return None
        completion: Completion | None = await ls.complete(request)
        if completion is None:
            return types.InlineCompletionList(items=[])
        uri = params.text_document.uri
        edit_range = types.Range(ls.to_position(uri, completion.start), ls.to_position(uri, completion.end))
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(completion.text, range=edit_range)]
        )

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "])
    )
    async def completion(ls: InfillServer, params: types.CompletionParams) -> types.CompletionList | None:
        """For clients without inline completion: the suggestion as one completion item."""
        capabilities = ls.client_capabilities.text_document
        if capabilities is not None and capabilities.inline_completion is not None:
            return None  # the client shows ghost text instead; don't duplicate it in the popup
        request = ls.completion_request(params.text_document.uri, params.position)
        if request is None:
            return None
        result: Completion | None = await ls.complete(request)
        if result is None:
            return types.CompletionList(is_incomplete=True, items=[])
        return types.CompletionList(
            is_incomplete=True, items=[_completion_item(ls, params, request.text, result)]
        )

    @server.feature(PROMPT_REQUEST)
    async def prompt(ls: InfillServer, params: types.TextDocumentPositionParams) -> dict[str, Any] | None:
        """The prompt the engine would send for a position: for debugging and for tests of context building."""
        request = ls.completion_request(params.text_document.uri, params.position)
        if request is None:
            return None
        built = await ls.run_blocking(ls.engine.build_prompt, request)  # never waits for the model
        return {"prompt": built.text(), "windowStart": built.window_start, "healed": built.healed}

    @server.feature(DID_FOCUS)
    def did_focus(ls: InfillServer, params: DidFocusParams) -> None:
        """The editor the user is in changed (VS Code: active editor; Neovim: BufEnter)."""
        if ls.text_document(params.text_document.uri) is not None:
            ls.focus(params.text_document.uri)

    _register_stats(server)


def _register_stats(server: InfillServer) -> None:
    @server.feature(STATS_REQUEST)
    def stats(ls: InfillServer, params: Any) -> dict[str, Any]:
        """Recent completions (cached?, time, prompt/evaluated/generated tokens), then forgets them; and the
        model worker's state and process id."""
        recent = list(ls.engine.history)
        ls.engine.history.clear()
        return {"completions": recent, "worker": ls.model_stats(), "remote": ls.remote_stats()}


def _completion_item(
    ls: InfillServer, params: types.CompletionParams, text: str, result: Completion
) -> types.CompletionItem:
    """Replace from the start of the word being typed, so clients' prefix filtering keeps the item."""
    word = _WORD_BEFORE.search(text, max(0, result.start - 256), result.start)
    word_start = word.start() if word else result.start
    new_text = text[word_start : result.start] + result.text
    uri = params.text_document.uri
    edit_range = types.Range(ls.to_position(uri, word_start), ls.to_position(uri, result.end))
    first_line = new_text.strip().splitlines()[0] if new_text.strip() else new_text
    return types.CompletionItem(
        label=first_line[:60] + ("…" if len(first_line) > 60 or "\n" in new_text.strip() else ""),
        kind=types.CompletionItemKind.Text,
        detail="infill-ls",
        documentation=types.MarkupContent(types.MarkupKind.Markdown, f"```\n{new_text}\n```"),
        filter_text=new_text,
        sort_text="0",
        text_edit=types.TextEdit(edit_range, new_text),
        insert_text_format=types.InsertTextFormat.PlainText,
    )
