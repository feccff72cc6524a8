"""A rerun planned from its change set writes exactly what a full build writes.

Random sequences of article operations (adds, edits, renames, deletes, drafts, tag, slug and
date changes, calls-to-action, linked files) and crashes (a pick-up whose run never built; a
publish killed before or after its renames) are applied to a real site (files on disk, a real
SQLite state), each followed by a normal `run_once`. After every step the output folder,
written run after run from change sets, must equal, file for file and byte for byte, a full
build from scratch of the same state: the state database and articles copied beside it, built
with `full=True` into an empty folder.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicate.config import Config, load_config
from syndicate.deliver import manifest as records
from syndicate.deliver import publishing
from syndicate.pipeline import run_once
from syndicate.pipeline.context import Pass
from syndicate.pipeline.pickup import pick_up
from syndicate.store import Store

from .conftest import NOW, SECRET

CONFIG = """\
[site]
title = "The Gazette"
url = "https://example.org/"

[feeds]
page_size = 2
max_items = 3

[paths]
output = "output"
"""
TAGS = ("news", "sport", "Sport", "arts")
DATES = (None, "2026-01-01T10:00:00Z", "2026-02-01T10:00:00Z", "2026-03-01T10:00:00Z")
NAMES = tuple(f"a{n}" for n in range(8))

article = st.fixed_dictionaries(
    {
        "title": st.sampled_from(("Alpha", "Beta", "Gamma news", "Delta")),
        "body": st.integers(0, 3),
        "date": st.sampled_from(DATES),
        "tags": st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
        "slug": st.sampled_from((None, "fixed", "other")),
        "draft": st.booleans(),
        "cta": st.booleans(),
        "image": st.booleans(),
    }
)
step = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), article),  # add or edit
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("image"), st.integers(0, 2)),  # the linked file itself changes
    st.tuples(st.just("crash"), st.sampled_from(("pickup", "render", "renamed"))),
)


def text(spec: dict[str, Any]) -> str:
    front = [f"tags = {list(spec['tags'])!r}".replace("'", '"')]
    front += [f"date = {spec['date']}"] if spec["date"] else []
    front += [f'slug = "{spec["slug"]}"'] if spec["slug"] else []
    front += ["draft = true"] if spec["draft"] else []
    body = f"Body {spec['body']} of the story." + (
        "\n\n![a chart](chart.png)" if spec["image"] else ""
    )
    cta = "\n\nGet The Gazette stories sent directly to you!" if spec["cta"] else ""
    return "+++\n" + "\n".join(front) + f"\n+++\n# {spec['title']}\n\n{body}{cta}\n"


def files(root: Path) -> dict[str, bytes]:
    """Every published file (syndicate's own records aside: they hold times)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".syndicate-")
    }


class Site:
    def __init__(self, root: Path) -> None:
        self.root, self.now = root, NOW
        (root / "articles").mkdir(parents=True)
        (root / "config.toml").write_text(CONFIG)
        (root / "articles" / "chart.png").write_bytes(b"\x89PNG chart 0")

    def config(self, root: Path | None = None) -> Config:
        path = (root or self.root) / "config.toml"
        return load_config(path, env={"SYNDICATE_SECRET": SECRET})

    def run(self, **options: Any) -> None:
        self.now += timedelta(hours=1)
        run_once(self.config(), self.now, **options)

    def apply(self, op: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch) -> None:
        folder = self.root / "articles"
        kind = op[0]
        if kind == "write":
            (folder / f"{op[1]}.md").write_text(text(op[2]))
        elif kind == "delete":
            (folder / f"{op[1]}.md").unlink(missing_ok=True)
        elif kind == "rename" and (folder / f"{op[1]}.md").exists():
            (folder / f"{op[1]}.md").replace(folder / f"{op[2]}.md")
        elif kind == "image":
            (folder / "chart.png").write_bytes(b"\x89PNG chart " + str(op[1]).encode() * 3)
        elif kind == "crash":
            self.crash(op[1], monkeypatch)

    def crash(self, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """A run killed after its pick-up, or in its publish (before or after the renames)."""
        self.now += timedelta(hours=1)
        (self.root / "articles" / "crash.md").write_text(f"# Crash {self.now}\n\nNew.\n")
        if where == "pickup":
            config = self.config()
            store = Store.open(config.paths.database)
            try:
                pick_up(Pass.start(config, store, self.now))
            finally:
                store.close()
            return
        target = (
            (publishing, "_sync_filesystem") if where == "render" else (records, "dump_journal")
        )
        with monkeypatch.context() as patched:
            patched.setattr(*target, _killed)
            patched.setattr(records, "dump", _killed) if where == "renamed" else None
            with pytest.raises(Exception, match="killed"):
                run_once(self.config(), self.now, full=False)

    def from_scratch(self, scratch: Path) -> dict[str, bytes]:
        """A full build of the same state into an empty folder."""
        copy = scratch / "site"
        shutil.copytree(self.root, copy, ignore=shutil.ignore_patterns("output", "*.lock"))
        run_once(self.config(copy), self.now, full=True)
        return files(copy / "output")


def _killed(*_: object, **__: object) -> Any:
    raise OSError("killed")


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=5))
def test_a_rerun_from_its_change_set_writes_what_a_full_build_writes(
    steps: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryDirectory() as temp:
        site = Site(Path(temp) / "site")
        for name in NAMES[:4]:  # a few articles to start from
            spec = {"title": name, "body": 0, "date": DATES[NAMES.index(name) % 4],
                    "tags": [TAGS[NAMES.index(name) % 2]], "slug": None, "draft": False,
                    "cta": False, "image": False}  # fmt: skip
            (site.root / "articles" / f"{name}.md").write_text(text(spec))
        site.run()
        for number, op in enumerate(steps):
            site.apply(op, monkeypatch)
            site.run()  # what a crash left is this run's to finish
            expected = site.from_scratch(Path(temp) / f"scratch-{number}")
            assert expected, "a full build writes the index and the feeds at least"
            assert files(site.root / "output") == expected, (number, op)
