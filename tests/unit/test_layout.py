"""The library's shape, held by a test so it stays: layers point one way, stages only forward
and only at each other's face, and no file or function grows past what a reader takes in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[2] / "include" / "rentan"
# what every stage stands on; never imports a stage
CORE = ("rentan.core",)
SHARED = ("rentan.config", "rentan.reference", "rentan.lists", "rentan.quality")
STAGES = ("ingest", "standardise", "identity", "marts", "exports")
# development tools: the runtime never imports them
DEVELOPMENT = ("rentan_dev.sample", "rentan_dev.bench", "rentan_dev.bench_cli", "rentan_dev.bench_identity", "rentan_dev.bench_splink",
               "rentan_dev.bench_storage", "rentan_dev.train")
# the command line offers the development tools' commands (``rentan sample``), imported when asked for
OFFERS_DEVELOPMENT = ("rentan.cli",)
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    found = {}
    for path in LIBRARY.rglob("*.py"):
        parts = list(path.relative_to(LIBRARY.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The rentan modules ``name`` imports, wherever in the file (lazy imports count)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES] or [base]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        out |= {t for t in targets if t.startswith("rentan") and t != name}
    return out


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _stage(name: str) -> int | None:
    parts = name.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else None


def test_the_modules_are_found():
    assert {"rentan.core.ledger", "rentan.identity.resolve", "rentan.quality.validation"} <= set(MODULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_one_way(name):
    wrong = []
    for target in sorted(_imports(name, MODULES[name])):
        if target == "rentan":
            continue
        if _within(name, CORE) and not _within(target, CORE):
            wrong.append(f"{target}: the core imports nothing above it")
        elif _within(name, SHARED) and not _within(target, CORE + SHARED):
            wrong.append(f"{target}: the shared layer imports only the core and itself")
        elif not _within(name, DEVELOPMENT + OFFERS_DEVELOPMENT) and _within(target, DEVELOPMENT):
            wrong.append(f"{target}: a development tool, not shipped to run the night")
        here, there = _stage(name), _stage(target)
        if here is not None and there is not None and here != there:
            if there > here:
                wrong.append(f"{target}: a later stage")
            elif target != f"rentan.{STAGES[there]}":
                wrong.append(f"{target}: another stage's internals (import its face, rentan.{STAGES[there]})")
    assert not wrong, f"{name} imports " + "; ".join(wrong)


def test_no_import_cycle_between_packages():
    def package(m: str) -> str:
        return ".".join(m.split(".")[:2])

    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        graph.setdefault(package(name), set()).update(
            package(t) for t in _imports(name, path) if package(t) not in (package(name), "rentan"))
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join([*trail, node, nxt])
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_files_and_functions_stay_readable(name):
    text = MODULES[name].read_text(encoding="utf-8")
    lines = len(text.splitlines())
    assert lines <= MAX_FILE_LINES, f"{name}: {lines} lines"
    long = [f"{f.name} ({f.end_lineno - f.lineno + 1} lines)" for f in ast.walk(ast.parse(text))
            if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            and f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{name}: " + ", ".join(long)

