"""Feedback data: customers, survey responses and touchpoint events, read and validated.

Each table is a CSV or Parquet file (chosen by the suffix). Every cell is read as text and
checked here, so each problem names its cell as ``row N, column C``, where **rows count the
data rows from 1**: row 1 is the first row below the header (line 2 of a CSV file), as a user
counts records in a spreadsheet. All problems in a file are reported together (the first 20,
then a count) in one :class:`~sim.inputs.errors.InputError` whose source is the file. Dates
and times are ISO 8601 (``2024-01-31``, ``2024-01-31 14:05:00``); times with an offset
become UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from io import StringIO
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from sim.inputs.checks import RESERVED_SEGMENTS
from sim.inputs.errors import InputError
from sim.inputs.world import LOYALTY_CLASSES, World

BUNDLED = Path(__file__).parent / "demo"
"""The bundled demo data (``ctm demo-data --seed 1`` of the demo world) and its ``truth.nc``."""
CUSTOMER_COLUMNS = ("customer_id", "segment", "start", "end")
RESPONSE_COLUMNS = ("customer_id", "date")
OPTIONAL_RESPONSE_COLUMNS = ("nps", "self_class")
CLASSES = LOYALTY_CLASSES
CLASS_DTYPE = pd.CategoricalDtype(CLASSES, ordered=True)
SUFFIXES = (".csv", ".parquet")
LIMIT = 20
"""At most this many problems of a file are listed; the others are counted."""
DATE = "a date YYYY-MM-DD"
TIME = "a time YYYY-MM-DD HH:MM:SS"
EMPTY = "the file is empty, expected a header row and at least one data row"


class Problems:
    """The problems found in one file, listed in row order and capped at :data:`LIMIT`."""

    def __init__(self, source: str):
        self.source = source
        self.found: list[tuple[int, int, str, str]] = []
        self.total = 0

    def add(self, where: str, message: str, row: int = 0) -> None:
        """One problem; ``row`` orders it (0 for the file or its columns)."""
        self.total += 1
        self.found.append((row, len(self.found), where, message))

    def cells(
        self, text: pd.Series, bad: pd.Series, message: str, other: pd.Series | None = None
    ) -> None:
        """One problem per cell of column ``text`` where ``bad``.

        ``message`` may hold ``{value}`` for the cell and ``{other}`` for the same row of
        ``other``, each shown as written if a number and quoted otherwise.
        """
        labels = text.index[bad.to_numpy(dtype=bool)]
        self.total += max(0, len(labels) - LIMIT)
        for i in labels[:LIMIT]:
            extra = "" if other is None else _show(other[i])
            text_i = message.format(value=_show(text[i]), other=extra)
            self.add(f"row {i + 1}, column {text.name}", text_i, i + 1)

    def check(self) -> None:
        """Raise one InputError with the problems found so far, if there are any."""
        if self.total:
            listed = [(where, message) for _, _, where, message in sorted(self.found)[:LIMIT]]
            if self.total > LIMIT:
                listed.append(("", f"... and {self.total - LIMIT} more problems"))
            raise InputError(self.source, listed)


def load_customers(path: str | Path, world: World | None) -> pd.DataFrame:
    """Read and check the customers table.

    Parameters
    ----------
    path
        CSV or Parquet file with columns ``customer_id, segment, start, end`` (``end`` empty
        while the customer is active); other columns are kept as text.
    world
        Supplies the segment ids; None takes them from the table, in order of first
        appearance (any id but the words the tool uses, ``all`` and ``default``).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (``str``), ``segment`` (categorical of the segment ids), ``start``
        and ``end`` (datetime64, ``end`` NaT while active), then the other columns.

    Raises
    ------
    InputError
        Naming each empty or repeated id, unknown segment, bad date and end before start.
    """
    frame, problems = open_table(path, CUSTOMER_COLUMNS)
    problems.check()
    out = frame.copy()
    out["customer_id"] = parse_ids(frame["customer_id"], problems, unique=True)
    if world is None:
        named = frame["segment"]
        reserved = named.isin(RESERVED_SEGMENTS)
        problems.cells(named, named == "", "empty, expected a segment id")
        problems.cells(
            named, reserved, "segment {value} is a word the tool uses, expected another id"
        )
        good = (named != "") & ~reserved
        ids = list(dict.fromkeys(named[good]))
        out["segment"] = named.where(good).astype(pd.CategoricalDtype(ids))
    else:
        out["segment"] = parse_choices(frame["segment"], problems, world.segment_ids, "segment")
    out["start"] = parse_dates(frame["start"], problems)
    out["end"] = parse_dates(frame["end"], problems, required=False)
    message = "end {value} is before start {other}, expected an end on or after the start"
    problems.cells(frame["end"], out["end"] < out["start"], message, frame["start"])
    problems.check()
    others = [c for c in frame.columns if c not in CUSTOMER_COLUMNS]
    return out[[*CUSTOMER_COLUMNS, *others]].reset_index(drop=True)


def load_responses(
    path: str | Path, world: World, customers: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Read and check the survey responses table.

    Parameters
    ----------
    path
        CSV or Parquet file with ``customer_id, date``, rating columns (1..5 or empty) named by
        touchpoint id and optionally ``nps`` (0..10) and ``self_class``.
    world
        Supplies the touchpoint ids.
    customers
        The customers table; when given, every response must be from one of its customers.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (``str``), ``date`` (datetime64), one nullable ``Int8`` column per
        rated touchpoint (in the world's order), ``nps`` (``Int8``) and ``self_class``
        (ordered categorical dissatisfied < satisfied < loyal < advocate) if present.

    Raises
    ------
    InputError
        Naming each unknown column and each bad cell.
    """
    frame, problems = open_table(path, RESPONSE_COLUMNS)
    known = (*RESPONSE_COLUMNS, *OPTIONAL_RESPONSE_COLUMNS)
    for column in frame.columns:
        if column not in known and column not in world.touchpoint_ids:
            ids = ", ".join(world.touchpoint_ids)
            message = f"expected a touchpoint id ({ids}) or one of {', '.join(known)}"
            problems.add(f"column {column}", f"unknown touchpoint {column!r}, {message}")
    problems.check()
    out = pd.DataFrame(index=frame.index)
    out["customer_id"] = parse_ids(frame["customer_id"], problems)
    if customers is not None:
        ids = frame["customer_id"]
        unknown = (ids != "") & ~ids.isin(customers["customer_id"])
        message = "customer {value} is not in the customers table, expected a known id"
        problems.cells(ids, unknown, message)
    out["date"] = parse_dates(frame["date"], problems)
    for touchpoint in world.touchpoint_ids:
        if touchpoint in frame.columns:
            out[touchpoint] = parse_integers(frame[touchpoint], problems, 1, 5, "rating")
    if "nps" in frame.columns:
        out["nps"] = parse_integers(frame["nps"], problems, 0, 10, "NPS")
    if "self_class" in frame.columns:
        out["self_class"] = parse_classes(frame["self_class"], problems)
    problems.check()
    return out.reset_index(drop=True)


