"""Pausing the cyclic garbage collector around one block: kept only for `pipeline/build.py`,
whose rewrite removes its last use (delete this module then).

The process-wide policy lives in `syndicate.gcpolicy`, set once by the process entry; this
block only switches collection off and back to the caller's choice. It never freezes.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No collection inside the block; the caller's choice (enabled or not) afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
