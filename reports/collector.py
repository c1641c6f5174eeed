"""The cyclic garbage collector held off, and the interpreter's threads switched more often, while a report is built
and encoded.

A year's statement makes a few million objects that all live until it is answered, and none of them is in a
cycle. The collector's full passes walked them all again and again (7 passes, 0.66 s of a 4.7 s statement, the
longest 165 ms), and each pass holds the GIL: in the service every till's scan waited behind it. Paused for the
report, nothing is lost: what was garbage is collected at the next pass after it.

A report runs in a worker thread, in Python, for seconds; a scan runs on the event loop and takes the GIL back after
each SQLite call. With the default switch interval (5 ms) each take waited up to 5 ms behind the report: a scan of a
dozen statements doubled. 0.5 ms bounds that wait while a report runs. Not always: with nothing long beside it, a
scan's p99 was 3–4× worse at 0.5 ms than at 5 (bench_selling, same run: the idle threads' wake-ups cost more
switches).

Nested and concurrent reports share one pause; the last to finish restores both as the first found them.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

REPORT_SWITCH_INTERVAL_S = 0.0005

_lock = threading.Lock()
_depth = 0
_was_enabled = False
_was_interval = 0.005


@contextmanager
def paused() -> Iterator[None]:
    global _depth, _was_enabled, _was_interval
    with _lock:
        if _depth == 0:
            _was_enabled, _was_interval = gc.isenabled(), sys.getswitchinterval()
            gc.disable()
            sys.setswitchinterval(REPORT_SWITCH_INTERVAL_S)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                sys.setswitchinterval(_was_interval)
                if _was_enabled:
                    gc.enable()