def load_events(
    path: str | Path,
    world: World,
    *,
    case: str = "customer_id",
    activity: str = "touchpoint",
    timestamp: str = "timestamp",
) -> pd.DataFrame:
    """Read and check an event log of touchpoint contacts.

    Parameters
    ----------
    path
        CSV or Parquet file with one row per contact.
    world
        Supplies the touchpoint ids.
    case, activity, timestamp
        The columns holding the customer id, the touchpoint id and the time, such as
        ``case="case_id", activity="activity"`` for a process-mining export.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (``str``), ``touchpoint`` (categorical of ``world.touchpoint_ids``) and
        ``timestamp`` (datetime64), sorted by customer and then time; other columns are dropped.

    Raises
    ------
    InputError
        Naming each bad cell by its column in the file.
    """
    frame, problems = open_table(path, (case, activity, timestamp))
    problems.check()
    out = pd.DataFrame(index=frame.index)
    out["customer_id"] = parse_ids(frame[case], problems)
    out["touchpoint"] = parse_choices(frame[activity], problems, world.touchpoint_ids, "touchpoint")
    out["timestamp"] = parse_dates(frame[timestamp], problems, time=True)
    problems.check()
    out = out.sort_values(["customer_id", "timestamp"], kind="stable")
    return out.reset_index(drop=True)


