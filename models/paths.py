"""Journeys from data alone: aggregated path files and event logs, the first-order chain they
give, and a Dirichlet posterior over its transitions (``ctm attribution --paths``).

Files. CSV (comma or semicolon separated: the one that splits the header into more fields,
comma on a tie) or Parquet. Rows count the data rows from 1 below the header, as
:mod:`models.data` does; every problem names its file, row and column, all problems of a
file at once (:class:`models.data.Problems`), before anything is fitted.

- Aggregated paths, the common format of attribution tools: ``path`` (the touchpoints met,
  in order, joined by " > "), ``total_conversions`` and ``total_null`` (the journeys along
  that path that converted and that did not: numbers, 0 or more, not both 0). A path is
  refused if it is empty, has an empty step, has a step holding another separator
  (:data:`FOREIGN`: ``a>b``, ``a -> b``, ``a | b``, ``a, b``), or names a state of the
  chain (:data:`RESERVED`: the outcome belongs in the counts, not in the path). Rows with
  the same path add up.
- An event log, one row per contact: pm4py's ``case:concept:name``, ``concept:name``,
  ``time:timestamp`` (:data:`PM4PY`), or this project's ``customer_id``, ``touchpoint``,
  ``timestamp`` (:data:`OWN`, as :mod:`models.eventlog` reads). **A case converts when it
  has an activity named conversion or purchase** (:data:`CONVERSIONS`, any letter case):
  the log marks the sale itself, as a web-analytics or CRM export writes its order event,
  so no customers table is needed (a log whose sales are in a customers table gets one
  ``purchase`` row per customer first). The case's journey is its touchpoints in time
  order (rows with the same time in file order) before its first conversion; events after
  it (onboarding, invoices, a second sale) are not part of the acquisition journey, are
  left out and counted in the notes. A case without a conversion is a null journey. A case
  that converts before any touchpoint is refused: it has no journey to attribute.

Model. The first-order chain (Anderl, Becker, von Wangenheim and Schumann 2016) over the
states start, the K touchpoints, conversion and null: every journey moves start -> its first
step, each step -> the next, its last step -> conversion or null. ``counts[i, j]`` are the
moves from i (0: start; touchpoint k: k + 1) to j (touchpoint k: k; then conversion, K, and
null, K + 1): the layout of :attr:`sim.inputs.parameters.Parameters.transitions` (purchase,
lost), so that a chain goes into :mod:`scenarios.chains` and
:func:`scenarios.edits.remove_from_journey` as it is. Touchpoints are in alphabetical order.
At the frequencies ``counts[i] / N_i`` the chain's conversion probability is the observed
share of journeys that convert, exactly (every entry into a state is followed by one exit,
so the expected visits of the fitted chain are the observed ones per journey).

Posterior. Given the chain, the moves out of each state are multinomial and independent of
the other states', so independent Dirichlet priors per row are conjugate:

    P[i] | n ~ Dirichlet(a[i] + n[i]),    a[i, j] = PRIOR / m_i if n[i, j] > 0 else 0,

m_i the number of states seen from i: a weak symmetric prior over the states seen from i,
worth one journey in all (Perks' prior). Why the states seen: a prior on every state would
open moves no journey made (every touchpoint one step from every other, start one step from
conversion), which the removal effects read as other routes to a sale: a touchpoint every
converting journey meets would no longer have effect 1, and thin rows would be pulled
towards the uniform row over all K + 2 states. Why one journey in all: Jeffreys' 1/2 per
state would give a row with 14 states seen 7 pseudo-journeys; one in all keeps the mean
within 1 / (N_i + 1) of the frequency and leaves the interval's width to the data. The
price: a move the data never show has probability 0 in every draw, so the intervals do not
cover routes the data happen to miss (it matters for rarely met touchpoints only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models.data import EMPTY, Problems, parse_dates, read_table
from sim.inputs.errors import InputError

PATH_COLUMNS = ("path", "total_conversions", "total_null")
"""The columns of an aggregated path file."""
STEP = " > "
"""What joins a path's steps."""
FOREIGN = (">", "|", "\u2192", "\u00bb", ",", ";")
"""Characters that, inside a step, mean the path was joined by another separator."""
PM4PY = ("case:concept:name", "concept:name", "time:timestamp")
"""An event log's case, activity and time columns, as pm4py names them."""
OWN = ("customer_id", "touchpoint", "timestamp")
"""The same columns as this project's event logs name them (:mod:`models.eventlog`)."""
CONVERSIONS = ("conversion", "purchase")
"""Activities of an event log that mark its case's conversion (any letter case)."""
START, CONVERSION, NULL = "start", "conversion", "null"
"""The chain's states besides the touchpoints."""
RESERVED = (START, CONVERSION, NULL)
"""Names a touchpoint may not have (the chain's own states)."""
PRIOR = 1.0
"""Pseudo-journeys of each row's prior, spread evenly over the states seen from it."""
SEPARATORS = (",", ";")
"""Separators of a CSV file, detected from its header."""
EXPECTED = (
    f"expected columns {', '.join(PATH_COLUMNS)} (aggregated paths), or an event log's "
    f"{', '.join(PM4PY)} (or {', '.join(OWN)})"
)


