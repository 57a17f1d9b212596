"""Convert a wide survey export (one column per question) into the responses table.

A small YAML mapping names the export's columns::

    customer_id: Respondent ID
    date: Submitted
    touchpoints: {"How satisfied were you with your bill?": invoice, "Q7": call_centre}
    nps: Q12                    # optional, 0..10
    self_class: Q13             # optional, dissatisfied/satisfied/loyal/advocate
    answers: {"Excellent": 5}   # optional, added to (and overriding) the default answers

Answers are matched ignoring case and surrounding spaces; numbers 1..5 pass through and blanks
are missing. Rows are numbered as in :mod:`models.data` (row 1 is the first data row).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.data import Problems, parse_classes, parse_dates, parse_ids, parse_integers, read_table
from sim.inputs.errors import InputError
from sim.inputs.files import read_yaml

DEFAULT_ANSWERS = {
    "Very dissatisfied": 1,
    "Dissatisfied": 2,
    "Neutral": 3,
    "Neither satisfied nor dissatisfied": 3,
    "Satisfied": 4,
    "Very satisfied": 5,
}
KEYS = ("customer_id", "date", "touchpoints", "nps", "self_class", "answers")


def convert_survey(export_path: str | Path, mapping_path: str | Path) -> pd.DataFrame:
    """The responses table of a wide survey export.

    Parameters
    ----------
    export_path
        CSV or Parquet survey export, one row per respondent and one column per question.
    mapping_path
        YAML file naming the export's columns (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (``str``), ``date`` (datetime64), one nullable ``Int8`` rating column
        per mapped touchpoint id, and ``nps`` (``Int8``) and ``self_class`` (ordered
        categorical) if mapped: the table :func:`models.data.load_responses` returns.

    Raises
    ------
    InputError
        For a bad mapping (source: the mapping file) or a bad export cell or missing column
        (source: the export).
    """
    mapping = _read_mapping(Path(mapping_path))
    frame = read_table(export_path)
    problems = Problems(str(export_path))
    named = [mapping["customer_id"], mapping["date"], *mapping["touchpoints"]]
    named += [mapping[key] for key in ("nps", "self_class") if key in mapping]
    missing = [column for column in named if column not in frame.columns]
    if missing:
        where = f"named in {Path(mapping_path).name}"
        problems.add("columns", f"missing {', '.join(map(repr, missing))} ({where})")
    problems.check()
    answers = _answers(mapping["answers"])
    out = pd.DataFrame(index=frame.index)
    out["customer_id"] = parse_ids(frame[mapping["customer_id"]], problems)
    out["date"] = parse_dates(frame[mapping["date"]], problems)
    for column, touchpoint in mapping["touchpoints"].items():
        out[touchpoint] = _ratings(frame[column], answers, problems)
    if "nps" in mapping:
        out["nps"] = parse_integers(frame[mapping["nps"]], problems, 0, 10, "NPS")
    if "self_class" in mapping:
        out["self_class"] = parse_classes(frame[mapping["self_class"]], problems)
    problems.check()
    return out.reset_index(drop=True)


def _ratings(text: pd.Series, answers: dict[str, tuple[str, int]], problems: Problems) -> pd.Series:
    """Text answers or numbers 1..5 as nullable Int8; unknown answers are problems."""
    scores = {value: _score(value, answers) for value in text.unique()}
    values = text.map(scores)
    bad = values == 0
    labels = ", ".join(label for label, _ in answers.values())
    message = f"answer {{value}} is not known, expected one of {labels}, a number 1..5 or empty"
    problems.cells(text, bad, message)
    return values.where(~bad).astype("Int8")


def _score(value: str, answers: dict[str, tuple[str, int]]) -> int | None:
    """The rating of one answer: None if blank, 0 if not known."""
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return answers.get(_key(value), ("", 0))[1]
    return int(number) if number.is_integer() and 1 <= number <= 5 else 0


def _answers(extra: list[tuple[str, int]]) -> dict[str, tuple[str, int]]:
    """Normalised answer -> (answer as written, rating): the defaults, then the mapping's."""
    return {_key(label): (label, score) for label, score in [*DEFAULT_ANSWERS.items(), *extra]}


def _key(answer: str) -> str:
    """An answer ignoring case and extra spaces."""
    return " ".join(answer.split()).casefold()


def _read_mapping(path: Path) -> dict:
    """The mapping file, checked; one InputError (source: the file) lists every problem."""
    data = read_yaml(path)
    problems = [(str(key), f"unknown key, expected one of {', '.join(KEYS)}") for key in data]
    problems = [problem for problem in problems if problem[0] not in KEYS]
    for key in ("customer_id", "date", "nps", "self_class"):
        if (key in data or key in KEYS[:2]) and not _is_name(data.get(key)):
            problems.append((key, f"got {data.get(key)!r}, expected the name of an export column"))
        elif key in data:
            data[key] = data[key].strip()  # as the export's column names are
    problems += _check_touchpoints(data) + _check_answers(data)
    if problems:
        raise InputError(str(path), problems)
    return data


def _check_touchpoints(data: dict) -> list[tuple[str, str]]:
    """Problems of ``touchpoints``, whose column names become strings."""
    touchpoints = data.get("touchpoints")
    if not isinstance(touchpoints, dict) or not touchpoints:
        return [("touchpoints", "expected a mapping {export column: touchpoint id}")]
    data["touchpoints"] = {str(column).strip(): tid for column, tid in touchpoints.items()}
    ids = list(data["touchpoints"].values())
    return [
        (f"touchpoints.{column}", f"got {tid!r}, expected a touchpoint id used only once")
        for column, tid in data["touchpoints"].items()
        if not _is_name(tid) or ids.count(tid) > 1 or tid in KEYS
    ]


def _check_answers(data: dict) -> list[tuple[str, str]]:
    """Problems of ``answers``, which becomes a list of (answer, rating)."""
    answers = data.get("answers", {})
    if not isinstance(answers, dict):
        return [("answers", "expected a mapping {answer: rating 1..5}")]
    data["answers"] = [(str(label), score) for label, score in answers.items()]
    return [
        (f"answers.{label}", f"got {score!r}, expected an integer 1..5")
        for label, score in data["answers"]
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5
    ]


def _is_name(value: object) -> bool:
    """A non-empty string."""
    return isinstance(value, str) and value.strip() != ""
