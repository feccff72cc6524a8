"""The import direction of ARCHITECTURE.md holds: models/errors <- config <- stages <- pipeline
<- schedule <- cli, stages never import each other, and rendering never touches I/O modules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "syndicate"

# Each module's layer; a module may import only from layers below its own (and its own package).
LAYERS = {
    "errors": 0, "models": 0, "text": 0, "tokens": 0, "gcpause": 0,
    "cron": 1, "secretfile": 1, "config": 2,
    "ingest": 3, "store": 4, "render": 3, "deliver": 3, "scaffold": 3, "subscribers": 3,
    "websub": 3, "verp": 0, "bounces": 3,
    "pipeline": 5, "schedule": 6, "web": 6, "cli": 7, "__main__": 8, "__init__": 0,
}  # fmt: skip
# store may read ingest's plain value types (Known, Changes): data flowing one way.
ALLOWED_SIDEWAYS = {("store", "ingest")}
FORBIDDEN_IN_RENDER = {"os", "subprocess", "socket", "smtplib", "shutil", "time", "requests"}


def _module_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    assert {_module_of(p) for p in _sources()} <= set(LAYERS)


def test_imports_point_one_way() -> None:
    wrong = []
    for path in _sources():
        here = _module_of(path)
        for name in _imports(path):
            if not name.startswith("syndicate."):
                continue
            there = name.split(".")[1]
            if there == here or (here, there) in ALLOWED_SIDEWAYS or there == "__init__":
                continue
            if LAYERS[there] >= LAYERS[here]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert wrong == []


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
