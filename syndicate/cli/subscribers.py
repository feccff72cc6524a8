"""`syndicate subscribers ...` and `syndicate unsubscribe`: the list, from the operator's side.

Each command calls one function of `syndicate.pipeline.people` and prints its outcome; `list`
prints `email<TAB>name<TAB>status<TAB>last bounce<TAB>its date` lines even under -q (they are
the command's data).
"""

from __future__ import annotations

import sys
from pathlib import Path

from syndicate.cli.report import progress_bar
from syndicate.cli.table import EXIT_OK, EXIT_PARTIAL, Call, arg, command, text
from syndicate.pipeline import people

FILE = arg("file", type=Path)


@command(
    "add",
    arg("email", type=text),
    arg("--name", type=text, default="", help="the reader's name"),
    arg("--resubscribe", action="store_true",
        help="reactivate an unsubscribed, bounced or complained address"),
    group="subscribers",
)  # fmt: skip
def add(call: Call) -> int:
    """add an address (or update its name)"""
    args = call.args
    done = people.add(call.config, args.email, args.name, call.now, resubscribe=args.resubscribe)
    call.say(f"{done}: {args.email}")
    return EXIT_OK


@command("remove", arg("email", type=text), group="subscribers")
def remove(call: Call) -> int:
    """unsubscribe an address"""
    call.say(f"unsubscribed: {people.remove(call.config, call.args.email, call.now)}")
    return EXIT_OK


@command("list", group="subscribers")
def listing(call: Call) -> int:
    """every address: name, status, and the reason and date of its last bounce"""
    everyone, bounced = people.listing(call.config), people.last_bounces(call.config)
    for person in everyone:
        last = bounced.get(person.email.lower())
        why = f"{last.kind}: {last.reason}\t{last.received.date()}" if last else "\t"
        print(f"{person.email}\t{person.name}\t{person.status}\t{why}")
    active = sum(p.status == "active" for p in everyone)
    call.say(f"{len(everyone)} subscribers, {active} active")
    return EXIT_OK


@command("import", FILE, group="subscribers")
def import_csv(call: Call) -> int:
    """add the rows of a CSV file (email,name)

    Exits 1 if some rows were bad; each is listed on stderr, and the good ones are added.
    """
    file = call.args.file
    with progress_bar(sys.stderr.isatty() and not call.args.quiet) as progress:
        result = people.import_csv(call.config, file, call.now, _problem, progress)
    merged = result.merged
    call.say(
        f"imported {file}: {merged.added} added, {merged.updated} updated, "
        f"{merged.kept_inactive} kept unsubscribed or bounced, "
        f"{merged.duplicates} duplicates, {result.problems} bad rows"
    )
    return EXIT_PARTIAL if result.problems else EXIT_OK


def _problem(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


@command("export", FILE, group="subscribers")
def export_csv(call: Call) -> int:
    """write the active subscribers to a CSV file"""
    file = call.args.file
    call.say(f"exported {people.export_csv(call.config, file)} active subscribers to {file}")
    return EXIT_OK


@command("unsubscribe", arg("token", type=text))
def unsubscribe(call: Call) -> int:
    """unsubscribe the address a signed token names"""
    call.say(f"unsubscribed: {people.unsubscribe(call.config, call.args.token, call.now)}")
    return EXIT_OK