def read_table(path: str | Path) -> pd.DataFrame:
    """Every cell of a CSV or Parquet file as stripped text, ``""`` where empty.

    Rows are labelled 0, 1, ... in file order (label N - 1 is row N); rows with every cell
    empty, and unnamed columns with every cell empty, are dropped.

    Raises
    ------
    InputError
        For a bad suffix; a missing, empty, non-UTF-8 or unparsable file; no data rows; a
        column name used twice.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        _fail(path, f"unsupported file type {path.suffix or '(none)'!r}, expected .csv or .parquet")
    if not path.is_file():
        _fail(path, "is a directory, expected a file" if path.is_dir() else "no such file")
    if path.stat().st_size == 0:
        _fail(path, EMPTY)
    frame = _read_csv(path) if suffix == ".csv" else _read_parquet(path)
    named = [name != "" or (frame.iloc[:, j] != "").any() for j, name in enumerate(frame.columns)]
    frame = frame.loc[(frame != "").any(axis=1), named]
    twice = sorted(set(frame.columns[frame.columns.duplicated()]))
    if twice:
        _fail(path, f"column {', '.join(map(repr, twice))} appears twice, expected once", "columns")
    if frame.empty:
        _fail(path, "no data rows below the header, expected at least one row")
    return frame


def parse_ids(text: pd.Series, problems: Problems, *, unique: bool = False) -> pd.Series:
    """Customer ids as ``str``; empty (and, if ``unique``, repeated) ids are problems."""
    problems.cells(text, text == "", "empty, expected a customer id")
    again = text.duplicated() & (text != "")
    if unique and again.any():
        first = {value: str(label + 1) for label, value in text[~text.duplicated()].items()}
        message = "customer id {value} appears again (first in row {other}), expected it once"
        problems.cells(text, again, message, text.map(first))
    return text.astype(str)


def parse_dates(
    text: pd.Series, problems: Problems, required: bool = True, time: bool = False
) -> pd.Series:
    """ISO 8601 dates or times as naive datetime64[us] (UTC if an offset is given), NaT if empty."""
    label, expected = ("time", TIME) if time else ("date", DATE)
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    parsed = parsed.dt.tz_localize(None).astype("datetime64[us]")  # one unit, whatever the text
    empty = text == ""
    if required:
        problems.cells(text, empty, f"empty, expected {expected}")
    problems.cells(
        text, parsed.isna() & ~empty, f"{label} {{value}} cannot be read, expected {expected}"
    )
    return parsed


def parse_integers(
    text: pd.Series, problems: Problems, low: int, high: int, label: str
) -> pd.Series:
    """Whole numbers ``low..high`` (``4.0`` counts as 4) as nullable Int8, NA if empty."""
    codes, values = pd.factorize(text)  # parse each distinct text once
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    good = (numbers >= low) & (numbers <= high) & (numbers % 1 == 0)
    whole = pd.Series(good[codes], index=text.index)
    expected = f"expected an integer {low}..{high} or empty"
    problems.cells(text, (text != "") & ~whole, f"{label} {{value}}, {expected}")
    return pd.Series(numbers[codes], index=text.index).where(whole).astype("Int8")


def parse_classes(text: pd.Series, problems: Problems) -> pd.Series:
    """Self-classifications (any case) as an ordered categorical, NaN if empty."""
    lower = text.str.casefold()
    expected = f"expected {', '.join(CLASSES)} or empty"
    problems.cells(
        text, (text != "") & ~lower.isin(CLASSES), f"unknown class {{value}}, {expected}"
    )
    return lower.where(lower.isin(CLASSES)).astype(CLASS_DTYPE)


def parse_choices(text: pd.Series, problems: Problems, ids: list[str], label: str) -> pd.Series:
    """Ids from ``ids`` as a categorical; empty or unknown ids are problems."""
    expected = f"expected one of {', '.join(ids)}"
    problems.cells(text, text == "", f"empty, {expected}")
    problems.cells(text, ~text.isin(ids) & (text != ""), f"unknown {label} {{value}}, {expected}")
    return text.where(text.isin(ids)).astype(pd.CategoricalDtype(ids))


def open_table(path: str | Path, required: Iterable[str]) -> tuple[pd.DataFrame, Problems]:
    """The table as text and its problems so far: any missing required columns."""
    frame = read_table(path)
    problems = Problems(str(path))
    missing = [c for c in required if c not in frame.columns]
    if missing:
        expected = f"expected columns {', '.join(required)}"
        problems.add("columns", f"missing {', '.join(missing)}; {expected}")
    return frame, problems


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV file as text; the first row names the columns."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = f"byte 0x{data[error.start]:02x} is not UTF-8"
        _fail(path, f"{byte}, expected a UTF-8 text file (save as CSV UTF-8)", f"line {line}")
    try:
        cells = pd.read_csv(
            StringIO(text), header=None, dtype=str, keep_default_na=False, skip_blank_lines=False
        )
    except pd.errors.EmptyDataError:
        _fail(path, EMPTY)
    except pd.errors.ParserError as error:
        _fail(path, f"cannot be read as CSV ({str(error).strip()})")
    cells = cells.fillna("").apply(lambda column: column.str.strip())
    frame = cells.iloc[1:].set_axis(list(cells.iloc[0]), axis=1)
    return frame.set_axis(range(len(frame)), axis=0)


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as text; a named index becomes columns again."""
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as error:
        _fail(path, f"cannot be read as Parquet ({error})")
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    frame = frame.apply(_column_as_text).set_axis(range(len(frame)), axis=0)
    return frame.set_axis([str(name).strip() for name in frame.columns], axis=1)


def _column_as_text(column: pd.Series) -> pd.Series:
    """A typed column as text, converting each distinct value once."""
    try:
        codes, values = pd.factorize(column)
    except TypeError:  # unhashable cells, such as lists
        return column.astype(object).map(lambda v: "" if v is None else _as_text(v)).astype(str)
    texts = np.array([*map(_as_text, values), ""], dtype=object)  # code -1 (missing) -> ""
    return pd.Series(texts[codes], index=column.index, dtype=str)


def _as_text(value: object) -> str:
    """A typed (not missing) cell as the text a CSV file would hold: ``4`` for 4.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _show(text: str) -> str:
    """A number as written, anything else quoted."""
    try:
        float(text)
    except ValueError:
        return repr(text)
    return text


def _fail(path: Path, message: str, where: str = "") -> NoReturn:
    """Raise an InputError for the file as a whole."""
    raise InputError(str(path), [(where, message)])