@dataclass(frozen=True)
class PathChain:
    """The first-order chain of a set of journeys and its Dirichlet posterior (module notes).

    ``counts`` and ``prior`` are (K + 1, K + 2): from start and each touchpoint, to each
    touchpoint, conversion and null. ``journeys`` is the table it was fitted from
    (:func:`read_journeys`).
    """

    channels: tuple[str, ...]
    counts: np.ndarray
    prior: np.ndarray
    journeys: pd.DataFrame = field(repr=False)

    @property
    def concentration(self) -> np.ndarray:
        """The posterior's Dirichlet parameters, a + n, per row."""
        return self.prior + self.counts

    @property
    def conversions(self) -> float:
        """Journeys that converted."""
        return float(self.counts[:, len(self.channels)].sum())

    @property
    def total(self) -> float:
        """Journeys (conversions and nulls)."""
        return float(self.counts[0].sum())

    def rows(self, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, transitions) of a (K + 1, K + 2) table of weights, each row over its sum."""
        K = len(self.channels)
        sums = table.sum(axis=-1, keepdims=True)
        P = np.divide(table, sums, out=np.zeros_like(table, dtype=float), where=sums > 0)
        return P[..., 0, :K], P[..., 1:, :]

    def frequencies(self) -> tuple[np.ndarray, np.ndarray]:
        """The chain at the observed frequencies n[i] / N_i: the standard first-order chain."""
        return self.rows(self.counts)

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        """The chain at the posterior mean, (a[i] + n[i]) / (A_i + N_i)."""
        return self.rows(self.concentration)

    def sample(self, draws: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``draws`` chains from the posterior: start (draws, K) and transitions (draws, K,
        K + 2), each row a Dirichlet draw (normalised gamma variates; 0 off the support)."""
        rng = np.random.default_rng(seed)
        shape = (draws, *self.counts.shape)
        return self.rows(rng.standard_gamma(np.broadcast_to(self.concentration, shape)))

    def moves(self) -> pd.DataFrame:
        """The journey map as a table: ``from``, ``next``, ``journeys`` (moves seen) and
        ``share`` (of the journeys leaving ``from``), the moves seen only, from start first."""
        counts = self.map().isel(segment=0, drop=True)
        share = counts / counts.sum("next")
        table = xr.Dataset({"journeys": counts, "share": share}).to_dataframe().reset_index()
        return table[table["journeys"] > 0].reset_index(drop=True)

    def map(self) -> xr.DataArray:
        """``counts`` labelled (segment, from, next), one segment ``all journeys``: the
        input of :func:`notebooks.touchpoint_plots.journey_map`."""
        return xr.DataArray(
            self.counts[None],
            dims=("segment", "from", "next"),
            name="journeys",
            coords={
                "segment": ["all journeys"],
                "from": [START, *self.channels],
                "next": [*self.channels, CONVERSION, NULL],
            },
        )

    def meeting(self) -> np.ndarray:
        """Journeys that meet each touchpoint at least once (from the data, per touchpoint)."""
        met = np.zeros(len(self.channels))
        index = {c: i for i, c in enumerate(self.channels)}
        for path, n in zip(
            self.journeys["path"],
            self.journeys["conversions"] + self.journeys["nulls"],
            strict=True,
        ):
            met[[index[step] for step in set(path)]] += n
        return met


def read_chain(path: str | Path, prior: float = PRIOR) -> PathChain:
    """The chain of the journeys in a file (:func:`read_journeys`, :func:`fit_chain`)."""
    return fit_chain(read_journeys(path), prior)


