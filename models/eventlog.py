"""The event log of touchpoint contacts: reading and checking it, its cases and their moves.

The log has one row per contact: case (customer id), activity (touchpoint id) and timestamp,
as process-mining tools name them. A case's touchpoints in time order are its journey; it
ends in *purchase* if the case is in the customers table, else in *lost*. An optional
``segment`` column gives a lead's segment (a purchaser's is in the customers table).

:func:`case_table` gives one row per case, :func:`unique_paths` the distinct paths of each
segment as state indices and :func:`move_counts` the moves ``n[s, i, j]`` they make, from
which :class:`models.journeys.JourneyModel` learns the journeys; :func:`common_sequences`
tabulates the most common sequences for people to read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.data import Problems, parse_dates, parse_ids, read_table
from sim.inputs.world import LOST, PURCHASE


def read_event_log(
    path: str | Path,
    *,
    case: str = "customer_id",
    activity: str = "touchpoint",
    timestamp: str = "timestamp",
    segment: str = "segment",
    sort: bool = False,
) -> pd.DataFrame:
    """Read an event log, keeping touchpoint ids the world lacks.

    Returns ``customer_id``, ``touchpoint`` (text), ``timestamp`` and ``segment`` (text, ``""``
    if absent) indexed by file row - 1, sorted by case and time; ``attrs`` holds the file and
    its column names so later problems can name them (:meth:`models.journeys.JourneyModel.fit`
    lists the unknown touchpoints). Raises :class:`InputError` naming each empty id or
    touchpoint, unreadable time, and (see :func:`check_event_log`) bad order.
    """
    frame = read_table(path)
    problems = Problems(str(path))
    missing = [c for c in (case, activity, timestamp) if c not in frame.columns]
    if missing:
        expected = f"expected columns {case}, {activity}, {timestamp}"
        problems.add("columns", f"missing {', '.join(missing)}; {expected}")
    problems.check()
    out = pd.DataFrame(
        {"customer_id": parse_ids(frame[case], problems), "touchpoint": frame[activity]},
        index=frame.index,
    )
    problems.cells(frame[activity], frame[activity] == "", "empty, expected a touchpoint id")
    out["timestamp"] = parse_dates(frame[timestamp], problems, time=True)
    out["segment"] = frame[segment] if segment in frame.columns else ""
    problems.check()
    out.attrs = {"source": str(path), "columns": {"timestamp": timestamp, "segment": segment}}
    return check_event_log(out, sort=sort)


def check_event_log(events: pd.DataFrame, *, sort: bool = False) -> pd.DataFrame:
    """The log sorted by case and time, after checking each case's times.

    Raises :class:`InputError` naming each row whose time repeats an earlier row of its
    case (the order of the two contacts is unknown) and, unless ``sort``, each row earlier
    than the row before it in its case. Rows are the index + 1 (file rows if read here).
    """
    source = events.attrs.get("source", "events")
    column = events.attrs.get("columns", {}).get("timestamp", "timestamp")
    problems = Problems(source)
    text = events["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S").rename(column)
    row = pd.Series(events.index + 1, index=events.index)
    ordered = events.sort_values(["customer_id", "timestamp"], kind="stable")
    again = ordered.duplicated(["customer_id", "timestamp"]).reindex(events.index)
    first = (
        row[ordered.index]
        .groupby([ordered["customer_id"], ordered["timestamp"]])
        .transform("first")
        .reindex(events.index)
    )
    problems.cells(
        text,
        again,
        "time {value} repeats row {other} of the same customer, expected "
        "distinct times within a customer",
        first.astype(str),
    )
    if not sort:
        earlier = events["timestamp"] < events.groupby("customer_id")["timestamp"].shift()
        before = row.groupby(events["customer_id"]).shift().fillna(0).astype(int).astype(str)
        problems.cells(
            text,
            earlier,
            "time {value} is earlier than row {other} of the same customer, expected each "
            "customer's events in time order (sort the file by customer and time; if it is "
            "sorted, check the dates: day and month read the wrong way round give such rows)",
            before,
        )
    problems.check()
    return ordered.copy()


def case_table(
    events: pd.DataFrame, customers: pd.DataFrame, segments: list[str] | None = None
) -> pd.DataFrame:
    """One row per case: ``segment`` (NaN if unknown), ``purchased`` and ``path`` (a tuple).

    With ``segments`` given, segment cells of the log are checked: each must be one of them,
    one per case, and agree with the customers table (InputError naming the rows).
    """
    source = events.attrs.get("source", "events")
    column = events.attrs.get("columns", {}).get("segment", "segment")
    of_customer = customers.set_index("customer_id")["segment"].astype(str)
    written = events["segment"] if "segment" in events else pd.Series("", events.index)
    written = written.fillna("").astype(str).rename(column)
    first = written.where(written != "").groupby(events["customer_id"]).transform("first")
    known = events["customer_id"].map(of_customer).astype(object)  # all NaN: not float
    if segments is not None:
        problems = Problems(source)
        given = written != ""
        problems.cells(
            written,
            given & ~written.isin(segments),
            f"unknown segment {{value}}, expected one of {', '.join(segments)}",
        )
        problems.cells(
            written,
            given & (written != first),
            "segment {value} differs from "
            "an earlier row of the same customer ({other}), expected one",
            first,
        )
        problems.cells(
            written,
            given & known.notna() & (written != known),
            "segment {value} differs from the customers table ({other}), expected the same",
            known,
        )
        problems.check()
    ids = events["customer_id"].to_numpy()
    begins = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])  # events come sorted by case
    paths = np.split(events["touchpoint"].astype(str).to_numpy(dtype=object), begins[1:])
    return pd.DataFrame(
        {
            "segment": known.fillna(first).to_numpy()[begins],
            "path": [tuple(p) for p in paths] if len(ids) else [],
            "purchased": isin(ids[begins], of_customer.index),
        },
        index=pd.Index(ids[begins], name="customer_id"),
    )


def isin(values: object, pool: object) -> np.ndarray:
    """Membership of each value in ``pool`` by hashing (pandas' isin on Arrow text is slow)."""
    pool = pd.Index(np.asarray(pool, dtype=object))
    return pool.get_indexer(np.asarray(values, dtype=object)) >= 0


def unique_paths(cases: pd.DataFrame, segments: list[str], touchpoints: list[str]) -> pd.DataFrame:
    """Distinct (segment code, state path) with their case counts; code -1: unknown segment.

    A path lists next-state indices: touchpoints 0..K-1, then K (purchase) or K+1 (lost).
    """
    K, index = len(touchpoints), {k: i for i, k in enumerate(touchpoints)}
    cases = cases[cases["path"].map(len) > 0]
    code = pd.Categorical(cases["segment"], categories=segments).codes
    path = [
        (*map(index.get, p), K if bought else K + 1)
        for p, bought in zip(cases["path"], cases["purchased"], strict=True)
    ]
    table = pd.DataFrame({"segment": code, "path": path}, index=cases.index)
    return table.groupby(["segment", "path"]).size().rename("cases").reset_index()


def move_counts(paths: pd.DataFrame, S: int, K: int) -> dict[str, np.ndarray]:
    """Move counts of assigned cases (segment, from, next), the moves of each unassigned path
    (flat index from * (K + 2) + next, with its count) and the cases of each segment.

    From-state 0 is start and touchpoint k is from-state k + 1.
    """
    known = np.zeros((S, K + 1, K + 2))
    path, move, weight = [], [], []
    unassigned = paths[paths["segment"] < 0].reset_index(drop=True)
    for s, steps, n in paths.loc[paths["segment"] >= 0].itertuples(index=False):
        np.add.at(known[s], (_froms(steps), list(steps)), n)
    for u, steps in enumerate(unassigned["path"]):
        flat = pd.Series(_froms(steps) * (K + 2) + np.array(steps)).value_counts()
        path += [u] * len(flat)
        move += flat.index.tolist()
        weight += flat.tolist()
    known_cases = paths.loc[paths["segment"] >= 0].groupby("segment")["cases"].sum()
    return {
        "known": known,
        "unassigned": unassigned["cases"].to_numpy(),
        "path": np.array(path, dtype=int),
        "move": np.array(move, dtype=int),
        "weight": np.array(weight, dtype=float),
        "known_cases": known_cases.reindex(range(S), fill_value=0).to_numpy(dtype=float),
    }


def _froms(steps: tuple[int, ...]) -> np.ndarray:
    """From-states of a path's moves: start (0), then each touchpoint k as k + 1."""
    return np.array([0, *(k + 1 for k in steps[:-1])], dtype=int)


UNKNOWN_SEGMENT = "unknown"
"""The segment of cases without a known one (lost prospects of a log without segments)."""


def common_sequences(events: pd.DataFrame, customers: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The ``top`` most common touchpoint sequences of each segment.

    Touchpoints are as written in the log (unknown ones too). Cases without a known segment
    (lost prospects of a log without a segment column) form the segment ``"unknown"``.
    Columns: segment, rank, sequence ("a > b > c"), outcome, cases, share of the segment's cases.
    """
    cases = case_table(check_event_log(events, sort=True), customers)
    table = pd.DataFrame(
        {
            "segment": cases["segment"].fillna(UNKNOWN_SEGMENT),
            "sequence": cases["path"].map(" > ".join),
            "outcome": np.where(cases["purchased"], PURCHASE, LOST),
        }
    )
    table = table.value_counts().rename("cases").reset_index()
    table["share"] = table["cases"] / table.groupby("segment")["cases"].transform("sum")
    table = table.sort_values(["segment", "cases", "sequence"], ascending=[True, False, True])
    table = table.groupby("segment", sort=False).head(top)
    table.insert(1, "rank", table.groupby("segment").cumcount() + 1)
    return table.reset_index(drop=True)
