"""The state database: every SQL statement syndicate runs lives in this package (SQLAlchemy
Core), composed into one `Store` as lemon24/reader composes its storage.

`base` (engine, transactions, migrations, locks, the meta table, the dry-run copy), `meta`
(the named values the pipeline keeps between runs), `articles` (articles and file stats),
`digests`, `ledger` (deliveries and runs), `people` (subscribers), `bulk` (importing many
subscribers at once), `signup` (the web form),
`returned` (returned mail: bounces, complaints), `changelog` (what each pick-up changed,
and windows of the listing order), with `schema` (tables), `migrations`, `rows`
(row <-> model), `ledger_sql` (the sender's statements) and `dating` (the times feeds show)
beneath them. A new part is a mixin class deriving from `StoreBase` (it gets `_tx`), added to
`Store`'s bases.

Time is always passed in, never read; nothing here renders, reads article files or sends mail.
"""

from __future__ import annotations

from syndicate.store.articles import Articles
from syndicate.store.base import copy_sqlite
from syndicate.store.bulk import Bulk, Merged
from syndicate.store.changelog import Changelog, Was
from syndicate.store.digests import Digests, candidates_query
from syndicate.store.ledger import Ledger
from syndicate.store.meta import Meta
from syndicate.store.people import People, Upserted
from syndicate.store.returned import LastBounce, Recorded, Returns
from syndicate.store.schema import SCHEMA_VERSION
from syndicate.store.signup import Outcome, Signup, Signups

__all__ = [
    "SCHEMA_VERSION",
    "LastBounce",
    "Merged",
    "Outcome",
    "Recorded",
    "Signup",
    "Store",
    "Upserted",
    "Was",
    "candidates_query",
    "copy_sqlite",
]


class Store(Articles, Changelog, Digests, Ledger, People, Bulk, Signups, Returns, Meta):
    """The one gateway to the state database."""
