"""The architecture holds: the import-linter contracts in pyproject.toml pass (layers, a shared
trainer that knows no method, independent methods and backends), no module imports itself through
others, and a new method is one folder: a method defined in tests/ registers a trainer and a job
and runs a training step with no edit to the package (tests/integration/test_example_method.py)."""

import sys

import grimp

from tests.support.files import ROOT


def test_import_contracts_hold(capsys):
    from importlinter.cli import lint_imports

    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    assert code == 0, out[-4000:]
    assert "0 broken" in out


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
    # a type-only import (under TYPE_CHECKING) names a class for the checker; it is no runtime circle
    graph = grimp.build_graph("arctic_ray", include_external_packages=False, exclude_type_checking_imports=True)
    assert _cycles(graph) == []
