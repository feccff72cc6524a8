"""The cyclic garbage collector's policy, set once by the process entry (`syndicate`,
`python -m syndicate`), never inside the pipeline.

A pass over 100,000 articles allocates millions of small objects (file stats, rows, plan
entries) and few reference cycles; the modules imported at start-up (SQLAlchemy, Jinja2,
pydantic, lxml) hold some 80,000 more that live as long as the process. Under the default
thresholds the collector traverses both again and again: a third of a one-new-article rerun
at 100,000 articles. The policy: `gc.freeze` what the imports left (modules, classes,
functions: never garbage, so never traversed again; the few dozen cyclic leftovers of the
imports stay frozen, cheaper than a full collection at every start), and run the youngest
generation every `GEN0` allocations instead of 700. Collection stays on, with the older
generations' ratios as they were: the long-running `syndicate schedule` and `syndicate serve`
still collect every cycle, in fewer and bigger steps. Never call it inside a pass (freezing
live work data would keep its cycles forever) nor from library code: a test process that
calls `cli.main` keeps the default GC.
"""

from __future__ import annotations

import gc

GEN0 = 50_000  # allocations between young collections (CPython's default: 700)


def for_process() -> None:
    """Once, after the imports, before any work: freeze what is alive, and raise the youngest
    generation's threshold (the older generations' ratios stay as they were)."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0, gen1, gen2)
