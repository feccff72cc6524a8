"""The import direction of ARCHITECTURE.md holds: models/errors <- config <- stages <- pipeline
<- schedule <- cli; the stages (ingest, store, render, deliver, ...) never import each other;
rendering never touches I/O modules."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from syndicate.deliver.ledger import Ledger
from syndicate.store import Store

PACKAGE = Path(__file__).resolve().parent.parent / "syndicate"

# Each module's layer; a module may import only from layers below its own (and its own package).
# Layer 3 holds the stages: they never import each other, only what lies below them.
LAYERS = {
    "errors": 0, "models": 0, "text": 0, "tokens": 0, "gcpolicy": 0,
    "cron": 1, "secretfile": 1, "dburl": 1, "config": 2,
    "ingest": 3, "store": 3, "render": 3, "deliver": 3, "scaffold": 3, "subscribers": 3,
    "websub": 3, "verp": 0, "bounces": 3,
    "pipeline": 5, "schedule": 6, "web": 6, "cli": 7, "__main__": 8, "__init__": 0,
}  # fmt: skip
FORBIDDEN_IN_RENDER = {"os", "subprocess", "socket", "smtplib", "shutil", "time", "requests"}


def _module_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """Every module `path` imports; `from syndicate import x` counts as `syndicate.x`."""
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "syndicate":
            names.update(f"syndicate.{_top(alias.name)}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _top(name: str) -> str:
    """A name imported from the package itself: a module, or something its __init__ holds."""
    is_module = (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()
    return name if is_module else "__init__"


def wrong_imports(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    """The edges of an import graph (top-level module -> top-level modules it imports) that
    break the rule: an import must point to a strictly lower layer, or stay in its package."""
    return sorted(
        f"{here} imports {there}"
        for here, imported in graph.items()
        for there in imported
        if there not in (here, "__init__") and layers[there] >= layers[here]
    )


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _sources():
        imported = {n.split(".")[1] for n in _imports(path) if n.startswith("syndicate.")}
        graph.setdefault(_module_of(path), set()).update(imported)
    return graph


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    assert {_module_of(p) for p in _sources()} <= set(LAYERS)


def test_imports_point_one_way() -> None:
    assert wrong_imports(_graph(), LAYERS) == []


def test_the_rule_catches_a_sideways_or_upward_import() -> None:
    graph = {"store": {"models", "store"}, "ingest": {"config"}, "pipeline": {"store", "ingest"}}
    assert wrong_imports(graph, LAYERS) == []
    graph["store"].add("ingest")  # one stage reading another's types: what the rule forbids
    graph["config"] = {"pipeline"}
    assert wrong_imports(graph, LAYERS) == ["config imports pipeline", "store imports ingest"]


def test_pipeline_orchestrates_only() -> None:
    """Threads, leases and pacing live in the sending engine (deliver/), not in pipeline/."""
    for path in (PACKAGE / "pipeline").glob("*.py"):
        assert not _imports(path) & {"threading", "socket", "smtplib"}, path.name


def test_the_store_is_the_ledger_the_engine_needs() -> None:
    """deliver/ reaches the state only through its `Ledger` protocol, which `Store` satisfies
    method by method (mypy checks the call; this names a drifted signature plainly)."""
    for name, method in inspect.getmembers(Ledger, inspect.isfunction):
        if name.startswith("_"):
            continue
        assert inspect.signature(getattr(Store, name)) == inspect.signature(method), name


def test_render_touches_no_disk_network_or_clock() -> None:
    for path in (PACKAGE / "render").glob("*.py"):
        imports = _imports(path)
        assert not imports & FORBIDDEN_IN_RENDER, path.name
        source = path.read_text("utf-8")
        assert ".now(" not in source and "open(" not in source, path.name


def test_only_schedule_and_cron_import_apscheduler() -> None:
    users = {
        _module_of(p) for p in _sources() if any(n.startswith("apscheduler") for n in _imports(p))
    }
    assert users <= {"cron", "schedule"}


def test_only_cli_prints() -> None:
    for path in _sources():
        if _module_of(path) == "cli":
            continue
        calls = [
            node
            for node in ast.walk(ast.parse(path.read_text("utf-8")))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
        ]
        assert calls == [], path.name
