"""The benchmark suite: run every case, each beside its baseline, and write bench/RESULTS.md.

    make bench                                   # everything (about 20 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick        # N = 1,000 only, one repeat (a smoke check)
    .venv/bin/python bench/run.py --only feeds,digest --repeat 5

Cases (each a script that also runs alone): pickup.py (pick-up and archive at each N),
feeds_bench.py, email_bench.py (digest), delivery.py (SMTP into Postfix's smtp-sink, beside
smtplib and smtp-source; installs postfix), peers.py (Pelican's full site in its own venv and
Hugo, installed from Debian when missing, at 1,000 and 10,000 articles; rss2email is measured
in delivery.py), web_bench.py (one-click unsubscribes against `syndicate serve` on SQLite and
PostgreSQL), million.py (import, freeze and send for 1,000,000 subscribers
on SQLite and PostgreSQL, once). Corpora, venvs and JSON go to --work and are reused.
Timings are printed and written, never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, WORK, machine

HERE = Path(__file__).resolve().parent
CASES = {  # name: (script, extra arguments)
    "pickup": ("pickup.py", []),
    "feeds": ("feeds_bench.py", []),
    "digest": ("email_bench.py", ["--dkim", "1"]),
    "delivery": ("delivery.py", []),
    "peers": ("peers.py", []),
    "web": ("web_bench.py", []),
    # A million subscribers on SQLite and PostgreSQL: the whole import and freeze, and the last
    # 100,000 messages of the million-recipient digest sent (the whole send would take about 20
    # minutes per database here); `bench/million.py --tail 0` sends all of it.
    "million": ("million.py", ["--tail", "100000"]),
}


def run_case(name: str, args: argparse.Namespace) -> dict[str, object] | None:
    script, extra = CASES[name]
    if not (HERE / script).exists():
        print(f"== {name}: {script} is missing, skipped", flush=True)
        return None
    out = args.work / f"{name}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, str(HERE / script), "--repeat", str(args.repeat),
               "--work", str(args.work), "--json", str(out), *extra]  # fmt: skip
    if name == "pickup":
        command += ["--sizes", args.sizes]
    if name == "peers" and "10000" not in args.sizes.split(","):
        command += ["--large", "0"]  # --quick: 1,000 articles only
    print(f"== {name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=HERE, check=False)
    print(f"== {name}: exit {done.returncode} after {time.perf_counter() - started:.0f} s")
    if not out.exists():
        return {"section": name, "notes": [f"failed (exit {done.returncode})"], "rows": []}
    result: dict[str, object] = json.loads(out.read_text())
    if done.returncode:
        result.setdefault("notes", []).append(f"the script exited {done.returncode}")  # type: ignore[attr-defined]
    return result


def table(section: dict) -> list[str]:  # type: ignore[type-arg]
    lines = [f"## {section['section']}", "", "| case | median | min | max | unit | note |",
             "|---|---:|---:|---:|---|---|"]  # fmt: skip
    for row in section.get("rows", []):
        lines.append(f"| {row['case']} | {row['median']:.4g} | {row['min']:.4g} | "
                     f"{row['max']:.4g} | {row['unit']} | {row.get('note', '')} |")  # fmt: skip
    lines += ["", *(f"- {note}" for note in section.get("notes", [])), ""]
    return lines


def results(sections: list[dict], args: argparse.Namespace, took: float) -> str:  # type: ignore[type-arg]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    lines = [
        "# Benchmark results", "",
        f"Written by `bench/run.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit "
        f"`{commit}`, {args.repeat} repeats per case (median, min, max); the whole run took "
        f"{took / 60:.0f} minutes. Regenerate with `make bench`; never edit by hand.", "",
        *(f"- {fact}" for fact in machine(args.work)), "",
        "## Targets", "", "| target | figure | met | what limits it (measured) |",
        "|---|---|---|---|",
    ]  # fmt: skip
    for section in sections:
        for t in section.get("targets", []):
            met = "yes" if t["met"] else "**no**"
            lines.append(f"| {t['target']} | {t['figure']} | {met} | {t.get('limit', '')} |")
    lines.append("")
    for section in sections:
        lines += table(section)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=",".join(CASES))
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--quick", action="store_true", help="N = 1,000 and one repeat")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeat = "1000", 1
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sections = [s for name in args.only.split(",") if (s := run_case(name, args))]
    args.out.write_text(results(sections, args, time.perf_counter() - started) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
