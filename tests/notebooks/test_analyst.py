"""The analyst notebook on small settings: it runs, shows its results as outputs (tables,
figures, text), and its tables are what the library gives (for the quick wins: the run and
the writer behind ``ctm quickwins``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from models.data import BUNDLED, load_customers, load_responses
from models.drivers import value_drivers
from models.eventlog import read_event_log
from models.journeys import JourneyModel
from models.maturity import assess
from models.posterior import load_posterior
from notebooks.report import execute
from notebooks.touchpoint_plots import journey_map
from scenarios.attribution import attribution
from scenarios.information import quickwins_information
from scenarios.quickwins import quick_wins, write_quickwins
from scenarios.runner import Settings
from scenarios.study import draws_of
from sim.inputs.parameters import from_world
from tests.helpers import notebook_outputs as outputs
from tests.helpers import posterior_file
from tests.helpers import read_csv as read

pytestmark = pytest.mark.slow  # each runs a notebook with papermill

SMALL = {
    "draws": 2,
    "customers": 300,
    "months": 12,
    "seed": 1,
    "prospects": 1000,
    "executor": "serial",
}
SETTINGS = Settings(customers=SMALL["customers"], months=SMALL["months"], seed=SMALL["seed"])


@pytest.fixture(scope="module")
def analyst(tmp_path_factory, demo_world) -> tuple[Path, Path, nbformat.NotebookNode]:
    """The notebook run on a small posterior: (posterior, tables folder, executed notebook)."""
    folder = tmp_path_factory.mktemp("analyst")
    posterior = posterior_file(folder / "posterior.nc", demo_world)
    tables = folder / "tables"
    executed = execute(
        "analyst_quickwins",
        {**SMALL, "posterior": str(posterior), "tables": str(tables)},
        folder / "analyst.ipynb",
    )
    return posterior, tables, nbformat.read(executed, as_version=4)


def test_results_are_outputs_figures_included(analyst):
    _, _, notebook = analyst
    assert len(outputs(notebook, "image/png")) == 4  # drivers, matrix, attribution, journeys
    assert len(outputs(notebook, "text/html")) >= 5  # the tables
    text = "\n".join(outputs(notebook, "text/markdown"))
    assert "A poor view of the" in text and "90% interval" in text
    assert "high impact: value gained above" in text
    assert "Churn caused by bad experiences" in text and "cases from `events.csv`" in text
    assert not outputs(notebook, "stderr")


def test_quickwins_table_is_what_ctm_quickwins_writes(analyst, demo_world, tmp_path):
    """The library's run and writer behind ``ctm quickwins``, on the same inputs; and what to
    measure next, the library's EVPPI of that run (2 draws: too few to fit, and said so)."""
    posterior, tables, notebook = analyst
    wins = quick_wins(
        demo_world, draws_of(demo_world, posterior, SMALL["draws"]), SETTINGS, executor="serial"
    )
    write_quickwins(wins, tmp_path / "quickwins")
    shown = read(tables / "quickwins.csv")
    assert len(shown) == 32 and (shown["quadrant"] == "quick win").any()
    pd.testing.assert_frame_equal(
        shown, read(tmp_path / "quickwins" / "quickwins.csv"), check_exact=False, rtol=1e-12
    )
    tree = load_posterior(posterior, demo_world)
    information = quickwins_information(wins.study.results, wins.table, demo_world, tree)
    pd.testing.assert_frame_equal(
        read(tables / "evppi.csv"), information.table, check_exact=False, rtol=1e-9
    )
    assert len(information.table) == 14 and information.draws == SMALL["draws"]
    text = "\n".join(outputs(notebook, "text/markdown")).replace("\\", "")
    assert information.note() in text and "too few to fit anything" in text


def test_drivers_are_the_posteriors(analyst, demo_world):
    posterior, tables, _ = analyst
    expected = value_drivers(load_posterior(posterior, demo_world)["posterior"].to_dataset())
    shown = pd.read_csv(tables / "drivers.csv")
    assert len(shown) == 14 * 4
    pd.testing.assert_frame_equal(shown, expected, check_exact=False, rtol=1e-12)


