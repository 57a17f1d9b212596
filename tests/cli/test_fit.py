"""ctm fit: the convergence gate, the override recorded in the file, the sub-models fitted,
and bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from models.posterior import attribute, load_posterior
from tests.helpers import ctm

SHORT = ("--draws", "100", "--tune", "100")  # too short to reach 400 effective draws


@pytest.mark.slow
def test_unconverged_fit_is_refused_then_kept_when_allowed(tmp_path, demo_world):
    data = tmp_path / "data"
    made = ctm("demo-data", "--customers", "1500", "--months", "12", "--out", str(data))
    assert made.returncode == 0, made.stderr
    tables = (
        "--customers",
        str(data / "customers.csv"),
        "--responses",
        str(data / "responses.csv"),
        "--events",
        str(data / "events.csv"),
    )
    out = tmp_path / "posterior.nc"
    refused = ctm("fit", "--world", "demo", *tables, *SHORT, "--out", str(out))
    assert refused.returncode == 1
    assert "did not converge, so no posterior was written" in refused.stderr
    assert not out.exists()

    cohorts = tmp_path / "cohorts.csv"
    cohorts.write_text(
        "segment,month,alive\nenterprise,0,100\nenterprise,1,90\nenterprise,2,84\nenterprise,3,80\n"
    )
    experiences = tmp_path / "ratings.csv"  # post-contact ratings of two touchpoints
    ids = pd.read_csv(data / "customers.csv")["customer_id"].head(300)
    pd.DataFrame(
        {
            "customer_id": ids,
            "date": "2025-03-01",
            "call_centre": 1 + ids.index % 5,
            "installer": 5 - ids.index % 3,
        }
    ).to_csv(experiences, index=False)
    kept = ctm(
        "fit",
        "--world",
        "demo",
        *tables,
        *SHORT,
        "--out",
        str(out),
        "--allow-unconverged",
        "--cohorts",
        str(cohorts),
        "--ratings",
        str(experiences),
    )
    assert kept.returncode == 0, kept.stderr
    assert "Value drivers" in kept.stdout and "A poor view of the" in kept.stdout
    tree = load_posterior(out, demo_world)
    assert attribute(tree, "allow_unconverged") is True
    assert attribute(tree, "diagnostics")["ok"] is False
    assert attribute(tree, "data")["person_months"] > 1_000
    assert (tmp_path / "posterior_drivers.csv").exists()
    assert (tmp_path / "posterior_drivers.png").stat().st_size > 10_000
    fitted = {m["name"]: m for m in attribute(tree, "fitted")["submodels"]}
    assert fitted["churn"]["fitted"] and fitted["loyalty"]["fitted"]  # demo-data has self_class
    assert fitted["loyalty"]["diagnostics"]["rhat"] > 0
    assert fitted["journeys"]["fitted"] and fitted["journeys"]["rows"] > 1_000
    assert fitted["arrivals"]["fitted"] and fitted["arrivals"]["variables"] == ["prospects"]
    left = attribute(tree, "fitted")["from_world"]
    assert "customers" in left and not {"prospects", "ratings"} & set(left)
    assert not {"alpha", "beta", "cutpoints", "gamma", "start", "transitions", "sbg"} & set(left)
    assert fitted["ratings"]["fitted"] and fitted["ratings"]["rows"] == 300  # installer only
    assert "rated: installer;" in fitted["ratings"]["note"]  # the queued call centre: not
    rated = tree["posterior"]["ratings"]
    assert rated.dims == ("chain", "draw", "segment", "touchpoint", "rating")
    assert rated.sel(touchpoint="call_centre").std(("chain", "draw")).max() < 1e-12  # constant
    assert attribute(tree, "fitted")["note"] == ""  # no note that ratings are the world's
    assert fitted["cohorts"]["fitted"] and fitted["cohorts"]["rows"] == 4
    sbg = tree["posterior"]["sbg"]
    assert sbg.sel(segment="enterprise").notnull().all() and sbg.shape[:2] == (2, 100)
    assert sbg.sel(segment="household").isnull().all()
    posterior = tree["posterior"]
    assert posterior["cutpoints"].dims == ("chain", "draw", "segment", "cutpoint")
    assert posterior["gamma"].shape[:2] == posterior["beta"].shape[:2] == (2, 100)
    assert posterior["transitions"].dims == ("chain", "draw", "segment", "touchpoint", "next")
    assert "Fitted: sub-models" in kept.stdout and "Loyalty diagnostics" in kept.stdout
    assert "Arrivals household:" in kept.stdout and "prospects a month in the world" in kept.stdout
    # A segment with too few new customers (the enterprise, about 2 in these 12 months) may
    # keep the world's prospects: NaN in the file, named in the note; the others are fitted.
    prospects = posterior["prospects"]
    kept = [s for s in demo_world.segment_ids if prospects.sel(segment=s).isnull().all()]
    assert (prospects.drop_sel(segment=kept) > 0).all() and "household" not in kept
    assert all(f"{s}" in fitted["arrivals"]["note"] for s in kept)


def test_bad_data_is_one_line_with_exit_2(tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,segment,start,end\nC1,martians,2025-01-01,\n")
    responses = tmp_path / "responses.csv"
    responses.write_text("customer_id,date,invoice\nC1,2025-01-15,4\n")
    done = ctm(
        "fit", "--world", "demo", "--customers", str(customers), "--responses", str(responses)
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{customers}: row 1, column segment:")


def test_tables_are_needed_for_another_world(tmp_path):
    done = ctm("fit", "--world", "demo", "--customers", str(tmp_path / "c.csv"))
    assert done.returncode == 2
    assert "--customers and --responses are needed" in done.stderr
