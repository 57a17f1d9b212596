"""``ctm plan``: bad input refused in one line with exit code 2 before any simulation, and the
command end to end on a small run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers import ctm

CASES = [
    # (arguments, the start of the one error line, a fragment of it)
    (["--budget", "abc"], "--budget: ", "should be a valid number"),
    (["--budget", "-5"], "--budget: ", "should be greater than or equal to 0"),
    (["--budget", "nan"], "--budget: ", "should be greater than or equal to 0"),
    (["--budget", "inf"], "--budget: ", "expected a finite number"),
    (["--budget", "1e5", "--effort-weeks", "-1"], "--effort-weeks: ", "greater than or equal"),
    (["--budget", "1e5", "--min-confidence", "1.5"], "--min-confidence: ", "less than or equal"),
    (["--budget", "1e5", "--team-weeks-per-month", "0"], "--team-weeks-per-month: ", "above 0"),
    (["--budget", "1e5", "--name", "fix invoice"], "--name: ", "is the name of a candidate"),
]
"""Each with the candidates ``fix invoice`` and ``fix website`` of the demo."""


@pytest.fixture
def no_work(monkeypatch):
    """A simulation started fails loudly: bad input must be refused before it."""
    import scenarios.budget  # before the patch: it binds run_study on import
    import scenarios.study

    def started(*args, **kwargs):
        raise RuntimeError("work started before the bad input was refused")

    monkeypatch.setattr(scenarios.study, "run_study", started)
    monkeypatch.setattr(scenarios.budget, "run_study", started)


def refused(args: list[str], start: str, fragment: str, tmp_path) -> None:
    out = tmp_path / "plan"
    done = ctm("plan", *args, "--out", str(out))
    shown = f"{args}\nexit {done.returncode}\n{done.stderr}"
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout, shown
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start) and fragment in lines[0], shown
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("options", "start", "fragment"), CASES)
def test_bad_options_are_refused_in_one_line(options, start, fragment, tmp_path, no_work):
    refused(["demo", "fix invoice", "fix website", *options], start, fragment, tmp_path)


@pytest.mark.parametrize(
    ("candidate", "fragment"),
    [
        ("fix nowhere", "unknown candidate, expected a scenario file or folder"),
        ("remove invoice", "not a candidate: essential in the world file"),
        ("nowhere.yaml", "unknown candidate"),
    ],
)
def test_unknown_candidates_are_refused_in_one_line(candidate, fragment, tmp_path, no_work):
    refused(["demo", "fix invoice", candidate, "--budget", "1e5"], f"{candidate}: ", fragment,
            tmp_path)  # fmt: skip


@pytest.mark.slow  # a small sweep of 3 candidates and the chosen set together: about 15 s
def test_plan_end_to_end(tmp_path):
    out = tmp_path / "plan"
    done = ctm(
        "plan", "demo", "fix invoice", "fix website", "remove tv_ad", "--budget", "250000",
        "--effort-weeks", "30", "--draws", "3", "--customers", "300", "--months", "6",
        "--serial", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "plan.json").read_text())
    frontier = pd.read_csv(out / "frontier.csv", keep_default_na=False)
    candidates = pd.read_csv(out / "candidates.csv")
    given = frontier[frontier["given"]].iloc[0]
    assert given["budget"] == 250000 and given["scenarios"] == "; ".join(summary["chosen"])
    assert (np.diff(frontier["net_value"]) >= 0).all()
    assert (frontier["spend"] <= frontier["budget"] + 1e-6).all()
    assert (frontier["effort_weeks"] <= 30 + 1e-9).all()
    assert set(candidates["scenario"]) == {"fix invoice", "fix website", "remove tv_ad"}
    assert candidates.set_index("scenario").loc["remove tv_ad", "basis"] == (
        "none stated: the conservative end"
    )
    assert "The efficient frontier" in done.stdout
    assert (out / "frontier.png").exists() and (out / "sweep" / "results.nc").exists()
    if summary["chosen"]:
        assert (out / "together" / "economics.csv").exists()
        assert "Simulated together it gains" in done.stdout
