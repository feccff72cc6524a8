"""Log output of the `syndicate` command: levels from -v/-q, and the text and JSON formats.

Every log line is one record: text inside a logged value (a file name, an error) can neither
start a line of its own (`TextFormatter`) nor become a JSON field (`JsonFormatter`). Sets up
the "syndicate" logger only; it decides nothing about what is logged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

FACT = re.compile(r"(\w[\w-]*)=(\S+)")
_PLACEHOLDER = re.compile(r"%(?:[-#0 +]*\d*(?:\.\d+)?[sdirf]|%)")


def _facts(record: logging.LogRecord) -> dict[str, str]:
    """The key=value facts of a log call's format string, each `%s` value filled from its
    argument: text inside an argument (a file name, an error) never becomes a field."""
    template = str(record.msg)
    args = record.args if isinstance(record.args, tuple) else ()
    filled: dict[int, str] = {}
    used = 0
    for found in _PLACEHOLDER.finditer(template):
        if found.group() != "%%" and used < len(args):
            filled[found.start()] = found.group() % (args[used],)
            used += 1
    facts: dict[str, str] = {}
    for key, value in ((m.group(1), m) for m in FACT.finditer(template.partition("\n")[0])):
        text = value.group(2)
        if _PLACEHOLDER.fullmatch(text):
            text = filled.get(value.start(2), text)
        facts.setdefault(key, text)
    return facts


class TextFormatter(logging.Formatter):
    """One record per line start: a line break inside a message (a file name, an error text)
    continues indented, so no input can begin a line that reads as a record of its own."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\r", "\\r").replace("\n", "\n    ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, and the event's key=value facts as fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        head, _, rest = message.partition("\n")
        entry: dict[str, object] = {
            **_facts(record),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
        }
        entry["message"] = head
        if rest:
            entry["detail"] = rest
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(verbose: int, quiet: bool, fmt: str) -> None:
    """The "syndicate" logger writes to stderr: warnings by default, -v info, -vv debug."""
    level = (
        logging.ERROR
        if quiet
        else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    )
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(message)s",
                                           "%Y-%m-%dT%H:%M:%S%z"))  # fmt: skip
    root = logging.getLogger("syndicate")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