def fit_chain(journeys: pd.DataFrame, prior: float = PRIOR) -> PathChain:
    """The first-order chain's counts and prior (module notes) from a journeys table:
    ``path`` (tuples of touchpoints), ``conversions`` and ``nulls``.

    Raises
    ------
    ValueError
        If ``prior`` is not positive or a path is empty.
    """
    if prior <= 0:
        raise ValueError(f"need prior > 0, got {prior}")
    channels = tuple(sorted({step for path in journeys["path"] for step in path}))
    index = {c: i for i, c in enumerate(channels)}
    K = len(channels)
    froms: list[int] = []
    tos: list[int] = []
    weights: list[float] = []
    for path, converted, null in zip(
        journeys["path"], journeys["conversions"], journeys["nulls"], strict=True
    ):
        if not path:
            raise ValueError("a path is empty, expected at least one touchpoint")
        steps = [index[step] for step in path]
        froms += [0, *(k + 1 for k in steps), steps[-1] + 1]
        tos += [*steps, K, K + 1]
        weights += [converted + null] * len(steps) + [converted, null]
    counts = np.zeros((K + 1, K + 2))
    np.add.at(counts, (np.array(froms, dtype=int), np.array(tos, dtype=int)), weights)
    seen = counts > 0
    spread = prior / np.maximum(seen.sum(axis=1, keepdims=True), 1)
    return PathChain(channels, counts, np.where(seen, spread, 0.0), journeys)


def read_journeys(path: str | Path) -> pd.DataFrame:
    """The journeys of an aggregated path file or an event log (module notes), checked.

    Returns ``path`` (tuple of touchpoints), ``conversions`` and ``nulls`` (floats), one row
    per distinct path; ``attrs`` holds ``source``, ``format``, ``rows`` (of the file) and
    ``notes`` (sentences for the user: what was left out).

    Raises
    ------
    InputError
        Naming the file, and the row and column of each bad cell.
    """
    frame = read_text_table(path)
    columns = set(frame.columns)
    if PATH_COLUMNS[0] in columns or not columns & {*PM4PY, *OWN}:
        table = _aggregated(frame, str(path))
        kind = "aggregated paths"
    else:
        names = PM4PY if columns & set(PM4PY) else OWN
        table = _event_log(frame, str(path), names)
        kind = f"an event log ({', '.join(names)})"
    table.attrs.update(source=str(path), format=kind, rows=len(frame))
    table.attrs.setdefault("notes", [])
    return table


