"""Cohort counts: for users who know how many customers of each cohort are still served.

The file (CSV or Parquet) has one row per segment, cohort and month of service:

- ``segment``;
- ``cohort`` (optional): the month the cohort's customers started, ``YYYY-MM``; without the
  column, each segment is one cohort;
- ``month``: months of service completed, 0, 1, 2, ... consecutive within a cohort. A cohort
  may start above 0 when it was first observed later (left truncation: the customers who
  left before are not counted, and the months before are not taken as survived);
- ``alive``: the cohort's customers in service after ``month`` months (on the cohort's first
  row: those entering observation then; in month 0, the cohort's size);
- ``at_risk`` (optional): the customers observed through the month that ends at ``month``,
  of the ``alive`` of the row before; fewer when some were no longer followed (right
  censoring within the cohort). Empty on a cohort's first row; empty elsewhere means all of
  the row before's ``alive`` (no censoring), as without the column.

A cohort observed until a snapshot just stops there: younger cohorts have fewer rows. Counts
never rise: ``alive <= at_risk <= alive`` of the row before. Every problem names its row
and column. :func:`cohort_lifetimes` turns the table into lifetimes
(:mod:`models.lifetimes`), which the baseline hazard models fit (:mod:`models.baseline`:
the shifted-beta-geometric model by default for cohort counts, or the random walk), and
:func:`cohort_table` makes the table from a customers table (``ctm cohorts``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.data import Problems, open_table, parse_choices
from models.lifetimes import customer_lifetimes, group
from sim.inputs.world import World

COLUMNS = ("segment", "month", "alive")
OPTIONAL = ("cohort", "at_risk")
ONE_COHORT = ""
"""The cohort label of a table without a ``cohort`` column."""


def load_cohorts(path: str | Path, world: World | list[str]) -> pd.DataFrame:
    """Read and check a cohort table.

    Parameters
    ----------
    path
        CSV or Parquet file (module notes).
    world
        The world (its segment ids) or the segment ids themselves.

    Returns
    -------
    pandas.DataFrame
        ``segment`` (str), ``cohort`` (``YYYY-MM``, or ``""`` without the column), ``month``,
        ``alive`` and ``at_risk`` (int64; ``at_risk`` filled in where empty, and equal to
        ``alive`` on a cohort's first row), sorted by segment (the world's order), cohort and
        month.

    Raises
    ------
    InputError
        Naming the row and column of each bad cell, and of each cohort whose months skip or
        repeat one, whose counts rise, or whose at-risk counts exceed what was alive.
    """
    ids = world.segment_ids if isinstance(world, World) else list(world)
    frame, problems = open_table(path, COLUMNS)
    problems.check()
    segment = parse_choices(frame["segment"], problems, ids, "segment")
    month = _whole_numbers(frame["month"], problems, "month")
    alive = _whole_numbers(frame["alive"], problems, "count")
    cohort = pd.Series(ONE_COHORT, index=frame.index)
    if "cohort" in frame.columns:
        cohort = _months(frame["cohort"], problems)
    at_risk = pd.Series(-1, index=frame.index, dtype=np.int64)  # -1: not given
    if "at_risk" in frame.columns:
        given = frame["at_risk"] != ""
        counted = _whole_numbers(frame["at_risk"].where(given, "0"), problems, "at_risk")
        at_risk = counted.where(given, -1)
    problems.check()
    table = pd.DataFrame(
        {
            "segment": segment.astype(str),
            "cohort": cohort,
            "month": month,
            "alive": alive,
            "at_risk": at_risk,
        }
    )
    filled = []
    for (name, label), rows in table.groupby(["segment", "cohort"], sort=False):
        filled.append(_check_cohort(name, label, rows, problems))
    problems.check()
    out = pd.concat(filled)
    out["segment"] = pd.Categorical(out["segment"], categories=ids)
    out = out.sort_values(["segment", "cohort", "month"], kind="stable")
    out["segment"] = out["segment"].astype(str)
    return out.reset_index(drop=True)


def cohort_lifetimes(table: pd.DataFrame) -> pd.DataFrame:
    """The lifetimes (:mod:`models.lifetimes`) of a table of :func:`load_cohorts`.

    Each cohort's customers enter at its first month ``m0``; in each later month ``m`` those
    at risk who are not alive churned in month ``m`` (``exit = m``), those alive before but
    not at risk were censored after ``m - 1`` months, and those alive on the last row are
    censored there.
    """
    parts = []
    for (segment, _), rows in table.groupby(["segment", "cohort"], sort=False):
        month = rows["month"].to_numpy()
        alive = rows["alive"].to_numpy()
        at_risk = rows["at_risk"].to_numpy()
        m0 = month[0]
        churned = at_risk[1:] - alive[1:]
        censored = alive[:-1] - at_risk[1:]
        parts.append(
            pd.DataFrame(
                {
                    "segment": segment,
                    "entry": m0,
                    "exit": np.concatenate([month[1:], month[:-1], month[-1:]]),
                    "churned": np.repeat([True, False, False], [len(churned)] * 2 + [1]),
                    "weight": np.concatenate([churned, censored, alive[-1:]]),
                }
            )
        )
    return group(pd.concat(parts, ignore_index=True))


def cohort_table(
    customers: pd.DataFrame,
    source: str,
    snapshot: pd.Timestamp | None = None,
    observed_from: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The cohort table of a customers table: one cohort per segment and start month.

    Each cohort's months run from its entry (0, or its tenure at ``observed_from``) to its
    tenure at the snapshot; ``at_risk`` is empty on the first row. Arguments and checks as
    :func:`models.lifetimes.customer_lifetimes` (the snapshot defaults to the table's latest
    date).

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``cohort`` (``YYYY-MM``), ``month``, ``alive``, ``at_risk`` (nullable
        Int64), the format :func:`load_cohorts` reads.
    """
    keyed = customers.assign(segment=customers["segment"].astype(str))
    start = keyed["start"].dt.to_period("M").astype(str)
    keyed = keyed.assign(segment=keyed["segment"] + "\0" + start)  # segment and cohort as one
    lifetimes = customer_lifetimes(keyed, source, snapshot, observed_from)
    rows = []
    for key, part in lifetimes.groupby("segment", sort=True):
        segment, cohort = key.split("\0")
        entry = int(part["entry"].iloc[0])  # one start month: one entry
        last = int(part["exit"].max())
        months = np.arange(entry, last + 1)
        exit_, weight, gone = (part[c].to_numpy() for c in ("exit", "weight", "churned"))
        # alive after m months: exit > m, or censored at m
        alive = [weight[(exit_ > m) | (~gone & (exit_ == m))].sum() for m in months]
        at_risk = [pd.NA] + [weight[exit_ >= m].sum() for m in months[1:]]
        rows.append(
            pd.DataFrame(
                {
                    "segment": segment,
                    "cohort": cohort,
                    "month": months,
                    "alive": alive,
                    "at_risk": pd.array(at_risk, dtype="Int64"),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    order = {s: i for i, s in enumerate(customers["segment"].astype("category").cat.categories)}
    out = out.sort_values(
        ["segment", "cohort", "month"], key=lambda c: c.map(order) if c.name == "segment" else c
    )
    return out.reset_index(drop=True)


def _whole_numbers(text: pd.Series, problems: Problems, label: str) -> pd.Series:
    """Non-negative whole numbers (``4.0`` counts as 4) as int64; others are problems."""
    numbers = pd.to_numeric(text, errors="coerce")
    good = numbers.notna() & (numbers >= 0) & (numbers % 1 == 0)
    problems.cells(text, ~good, f"{label} {{value}}, expected a whole number >= 0")
    return numbers.where(good, 0).astype(np.int64)


def _months(text: pd.Series, problems: Problems) -> pd.Series:
    """Cohort start months as ``YYYY-MM`` text; empty or unreadable cells are problems."""
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    expected = "expected the month the cohort started, YYYY-MM"
    problems.cells(text, text == "", f"empty, {expected}")
    problems.cells(
        text, parsed.isna() & (text != ""), f"cohort {{value}} cannot be read, {expected}"
    )
    return parsed.dt.strftime("%Y-%m").fillna("")


def _check_cohort(segment: str, label: str, rows: pd.DataFrame, problems: Problems):
    """Months m0, m0 + 1, ... each once, in any row order; counts that never rise; at-risk
    counts between this row's alive and the row before's. Returns the rows sorted, at_risk
    filled in (the row before's alive where not given; alive on the first row)."""
    rows = rows.sort_values("month", kind="stable").copy()
    which = f"segment {segment!r}" + (f", cohort {label}" if label else "")
    month = rows["month"].to_numpy()
    expected = month[0] + np.arange(len(rows))
    wrong = month != expected
    if wrong.any():
        i = int(np.argmax(wrong))
        row = rows.index[i] + 1
        problems.add(
            f"row {row}, column month",
            f"{which} has month {month[i]} where month {expected[i]} was expected: months "
            f"{month[0]}, {month[0] + 1}, ... each once",
            row,
        )
        return rows
    alive = rows["alive"].to_numpy()
    at_risk = rows["at_risk"].to_numpy().copy()
    first = rows.index[0] + 1
    if alive[0] == 0:
        problems.add(
            f"row {first}, column alive",
            f"{which} has no customers in month {month[0]}, its first month, expected the "
            "customers of the cohort then",
            first,
        )
    if at_risk[0] not in (-1, alive[0]):
        problems.add(
            f"row {first}, column at_risk",
            f"at_risk {at_risk[0]} on {which}'s first row, expected it empty (nothing is "
            "observed before a cohort's first month)",
            first,
        )
    at_risk[0] = alive[0]
    for i in range(1, len(rows)):
        row = rows.index[i] + 1
        given = at_risk[i] >= 0
        if not given:
            at_risk[i] = alive[i - 1]
        elif at_risk[i] > alive[i - 1]:
            problems.add(
                f"row {row}, column at_risk",
                f"{which} has {at_risk[i]} at risk in month {month[i]} but {alive[i - 1]} "
                f"alive in month {month[i - 1]}, expected at most those alive the month before",
                row,
            )
            continue
        if alive[i] > at_risk[i]:
            message = (
                f"{which} has {alive[i]} alive in month {month[i]} but {at_risk[i]} at risk, "
                "expected at most the customers at risk"
                if given
                else f"{which} has more customers alive in month {month[i]} than the month "
                "before, expected counts that never rise"
            )
            problems.add(f"row {row}, column alive", message, row)
    rows["at_risk"] = at_risk
    return rows
