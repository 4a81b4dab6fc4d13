"""Plain-text summary tables: columns as wide as their content, statistics as cells.

A statistic cell is the IQM with its 95% stratified bootstrap interval, ``0.412 [0.371,
0.455]``, or the IQM alone where there is no interval (under ``MIN_SEEDS`` seeds).
"""

from __future__ import annotations

from typing import Any

from jaxcurr.core.aggregate import MIN_SEEDS


def format_table(header: list[str], rows: list[list[str]], indent: str = "  ", left: int = 1
                 ) -> list[str]:
    """Lines of a table: the first ``left`` columns left-aligned, the others right-aligned,
    each as wide as its widest cell, two spaces apart; a column whose rows all hold ``-`` (a
    comparison with a baseline that is not there) is left out."""
    keep = [i for i in range(len(header)) if not rows or any(row[i] != "-" for row in rows)]
    header, rows = [header[i] for i in keep], [[row[i] for i in keep] for row in rows]
    left = sum(i < left for i in keep)
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return [indent + "  ".join(cell.ljust(w) if i < left else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))
                               ).rstrip() for row in (header, *rows)]


def number(value: Any, spec: str) -> str:
    """``value`` formatted by ``spec``; None or NaN as ``nan``."""
    return "nan" if value is None or value != value else format(value, spec)


def stat_cell(stat: dict[str, Any], spec: str = ".3f") -> str:
    """``IQM [low, high]`` of a :func:`jaxcurr.core.stats.stat` record (the IQM alone without
    an interval)."""
    interval = stat.get("iqm_ci95")
    centre = number(stat["iqm"], spec)
    if not interval:
        return centre
    return f"{centre} [{number(interval[0], spec)}, {number(interval[1], spec)}]"


def improvement_cell(record: dict[str, Any] | None) -> str:
    """``P [low, high]`` of a :func:`jaxcurr.core.stats.improvement` record, ``-`` for none."""
    if not record:
        return "-"
    low, high = record["ci95"]
    return f"{record['p']:.2f} [{low:.2f}, {high:.2f}]"


def seeds_note(seeds: int) -> str:
    """What the cells show for ``seeds`` runs per method."""
    if seeds < MIN_SEEDS:
        return (f"{seeds} seed{'s' if seeds != 1 else ''}: no intervals "
                f"({MIN_SEEDS} or more needed); IQM over seeds")
    return (f"{seeds} seeds: IQM [95% stratified bootstrap interval] over seeds; P: probability"
            " that a seed beats one of the baseline")
