"""The import rules of docs/architecture.md, read from the code: no cycle in rockbuild/ or the
charm, no import of the project's own modules inside a function, each job of rockbuild/ importing
only what sits below it, and no module over 300 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHARM_SRC = REPO / "charm" / "src"
MAX_LINES = 300

# rockbuild's jobs, and what each may import besides itself (docs/architecture.md).
KERNEL = {"errors", "progress", "cache", "docker_engine", "host_tools", "atomic"}
MAY_IMPORT = {
    "kernel": set(),
    "build": {"kernel"},
    "real_rockcraft": {"kernel", "build"},
    "build_rock": {"kernel", "build", "real_rockcraft"},
    "parity": {"kernel", "build", "real_rockcraft", "build_rock"},
    "upkeep": {"kernel", "build"},
    "publish": {"kernel", "build", "build_rock"},
    "cli": {"kernel", "build", "real_rockcraft", "build_rock", "parity", "upkeep", "publish"},
}


def rockbuild_modules() -> dict[str, Path]:
    found = {}
    for path in sorted((REPO / "rockbuild").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def charm_modules() -> dict[str, Path]:
    found = {}
    for path in sorted(CHARM_SRC.rglob("*.py")):
        parts = path.relative_to(CHARM_SRC).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(path: Path, known: set[str]) -> tuple[set[str], list[str]]:
    """(the known modules `path` imports, those it imports inside a function or method)."""
    tree = ast.parse(path.read_text())
    everywhere: set[str] = set()
    in_functions: list[str] = []

    def resolve(node: ast.Import | ast.ImportFrom) -> set[str]:
        names = set()
        if isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        elif node.module:
            # `from package import module` depends on the module; `from module import name`, on the module.
            names = {
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                for alias in node.names
            }
        return {name for name in names if name in known}

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    in_functions += sorted(resolve(inner))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            everywhere |= resolve(node)
    return everywhere, in_functions


def graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    known = set(modules)
    edges = {}
    for name, path in modules.items():
        imported, _ = imports_of(path, known)
        # A package's __init__ importing its own submodules is how a package offers them, not a cycle.
        edges[name] = {target for target in imported if target != name and not target.startswith(name + ".")}
    return edges


def cycle_in(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of modules, or []."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def job_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] in KERNEL:
        return "kernel"
    return parts[1]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("modules", [rockbuild_modules, charm_modules], ids=["rockbuild", "charm"])
def test_no_import_cycle(modules: object) -> None:
    assert cycle_in(graph(modules())) == []  # type: ignore[operator]


@pytest.mark.parametrize("modules", [rockbuild_modules, charm_modules], ids=["rockbuild", "charm"])
def test_no_import_of_our_own_modules_inside_a_function(modules: object) -> None:
    found = modules()  # type: ignore[operator]
    hidden = {name: inner for name, path in found.items() if (inner := imports_of(path, set(found))[1])}
    assert hidden == {}, "an import inside a function hides a dependency (or a cycle): import at the top"


def test_each_job_of_rockbuild_imports_only_what_is_below_it() -> None:
    edges = graph(rockbuild_modules())
    assert set(MAY_IMPORT) >= {job_of(name) for name in edges} - {"package"}, "a new job: give it a rule"
    broken = sorted(
        f"{module} -> {target}"
        for module, targets in edges.items()
        for target in targets
        if job_of(module) != "package"
        and job_of(target) != job_of(module)
        and job_of(target) not in MAY_IMPORT[job_of(module)]
    )
    assert broken == []


def test_relation_modules_return_typed_data_and_never_touch_pebble() -> None:
    """relations/: relation data in, typed data out; the rocks' environment is rock_environment's."""
    for path in sorted((CHARM_SRC / "relations").glob("*.py")):
        text = path.read_text()
        assert "INDICO_" not in text, f"{path.name} writes the rocks' environment"
        assert "ops.pebble" not in text and "Container" not in text, f"{path.name} touches Pebble"


def test_only_pebble_ops_calls_pebble() -> None:
    calls = (".add_layer(", ".replan(", ".exec(", ".push(", ".pull(", ".restart(", ".stop_checks(")
    for name, path in charm_modules().items():
        if name != "pebble_ops":
            text = path.read_text()
            assert not [call for call in calls if call in text], f"{name} calls Pebble: that is pebble_ops' job"


@pytest.mark.parametrize("root", ["rockbuild", "charm/src"])
def test_no_module_is_over_300_lines(root: str) -> None:
    long = {
        str(path.relative_to(REPO)): lines
        for path in sorted((REPO / root).rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_charm_py_is_observers_and_one_reconcile() -> None:
    assert len((CHARM_SRC / "charm.py").read_text().splitlines()) <= 250
