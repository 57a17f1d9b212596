"""The shared figures: colours, shaded bands at the right quantiles, units on the axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.colors import to_hex, to_rgb

from notebooks import plots
from scenarios.runner import BASELINE

SCENARIOS = [BASELINE, "Faster repairs", "New app"]
DRAWS, MONTHS = 40, 6


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def results() -> xr.Dataset:
    """Random results: a shrinking installed base, active customers and margin."""
    rng = np.random.default_rng(3)
    shape = (len(SCENARIOS), DRAWS, 2, MONTHS)
    dims = ("scenario", "draw", "segment", "month")
    size = np.array([200.0, 50.0])
    kept = rng.uniform(0.9, 1.0, size=shape).cumprod(axis=-1)
    return xr.Dataset(
        {
            "base_active": (dims, np.round(kept * size[:, None])),
            "base_size": (dims[:3], np.broadcast_to(size, shape[:3]).copy()),
            "active": (dims, rng.poisson(300, size=shape).astype(float)),
            "margin": (dims, rng.normal(5e4, 1e4, size=shape)),
        },
        coords={
            "scenario": SCENARIOS,
            "draw": range(DRAWS),
            "segment": ["home", "office"],
            "month": range(MONTHS),
        },
        attrs={"scale": 12.5, "currency": "GBP"},
    )


def band(ax, gid: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The x values and the lower and upper edges of the shaded band with ``gid``."""
    (collection,) = [c for c in ax.collections if c.get_gid() == gid]
    vertices = collection.get_paths()[0].vertices
    xs = np.unique(vertices[:, 0])
    low = np.array([vertices[vertices[:, 0] == x, 1].min() for x in xs])
    high = np.array([vertices[vertices[:, 0] == x, 1].max() for x in xs])
    return xs, low, high


def test_colours_are_stable_distinct_and_the_baseline_is_grey():
    names = [f"scenario {i}" for i in range(15)]
    colours = plots.scenario_colours([*names[:3], BASELINE, *names[3:]])
    assert colours == plots.scenario_colours([*names[:3], BASELINE, *names[3:]])
    r, g, b = to_rgb(colours[BASELINE])
    assert r == g == b
    assert len(set(colours.values())) == len(colours)  # 15 scenarios and the baseline
    assert colours["scenario 0"] == to_hex(plt.get_cmap("tab10").colors[0])
    again = plots.scenario_colours(["b", "a", "b"])
    assert list(again) == ["b", "a"] and again["b"] != again["a"]
    assert all(to_rgb(c) != to_rgb(colours[BASELINE]) for n, c in colours.items() if n != BASELINE)


@pytest.mark.parametrize("segment", ["all", "office"])
def test_retention_band_is_the_5_to_95_percent_quantiles_over_draws(results, segment):
    colours = plots.scenario_colours(results.scenario.values)
    fig = plots.retention_curves(results, segment=segment, colours=colours)
    ax = fig.axes[0]
    picked = results if segment == "all" else results.sel(segment=[segment])
    for name in SCENARIOS:
        part = picked.sel(scenario=name)
        share = (part["base_active"].sum("segment") / part["base_size"].sum("segment")).values
        xs, low, high = band(ax, f"band:{name}")
        np.testing.assert_array_equal(xs, np.arange(MONTHS + 1))
        np.testing.assert_allclose(low, np.r_[1, np.quantile(share, 0.05, axis=0)])
        np.testing.assert_allclose(high, np.r_[1, np.quantile(share, 0.95, axis=0)])
        (line,) = [ln for ln in ax.lines if ln.get_gid() == f"mean:{name}"]
        np.testing.assert_allclose(line.get_ydata(), np.r_[1, share.mean(axis=0)])
        assert line.get_color() == colours[name]
    assert "%" in ax.get_ylabel() and "month" in ax.get_xlabel()


def test_difference_over_time_scales_to_the_company_and_names_the_currency(results):
    fig = plots.difference_over_time(results, "New app", "margin")
    ax = fig.axes[0]
    margin = results["margin"].sum("segment")
    diff = (margin.sel(scenario="New app") - margin.sel(scenario=BASELINE)).values * 12.5
    xs, low, high = band(ax, "band:New app")
    divisor = 1e3 if "thousand" in ax.get_ylabel() else 1.0
    np.testing.assert_allclose(low * divisor, np.quantile(diff, 0.05, axis=0))
    np.testing.assert_allclose(high * divisor, np.quantile(diff, 0.95, axis=0))
    assert "GBP" in ax.get_ylabel() and "month" in ax.get_xlabel()
    counts = plots.difference_over_time(results, "New app", "active", segment="home").axes[0]
    assert "customers" in counts.get_ylabel()


def test_difference_over_time_refuses_a_variable_without_months(results):
    with pytest.raises(ValueError, match="base_size"):
        plots.difference_over_time(results, "New app", "base_size")


def comparison_rows(
    outcome: str, unit: str, scenarios: list[str], segments: list[str], rng: np.random.Generator
) -> pd.DataFrame:
    """A comparison table (columns of scenarios.compare.compare) with random figures."""
    rows = []
    for scenario in scenarios:
        for segment in segments:
            mean = rng.normal()
            low, high = mean - rng.uniform(0.1, 1), mean + rng.uniform(0.1, 1)
            rows.append(
                {
                    "segment": segment,
                    "scenario": scenario,
                    "outcome": outcome,
                    "unit": unit,
                    "difference": mean,
                    "low": low,
                    "high": high,
                }
            )
    return pd.DataFrame(rows)


