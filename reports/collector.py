"""The cyclic garbage collector held off while a report is built and encoded.

A year's statement makes a few million objects that all live until it is answered, and none of them is in a
cycle. The collector's full passes walked them all again and again (7 passes, 0.66 s of a 4.7 s statement, the
longest 165 ms), and each pass holds the GIL: in the service every till's scan waited behind it. Paused for the
report, nothing is lost: what was garbage is collected at the next pass after it. Nested and concurrent reports
share one pause; the last to finish restores the collector as the first found it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