def test_attribution_tables_are_the_librarys(analyst, demo_world, tmp_path):
    posterior, tables, _ = analyst
    sets = draws_of(demo_world, posterior, SMALL["draws"])
    with warnings.catch_warnings():  # intervals of a touchpoint no one churns from: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        found = attribution(demo_world, sets, SETTINGS, SMALL["prospects"], "serial")
    assert len(found.journeys) == 2 * 3 * 14 and len(found.churn) == 14 * 4
    for name, table in (("journeys", found.journeys), ("churn", found.churn)):
        table.to_csv(tmp_path / f"{name}.csv", index=False)
        pd.testing.assert_frame_equal(
            read(tables / f"attribution_{name}.csv"),
            read(tmp_path / f"{name}.csv"),
            check_exact=False,
            rtol=1e-12,
        )


def test_journey_map_counts_the_demo_log(analyst, demo_world):
    _, tables, _ = analyst
    events = read_event_log(BUNDLED / "events.csv")
    model = JourneyModel(seed=SMALL["seed"]).fit(
        events, load_customers(BUNDLED / "customers.csv", demo_world), demo_world
    )
    expected, figure = journey_map(model.counts_)
    figure.clf()
    shown = pd.read_csv(tables / "journey_map.csv")
    assert set(shown["segment"]) == set(demo_world.segment_ids)
    pd.testing.assert_frame_equal(shown, expected, check_exact=False, rtol=1e-9)
    sequences = pd.read_csv(tables / "common_sequences.csv")
    assert (sequences["rank"] <= 5).all() and len(sequences) > 0


def test_maturity_is_the_librarys_on_the_demo_tables_and_the_posterior(analyst, demo_world):
    """No table given for the demo world: the bundled tables, as ``ctm maturity demo``."""
    posterior, tables, notebook = analyst
    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    expected = assess(
        demo_world,
        customers=customers,
        responses=load_responses(BUNDLED / "responses.csv", demo_world, customers),
        events=read_event_log(BUNDLED / "events.csv"),
        ratings=load_responses(BUNDLED / "ratings.csv", demo_world, customers),
        posterior=load_posterior(posterior, demo_world),
    )
    shown = read(tables / "maturity.csv")
    pd.testing.assert_frame_equal(shown, expected.table())
    assert "the posterior's 8 draws rank" in shown["evidence"][1]  # 2 chains x 4 draws
    text = "\n".join(outputs(notebook, "text/markdown"))
    assert expected.note() in text.replace("\\", "")


def test_without_a_posterior_the_worlds_assumed_effects_are_shown(tmp_path, demo_world):
    """Also: an event log without its customers table gives a message, not a map."""
    tables = tmp_path / "tables"
    executed = execute(
        "analyst_quickwins",
        {
            **SMALL,
            "customers": 100,
            "months": 3,
            "prospects": 200,
            "tables": str(tables),
            "events": str(BUNDLED / "events.csv"),
        },
        tmp_path / "analyst.ipynb",
    )
    notebook = nbformat.read(executed, as_version=4)
    text = "\n".join(outputs(notebook, "text/markdown"))
    assert "Value drivers need a fitted posterior" in text
    assert "What to measure next needs a fitted posterior" in text
    assert not (tables / "evppi.csv").exists()
    assert "needs the customers table too" in text
    assert len(outputs(notebook, "image/png")) == 2  # matrix and attribution
    drivers = pd.read_csv(tables / "drivers.csv")
    params = from_world(demo_world)
    odds = drivers.set_index(["segment", "touchpoint"])["odds_ratio"]
    for s, segment in enumerate(params.segments):
        for k, touchpoint in enumerate(params.touchpoints):
            assert odds[segment, touchpoint] == pytest.approx(np.exp(params.beta[s, k]))
    assert not (tables / "journey_map.csv").exists()
