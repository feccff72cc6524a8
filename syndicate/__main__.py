"""`python -m syndicate`: the same as the `syndicate` command."""

from syndicate.cli import entry

entry()