def bars(ax) -> list[tuple[float, float, float]]:
    """(y, left, right) of each interval bar, top to bottom."""
    found = [
        (p.get_y() + p.get_height() / 2, p.get_x(), p.get_x() + p.get_width())
        for p in ax.patches
        if p.get_gid() == "intervals"
    ]
    return sorted(found, reverse=True)


def test_forest_plot_rows_are_the_intervals_in_order_with_the_currency():
    table = comparison_rows(
        "lifetime_value", "currency", ["A", "B", "C"], ["all", "x"], np.random.default_rng(1)
    )
    colours = plots.scenario_colours([BASELINE, "C", "B", "A"])
    ax = plots.forest_plot(table, currency="CHF", colours=colours).axes[0]
    rows = table[table["segment"] == "all"]
    found = bars(ax)
    assert len(found) == 3
    np.testing.assert_allclose([f[1] for f in found], rows["low"])
    np.testing.assert_allclose([f[2] for f in found], rows["high"])
    top_down = sorted(
        zip(ax.get_yticks(), ax.get_yticklabels(), strict=True),
        reverse=True,
        key=lambda tick: tick[0],
    )
    assert [label.get_text() for _, label in top_down] == ["A", "B", "C"]
    faces = [p.get_facecolor()[:3] for p in sorted(ax.patches, key=lambda p: -p.get_y())]
    assert faces == [to_rgb(colours[s]) for s in ("A", "B", "C")]
    assert "CHF" in ax.get_xlabel() and ax.get_ylabel()


def test_forest_plot_shows_shares_in_percentage_points():
    table = comparison_rows("retention_12", "share", ["A"], ["all"], np.random.default_rng(2))
    ax = plots.forest_plot(table, outcome="retention_12").axes[0]
    ((_, left, right),) = bars(ax)
    assert left == pytest.approx(100 * table["low"].iloc[0])
    assert right == pytest.approx(100 * table["high"].iloc[0])
    assert "percentage points" in ax.get_xlabel()


def test_segment_effects_has_one_row_per_segment():
    table = comparison_rows(
        "margin", "currency", ["A", "B"], ["all", "home", "office"], np.random.default_rng(4)
    ).assign(
        difference=lambda t: t["difference"] * 2e6,
        low=lambda t: t["low"] * 2e6,
        high=lambda t: t["high"] * 2e6,
    )
    ax = plots.segment_effects(table, "B", outcome="margin", currency="USD").axes[0]
    rows = table[table["scenario"] == "B"]
    found = bars(ax)
    np.testing.assert_allclose([f[1] * 1e6 for f in found], rows["low"])
    assert "million USD" in ax.get_xlabel()
    assert len(ax.get_yticklabels()) == 3


def test_economics_plot_shades_the_value_interval_against_cost():
    money = pd.DataFrame(
        {
            "scenario": ["A", "B"],
            "value_gain": [3e5, -1e5],
            "value_gain_low": [1e5, -4e5],
            "value_gain_high": [6e5, 2e5],
            "cost": [2e5, 5e4],
        }
    )
    colours = plots.scenario_colours([BASELINE, "A", "B"])
    ax = plots.economics_plot(money, "SEK", colours).axes[0]
    for row in money.itertuples():
        (lines,) = [c for c in ax.collections if c.get_gid() == f"interval:{row.scenario}"]
        (segment,) = lines.get_segments()
        np.testing.assert_allclose(
            segment * 1e3, [[row.cost, row.value_gain_low], [row.cost, row.value_gain_high]]
        )
        assert tuple(lines.get_color()[0][:3]) == to_rgb(colours[row.scenario])
    assert "thousand SEK" in ax.get_xlabel() and "thousand SEK" in ax.get_ylabel()


def test_economics_plot_marks_the_recommended_plan_and_names_the_measure():
    money = pd.DataFrame(
        {
            "scenario": ["A", "B $2"],
            "value_gain": [3e5, -1e5],
            "value_gain_low": [1e5, -4e5],
            "value_gain_high": [6e5, 2e5],
            "cost": [2e5, -5e4],
            "measure": "lifetime",
        }
    )
    ax = plots.economics_plot(money, "SEK", recommended="A").axes[0]
    (marked,) = [line for line in ax.lines if line.get_gid() == "recommended:A"]
    assert marked.get_markersize() > 6 and marked.get_xdata()[0] == pytest.approx(2e2)
    assert not [line for line in ax.lines if line.get_gid() == "recommended:B $2"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "A (recommended)" in legend and r"B \$2" in legend  # a $ is not mathtext
    assert "lifetime value gained" in ax.get_ylabel()
    assert "monthly cost after the run included" in ax.get_xlabel()
    run = plots.economics_plot(money.assign(measure="run"), "SEK").axes[0]
    assert "over the run" in run.get_ylabel() and "over the run" in run.get_xlabel()


@pytest.mark.parametrize(
    ("outcome", "per", "name"),
    [
        ("lifetime_value", "SEK per customer, discounted", "lifetime value per customer"),
        ("value_run", "SEK per customer, discounted", "value over the run per customer"),
        (
            "acquired_lifetime_value",
            "SEK per acquired customer, discounted",
            "lifetime value per acquired customer, net of acquisition",
        ),
        ("margin", "SEK, company scale, undiscounted", "margin over the run"),
    ],
)
def test_forest_plot_names_every_value_outcome_and_its_unit(outcome, per, name):
    table = comparison_rows(outcome, "currency", ["A"], ["all"], np.random.default_rng(5))
    ax = plots.forest_plot(table, outcome=outcome, currency="SEK").axes[0]
    assert ax.get_xlabel() == f"{name}: scenario less baseline ({per})"
