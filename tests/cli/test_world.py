"""ctm validate, simulate and staffing end to end: outputs written whole, or not at all."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

from sim.inputs.files import atomic_directory
from tests.helpers import ctm, installed_ctm


def test_simulate_writes_netcdf_and_parquet(tmp_path):
    out = tmp_path / "run"
    done = ctm(
        "simulate", "demo", "--customers", "2000", "--months", "6", "--seed", "3", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "household" in done.stdout and "Results:" in done.stdout
    ds = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert dict(ds.sizes) == {
        "segment": 3,
        "month": 6,
        "touchpoint": 14,
        "loyalty": 4,
        "cohort": 6,
        "tenure": 6,
        "queue": 1,
    }
    assert (out / "queues.parquet").exists()
    assert ds.attrs["currency"] == "EUR" and ds.attrs["seed"] == 3
    monthly = pd.read_parquet(out / "monthly.parquet")
    assert len(monthly) == 3 * 6
    assert monthly["active_start"].sum() == pytest.approx(float(ds["active_start"].sum()))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_validate_demo_is_ok():
    done = ctm("validate", "demo")
    assert done.returncode == 0 and done.stdout.startswith("OK")


def test_the_installed_script_runs_the_commands(tmp_path):
    """The console script the package installs: OK on the demo, one line and exit code 2 on a
    missing file (the only test that starts ``ctm`` as a user does)."""
    done = installed_ctm("validate", "demo")
    assert done.returncode == 0 and done.stdout.startswith("OK: demo:"), done.stderr
    missing = tmp_path / "nope.yaml"
    refused = installed_ctm("validate", str(missing))
    assert refused.returncode == 2 and refused.stderr == f"{missing}: no such file\n"


def test_failed_write_leaves_previous_output_untouched(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "results.nc").write_text("previous")
    with pytest.raises(KeyboardInterrupt), atomic_directory(target) as folder:
        (folder / "results.nc").write_text("half")
        raise KeyboardInterrupt
    assert (target / "results.nc").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_staffing_recommends_the_erlang_a_answer():
    """Reference example: 7 agents answer 77.5% within 20 s, 8 agents 86.2% (Erlang A)."""
    done = ctm(
        "staffing",
        "--calls-per-hour",
        "120",
        "--handling",
        "3 min",
        "--patience",
        "60% within 1 min",
        "--target",
        "80% within 20 s",
    )
    assert done.returncode == 0, done.stderr
    assert "Fewest agents meeting the target: 8" in done.stdout


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--handling", "3 parsecs", "--handling: got '3 parsecs', expected a number and a unit"),
        (
            "--target",
            "80 within 20 s",
            "--target: got '80 within 20 s', expected '<percent>% within",
        ),
        (
            "--patience",
            "160% within 1 min",
            "--patience: got '160% within 1 min', expected a percent",
        ),
    ],
)
def test_staffing_bad_option_is_one_line(option, value, message):
    args = {"--handling": "3 min", "--target": "80% within 20 s", option: value}
    done = ctm("staffing", "--calls-per-hour", "120", *[x for kv in args.items() for x in kv])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1
    assert lines[0].startswith(f"ctm staffing: {message}")


def test_an_output_folder_that_cannot_be_is_refused_before_the_run(tmp_path):
    """--out naming a file, ., or a folder inside a file: one line, exit 2, the file as it
    was; a killed run's staging folder beside the output is cleaned up."""
    taken = tmp_path / "taken.txt"
    taken.write_text("keep me")
    for out, phrase in (
        (taken, "is a file, expected a folder for the results"),
        (Path("."), "is not a folder's name"),
        (taken / "run", "its folder is a file"),
    ):
        done = ctm("simulate", "demo", "--customers", "100", "--months", "2", "--out", str(out))
        assert done.returncode == 2 and phrase in done.stderr and done.stderr.count("\n") == 1
    assert taken.read_text() == "keep me"
    stale = tmp_path / ".run.staging-999999999-abc"
    stale.mkdir()
    done = ctm(
        "simulate", "demo", "--customers", "100", "--months", "2", "--out", str(tmp_path / "run")
    )
    assert done.returncode == 0 and not stale.exists()


def test_simulate_with_the_agents_writes_what_the_compiled_engine_writes(tmp_path):
    written = {}
    for engine in ("agents", "compiled"):
        out = tmp_path / engine
        args = ("--customers", "1500", "--months", "5", "--seed", "2", "--out", str(out))
        done = ctm("simulate", "demo", "--engine", engine, *args)
        assert done.returncode == 0, done.stderr
        written[engine] = xr.load_dataset(out / "results.nc", engine="h5netcdf")
        assert written[engine].attrs.pop("engine") == engine
    xr.testing.assert_allclose(written["agents"], written["compiled"], rtol=1e-9)
    assert written["agents"]["churned"].equals(written["compiled"]["churned"])
    assert written["agents"]["queue_offered"].equals(written["compiled"]["queue_offered"])


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """The disk fills while the results are written: one line naming the file, exit code 1,
    no traceback, and no results folder nor staging left (outputs appear whole or not at
    all)."""
    import errno

    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    out = tmp_path / "run"
    done = ctm("simulate", "demo", "--customers", "500", "--months", "2", "--out", str(out))
    lines = [ln for ln in done.stderr.strip().splitlines() if not ln.startswith("simulating")]
    assert done.returncode == 1 and len(lines) == 1 and "Traceback" not in done.stderr, lines
    assert "results.nc: No space left on device: nothing was written" in lines[0]
    assert list(tmp_path.iterdir()) == []
