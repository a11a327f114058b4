"""Syntax diagnostics (pushed, debounced, or pulled) and their verified quick fixes as code actions.

Clients that can pull diagnostics (``textDocument/diagnostic``) are not also sent pushed ones, which they
would show twice. Pushes wait ``debounce_ms`` after the last edit, and three times as long when every error
is on the line being typed: a half-typed line is not an error worth a squiggle yet.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from lsprotocol import types

from lsp_server.documents import DocumentEvent
from lsp_server.host import Feature, ServerHost
from syntax.diagnostics import SyntaxDiagnostic, diagnose
from syntax.document import LARGE_TEXT_BYTES, ParsedText
from syntax.fixes import CandidateGenerator, Fix, propose_fixes

log = logging.getLogger(__name__)
SOURCE = "infill-ls"
_TYPING_DELAY_FACTOR = 3
_MAX_DIAGNOSTICS_FIXED_PER_REQUEST = 3


@dataclass
class _Published:
    text: str
    diagnostics: list[SyntaxDiagnostic]


class DiagnosticsFeature(Feature):
    """Per-document state: the pending debounced push and the diagnostics of the latest computed text."""

    def __init__(self, server: ServerHost) -> None:
        self.server = server
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.latest: dict[str, _Published] = {}
        self.open: set[str] = set()
        self.edited_line: dict[str, int] = {}

    def register(self) -> None:
        @self.server.feature(
            types.TEXT_DOCUMENT_DIAGNOSTIC,
            types.DiagnosticOptions(
                identifier=SOURCE, inter_file_dependencies=False, workspace_diagnostics=False
            ),
        )
        async def pull(params: types.DocumentDiagnosticParams) -> types.DocumentDiagnosticReport:
            uri = params.text_document.uri
            result = await self.diagnostics(uri)
            items = [self.to_lsp(uri, d) for d in result[1]] if result is not None else []
            return types.RelatedFullDocumentDiagnosticReport(items=items)

        @self.server.feature(
            types.TEXT_DOCUMENT_CODE_ACTION,
            types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
        )
        async def code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
            return await self.code_actions(params)

    # --- state shared by push, pull and code actions ------

    async def snapshot(self, uri: str) -> ParsedText | None:
        """Text and tree read together, safe to use in a worker. Pending edits of a large document are
        reparsed on the syntax pool, never on the event loop (a 1 MB line takes half a second)."""
        document = self.server.syntax_document(uri)
        if document is None:
            return None
        if len(document.source) < LARGE_TEXT_BYTES:
            return document.snapshot()  # a small reparse: cheaper here than a hop to a busy pool
        return await self.server.run_blocking(document.snapshot)

    async def diagnostics(self, uri: str) -> tuple[ParsedText, list[SyntaxDiagnostic]] | None:
        if not self.server.settings.diagnostics.enabled:
            return None
        parsed = await self.snapshot(uri)
        if parsed is None:
            return None
        cached = self.latest.get(uri)
        if cached is not None and cached.text == parsed.text:
            return parsed, cached.diagnostics
        found = await self.server.run_blocking(diagnose, parsed)
        self.latest[uri] = _Published(parsed.text, found)
        return parsed, found

    def to_lsp(self, uri: str, diagnostic: SyntaxDiagnostic) -> types.Diagnostic:
        return types.Diagnostic(
            range=types.Range(
                self.server.to_position(uri, diagnostic.start), self.server.to_position(uri, diagnostic.end)
            ),
            message=diagnostic.message,
            severity=types.DiagnosticSeverity.Error,
            source=SOURCE,
            code=diagnostic.kind,
        )

    def pulls(self) -> bool:
        capabilities = self.server.client_capabilities.text_document
        return capabilities is not None and capabilities.diagnostic is not None

    # --- push ------

    def on_document(self, event: DocumentEvent) -> None:
        uri = event.uri
        if event.kind == "close":
            self._cancel(uri)
            self.open.discard(uri)
            self.latest.pop(uri, None)
            self.edited_line.pop(uri, None)
            if not self.pulls():
                self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))
            return
        self.open.add(uri)
        if event.lines is not None:
            self.edited_line[uri] = event.lines[0]
        else:
            self.edited_line.pop(uri, None)
        self.schedule(uri, immediate=event.kind == "open")

    def on_settings(self) -> None:
        """Diagnostics may have been turned on or off: recompute (push) or ask the client to pull again."""
        self.latest.clear()
        if self.pulls():
            workspace = self.server.client_capabilities.workspace
            if (
                workspace is not None
                and workspace.diagnostics is not None
                and workspace.diagnostics.refresh_support
            ):
                self.server.workspace_diagnostic_refresh(None)
            return
        for uri in list(self.open):
            self.schedule(uri, immediate=True)

    def schedule(self, uri: str, immediate: bool = False) -> None:
        if self.pulls():
            return
        self._cancel(uri)
        self.pending[uri] = asyncio.get_running_loop().create_task(self._publish_later(uri, immediate))

    def _cancel(self, uri: str) -> None:
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()

    async def _publish_later(self, uri: str, immediate: bool) -> None:
        options = self.server.settings.diagnostics
        delay = 0.0 if immediate else options.debounce_ms / 1000
        try:
            await asyncio.sleep(delay)
            result = await self.diagnostics(uri)
            found = result[1] if result is not None else []
            line = self.edited_line.get(uri)
            if found and not immediate and line is not None and all(_on_line(result, d, line) for d in found):
                await asyncio.sleep(delay * (_TYPING_DELAY_FACTOR - 1))
            if self.server.document_text(uri) is None:
                return
            if result is not None and self.server.document_text(uri) != result[0].text:
                return  # the text changed meanwhile: the newer change's task publishes
            items = [self.to_lsp(uri, d) for d in found]
            self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, items))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("publishing diagnostics for %s failed", uri)
        finally:
            if self.pending.get(uri) is asyncio.current_task():
                del self.pending[uri]

    # --- code actions ------

    def generator(self, language: str, uri: str) -> CandidateGenerator | None:
        engine = self.server.engine
        if not (self.server.settings.diagnostics.model_fixes and engine.model_ready):
            return None
        path = self.server.document_path(uri)  # for the privacy policy of a remote model

        def generate(prefix: str, suffix: str, n: int, max_tokens: int, time_budget_s: float) -> list[str]:
            return engine.infill_candidates(
                prefix, suffix, n, max_tokens, time_budget_s, language=language, path=path
            )

        return generate

    async def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        """Quick fixes for our diagnostics in the requested range, each verified before it is offered."""
        only = params.context.only
        if only is not None and not any(types.CodeActionKind.QuickFix.startswith(kind) for kind in only):
            return None
        uri = params.text_document.uri
        result = await self.diagnostics(uri)
        if result is None:
            return None
        parsed, found = result
        low = self.server.to_offset(uri, params.range.start)
        high = self.server.to_offset(uri, params.range.end)
        # the client's own list counts too: Neovim asks from the cursor, which cannot sit past a line's end,
        # where a missing ':' or ')' is reported, and sends that line's diagnostics in the context
        named = {
            self.server.to_offset(uri, d.range.start)
            for d in params.context.diagnostics
            if d.source == SOURCE
        }
        wanted = [d for d in found if (d.start <= high and d.end >= low) or d.start in named]
        wanted = wanted[:_MAX_DIAGNOSTICS_FIXED_PER_REQUEST]
        options = self.server.settings.diagnostics
        generator = self.generator(parsed.language, uri)
        # model fixes wait for the model like completions do: on the model pool, never blocking diagnosis
        run = self.server.run_blocking if generator is None else self.server.run_model
        actions: list[types.CodeAction] = []
        for diagnostic in wanted:
            fixes: list[Fix] = await run(
                propose_fixes,
                parsed,
                diagnostic,
                generator,
                options.max_fixes,
                options.fix_time_budget_ms / 1000,
            )
            if self.server.document_text(uri) != parsed.text:
                return None  # edited meanwhile: these offsets no longer apply
            actions += [self.to_action(uri, fix) for fix in fixes]
        return actions

    def to_action(self, uri: str, fix: Fix) -> types.CodeAction:
        edits = [
            types.TextEdit(
                types.Range(self.server.to_position(uri, e.start), self.server.to_position(uri, e.end)),
                e.new_text,
            )
            for e in fix.edits
        ]
        return types.CodeAction(
            title=fix.title,
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[self.to_lsp(uri, fix.diagnostic)],
            edit=types.WorkspaceEdit(changes={uri: edits}),
            is_preferred=fix.preferred,  # one per diagnostic: what auto-fix and "fix all" apply
        )


def _on_line(
    result: tuple[ParsedText, list[SyntaxDiagnostic]] | None, diagnostic: SyntaxDiagnostic, line: int
) -> bool:
    if result is None:
        return False
    text = result[0].text
    return text.count("\n", 0, diagnostic.start) == line == text.count("\n", 0, diagnostic.end)
