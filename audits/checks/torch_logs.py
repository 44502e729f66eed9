"""Read what torch logs while a check runs: the reasons it gives nowhere else.

Some of torch's explanations exist only as log records: why the FX graph cache
was bypassed, which parts of a cache key it hashed, why inductor skipped CUDA
graphs or recorded one again. `captured_logs` collects a logger's records for
the span of a `with` block, then puts the logger back as it was; the records
do not reach torch's own handlers meanwhile (unless asked), so a check prints nothing.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@contextlib.contextmanager
def loggers_at(level: int, *names: str) -> Iterator[None]:
    """The loggers `names` at `level` inside the block (above a message's level: silent)."""
    loggers = [logging.getLogger(n) for n in names]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, old in zip(loggers, saved, strict=True):
            lg.setLevel(old)


@contextlib.contextmanager
def captured_logs(
    *names: str, level: int = logging.DEBUG, quiet: bool = True
) -> Iterator[list[logging.LogRecord]]:
    """The records the loggers `names` emit at `level` and above inside the block; with
    `quiet` False they also go where they went before."""
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
        lg.propagate = lg.propagate and not quiet
        lg.addHandler(handler)
    try:
        yield records
    finally:
        for lg, (old_level, old_propagate) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(old_level)
            lg.propagate = old_propagate


def messages(records: list[logging.LogRecord], prefix: str = "") -> list[str]:
    """The formatted messages of `records` that start with `prefix`."""
    return [text for text in _texts(records) if text.startswith(prefix)]


def containing(records: list[logging.LogRecord], pattern: re.Pattern[str]) -> list[str]:
    """The formatted messages of `records` in which `pattern` occurs."""
    return [text for text in _texts(records) if pattern.search(text)]


def _texts(records: list[logging.LogRecord]) -> Iterator[str]:
    for record in records:
        try:
            yield record.getMessage()
        except Exception:  # noqa: BLE001 - a record torch could not format says nothing here
            continue
