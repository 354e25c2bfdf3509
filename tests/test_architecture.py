"""The architecture holds: the import-linter contracts in pyproject.toml pass (layers, a shared
trainer that knows no method, independent methods and backends), no module imports itself through
others, and a new method is one folder: a method defined in tests/ registers a trainer and a job
and runs a training step with no edit to the package."""

import subprocess
import sys
from pathlib import Path

import grimp

from arctic_ray.jobs import job_names, run_recipe, validate_recipe
from tests.conftest import ROOT


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(m):
        index[m] = low[m] = counter[0]
        counter[0] += 1
        stack.append(m)
        on.add(m)
        for n in graph.find_modules_directly_imported_by(m):
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            group = []
            while True:
                n = stack.pop()
                on.discard(n)
                group.append(n)
                if n == m:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for m in sorted(graph.modules):
        if m not in index:
            visit(m)
    return out


def test_no_import_circles():
    graph = grimp.build_graph("arctic_ray", include_external_packages=False)
    assert _cycles(graph) == []


def test_a_method_outside_the_package_is_one_folder(ray_local, tmp_path):
    import tests.example_method  # noqa: F401  (registers its trainer and its job)

    assert "line_fit" in job_names()
    recipe = validate_recipe(
        {
            "type": "line_fit",
            "output_dir": str(tmp_path),
            "epochs": 20,
            "micro_batch_size": 8,
            "optimizer": {"lr": 0.1},
            "scheduler": {"name": "constant", "warmup_ratio": None},
            "log_every": 10,
        }
    )
    metrics = run_recipe(recipe)
    train = metrics["train"]
    assert train["steps"] == 20 * 64 // (8 * 2)
    assert abs(train["slope"] - 3.0) < abs(0.0 - 3.0) / 2  # it learned: halfway there at least
    assert train["history"][-1]["loss"] < train["history"][0]["loss"]
