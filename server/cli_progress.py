"""A progress bar in the terminal for a long report (rich, which Typer brings): shown only when stdout is a terminal,
so cron, a pipe or a test's captured output gets the report's lines and nothing else."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def progress(label: str, total: int | None = None, stream: TextIO | None = None) -> Iterator[Callable[[int], None]]:
    """A bar (or a spinner when `total` is None) for the work in the block; the block advances it by calling what
    it is given with the steps done since the last call. Silent when the stream is not a terminal."""
    out = stream if stream is not None else sys.stdout
    if not out.isatty():
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()] if total is not None else [SpinnerColumn(), TextColumn("{task.description}"),
                                                              TimeElapsedColumn()]
    with Progress(*columns, console=Console(file=out), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
