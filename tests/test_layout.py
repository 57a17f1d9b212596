"""The import rules of the README's "How the code is laid out", checked on every module.

Every ``import`` and ``from ... import`` of the packages is read with :mod:`ast` (those
inside functions and ``if TYPE_CHECKING:`` blocks too) and held against the rules:

1. Layers import downwards only: sim.inputs <- sim.formulas <- sim.engine <- sim.agents <-
   scenarios, models <- scenarios <- notebooks <- cli; models read world inputs and formulas
   but never run an engine; the compiled engine (sim.engine) knows nothing of the agents.
2. No import cycle between modules, late imports included.
3. Only the command line imports project modules inside functions (so that ``ctm validate``
   loads no more than it needs); elsewhere a late import is of a heavy third-party library
   that only some calls need.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "models", "scenarios", "notebooks", "cli")
LAYERS = {  # layer: the layers it may import (itself included)
    "sim.inputs": {"sim.inputs"},
    "sim.formulas": {"sim.inputs", "sim.formulas"},
    "sim.engine": {"sim.inputs", "sim.formulas", "sim.engine"},
    "sim.agents": {"sim.inputs", "sim.formulas", "sim.engine", "sim.agents"},
    "models": {"sim.inputs", "sim.formulas", "models"},
}
LAYERS["scenarios"] = LAYERS["sim.agents"] | {"models", "scenarios"}
LAYERS["notebooks"] = LAYERS["scenarios"] | {"notebooks"}
LAYERS["cli"] = LAYERS["notebooks"] | {"cli"}
LATE_ALLOWED = {
    "dask", "papermill", "nbformat", "nbconvert", "jinja2", "jupyter_client", "pandas",
    "matplotlib",
}  # fmt: skip
"""Third-party libraries a module outside the command line may import inside a function: heavy
ones that only some of its calls need."""


def layer(module: str) -> str | None:
    """The layer of a project module (``sim.engine.desk`` -> ``sim.engine``), else None."""
    parts = module.split(".")
    if parts[0] == "sim":
        return ".".join(parts[:2]) if len(parts) > 1 else "sim"
    return parts[0] if parts[0] in PACKAGES else None


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the packages by its dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported module, line, late) for each import of a file; ``from a import b`` counts as
    ``a.b`` when ``a.b`` is one of the ``known`` modules, else as ``a``; late: inside a
    function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    late_nodes = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
    }
    found = []
    for node in ast.walk(tree):
        late = id(node) in late_nodes
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, late) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.append((full if full in known else node.module, node.lineno, late))
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a package's ``__init__`` as the package)."""
    known = modules(root)
    return {
        name: {m for m, _, _ in imports(path, known) if m in known and m != name}
        for name, path in known.items()
    }


def broken_layers(root: Path = ROOT) -> list[str]:
    problems, known = [], modules(root)
    for name, path in known.items():
        own = layer(name)
        for module, line, _ in imports(path, known):
            other = layer(module)
            if own in LAYERS and other is not None and other not in LAYERS[own]:
                problems.append(f"{path.relative_to(root)}:{line}: {own} imports {module}")
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def late_project_imports(root: Path = ROOT) -> list[str]:
    problems, known = [], modules(root)
    for name, path in known.items():
        if layer(name) == "cli":
            continue
        for module, line, late in imports(path, known):
            top = module.split(".")[0]
            if late and top not in LATE_ALLOWED:
                problems.append(f"{path.relative_to(root)}:{line}: late import of {module}")
    return problems


def test_layers_import_downwards_only():
    assert broken_layers() == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_late_imports_only_in_the_command_line_or_of_heavy_libraries():
    assert late_project_imports() == []


def test_the_rules_catch_a_violation(tmp_path):
    """The checks fail on a tree that breaks each rule: models importing the engine, a cycle
    between two world-input modules, and a late import of a project module in scenarios."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for sub in ("inputs", "engine"):
        (tmp_path / "sim" / sub).mkdir()
        (tmp_path / "sim" / sub / "__init__.py").write_text("")
    (tmp_path / "sim" / "engine" / "loop.py").write_text("X = 1\n")
    (tmp_path / "models" / "fit.py").write_text("from sim.engine.loop import X\n")
    (tmp_path / "sim" / "inputs" / "a.py").write_text("from sim.inputs.b import B\nA = 1\n")
    (tmp_path / "sim" / "inputs" / "b.py").write_text("from sim.inputs.a import A\nB = 1\n")
    (tmp_path / "scenarios" / "run.py").write_text("def f():\n    import models.fit\n")
    assert broken_layers(tmp_path) == ["models/fit.py:1: models imports sim.engine.loop"]
    assert cycles(graph(tmp_path)) == [["sim.inputs.a", "sim.inputs.b"]]
    assert late_project_imports(tmp_path) == ["scenarios/run.py:2: late import of models.fit"]


def test_the_compiled_engine_may_not_import_the_agents(tmp_path):
    """The agents read the compiled engine's streams and recorder; never the other way."""
    for package in ("sim", "sim/engine", "sim/agents"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "sim" / "agents" / "customer.py").write_text("from sim.engine.loop import X\n")
    (tmp_path / "sim" / "engine" / "loop.py").write_text(
        "from sim.agents.customer import Y\nX = 1\n"
    )
    assert broken_layers(tmp_path) == [
        "sim/engine/loop.py:1: sim.engine imports sim.agents.customer"
    ]


@pytest.mark.parametrize("command", [["validate", "demo"]])
def test_ctm_validate_loads_no_numba_pymc_or_xarray(command):
    """In a fresh interpreter (this one has loaded everything): the command's modules."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from cli.app import app\n"
        f"result = CliRunner().invoke(app, {command!r})\n"
        "assert result.exit_code == 0, result.output\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numba', 'pymc', 'xarray', 'scipy', 'arviz'})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
