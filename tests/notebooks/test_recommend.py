"""The headline and the recommendation: written from the figures, by the stated rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from notebooks.recommend import (
    economics_summary,
    escape_markdown,
    headline,
    headline_text,
    ranking,
    recommendation,
    scenario_summary,
    sources_text,
)
from scenarios.runner import BASELINE

MONTHS, DRAWS = 12, 25


@pytest.fixture
def results() -> xr.Dataset:
    """Random monthly totals with every variable the outcomes need."""
    rng = np.random.default_rng(7)
    dims = ("scenario", "draw", "segment", "month")
    shape = (2, DRAWS, 2, MONTHS)
    size = rng.integers(80, 120, size=shape[:3]).astype(float)
    kept = rng.uniform(0.95, 1.0, size=shape).cumprod(axis=-1)
    monthly = {
        name: (dims, rng.uniform(1, 50, size=shape))
        for name in (
            "active_start",
            "churned",
            "acquired",
            "margin",
            "cost_to_serve",
            "advocates",
            "dissatisfied",
        )
    }
    return xr.Dataset(
        {
            **monthly,
            "active": (dims, rng.uniform(100, 200, size=shape)),
            "base_active": (dims, np.floor(kept * size[..., None])),
            "base_size": (dims[:3], size),
            "base_value": (dims[:3], size * rng.uniform(80, 90)),
        },
        coords={
            "scenario": [BASELINE, "x"],
            "draw": range(DRAWS),
            "segment": ["home", "office"],
            "month": range(MONTHS),
        },
        attrs={
            "scale": 3.0,
            "currency": "EUR",
            "customers": 200,
            "months": MONTHS,
            "seed": 1,
            "discount_rate": 0.01,
            "world": "Test world",
        },
    )


def money_table(**changes: dict) -> pd.DataFrame:
    """Economics of three scenarios (columns of scenarios.compare.economics)."""
    rows = {
        "Web chat": dict(value_gain=500e3, cost=100e3, p_gain_exceeds_cost=0.8, payback_month=7.0),
        "New app": dict(value_gain=900e3, cost=200e3, p_gain_exceeds_cost=0.6, payback_month=9.0),
        "Close stores": dict(
            value_gain=2.5e6, cost=100e3, p_gain_exceeds_cost=0.3, payback_month=np.nan
        ),
    }
    for name, change in changes.items():
        rows[name.replace("_", " ")].update(change)
    table = pd.DataFrame([{"scenario": name, **row} for name, row in rows.items()])
    return table.assign(
        value_gain_low=table["value_gain"] - 300e3,
        value_gain_high=table["value_gain"] + 400e3,
        **{"return": (table["value_gain"] - table["cost"]) / table["cost"]},
        effort_weeks=4.0,
    )


def comparison_table(names: list[str]) -> pd.DataFrame:
    rows = [
        {
            "segment": "all",
            "scenario": name,
            "outcome": outcome,
            "unit": unit,
            "baseline_mean": base,
            "scenario_mean": base + step,
            "difference": step,
            "low": step / 2,
            "high": 2 * step,
            "p_better": 0.9,
        }
        for name in names
        for outcome, unit, base, step in (
            ("lifetime_value", "currency", 200.0, 4.0),
            ("retention_12", "share", 0.8, 0.01),
            ("retention_24", "share", np.nan, np.nan),
        )
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "segment",
            "scenario",
            "outcome",
            "unit",
            "baseline_mean",
            "scenario_mean",
            "difference",
            "low",
            "high",
            "p_better",
        ],
    )


def recommended(text: str) -> str:
    """The scenario a recommendation names first, in bold."""
    return text.split("**")[3] if text.startswith("**Recommendation:**") else ""


def test_headline_is_the_baselines_mean_and_interval_over_draws(results):
    table = headline(results).set_index("outcome")
    base = results.sel(scenario=BASELINE).sum("segment")
    retention = (base["base_active"].isel(month=11) / base["base_size"]).values
    assert table.loc["retention_12", "mean"] == pytest.approx(retention.mean())
    assert table.loc["retention_12", "low"] == pytest.approx(np.quantile(retention, 0.05))
    assert table.loc["retention_12", "high"] == pytest.approx(np.quantile(retention, 0.95))
    value = (base["base_value"] / base["base_size"]).values
    assert table.loc["lifetime_value", "mean"] == pytest.approx(value.mean())
    last = base.isel(month=-1)
    nps = (100 * (last["advocates"] - last["dissatisfied"]) / last["active"]).values
    assert table.loc["nps", "high"] == pytest.approx(np.quantile(nps, 0.95))
    assert np.isnan(table.loc["retention_24", "mean"])  # a 12-month run
    text = headline_text(headline(results), "EUR")
    assert f"{retention.mean():.1%}" in text and "24 months" not in text


def test_the_rule_picks_the_highest_net_gain_among_the_likely_ones():
    text = recommendation(comparison_table(["New app"]), money_table(), "EUR")
    assert recommended(text) == "New app"  # net 700k, beats Web chat 400k; Close stores unlikely
    assert "+900,000 EUR (90% interval +600,000 EUR to +1,300,000 EUR)" in text
    assert "200,000 EUR" in text and "350%" in text and "60%" in text
    assert "month 9" in text
    assert "Runner-up: **Web chat**" in text
    assert "+4.00 EUR per customer" in text and "+1.00 pt" in text


def test_the_choice_changes_with_the_figures():
    less_likely = money_table(New_app={"p_gain_exceeds_cost": 0.45})
    assert recommended(recommendation(comparison_table([]), less_likely, "EUR")) == "Web chat"
    cheaper = money_table(Web_chat={"cost": 10e3})
    assert recommended(recommendation(comparison_table([]), cheaper, "EUR")) == "New app"
    likely = money_table(Close_stores={"p_gain_exceeds_cost": 0.5})
    assert recommended(recommendation(comparison_table([]), likely, "EUR")) == "Close stores"


def test_when_none_qualifies_it_says_so_and_names_the_closest():
    money = money_table(Web_chat={"p_gain_exceeds_cost": 0.2}, New_app={"p_gain_exceeds_cost": 0.4})
    text = recommendation(comparison_table([]), money, "EUR")
    assert recommended(text) == ""
    assert "No scenario is more likely than not" in text
    assert "The closest is **New app**" in text
    assert ranking(money)["scenario"].tolist() == ["New app", "Close stores", "Web chat"]


def test_missing_payback_and_losses_are_named():
    money = money_table(
        Web_chat={"p_gain_exceeds_cost": 0.9, "value_gain": 900e3, "payback_month": np.nan},
        Close_stores={"value_gain": -50e3},
    )
    text = recommendation(comparison_table([]), money, "EUR")
    assert recommended(text) == "Web chat"
    assert "Payback: not within the run" in text
    assert "Loses value on average" in text and "**Close stores** (-50,000 EUR" in text
    assert "Loses value" not in recommendation(comparison_table([]), money_table(), "EUR")


def test_a_plan_with_a_free_text_name():
    name = "Plan *A* | all_of_it"
    money = money_table(Web_chat={"value_gain": 5e6}).replace({"scenario": {"Web chat": name}})
    text = recommendation(comparison_table([name]), money, "USD", plan=name)
    assert f"**{escape_markdown(name)}** (all the scenarios together)" in text
    assert escape_markdown(name) == r"Plan \*A\* \| all\_of\_it"
    assert "USD" in text and "EUR" not in text


def test_a_table_read_back_from_csv(tmp_path):
    path = tmp_path / "economics.csv"
    money_table(New_app={"payback_month": None}).to_csv(path, index=False)
    text = recommendation(comparison_table([]), pd.read_csv(path), "EUR")
    assert recommended(text) == "New app" and "not within the run" in text


def test_summaries_keep_every_scenario_and_drop_undefined_outcomes():
    money = money_table()
    table = economics_summary(money, "EUR")
    assert list(table.index) == ranking(money)["scenario"].tolist()
    assert table.loc["Close stores", "payback month"] == "not within the run"
    shown = scenario_summary(comparison_table(["A", "B"]), "EUR")
    assert len(shown) == 4  # retention after 24 months is not defined


def test_sources_say_where_the_numbers_come_from(results):
    assert "simulation noise" in sources_text(results)
    good = sources_text(results, "/x/post.nc", {"ok": True, "rhat": 1.001})
    assert "`post.nc`" in good and "passed" in good and "rhat 1" in good
    bad = sources_text(results, "/x/post.nc", {"ok": False}, allow_unconverged=True)
    assert "did not pass" in bad and "allow-unconverged" in bad
    assert f"{DRAWS} draws" in bad and "200 simulated customers" in bad


def test_a_saving_is_a_negative_cost():
    money = money_table(
        Close_stores={"cost": -300e3, "p_gain_exceeds_cost": 1.0, "payback_month": 17.0}
    )
    money.loc[money["scenario"] == "Close stores", "return"] = np.nan  # as economics leaves it
    text = recommendation(comparison_table([]), money, "EUR")
    assert recommended(text) == "Close stores"  # net gain 2.8 million
    assert "Cost: none, it saves 300,000 EUR" in text and "+2,800,000 EUR" in text
    assert "Payback: in month 17 of the run" in text
    assert economics_summary(money, "EUR").loc["Close stores", "return"].endswith("saves money)")
