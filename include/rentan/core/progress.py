"""Progress of long work: a bar on a terminal, lines in a task's log.

``track(items, what, unit)`` yields the items and reports how many are done of how many. The
command line turns bars on (:func:`use_bars`) when it writes to a terminal: a ``rich`` bar then
shows on stderr. Everywhere else (Airflow task logs, tests, a pipe) it logs a line
``<what>: <done> of <total> <unit> (<pct>%)`` at the start, at every quarter of the way or
``EVERY_SECONDS`` at most apart, and at the end, so a long task is never silent for a minute
(for fewer than ``FEW`` items, only the closing line).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

T = TypeVar("T")
EVERY_SECONDS = 15.0
FEW = 20  # fewer items than this: only the closing line
_bars = False
log = logging.getLogger("rentan.core.progress")


def use_bars(on: bool = True) -> None:
    global _bars  # noqa: PLW0603 - one switch for the process, set once by the command line
    _bars = on


def track(items: Iterable[T], what: str, unit: str = "files", total: int | None = None,
          logger: logging.Logger | None = None) -> Iterator[T]:
    """Yield ``items``, reporting progress as a bar (terminal) or as log lines (elsewhere)."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    if _bars:
        yield from _bar(items, what, unit, total)
        return
    yield from _lines(items, what, unit, total, logger or log)


def _bar(items: Iterable[T], what: str, unit: str, total: int | None) -> Iterator[T]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)
        for item in items:
            yield item
            bar.advance(task)


def _lines(items: Iterable[T], what: str, unit: str, total: int | None, logger: logging.Logger) -> Iterator[T]:
    if total is not None and total < FEW:
        # a handful: one line at the end says it all
        done = 0
        for item in items:
            yield item
            done += 1
        if done:
            logger.info("%s: %s of %s %s", what, done, total, unit)
        return
    of = f" of {total:,}" if total is not None else ""
    step = max(1, total // 4) if total else None
    logger.info("%s: 0%s %s", what, of, unit)
    last, done = time.monotonic(), 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if (step and done % step == 0 and done != total) or now - last >= EVERY_SECONDS:
            pct = f" ({100 * done / total:.0f}%)" if total else ""
            logger.info("%s: %s%s %s%s", what, f"{done:,}", of, unit, pct)
            last = now
    logger.info("%s: %s%s %s (done)", what, f"{done:,}", of, unit)