def read_text_table(path: str | Path) -> pd.DataFrame:
    """Every cell of a CSV (comma or semicolon separated) or Parquet file as stripped text,
    as :func:`models.data.read_table` gives it (rows labelled 0.. in file order)."""
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file() or path.stat().st_size == 0:
        return read_table(path)  # its refusals: suffix, missing, empty
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return read_table(path)  # names the line and byte
    header = next((line for line in text.splitlines() if line.strip()), "")
    separator = max(SEPARATORS, key=lambda s: (len(header.split(s)), s == ","))
    if separator == ",":
        return read_table(path)
    try:
        cells = pd.read_csv(
            StringIO(text),
            sep=separator,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except pd.errors.ParserError as error:
        message = f"cannot be read as CSV ({str(error).strip()})"
        raise InputError(str(path), [("", message)]) from None
    cells = cells.fillna("").apply(lambda column: column.str.strip())
    frame = cells.iloc[1:].set_axis(list(cells.iloc[0]), axis=1)
    frame = frame.set_axis(range(len(frame)), axis=0)
    named = [name != "" or (frame.iloc[:, j] != "").any() for j, name in enumerate(frame.columns)]
    frame = frame.loc[(frame != "").any(axis=1), named]
    twice = sorted(set(frame.columns[frame.columns.duplicated()]))
    if twice:
        message = f"column {', '.join(map(repr, twice))} appears twice, expected once"
        raise InputError(str(path), [("columns", message)])
    if frame.empty:
        raise InputError(str(path), [("", EMPTY)])
    return frame


def _aggregated(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Paths and their counts, every cell checked (module notes)."""
    problems = Problems(source)
    missing = [c for c in PATH_COLUMNS if c not in frame.columns]
    if missing:
        problems.add("columns", f"missing {', '.join(missing)}; {EXPECTED}")
    problems.check()
    counts = {c: _counts(frame[c], problems) for c in PATH_COLUMNS[1:]}
    converted, null = counts.values()
    for label in frame.index[(converted == 0) & (null == 0)]:
        problems.add(
            f"row {label + 1}, columns total_conversions and total_null",
            "both 0, expected at least one journey along the path",
            label + 1,
        )
    paths = []
    for label, text in frame["path"].items():
        steps, problem = parse_path(text)
        if problem:
            problems.add(f"row {label + 1}, column path", problem, label + 1)
        paths.append(steps)
    problems.check()
    table = pd.DataFrame({"path": paths, "conversions": converted, "nulls": null})
    return table.groupby("path", sort=False, as_index=False).sum()


def parse_path(text: str) -> tuple[tuple[str, ...], str]:
    """A path's steps, and what is wrong with it ("" if nothing)."""
    expected = f'expected touchpoints joined by "{STEP}"'
    if text == "":
        return (), f"empty, {expected}"
    steps = tuple(step.strip() for step in text.split(STEP))
    for number, step in enumerate(steps, start=1):
        if step == "":
            return steps, f"step {number} of {text!r} is empty, {expected}"
        foreign = [c for c in FOREIGN if c in step]
        if foreign:
            return steps, (
                f"step {step!r} holds {foreign[0]!r}, an unknown separator; {expected} "
                "(a space on each side)"
            )
        if step.casefold() in RESERVED:
            return steps, (
                f"step {step!r} is a state of the chain, expected touchpoints only "
                "(outcomes go in total_conversions and total_null)"
            )
    return steps, ""


def _counts(text: pd.Series, problems: Problems) -> pd.Series:
    """Numbers of journeys, 0 or more (NaN where bad, each bad cell a problem)."""
    values = pd.to_numeric(text, errors="coerce").astype(float)
    expected = "expected a number of journeys, 0 or more"
    empty = text == ""
    problems.cells(text, empty, f"empty, {expected}")
    problems.cells(text, ~empty & ~np.isfinite(values), f"{{value}} is not a number, {expected}")
    problems.cells(text, values < 0, f"{{value}} is negative, {expected}")
    return values.where(np.isfinite(values) & (values >= 0))


def _event_log(frame: pd.DataFrame, source: str, names: tuple[str, str, str]) -> pd.DataFrame:
    """The journeys of an event log's cases (module notes), every cell checked."""
    case, activity, timestamp = names
    problems = Problems(source)
    missing = [c for c in names if c not in frame.columns]
    if missing:
        problems.add("columns", f"missing {', '.join(missing)}; {EXPECTED}")
    problems.check()
    ids, acts = frame[case], frame[activity]
    problems.cells(ids, ids == "", "empty, expected a case id")
    problems.cells(acts, acts == "", "empty, expected a touchpoint or a conversion")
    problems.cells(
        acts,
        acts.str.casefold().isin([START, NULL]),
        f"{{value}} is a state of the chain, expected a touchpoint or one of "
        f"{', '.join(CONVERSIONS)}",
    )
    times = parse_dates(frame[timestamp], problems, time=True)
    problems.check()
    log = pd.DataFrame({"case": ids, "activity": acts, "time": times, "row": frame.index + 1})
    log = log.sort_values(["case", "time"], kind="stable")
    sale = log["activity"].str.casefold().isin(CONVERSIONS)
    by_case = log["case"]
    sales_before = sale.astype(int).groupby(by_case).cumsum() - sale
    steps_before = (~sale).astype(int).groupby(by_case).cumsum() - ~sale
    for row in log.loc[sale & (sales_before == 0) & (steps_before == 0), "row"]:
        problems.add(
            f"row {row}, column {activity}",
            f"case {frame.at[row - 1, case]!r} converts before any touchpoint, expected at "
            "least one touchpoint before its conversion",
            row,
        )
    problems.check()
    journey = log[~sale & (sales_before == 0)]
    paths = journey.groupby("case", sort=False)["activity"].agg(tuple)
    converted = sale.groupby(by_case).any().reindex(paths.index)
    table = (
        pd.DataFrame(
            {
                "path": paths.to_numpy(),
                "conversions": converted.to_numpy(dtype=float),
                "nulls": (~converted).to_numpy(dtype=float),
            }
        )
        .groupby("path", sort=False, as_index=False)
        .sum()
    )
    later = int((sales_before > 0).sum())
    events = "1 event" if later == 1 else f"{later:,} events"
    notes = [f"{events} after their case's first conversion left out (not part of a journey)."]
    if not sale.any():
        notes.append(
            f"No case converts: no activity is named {' or '.join(CONVERSIONS)}, which is how "
            "an event log marks a conversion (add a purchase row per customer who bought)."
        )
    table.attrs["notes"] = notes[int(not later) :]
    table.attrs["cases"] = len(paths)
    return table
