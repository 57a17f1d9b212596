"""``ctm track`` end to end (slow) and its bad input: one line each, exit code 2, nothing
written; ``ctm demo-data --plan`` likewise."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from models.data import BUNDLED
from tests.helpers import ctm
from tests.scenarios.test_tracking import synthetic

EXAMPLES = "scenarios/examples"
TABLES = ("--customers", str(BUNDLED / "customers.csv"), "--ratings", str(BUNDLED / "ratings.csv"))


@pytest.fixture
def prediction(demo_world, tmp_path):
    path = tmp_path / "prediction.nc"
    found = synthetic(demo_world, {"baseline": 0.03, "plan": 0.02}, {"baseline": 3, "plan": 4})
    found.to_netcdf(path, engine="h5netcdf")
    return path


def refused(tmp_path, *args: str) -> str:
    """Run a command that must be refused; its one line."""
    out = tmp_path / "out"
    done = ctm(*args, "--out", str(out))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr + done.stdout
    assert "Traceback" not in done.stderr and not out.exists()
    return lines[0]


def test_a_launch_outside_the_data(tmp_path, prediction):
    line = refused(tmp_path, "track", str(prediction), "--launch", "2031-03-01", *TABLES)
    assert line.startswith("--launch: 2031-03-01 is outside the data, which run from 2025-01-")
    line = refused(tmp_path, "track", str(prediction), "--launch", "March", *TABLES)
    assert line == "--launch: 'March' is not a date, expected YYYY-MM-DD"


def test_a_prediction_of_another_world(tmp_path, prediction, demo_world):
    other = synthetic(demo_world, {"baseline": 0.03, "plan": 0.02}, {"baseline": 3, "plan": 4})
    other.attrs.update(world="Elsewhere", fingerprint="0123456789abcdef")
    other.to_netcdf(tmp_path / "other.nc", engine="h5netcdf")
    line = refused(tmp_path, "track", str(tmp_path / "other.nc"), "--launch", "2026-01-01", *TABLES)
    assert line.startswith(f"{tmp_path / 'other.nc'}: made for world 'Elsewhere'")


def test_new_tables_with_an_unknown_segment(tmp_path, prediction):
    customers = pd.read_csv(BUNDLED / "customers.csv")
    customers.loc[3, "segment"] = "martians"
    customers.to_csv(tmp_path / "customers.csv", index=False)
    line = refused(tmp_path, "track", str(prediction), "--launch", "2026-01-01",
                   "--customers", str(tmp_path / "customers.csv"))  # fmt: skip
    assert line == (
        f"{tmp_path / 'customers.csv'}: row 4, column segment: unknown segment 'martians', "
        "expected one of household, small_business, enterprise"
    )


def test_demo_data_launch_month_needs_a_plan(tmp_path):
    line = refused(tmp_path, "demo-data", "--launch-month", "3")
    assert line == "--plan: --plan and --launch-month go together, expected both or neither"
    line = refused(tmp_path, "demo-data", "--plan", f"{EXAMPLES}/fix_invoice.yaml",
                   "--launch-month", "30")  # fmt: skip
    assert line == "--launch-month: got 30, expected a month of the data: 1 to 23"


@pytest.mark.slow
def test_compare_then_track_a_launch(tmp_path):
    """compare writes the prediction; demo data with the plan launched in month 3; track
    writes its table, JSON and figure, says the verdicts, refits the churn model and
    forecasts the plan's value again beside the value predicted before launch."""
    compare, data, out = tmp_path / "compare", tmp_path / "data", tmp_path / "track"
    done = ctm("compare", "demo", f"{EXAMPLES}/fix_invoice.yaml", "--customers", "1500",
               "--months", "12", "--draws", "3", "--serial", "--out", str(compare))  # fmt: skip
    assert done.returncode == 0, done.stderr
    plan = f"{EXAMPLES}/fix_invoice.yaml"
    done = ctm("demo-data", "--customers", "1500", "--months", "9", "--plan", plan,
               "--launch-month", "3", "--out", str(data))  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = ctm("track", str(compare), "--launch", "2025-04-01",
               *(x for name in ("customers", "responses", "ratings", "events")
                 for x in (f"--{name}", str(data / f"{name}.csv"))),
               "--refit", "--draws", "2", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "invoice rating" in done.stdout and "on track" in done.stdout
    table = pd.read_csv(out / "track.csv")
    assert table["period"].max() == "2025-09" and table["month"].max() == 5
    assert set(table["verdict"]) <= {"on track", "behind", "ahead", "too early to tell"}
    summary = json.loads((out / "track.json").read_text())
    assert summary["scenario"] == "Clearer invoice" and len(summary["latest"]) == 6
    assert (out / "track.png").stat().st_size > 10_000
    value = pd.read_csv(out / "forecast.csv").set_index("when")
    before = pd.read_csv(compare / "economics.csv").set_index("scenario").loc["Clearer invoice"]
    assert value.loc["before launch", "value_gain"] == pytest.approx(before["value_gain"])
    assert value.loc["refitted", "value_gain_low"] <= value.loc["refitted", "value_gain_high"]
    assert "refitted" in done.stdout and (out / "posterior.nc").exists()
