"""`infill-ls`: the stdio language server, plus `complete`, `doctor` and `fix` for use without an editor."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from completion.backend import ModelLoadError, ModelUnavailable
from completion.backends import BackendChoice, open_backends
from completion.engine import CompletionEngine, CompletionRequest, document_route
from completion.model import ModelOptions, llama_cpp_problem
from completion.privacy import PrivacyPolicy
from completion.remote.backend import RemoteBackend, describe_choices
from completion.remote.options import APIS
from completion.supervisor import ModelSupervisor
from lsp_server import __version__
from lsp_server.settings import Settings, settings_from_dict
from syntax.languages import LANGUAGES, available_grammars, spec_for

SWITCH_INTERVAL_S = 0.001


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infill-ls", description="Local fill-in-the-middle completion over LSP."
    )
    parser.add_argument("--version", action="version", version=f"infill-ls {__version__}")
    parser.add_argument("--model", help="GGUF model file (default: the embedded Gemma 3 270M)")
    parser.add_argument(
        "--remote", metavar="URL", help="use the inference server at URL (infill.backend 'remote')"
    )
    parser.add_argument("--remote-api", choices=APIS, help="the server's API (default: auto)")
    parser.add_argument(
        "--remote-model", metavar="NAME", help="model name for OpenAI-compatible servers and Ollama"
    )
    parser.add_argument("--settings", help="JSON file with settings (same shape as the 'infill' section)")
    parser.add_argument("--log-file", help="write the server log here (stdout carries LSP)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--stdio", action="store_true", help="speak LSP over stdio (the default; accepted for clients)"
    )
    commands = parser.add_subparsers(dest="command")
    complete = commands.add_parser(
        "complete", help="print the completion the server would show at a position"
    )
    complete.add_argument("file")
    complete.add_argument("--line", type=int, required=True, help="0-based line")
    complete.add_argument("--character", type=int, required=True, help="0-based column (code points)")
    complete.add_argument("--language", help="language id (default: from the file extension)")
    complete.add_argument("--json", action="store_true", help="print the result with timing and token counts")
    complete.add_argument("--show-prompt", action="store_true", help="print the prompt too (to stderr)")
    doctor = commands.add_parser("doctor", help="report the model, grammars and problems")
    doctor.add_argument("files", nargs="*", help="also say where each file's content may go, and why")
    fix = commands.add_parser("fix", help="print verified syntax fixes as a unified diff")
    fix.add_argument("file")
    fix.add_argument("--write", action="store_true", help="apply the fixes to the file")
    fix.add_argument("--language", help="language id (default: from the file extension)")
    fix.add_argument("--no-model", action="store_true", help="rule-based fixes only")
    return parser


def load_settings(args: argparse.Namespace) -> Settings:
    data = {}
    if args.settings:
        try:
            data = json.loads(Path(args.settings).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(
                f"infill-ls: cannot read settings {args.settings}: {error}; using defaults", file=sys.stderr
            )
    settings, errors = settings_from_dict(data)
    for message in errors:
        print(f"infill-ls: invalid setting, default used: {message}", file=sys.stderr)
    if args.model:
        settings.model.path = args.model
    if args.remote:
        settings.remote.url = args.remote
        if settings.backend == "local":
            settings.backend = "remote"
    if args.remote_api:
        settings.remote.api = args.remote_api
    if args.remote_model:
        settings.remote.model = args.remote_model
    return settings


def backend_choice(settings: Settings) -> BackendChoice:
    return BackendChoice(settings.backend, settings.model, settings.remote)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        filename=args.log_file,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # pygls logs every message at INFO: keep stderr readable
        logging.getLogger("pygls").setLevel(logging.WARNING)
    settings = load_settings(args)
    if args.command == "complete":
        return run_complete(args, settings)
    if args.command == "doctor":
        return run_doctor(settings, args.files)
    if args.command == "fix":
        from lsp_server.fix_command import run_fix

        return run_fix(
            args.file,
            write=args.write,
            language=args.language,
            use_model=not args.no_model,
            choice=backend_choice(settings),
            privacy=settings.privacy,
        )
    from lsp_server.app import create_server

    server = create_server(settings)
    # Threads parsing or scanning large files hand the GIL back sooner (Python's default is 5 ms): the
    # event loop, which answers every keystroke, waits less behind them.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    server.start_io(sys.stdin.buffer, _private_stdout())
    return 0 if server.shutdown_requested else 1  # exit (or end of input) without shutdown: 1


def _private_stdout() -> BinaryIO:
    """A stdout for LSP alone: llama.cpp prints to fd 1 and llama-cpp-python points fd 1 at /dev/null while a
    model loads, which would corrupt or swallow protocol messages. Everything else written to fd 1 goes to
    stderr from now on."""
    lsp_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return lsp_out


def read_source(path: str) -> str:
    data = Path(path).read_bytes()
    if b"\0" in data[:8192]:
        raise ValueError(f"{path} looks like a binary file")
    return data.decode("utf-8", errors="replace")


def offset_of(text: str, line: int, character: int) -> int:
    lines = text.splitlines(keepends=True)
    if not 0 <= line <= len(lines):
        raise ValueError(f"line {line} is outside the file (0..{len(lines)})")
    start = sum(len(item) for item in lines[:line])
    width = len(lines[line].rstrip("\r\n")) if line < len(lines) else 0
    return start + min(max(character, 0), width)


def run_complete(args: argparse.Namespace, settings: Settings) -> int:
    try:
        text = read_source(args.file)
        offset = offset_of(text, args.line, args.character)
    except (OSError, ValueError) as error:
        print(f"infill-ls: {error}", file=sys.stderr)
        return 2
    # one shot: no idle time to grow a cut prompt back, so the whole prompt is always evaluated
    engine = CompletionEngine(dataclasses.replace(settings.completion, cold_prompt_ms=0))
    engine.privacy = PrivacyPolicy(settings.privacy)
    try:
        opened = open_backends(backend_choice(settings))
    except (ModelLoadError, ModelUnavailable) as error:
        print(f"infill-ls: model unavailable: {error}", file=sys.stderr)
        return 1
    engine.set_model(opened.primary, fallback=opened.fallback)
    request = CompletionRequest(
        text, offset, uri=Path(args.file).resolve().as_uri(), language_id=args.language, path=args.file
    )
    if args.show_prompt:
        print(engine.build_prompt(request).text(), file=sys.stderr)
    started = time.monotonic()
    result = engine.complete(request)
    elapsed = (time.monotonic() - started) * 1000
    if args.json:
        print(
            json.dumps(
                {
                    "text": result.text if result else None,
                    "replaceEnd": result.end - offset if result else 0,
                    "elapsedMs": round(elapsed, 1),
                    "tokensPrompt": result.tokens_prompt if result else 0,
                    "tokensEvaluated": result.tokens_evaluated if result else 0,
                    "tokensGenerated": result.tokens_generated if result else 0,
                    "model": engine.model.info.name if engine.model else None,
                }
            )
        )
    elif result is not None:
        print(result.text)
    engine.set_model(None)
    return 0 if result is not None else 3


def run_doctor(settings: Settings, files: Sequence[str] = ()) -> int:
    from completion.llama_build import llama_cpp_version

    problems: list[str] = []
    print(f"infill-ls {__version__} on Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s)")
    print(f"llama-cpp-python: {llama_cpp_version() or 'not installed'}")
    if (problem := llama_cpp_problem()) is not None and settings.backend != "remote":
        problems.append(problem)
    if settings.backend != "local":
        problems += _doctor_remote(settings)
    if settings.backend != "remote":
        try:
            opened = open_backends(BackendChoice("local", settings.model))
        except (ModelLoadError, ModelUnavailable) as error:
            problems.append(f"model: {error}")
        else:
            assert opened.local is not None
            problems += _doctor_model(opened.local)
            opened.close()
    print("grammars:")
    for name, grammar_error in available_grammars().items():
        spec = spec_for(name)
        extensions = " ".join(spec.extensions) if spec else ""
        print(f"  {name:<11} {'ok' if grammar_error is None else 'MISSING'}  {extensions}")
        if grammar_error is not None:
            problems.append(f"grammar {name}: {grammar_error}")
    print(f"languages: {len(LANGUAGES)} supported; others complete without syntax checks")
    problems += _doctor_routes(settings, files)
    if problems:
        print("problems:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print("problems: none")
    return 0


def _doctor_remote(settings: Settings) -> list[str]:
    """Probe the remote server: reachable, API, model, FIM template and why, latency of a 1-token request."""
    print(f"remote server: {settings.remote.url or '(infill.remote.url not set)'}")
    try:
        opened = open_backends(BackendChoice("remote", ModelOptions(), settings.remote))
    except ModelLoadError as error:
        return [f"remote: {error}"]
    remote = opened.remote
    assert isinstance(remote, RemoteBackend)
    problems: list[str] = []
    try:
        info = remote.info
        print(f"  reachable:    yes, {info.api} API")
        for line in describe_choices(remote):
            print(f"  {line}")
        for warning in info.warnings:
            print(f"  warning:      {warning}")
            problems.append(f"remote: {warning}")
        try:
            print(f"  latency:      {remote.measure_latency() * 1000:.0f} ms for a 1-token request")
        except ModelUnavailable as error:
            problems.append(f"remote: a 1-token request failed: {error}")
    finally:
        opened.close()
    return problems


def _doctor_routes(settings: Settings, files: Sequence[str]) -> list[str]:
    """Each file's route under these settings: which model may see it, and why it stays local."""
    if not files:
        return []
    print(f"routes (infill.backend = {settings.backend}):")
    remote = settings.remote.url or "(infill.remote.url not set)" if settings.backend != "local" else None
    policy = PrivacyPolicy(settings.privacy)
    problems = []
    for name in files:
        try:
            text = read_source(name)
        except (OSError, ValueError) as error:
            problems.append(f"{name}: {error}")
            continue
        route = document_route(policy, name, text, remote, has_local=settings.backend != "remote")
        print(f"  {name}: {route.target} - {route.text}")
    return problems


