"""The backends the engine uses: opened off the event loop on ``initialized`` and again when the settings choose
others (or after a failure), their state reported as ``infill/status`` and ``$/progress``, closed on
``shutdown``; and ``infill/stats``."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from lsprotocol import types

from completion.backend import BackendState, ModelInfo, ModelLoadError, ModelUnavailable
from completion.backends import BackendChoice, OpenedBackends, open_backends
from completion.model import ModelOptions
from lsp_server.features.status import StatusFeature
from lsp_server.host import Feature, ServerHost
from lsp_server.loop import on_loop
from lsp_server.methods import STATS_REQUEST

log = logging.getLogger(__name__)
Progress = Callable[[str, int | None], None]  # (message, percentage; None: the end)


class ModelFeature(Feature):
    """Owns the opened backends and their loads: each load has a generation, and a load a newer one superseded
    closes what it opened instead of installing it."""

    def __init__(self, server: ServerHost, status: StatusFeature) -> None:
        self.server = server
        self.status = status
        self._generation = 0
        self._loaded_choice: BackendChoice | None = None
        self._backends: OpenedBackends | None = None  # what the engine uses now
        self._announced: OpenedBackends | None = None  # ... once its first readiness was reported

    def register(self) -> None:
        @self.server.feature(STATS_REQUEST)
        def stats(params: Any) -> dict[str, Any]:
            """Recent completions (cached?, time, prompt/evaluated/generated tokens), then forgets them; and the
            model worker's state and process id."""
            history = self.server.engine.history
            recent = list(history)
            history.clear()
            return {
                "completions": recent,
                "worker": self.model_stats(),
                "remote": self.remote_stats(),
                "background": dict(self.server.engine.background_counts),  # warm-ups, next suggestions
            }

    async def on_initialized(self) -> None:
        self.start_load()

    def on_settings(self) -> None:
        if self._loaded_choice is not None and (
            self.backend_choice() != self._loaded_choice or self.status.state == "error"
        ):
            self.start_load()  # a new model or server, or another try after a failure

    async def on_shutdown(self) -> None:
        self.close()  # returns at once: the worker drains and exits in the background

    def close(self) -> None:
        """Stop using the backends; a local worker drains and exits in the background (never blocks the loop).
        Safe from any thread."""
        self._generation += 1
        self._backends = self._announced = None
        self.server.engine.set_model(None)

    # --- loading ------------------------------------------------------------------------------------------

    def backend_choice(self) -> BackendChoice:
        """The settings that decide which backends run (a copy: later settings changes do not alter it)."""
        settings = self.server.settings
        return BackendChoice(
            settings.backend, ModelOptions(**vars(settings.model)), dataclasses.replace(settings.remote)
        )

    def start_load(self) -> None:
        """Open the configured backends in a thread, with $/progress and infill/status; the server stays up."""
        self._generation += 1
        generation = self._generation
        choice = self.backend_choice()
        self._loaded_choice = choice
        loop = asyncio.get_running_loop()
        progress = self._progress_reporter(loop, str(uuid.uuid4()))
        self.status.set(
            "loading", "connecting to the remote server" if choice.backend == "remote" else "loading model"
        )
        threading.Thread(
            target=self._load,
            args=(choice, generation, loop, progress),
            name="infill-model-load",
            daemon=True,
        ).start()

    def _progress_reporter(self, loop: asyncio.AbstractEventLoop, token: str) -> Progress:
        capabilities = self.server.client_capabilities.window
        if not (capabilities and capabilities.work_done_progress):
            return lambda message, percentage: None
        progress = self.server.work_done_progress
        progress.create(token)
        progress.begin(
            token,
            types.WorkDoneProgressBegin(title="infill-ls: loading model", percentage=0, cancellable=False),
        )

        def report(message: str, percentage: int | None) -> None:
            if percentage is None:
                value: Any = types.WorkDoneProgressEnd(message=message)
                on_loop(loop, progress.end, token, value)
            else:
                value = types.WorkDoneProgressReport(message=message, percentage=percentage)
                on_loop(loop, progress.report, token, value)

        return report

    def _load(
        self, choice: BackendChoice, generation: int, loop: asyncio.AbstractEventLoop, progress: Progress
    ) -> None:
        """Open the backends for ``choice`` (a local worker self-checks before it answers) and hand them to the
        engine. Whatever happens, the progress started for this load ends exactly once, before the status says
        ready."""
        outcome, loaded = "failed", None
        try:
            loaded = self._open(choice, generation, loop, progress)
            outcome = "ready" if loaded is not None else "superseded by newer settings"
        except (ModelLoadError, ModelUnavailable) as error:
            if generation == self._generation:
                self.server.engine.set_model(None)
                message = f"infill-ls: model unavailable: {str(error).rstrip('.')}."
                if "keep working" not in message:
                    message += " Syntax features keep working."
                on_loop(loop, self._report_load_failure, message)
        except Exception as error:  # never let a loader bug kill the server
            log.exception("model load crashed")
            on_loop(loop, self._report_load_failure, f"infill-ls: model load failed: {error}")
        finally:
            progress(outcome, None)
        if loaded is not None:
            on_loop(loop, self._loaded, loaded)

    def _open(
        self, choice: BackendChoice, generation: int, loop: asyncio.AbstractEventLoop, progress: Progress
    ) -> OpenedBackends | None:
        """The opened backends, installed in the engine; None when a newer settings change superseded them."""
        progress("connecting" if choice.backend == "remote" else "loading the model", 30)

        def on_state(source: object, state: BackendState) -> None:
            on_loop(loop, self._backend_state_changed, source, state)

        opened = open_backends(choice, on_state, strict=False)
        if generation != self._generation:  # superseded by a newer settings change
            opened.close()
            return None
        self.server.engine.set_model(opened.primary, fallback=opened.fallback)
        self._backends = opened
        return opened

    # --- reporting ----------------------------------------------------------------------------------------

    def _loaded(self, opened: OpenedBackends) -> None:
        if opened is not self._backends:
            return
        self._announced = opened  # from now on its state changes are news
        for info in _infos(opened):
            for warning in info.warnings:  # once per load, not again on every restart
                self.server.show_message(types.MessageType.Warning, f"infill-ls: {warning}")
        if opened.remote_error is not None and opened.local is None:
            self._report_load_failure(f"infill-ls: {opened.remote_error}")
            return
        if opened.remote_error is not None:
            self.server.show_message(
                types.MessageType.Warning, f"infill-ls: {opened.remote_error}; using the local model"
            )
        self._report_ready()

    def _report_ready(self) -> None:
        opened = self._backends
        if opened is None:
            return
        parts: list[str] = []
        warnings: list[str] = []
        path: str | None = None
        if opened.remote is not None:
            info = opened.remote.info
            down = opened.remote_error is not None or opened.remote.failing is not None
            where = f"{info.name} via {info.api} at {info.path} ({info.family})"
            parts.append(f"remote {where}" + (" - unavailable, retrying" if down else ""))
            warnings += info.warnings
            path = info.path
        if opened.local is not None:
            info = opened.local.info
            local = f"{info.name} ({info.family}, {info.size_bytes / 1e6:.0f} MB)"
            parts.append(f"local model {local}" if opened.remote is not None else local)
            warnings += info.warnings
            path = path or info.path
        message = "; ".join(parts)
        if warnings:
            message += " - warning: " + "; ".join(warnings)
        self.status.set("ready", message, path, tuple(warnings))

    def _backend_state_changed(self, source: object, state: BackendState) -> None:
        """A backend crashed, restarted, gave up, went idle, or (remote) failed or recovered: tell the user."""
        opened = self._announced
        if opened is None or opened is not self._backends or source is None:
            return  # the first start reports itself (_loaded); a replaced backend's news is old news
        if source is opened.remote:
            opened.remote_error = None
            if state.state == "failed" and opened.local is None:
                self._report_load_failure(f"infill-ls: {state.message}")
            elif state.state == "failed":
                self.server.show_message(
                    types.MessageType.Warning, f"infill-ls: {state.message}; using the local model"
                )
                self._report_ready()
            else:
                self._report_ready()
        elif opened.local is not None and source is opened.local:
            info = opened.local.info
            if state.state == "ready":
                self._report_ready()
            elif state.state == "idle":
                self.status.set("ready", state.message, info.path, info.warnings)
            elif state.state in ("restarting", "starting"):
                self.status.set("loading", state.message, info.path)
            elif state.state == "failed":
                self._report_load_failure(f"infill-ls: model unavailable: {state.message}")

    def _report_load_failure(self, message: str) -> None:
        # first: a client acting on the status has it
        self.server.show_message(types.MessageType.Error, message)
        self.status.set("error", message)

    # --- infill/stats -------------------------------------------------------------------------------------

    def model_stats(self) -> dict[str, Any]:
        """The model worker's process and state (tests crash it on purpose)."""
        local = self._backends.local if self._backends is not None else None
        if local is None:
            return {"state": "none", "pid": None, "restarts": 0, "message": self.status.status["message"]}
        state = local.state
        return {"state": state.state, "pid": local.pid, "restarts": state.restarts, "message": state.message}

    def remote_stats(self) -> dict[str, Any] | None:
        """The remote server in use and its health; None without one."""
        remote = self._backends.remote if self._backends is not None else None
        if remote is None:
            return None
        info = remote.info
        return {"url": remote.url, "api": info.api, "model": info.name, "failing": remote.failing}


def _infos(opened: OpenedBackends) -> list[ModelInfo]:
    return [backend.info for backend in (opened.remote, opened.local) if backend is not None]
