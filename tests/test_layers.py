"""The package's shape: no import cycle between its modules, and no module too long to read at one sitting."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "jaxmlp"


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: pathlib.Path) -> set[str]:
    """Every ``jaxmlp`` module that ``path`` imports, at any depth in the file (function-level imports count too),
    except under ``if TYPE_CHECKING:`` (never executed)."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("jaxmlp"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jaxmlp"):
            # `from jaxmlp.data import cache` imports the submodule jaxmlp.data.cache; `from jaxmlp.model import
            # forward` imports jaxmlp.model. Both kinds are recorded; graph() keeps the ones that are modules.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
            found.add(node.module + "#")  # the module itself, if no name imported from it is a submodule
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        found = imports_of(path)
        targets = {m for m in found if m in modules}
        for marker in (m for m in found if m.endswith("#")):
            parent = marker[:-1]
            if parent in modules and not any(t.startswith(parent + ".") for t in targets):
                targets.add(parent)
        edges[name] = targets - {name}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle():
    edges = graph()
    # The package's __init__ only re-exports (lazily): modules importing `jaxmlp` for __version__ are not layers.
    edges = {name: {m for m in deps if m != "jaxmlp"} for name, deps in edges.items()}
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges) or [])}"


def test_low_layers_import_nothing_above_them():
    edges = {name: deps - {"jaxmlp"} for name, deps in graph().items()}  # __version__ only
    for leaf in ("jaxmlp.errors", "jaxmlp.files"):
        assert edges[leaf] == set(), f"{leaf} must not import other jaxmlp modules; it imports {edges[leaf]}"
    for module in ("jaxmlp.checkpoint", "jaxmlp.data.cache"):
        assert not {"jaxmlp.train", "jaxmlp.epoch", "jaxmlp.resume"} & edges[module], module


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: module_name(p))
def test_no_module_is_longer_than_one_sitting(path):
    assert len(path.read_text().splitlines()) <= 320, f"{path.name} has grown past ~300 lines: split it by concern"
