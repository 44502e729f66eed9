"""One table model, two renders: tabulate's plain text for the console, GitHub markdown for
report.md, so the two cannot drift apart.

Cells are text, formatted before tabulate sees them (it must not re-parse numbers); None
is a dash. Each cell renders as one line of at most `limit` characters, and markdown
escapes the pipes GitHub would split a row on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tabulate import tabulate

from reporting.schema.basics import SourceLocation

Cell = str | None


class Code(str):
    """A cell set as code in markdown (a location, an exception type); plain on the console."""


def code(value: str | None) -> Code | None:
    return Code(value) if value else None


def joined(items: Iterable[str], sep: str = ", ") -> str | None:
    return sep.join(items) or None


def at(location: SourceLocation | None) -> Code | None:
    return code(f"{location.file}:{location.line}" if location else None)


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    limit: int = 160  # characters a cell keeps

    def without(self, *headers: str) -> Table:
        """The same table less some columns: the console leaves out what report.md adds."""
        keep = [i for i, header in enumerate(self.headers) if header not in headers]
        rows = tuple(tuple(row[i] for i in keep) for row in self.rows)
        return Table(tuple(self.headers[i] for i in keep), rows, self.limit)

    def console(self) -> str:
        rows = [[one_line(cell, self.limit) for cell in row] for row in self.rows]
        return tabulate(rows, headers=self.headers, disable_numparse=True)

    def markdown(self) -> str:
        rows = [[_markdown_cell(cell, self.limit) for cell in row] for row in self.rows]
        return tabulate(rows, headers=self.headers, tablefmt="github", disable_numparse=True)


def one_line(value: str | None, limit: int = 160) -> str:
    """`value` on one line of at most `limit` characters; None is a dash."""
    if value is None:
        return "-"
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def markdown_text(value: str | None, limit: int = 160) -> str:
    """One line of markdown: GitHub tables split rows on pipes, so they are escaped."""
    return one_line(value, limit).replace("|", "\\|")


def _markdown_cell(cell: Cell, limit: int) -> str:
    text = markdown_text(cell, limit)
    if isinstance(cell, Code):
        return "`" + text.replace("`", "'") + "`"  # a backtick would end the code span
    return text


def table(headers: str, rows: Iterable[Sequence[Cell]], limit: int = 160) -> Table | None:
    """A table of `rows` under `headers` written as "a | b | c"; None when there are no rows."""
    found = tuple(tuple(row) for row in rows)
    return Table(tuple(h.strip() for h in headers.split("|")), found, limit) if found else None


def number(value: float | None, digits: int = 3) -> str | None:
    if value is None or not math.isfinite(value):
        return None if value is None else str(value)
    return f"{value:.{digits}g}"


def seconds(value: float | None) -> str | None:
    if value is None:
        return None
    if value >= 1.0:
        return f"{value:.2f} s"
    return f"{value * 1e3:.2f} ms" if value >= 1e-3 else f"{value * 1e6:.1f} µs"