def _doctor_model(supervisor: ModelSupervisor) -> list[str]:
    """Print the build the worker runs, the model, its FIM template and its measured speed; return problems."""
    from completion.llama_build import build_problems

    info = supervisor.info
    fim = info.fim
    try:
        build = supervisor.system_info()
    except ModelUnavailable as error:
        return [f"model: {error}"]
    print(f"llama.cpp build: {build.strip()}")
    problems = [f"build: {problem}" for problem in build_problems(build)]
    problems += [f"model: {warning}" for warning in info.warnings]
    print(f"model (worker process {supervisor.pid}):")
    print(f"  path:         {info.path}")
    print(f"  size:         {info.size_bytes / 1e6:.1f} MB")
    print(f"  name:         {info.name} ({info.architecture})")
    print(f"  family:       {info.family}")
    template = f"{fim.order.upper()} {fim.prefix} {fim.suffix} {fim.middle}" if fim else "none (prefix-only)"
    print(f"  FIM template: {template}")
    if fim:
        print(f"  stop tokens:  {', '.join(fim.stop) or '-'}")
    print(f"  context size: {info.context_size} tokens")
    print(f"  threads:      {info.threads}")
    print("  self-check:   first decode ok" + ("" if info.warnings else ", prefix reuse ok"))
    for warning in info.warnings:
        print(f"  warning:      {warning}")
    try:
        prompt_speed, generation_speed = supervisor.measure_speed()
    except ModelUnavailable as error:
        return [*problems, f"speed measurement failed: {error}"]
    print(f"  speed:        prompt {prompt_speed:.0f} tokens/s, generation {generation_speed:.1f} tokens/s")
    return problems


if __name__ == "__main__":
    sys.exit(main())
