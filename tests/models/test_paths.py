"""models.paths: path files and event logs read into journeys, the first-order chain's counts,
its prior and posterior, and every refusal of bad input (file, row and column named).

Tolerances: counts and the prior are exact (sums of the file's numbers, 1e-12); the posterior
draws' mean against the Dirichlet mean, 4 Monte-Carlo standard errors of a mean of 4,000 draws
(a row's entry p has sd below sqrt(p (1 - p) / (A + N + 1)) per draw).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.paths import fit_chain, parse_path, read_chain, read_journeys
from sim.inputs.errors import InputError

HAND = """path,total_conversions,total_null
C1 > C2,1,0
C1,0,1
C2 > C3,1,1
"""
"""Three paths; by hand: start -> C1 2, start -> C2 2; C1 -> C2 1, C1 -> null 1;
C2 -> C3 2, C2 -> conversion 1; C3 -> conversion 1, C3 -> null 1."""
HAND_COUNTS = np.array(
    [  # to C1, C2, C3, conversion, null; from start, C1, C2, C3
        [2, 2, 0, 0, 0],
        [0, 1, 0, 0, 1],
        [0, 0, 2, 1, 0],
        [0, 0, 0, 1, 1],
    ],
    dtype=float,
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str, name: str = "paths.csv") -> list[str]:
    with pytest.raises(InputError) as error:
        read_journeys(write(tmp_path, name, text))
    return error.value.lines()


# Good files ---------------------------------------------------------------------------------


def test_hand_made_counts_and_prior(tmp_path):
    chain = read_chain(write(tmp_path, "paths.csv", HAND))
    assert chain.channels == ("C1", "C2", "C3")
    np.testing.assert_array_equal(chain.counts, HAND_COUNTS)
    # one pseudo-journey per row, spread over the states seen from it (2 in every row here)
    np.testing.assert_allclose(chain.prior, np.where(HAND_COUNTS > 0, 0.5, 0.0), atol=1e-12)
    assert chain.total == 4 and chain.conversions == 2
    start, T = chain.frequencies()
    np.testing.assert_allclose(start, [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(T[1], [0, 0, 2 / 3, 1 / 3, 0], atol=1e-12)
    start, T = chain.mean()  # (n + a) / (N + A): C2's row (2.5, 1.5) / 4
    np.testing.assert_allclose(T[1], [0, 0, 5 / 8, 3 / 8, 0], atol=1e-12)
    np.testing.assert_array_equal(chain.meeting(), [2, 3, 2])
    moves = chain.moves()
    assert len(moves) == 8 and moves["journeys"].sum() == HAND_COUNTS.sum()
    row = moves[(moves["from"] == "C2") & (moves["next"] == "conversion")].iloc[0]
    assert row["journeys"] == 1 and row["share"] == pytest.approx(1 / 3)


def test_semicolons_parquet_and_repeated_paths_read_alike(tmp_path):
    comma = read_chain(write(tmp_path, "comma.csv", HAND))
    semicolon = read_chain(write(tmp_path, "semi.csv", HAND.replace(",", ";")))
    np.testing.assert_array_equal(semicolon.counts, comma.counts)
    frame = pd.DataFrame(
        {
            "path": ["C1 > C2", "C1", "C2 > C3"],
            "total_conversions": [1, 0, 1],
            "total_null": [0, 1, 1],
        }
    )
    frame.to_parquet(tmp_path / "paths.parquet")
    np.testing.assert_array_equal(read_chain(tmp_path / "paths.parquet").counts, comma.counts)
    split = HAND.replace("C2 > C3,1,1", "C2 > C3,1,0\nC2 > C3,0,1")  # the same path twice
    again = read_journeys(write(tmp_path, "split.csv", split))
    assert len(again) == 3
    np.testing.assert_array_equal(fit_chain(again).counts, comma.counts)


def test_fractional_counts_and_self_loops(tmp_path):
    chain = read_chain(
        write(tmp_path, "p.csv", "path,total_conversions,total_null\na > a,0.5,1.5\n")
    )
    np.testing.assert_allclose(chain.counts, [[2, 0, 0], [2, 0.5, 1.5]], atol=1e-12)


PM4PY_LOG = """case:concept:name,concept:name,time:timestamp
k1,C1,2024-01-01 10:00:00
k1,C2,2024-01-02 10:00:00
k1,purchase,2024-01-03 10:00:00
k1,invoice,2024-02-01 10:00:00
k2,C1,2024-01-01 11:00:00
k3,C3,2024-01-05 10:00:00
k3,C2,2024-01-04 10:00:00
k4,C2,2024-01-04 10:00:00
k4,C3,2024-01-04 10:00:00
k4,Conversion,2024-01-06 10:00:00
"""
"""The hand-made journeys as an event log: k1 converts (its invoice after the sale is left
out), k2 does not, k3's rows are out of time order, k4 converts (any letter case) and its two
touchpoints share a time (file order)."""


@pytest.mark.parametrize("columns", ["pm4py", "own"])
def test_an_event_log_gives_the_same_chain(tmp_path, columns):
    text = PM4PY_LOG
    if columns == "own":
        text = text.replace(
            "case:concept:name,concept:name,time:timestamp", "customer_id,touchpoint,timestamp"
        )
    journeys = read_journeys(write(tmp_path, "log.csv", text))
    np.testing.assert_array_equal(fit_chain(journeys).counts, HAND_COUNTS)
    assert journeys.attrs["cases"] == 4
    assert journeys.attrs["notes"] == [
        "1 event after their case's first conversion left out (not part of a journey)."
    ]
    assert "event log" in journeys.attrs["format"]


def test_posterior_draws(tmp_path):
    chain = read_chain(write(tmp_path, "paths.csv", HAND))
    starts, rows = chain.sample(4_000, seed=3)
    assert starts.shape == (4_000, 3) and rows.shape == (4_000, 3, 5)
    np.testing.assert_allclose(starts.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(rows.sum(axis=2), 1.0, atol=1e-12)
    assert (rows[:, HAND_COUNTS[1:] == 0] == 0).all()  # never off the moves seen
    start, T = chain.mean()
    conc = chain.concentration.sum(axis=1)
    sd = np.sqrt(T * (1 - T) / (conc[1:, None] + 1) / 4_000)
    assert (np.abs(rows.mean(axis=0) - T) <= 4 * sd + 1e-12).all()
    same = chain.sample(10, seed=3)[1]
    np.testing.assert_array_equal(same, chain.sample(10, seed=3)[1])


def test_the_posterior_mean_tends_to_the_frequencies(tmp_path):
    """|mean - frequency| <= A_i / (A_i + N_i) with A_i = 1: within 1 / (N_i + 1)."""
    text = "path,total_conversions,total_null\na > b,30,70\nb,5,895\na,1,0\n"
    chain = read_chain(write(tmp_path, "p.csv", text))
    N = chain.counts.sum(axis=1, keepdims=True)
    gap = np.abs(chain.rows(chain.concentration)[1] - chain.frequencies()[1])
    assert (gap <= 1 / (N[1:] + 1) + 1e-12).all()


# Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "where", "says"),
    [
        ("a > b,1,0\n,2,3\n", "row 2, column path", "empty"),
        ("a > b,1,0\na>b,2,3\n", "row 2, column path", "unknown separator"),
        ("a -> b,2,3\n", "row 1, column path", "unknown separator"),
        ("a | b,2,3\n", "row 1, column path", "unknown separator"),
        ('"a, b",2,3\n', "row 1, column path", "unknown separator"),
        ("a >  > b,2,3\n", "row 1, column path", "step 2"),
        ("a > conversion,2,3\n", "row 1, column path", "a state of the chain"),
        ("a,1,0\nb,0,0\n", "row 2, columns total_conversions and total_null", "both 0"),
        ("a,1,0\nb,-1,4\n", "row 2, column total_conversions", "negative"),
        ("a,1,-2\n", "row 1, column total_null", "negative"),
        ("a,x,0\n", "row 1, column total_conversions", "not a number"),
        ("a,1,\n", "row 1, column total_null", "empty"),
    ],
)
def test_bad_rows_are_named(tmp_path, rows, where, says):
    lines = refusal(tmp_path, "path,total_conversions,total_null\n" + rows)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path / 'paths.csv'}: {where}: ") and says in lines[0]


def test_missing_columns_and_other_files(tmp_path):
    (line,) = refusal(tmp_path, "path,total_conversions\na,1\n")
    assert "columns: missing total_null" in line and "aggregated paths" in line
    (line,) = refusal(tmp_path, "journey,conversions\na,1\n")
    assert "missing path, total_conversions, total_null" in line and "event log" in line
    (line,) = refusal(tmp_path, "case:concept:name,concept:name\nk,a\n", "log.csv")
    assert "columns: missing time:timestamp" in line
    (line,) = refusal(tmp_path, "", "empty.csv")
    assert "empty" in line
    with pytest.raises(InputError, match="no such file"):
        read_journeys(tmp_path / "absent.csv")


def test_bad_event_logs_are_named(tmp_path):
    head = "case:concept:name,concept:name,time:timestamp\n"
    lines = refusal(
        tmp_path,
        head + "k1,a,2024-01-01\n,b,2024-01-02\nk2,,2024-01-01\nk3,a,yesterday\n",
        "log.csv",
    )
    assert [line.split(": ")[1] for line in lines] == [
        "row 2, column case:concept:name",
        "row 3, column concept:name",
        "row 4, column time:timestamp",
    ]
    (line,) = refusal(tmp_path, head + "k1,purchase,2024-01-01\nk1,a,2024-01-02\n", "log.csv")
    assert "row 1, column concept:name: case 'k1' converts before any touchpoint" in line


def test_parse_path():
    assert parse_path("a > b > a") == (("a", "b", "a"), "")
    assert parse_path("Paid Search > E-mail/newsletter") == (
        ("Paid Search", "E-mail/newsletter"),
        "",
    )
    assert "unknown separator" in parse_path("a \u2192 b")[1]
