"""Rules about the code itself: every error code is in the catalogue, and no module imports in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from migrator.errors import CATALOGUE, Code

PACKAGE = Path(__file__).resolve().parents[2] / "migrator"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _error_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "MigratorError":
                calls.append((f"{name}:{node.lineno}", node))
    return calls


def test_every_error_names_a_catalogued_code() -> None:
    bad = []
    for where, call in _error_calls():
        code = (
            call.args[2]
            if len(call.args) >= 3
            else next((k.value for k in call.keywords if k.arg == "code"), None)
        )
        if code is None:
            bad.append(f"{where}: no code")
        elif isinstance(code, ast.Constant) and code.value not in CATALOGUE:
            bad.append(f"{where}: {code.value!r} is not in the catalogue")
        elif (
            isinstance(code, ast.Attribute)
            and isinstance(code.value, ast.Name)
            and code.value.id == "Code"
            and code.attr not in Code.__members__
        ):
            bad.append(f"{where}: Code.{code.attr} does not exist")
    assert _error_calls(), "found no MigratorError at all: the scan is broken"
    assert bad == []


def test_codes_are_unique() -> None:
    assert len(CATALOGUE) == len(Code.__members__)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that `name` imports when it runs (function-level imports included)."""
    tree = ast.parse(path.read_text())
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(child) for child in ast.walk(node))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert graph["migrator.lifecycle.registry"], "the scan found no imports: it is broken"
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


# ---- rules about the tests ------------------------------------------------------------------------------
TESTS = PACKAGE.parent / "tests"


def _raises_migrator_error(item: ast.withitem) -> bool:
    call = item.context_expr
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "raises"
        and bool(call.args)
        and getattr(call.args[0], "id", None) == "MigratorError"
    )


def _code_read_after(function: ast.AST, name: str, line: int) -> bool:
    """The function reads `<name>.value.code` somewhere after `line`."""
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "code"
        and isinstance(node.value, ast.Attribute)
        and getattr(node.value.value, "id", None) == name
        and node.lineno > line
        for node in ast.walk(function)
    )


def test_every_expected_error_is_checked_for_its_code() -> None:
    """`pytest.raises(MigratorError)` alone passes for any failure at all: the test must name the code."""
    weak = []
    for path in TESTS.rglob("test_*.py"):
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef):
                continue
            for statement in ast.walk(function):
                if not isinstance(statement, ast.With):
                    continue
                for item in statement.items:
                    if not _raises_migrator_error(item):
                        continue
                    name = getattr(item.optional_vars, "id", None)
                    if name is None or not _code_read_after(function, name, statement.lineno):
                        weak.append(f"{path.relative_to(TESTS)}:{statement.lineno}")
    assert weak == [], "pytest.raises(MigratorError) without checking .value.code:\n  " + "\n  ".join(weak)


def test_tests_share_fixtures_through_plugins_only() -> None:
    """No test module imports another, and none re-exports fixtures through `__all__` (tests/README.md)."""
    found = []
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and module.split(".")[-1].startswith("test_"):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno} imports {module}")
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(getattr(target, "id", None) == "__all__" for target in targets):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno} defines __all__")
    assert found == []
