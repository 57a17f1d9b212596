"""Cohort counts: for users who know only how many customers of a cohort are still served.

The file (CSV or Parquet) has one row per segment and month: ``segment``, ``month`` (0, 1,
2, ... since the cohort started, consecutive) and ``alive`` (customers of the cohort still in
service then; month 0 is the cohort's size, the counts never rise). The shifted-beta-
geometric model (:mod:`models.sbg`) is fitted to each segment's counts, and its alpha and
beta become that segment's baseline in the simulation (``Parameters.sbg``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.data import Problems, open_table, parse_choices
from sim.inputs.world import World

COLUMNS = ("segment", "month", "alive")


def load_cohorts(path: str | Path, world: World) -> pd.DataFrame:
    """Read and check a cohort table.

    Returns
    -------
    pandas.DataFrame
        Index ``month`` 0..n, one column of counts (float) per segment present, NaN after a
        segment's last month.

    Raises
    ------
    InputError
        Naming the row and column of each bad cell, or the segment whose counts do not start
        at month 0, skip a month, repeat one, or rise.
    """
    frame, problems = open_table(path, COLUMNS)
    problems.check()
    segment = parse_choices(frame["segment"], problems, world.segment_ids, "segment")
    month = _whole_numbers(frame["month"], problems, "month")
    alive = _whole_numbers(frame["alive"], problems, "count")
    problems.check()
    table = pd.DataFrame({"segment": segment.astype(str), "month": month, "alive": alive})
    for name, rows in table.groupby("segment", sort=False):
        _check_segment(name, rows, problems)
    problems.check()
    wide = table.pivot(index="month", columns="segment", values="alive").astype(float)
    return wide[[s for s in world.segment_ids if s in wide.columns]]


def _whole_numbers(text: pd.Series, problems: Problems, label: str) -> pd.Series:
    """Non-negative whole numbers (``4.0`` counts as 4) as int64; others are problems."""
    numbers = pd.to_numeric(text, errors="coerce")
    good = numbers.notna() & (numbers >= 0) & (numbers % 1 == 0)
    problems.cells(text, ~good, f"{label} {{value}}, expected a whole number >= 0")
    return numbers.where(good, 0).astype(np.int64)


def _check_segment(segment: str, rows: pd.DataFrame, problems: Problems) -> None:
    """Months 0, 1, 2, ... each once, in any row order; counts that never rise."""
    rows = rows.sort_values("month", kind="stable")
    expected = np.arange(len(rows))
    wrong = rows["month"].to_numpy() != expected
    if wrong.any():
        label = rows.index[np.argmax(wrong)]
        problems.add(
            f"row {label + 1}, column month",
            f"segment {segment!r} has month {rows['month'][label]} where month "
            f"{expected[np.argmax(wrong)]} was expected: months 0, 1, 2, ... each once",
            label + 1,
        )
        return
    rise = np.flatnonzero(np.diff(rows["alive"].to_numpy()) > 0)
    if rise.size:
        label = rows.index[rise[0] + 1]
        problems.add(
            f"row {label + 1}, column alive",
            f"segment {segment!r} has more customers alive in month "
            f"{rows['month'][label]} than the month before, expected counts that "
            "never rise",
            label + 1,
        )
    if rows["alive"].iloc[0] == 0:
        label = rows.index[0]
        problems.add(
            f"row {label + 1}, column alive",
            f"segment {segment!r} has no customers in month 0, expected the cohort's size",
            label + 1,
        )
