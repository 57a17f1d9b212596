"""ctm fit: the convergence gate, the override recorded in the file, the sub-models fitted,
and bad input, the baseline from a customers table or cohort counts alone, ctm cohorts."""

from __future__ import annotations

import numpy as np
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


def test_responses_need_customers(tmp_path):
    done = ctm("fit", "--world", "demo", "--responses", str(tmp_path / "r.csv"))
    assert done.returncode == 2
    assert "--customers and --responses are needed" in done.stderr


CUSTOMERS = (
    "customer_id,segment,start,end\n"
    "C1,household,2024-01-10,2024-03-20\n"
    "C2,household,2024-02-03,\n"
    "C3,enterprise,2024-04-01,\n"
)
ADD_ONS = (
    "customer_id,segment,start,end,add_ons,add_on_margin\n"
    "C1,household,2024-01-10,2024-03-20,1,40\n"
    "C2,household,2024-02-03,,0,\n"
    "C3,enterprise,2024-04-01,,0,0\n"
)
"""A customers table with add-ons (months stayed: C1 2 of its 3, C2 3, C3 1)."""


@pytest.mark.parametrize(
    ("kind", "text", "options", "where", "message"),
    [
        (
            "cohorts",
            "segment,month,alive\nhousehold,0,100\nhousehold,1,90\nhousehold,2,95\n",
            (),
            "row 3, column alive",
            "more customers alive in month 2 than the month before",
        ),
        (
            "cohorts",
            "segment,cohort,month,alive,at_risk\nhousehold,2024-01,0,100,\n"
            "household,2024-01,1,80,120\n",
            (),
            "row 2, column at_risk",
            "has 120 at risk in month 1 but 100 alive in month 0",
        ),
        (
            "customers",
            CUSTOMERS.replace("2024-03-20", "2023-12-01"),
            (),
            "row 1, column end",
            "is before start",
        ),
        (
            "customers",
            CUSTOMERS,
            ("--snapshot", "2024-03-31"),
            "row 3, column start",
            "is after the snapshot 2024-03-31",
        ),
        (
            "customers",
            ADD_ONS.replace("2024-03-20,1,", "2024-03-20,-1,"),
            (),
            "row 1, column add_ons",
            "add_ons -1, expected a whole number of 0 or more",
        ),
        (
            "customers",
            ADD_ONS.replace("2024-03-20,1,", "2024-03-20,5,"),
            (),
            "row 1, column add_ons",
            "add_ons 5 in 2 months stayed, expected at most one a month",
        ),
        (
            "customers",
            ADD_ONS.replace(",0,\n", ",0,-20\n", 1),
            (),
            "row 2, column add_on_margin",
            "add_on_margin -20, expected a number of 0 or more",
        ),
        (
            "customers",
            ADD_ONS.replace("add_ons,", "bought,"),
            (),
            "column add_on_margin",
            "without add_ons, expected both or neither",
        ),
    ],
    ids=[
        "counts rise",
        "at risk inconsistent",
        "end before start",
        "start after snapshot",
        "add-ons negative",
        "add-ons above months",
        "add-on margin negative",
        "add-on margin alone",
    ],
)
def test_bad_tables_are_refused_in_one_line(tmp_path, kind, text, options, where, message):
    """Refused before any sampling, one line naming file, row and column, exit code 2."""
    path = tmp_path / f"{kind}.csv"
    path.write_text(text)
    done = ctm("fit", f"--{kind}", str(path), *options, "--out", str(tmp_path / "p.nc"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: {where}: "), lines
    assert message in lines[0]
    assert not (tmp_path / "p.nc").exists()


def test_an_output_that_is_a_folder_is_refused_before_any_work(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS)
    done = ctm("fit", "--customers", str(path), "--out", str(tmp_path))
    assert done.returncode == 2
    assert "is a folder, expected the name of a file" in done.stderr
    done = ctm("fit", "--customers", str(path), "--snapshot", "soon", "--out", "p.nc")
    assert done.returncode == 2 and "--snapshot: got 'soon', expected a date" in done.stderr


def test_ctm_cohorts_writes_a_table_ctm_fit_reads(tmp_path, demo_world):
    from models.cohorts import load_cohorts

    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS)
    out = tmp_path / "made" / "cohorts.csv"  # a folder that does not exist yet
    done = ctm("cohorts", str(path), "--out", str(out), "--snapshot", "2024-06-30")
    assert done.returncode == 0, done.stderr
    assert "3 cohorts of 3 customers" in done.stdout
    table = load_cohorts(out, demo_world)
    household = table[table["cohort"] == "2024-01"]
    assert household["alive"].tolist() == [1, 1, 1, 0]  # left in its third month (March)
    assert table[table["cohort"] == "2024-04"]["month"].max() == 3  # April, May, June


@pytest.mark.slow
def test_customers_alone_on_the_demo_table_end_to_end(tmp_path):
    """``ctm fit --customers`` alone (no survey, no world) on the bundled demo customers,
    observed from the run's first day: into a folder that does not exist yet, it writes the
    posterior, the retention table and plot, and a minimal world that validates; the
    retention check passes (no warning, recorded in the file), and the draws become
    parameter sets with one tenure band a month."""
    from models.data import BUNDLED
    from models.minimal_world import parse_world
    from scenarios.study import draws_of

    out = tmp_path / "new" / "folder" / "posterior.nc"
    done = ctm(
        "fit", "--customers", str(BUNDLED / "customers.csv"), "--observed-from", "2025-01-01",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Baseline diagnostics" in done.stdout and "Retention check" in done.stdout
    assert "Warning" not in done.stderr, done.stderr
    world_file = out.with_name("posterior_world.yaml")
    for name in ("posterior_retention.csv", "posterior_retention.png", "posterior_world.yaml"):
        assert out.with_name(name).exists(), name
    assert ctm("validate", str(world_file)).returncode == 0
    world = parse_world(world_file.read_text(), str(world_file))
    assert world.segment_ids == ["household", "small_business", "enterprise"]
    tree = load_posterior(out, world)
    retention = attribute(tree, "retention")
    assert set(retention) == {"household", "small_business"}  # enterprise: under 30 at risk
    assert all(r["warning"] is None and r["share_outside"] <= 0.1 for r in retention.values())
    table = pd.read_csv(out.with_name("posterior_retention.csv"))
    assert list(table.columns[:8]) == [
        "segment", "month", "km", "km_low", "km_high", "fitted", "fitted_low", "fitted_high",
    ]  # fmt: skip
    assert table.groupby("segment")["month"].max()["household"] > 100
    sets = draws_of(world, out, 4)
    assert len(sets[0].band_starts) == len(tree["posterior"]["band_starts"]) > 100
    np.testing.assert_array_equal(sets[0].band_starts[:3], [0, 1, 2])
    fitted = {m["name"]: m for m in attribute(tree, "fitted")["submodels"]}
    assert fitted["baseline"]["diagnostics"]["ok"] and fitted["tenure"]["fitted"]


@pytest.mark.slow
def test_customers_alone_with_a_world_keep_its_effects_and_bring_monthly_bands(
    tmp_path, demo_world
):
    """With --world demo: the world's 4 tenure bands are replaced by the fit's monthly ones
    in every parameter set, its touchpoint effects are kept, and cohort counts made by
    ``ctm cohorts`` from the same table fit the sBG alone."""
    from models.data import BUNDLED
    from scenarios.study import draws_of
    from sim.inputs.parameters import from_world

    customers = str(BUNDLED / "customers.csv")
    out = tmp_path / "posterior.nc"
    window = ("--observed-from", "2025-01-01")
    done = ctm("fit", "--world", "demo", "--customers", customers, *window, "--out", str(out))
    assert done.returncode == 0, done.stderr
    sets = draws_of(demo_world, out, 3)
    assert len(sets[0].band_starts) > 100 and sets[0].alpha.shape[1] == len(sets[0].band_starts)
    np.testing.assert_array_equal(sets[0].beta, from_world(demo_world).beta)
    cohorts = tmp_path / "cohorts.csv"
    assert (
        ctm("cohorts", customers, "--world", "demo", *window, "--out", str(cohorts)).returncode == 0
    )
    out = tmp_path / "sbg.nc"
    done = ctm("fit", "--cohorts", str(cohorts), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "household: alpha" in done.stdout and out.with_name("sbg_retention.csv").exists()


@pytest.mark.slow  # 3 s each: the demo's customers and responses are read first
@pytest.mark.parametrize(
    ("option", "text", "message"),
    [
        ("--ratings", "customer_id,date,nonexistent\nC1,2025-03-01,3\n", "unknown touchpoint"),
        ("--cohorts", "segment,month,alive\nhousehold,0,100\nhousehold,1,120\n", "never rise"),
        (
            "--events",
            "customer_id,touchpoint,timestamp\nA,order,2025-01-02 10:00\n"
            "A,website,2025-01-01 10:00\n",
            "in time order",
        ),
    ],
)
def test_every_table_is_checked_before_the_churn_model_samples(tmp_path, option, text, message):
    """A bad ratings, cohorts or events table beside good customers and responses: refused in
    one line before any sampling (before, after a minute of it)."""
    from models.data import BUNDLED

    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    done = ctm(
        "fit", "--world", "demo", "--customers", str(BUNDLED / "customers.csv"),
        "--responses", str(BUNDLED / "responses.csv"), option, str(bad),
        "--out", str(tmp_path / "posterior.nc"),
    )  # fmt: skip
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert done.stderr.strip().startswith(str(bad)) and len(done.stderr.strip().splitlines()) == 1
    assert "diagnostics" not in done.stdout and not (tmp_path / "posterior.nc").exists()
