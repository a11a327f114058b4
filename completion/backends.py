"""Which backends the settings ask for, opened: the one place that knows 'local', 'remote' and 'hybrid'.

- ``local``: the supervised worker process (the model in ``infill.model``).
- ``remote``: the server in ``infill.remote``; no local model is loaded.
- ``hybrid``: both; the engine routes (``completion.routing``): the local model answers every request, the
  remote one is asked where it is likely to do better, and never while it is down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from completion.backend import BackendState, ModelBackend, ModelLoadError, TokenModel
from completion.model import ModelOptions
from completion.remote.backend import RemoteBackend
from completion.remote.options import RemoteOptions
from completion.supervisor import ModelSupervisor, start_supervised


@dataclass(frozen=True)
class BackendChoice:
    """What the settings say about where suggestions come from (compared to decide on a reload)."""

    backend: str = "local"
    model: ModelOptions = field(default_factory=ModelOptions)
    remote: RemoteOptions = field(default_factory=RemoteOptions)


@dataclass
class OpenedBackends:
    """The engine's model and fallback, plus the concrete objects the server watches and reports on."""

    primary: ModelBackend | TokenModel
    fallback: ModelBackend | TokenModel | None = None
    local: ModelSupervisor | None = None
    remote: RemoteBackend | None = None
    remote_error: str | None = None  # the remote server could not be reached yet (it is retried)

    def close(self) -> None:
        for backend in (self.local, self.remote):
            if backend is not None:
                backend.close()


def open_backends(
    choice: BackendChoice,
    on_state: Callable[[object, BackendState], None] = lambda source, state: None,
    strict: bool = True,
) -> OpenedBackends:
    """Open what ``choice`` names; ModelLoadError in words when it cannot be used.

    ``strict`` (the CLI): an unreachable remote server is an error. Otherwise (the server) it is kept, retried
    on later requests, and named in ``remote_error``; a hybrid setup then serves from the local model."""
    remote: RemoteBackend | None = None
    error: str | None = None
    if choice.backend in ("remote", "hybrid"):
        remote = RemoteBackend(choice.remote, lambda state: on_state(remote, state))
        try:
            remote.connect()
        except ModelLoadError as failure:
            if strict:
                remote.close()
                raise
            error = str(failure)
    if choice.backend == "remote":
        assert remote is not None
        return OpenedBackends(remote, remote=remote, remote_error=error)
    started: list[ModelSupervisor] = []  # the worker reports states while it starts, before it is returned
    try:
        local = start_supervised(choice.model, lambda state: on_state(started[0] if started else None, state))
        started.append(local)
    except BaseException:
        if remote is not None:
            remote.close()
        raise
    if remote is None:
        return OpenedBackends(local, local=local)
    return OpenedBackends(remote, fallback=local, local=local, remote=remote, remote_error=error)
