"""Tables for the terminal and for pipes that never cut a value.

Rich shrinks a table wider than the console by wrapping, then cutting cells ("1.2…"). Here
every column is at least as wide as its longest unbreakable piece (a number, a word of the
header), and a table that does not fit the console's width is printed as several tables of
the columns that fit, each repeating the first (key) column: values wrap between lines of a
cell, never inside a number.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: what rich's default box costs: one border per column and one more, one space each side
_PER_COLUMN = 3
_EDGE = 1


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 seed"``, ``"3 seeds"``, ``"1,000 episodes"``."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def _needed(texts: Sequence[str]) -> int:
    """The widest unbreakable piece (split at spaces and line breaks) of a column."""
    return max((len(piece) for t in texts for piece in t.split()), default=1)


def print_table(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    justify: str = "right",
    show_header: bool = True,
) -> None:
    """Prints ``rows`` (plain strings, no markup; a cell may hold several lines) under
    ``headers``; the first
    column is the key, left-justified and bold, repeated in every part when the columns are
    split over several tables to fit ``console.width``."""
    widths = [_needed([h, *(r[i] for r in rows)]) for i, h in enumerate(headers)]
    budget = console.width - _EDGE
    parts: list[list[int]] = []
    current: list[int] = [0]
    used = widths[0] + _PER_COLUMN
    for i in range(1, len(headers)):
        cost = widths[i] + _PER_COLUMN
        if used + cost > budget and len(current) > 1:
            parts.append(current)
            current, used = [0], widths[0] + _PER_COLUMN
        current.append(i)
        used += cost
    parts.append(current)
    for k, part in enumerate(parts):
        minimum = {i: widths[i] for i in part}
        overflow = sum(widths[i] + _PER_COLUMN for i in part) - budget
        if overflow > 0:
            # even the key and one column do not fit: the key gives up to half the width and
            # the last column folds what still does not fit (rich cuts a line it cannot fit)
            room = budget - _PER_COLUMN * len(part)
            minimum[part[0]] = min(widths[part[0]], max(1, room // 2))
            for i in part[1:]:
                minimum[i] = min(widths[i], max(1, (room - minimum[part[0]]) // len(part[1:])))
        suffix = f" ({k + 1}/{len(parts)})" if len(parts) > 1 else ""
        table = Table(
            title=escape(title + suffix) if title else None,
            show_header=show_header,
            title_justify="left",
        )
        for i in part:
            table.add_column(
                escape(headers[i]),
                justify="left" if i == 0 else justify,  # type: ignore[arg-type]
                style="bold" if i == 0 else None,
                min_width=minimum[i],
                overflow="fold",
                no_wrap=False,
            )
        for row in rows:
            table.add_row(*(escape(row[i]) for i in part))
        console.print(table)
