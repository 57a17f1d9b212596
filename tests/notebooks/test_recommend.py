"""The headline and the recommendation: written from the figures, by the stated rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from notebooks.recommend import (
    SHOWN,
    assumption_text,
    economics_summary,
    escape_markdown,
    headline,
    headline_text,
    measure_text,
    ranking,
    recommendation,
    removals_summary,
    scenario_summary,
    sources_text,
)
from scenarios.runner import BASELINE

MONTHS, DRAWS, REPLICATIONS = 12, 25, 5
"""25 simulations: 5 parameter draws x 5 replications."""


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
            "acquisition_spend",
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
            "base_value": (dims[:3], size * rng.uniform(80, 90, size=shape[:3])),
            "residual": (dims[:3], size * rng.uniform(150, 170, size=shape[:3])),
            "base_residual": (dims[:3], size * rng.uniform(100, 120, size=shape[:3])),
            "new_size": (dims[:3], rng.integers(20, 40, size=shape[:3]).astype(float)),
            "new_value": (dims[:3], rng.uniform(5e3, 9e3, size=shape[:3])),
            "add_on_margin": (dims, np.zeros(shape)),  # a world without add-ons
            "base_add_on_value": (dims[:3], np.zeros(shape[:3])),
            "base_add_on_residual": (dims[:3], np.zeros(shape[:3])),
        },
        coords={
            "scenario": [BASELINE, "x"],
            "draw": range(DRAWS),
            "parameter_draw": ("draw", np.arange(DRAWS) // REPLICATIONS),
            "replication": ("draw", np.arange(DRAWS) % REPLICATIONS),
            "segment": ["home", "office"],
            "month": range(MONTHS),
        },
        attrs={
            "scale": 3.0,
            "currency": "EUR",
            "customers": 200,
            "months": MONTHS,
            "seed": 1,
            "replications": REPLICATIONS,
            "discount_rate": 0.01,
            "world": "Test world",
        },
    )


def money_table(**changes: dict) -> pd.DataFrame:
    """Economics of three scenarios (columns of scenarios.compare.economics); ``pays_back``
    follows the payback month unless given: in the run if there is one, else after the run
    if the gain covers the cost, else never."""
    rows = {
        "Web chat": dict(value_gain=500e3, cost=100e3, p_gain_exceeds_cost=0.8, payback_month=7.0),
        "New app": dict(value_gain=900e3, cost=200e3, p_gain_exceeds_cost=0.6, payback_month=9.0),
        "Close stores": dict(
            value_gain=2.5e6, cost=100e3, p_gain_exceeds_cost=0.3, payback_month=np.nan
        ),
    }
    for name, change in changes.items():
        rows[name.replace("_", " ")].update(change)
    for row in rows.values():
        if "pays_back" not in row:
            covered = row["value_gain"] >= row["cost"]
            row["pays_back"] = (
                "in the run"
                if pd.notna(row["payback_month"])
                else "after the run"
                if covered
                else "never"
            )
    table = pd.DataFrame([{"scenario": name, **row} for name, row in rows.items()])
    return table.assign(
        value_gain_low=table["value_gain"] - 300e3,
        value_gain_high=table["value_gain"] + 400e3,
        **{"return": (table["value_gain"] - table["cost"]) / table["cost"]},
        effort_weeks=4.0,
        measure="lifetime",
    )


def removals_table(**changes: dict) -> pd.DataFrame:
    """The study's removals table (columns of scenarios.study.removals_table) for the
    scenario Close stores of :func:`money_table`: cost 100k; value gained -400k if none of the
    store's traffic goes on, +600k if all of it does, so it breaks even at 50%."""
    row = {
        "scenario": "Close stores",
        "removed": "store",
        "traffic": "30% successors, 70% lost",
        "basis": "stated in the scenario",
        "value_gain_none_go_on": -400e3,
        "value_gain_all_go_on": 600e3,
        "break_even_share": 0.5,
        "end_refused": "",
    }
    return pd.DataFrame([row | changes])


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
    lifetime = ((base["base_value"] + base["base_residual"]) / base["base_size"]).values
    assert table.loc["lifetime_value", "mean"] == pytest.approx(lifetime.mean())
    run = (base["base_value"] / base["base_size"]).values
    assert table.loc["value_run", "high"] == pytest.approx(np.quantile(run, 0.95))
    acquired = (
        base["new_value"] / base["new_size"]
        - base["acquisition_spend"].sum("month") / base["acquired"].sum("month")
    ).values
    assert table.loc["acquired_lifetime_value", "low"] == pytest.approx(np.quantile(acquired, 0.05))
    last = base.isel(month=-1)
    nps = (100 * (last["advocates"] - last["dissatisfied"]) / last["active"]).values
    assert table.loc["nps", "high"] == pytest.approx(np.quantile(nps, 0.95))
    assert np.isnan(table.loc["retention_24", "mean"])  # a 12-month run
    text = headline_text(headline(results), "EUR")
    assert f"{retention.mean():.1%}" in text and "24 months" not in text
    assert f"worth {lifetime.mean():,.0f} EUR over its lifetime" in text  # what LTV includes
    assert f"{run.mean():,.0f} EUR over the run and the rest expected after it" in text
    assert f"won during the run is worth {acquired.mean():,.0f} EUR" in text


def test_the_rule_picks_the_highest_net_gain_among_the_likely_ones():
    text = recommendation(comparison_table(["New app"]), money_table(), "EUR")
    assert recommended(text) == "New app"  # net 700k, beats Web chat 400k; Close stores unlikely
    assert "Lifetime value gained: +900,000 EUR (90% interval +600,000 EUR to +1,300,000 EUR)" in (
        text
    )
    assert "Cost: 200,000 EUR" in text and "350%" in text and "P(gain > cost): 60%" in text
    assert "Payback: in month 9 of the run" in text
    assert "Runner-up: **Web chat**" in text
    assert "Lifetime value per customer: +4.00 EUR against the baseline" in text
    assert "Retention after 12 months: +1.00 pt" in text
    assert "What it rests on" not in text  # it removes nothing


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
    assert "No plan is more likely than not" in text
    assert "The closest is **New app**" in text
    assert ranking(money)["scenario"].tolist() == ["New app", "Close stores", "Web chat"]


def test_payback_is_worded_from_pays_back_and_losses_are_named():
    money = money_table(
        Web_chat={"p_gain_exceeds_cost": 0.9, "value_gain": 900e3, "payback_month": np.nan},
        Close_stores={"value_gain": -50e3},
    )
    text = recommendation(comparison_table([]), money, "EUR")
    assert recommended(text) == "Web chat"
    assert "Payback: after the run: within the run its gain falls short of its spending" in text
    assert "Loses value on average" in text and "**Close stores** (-50,000 EUR" in text
    assert "Loses value" not in recommendation(comparison_table([]), money_table(), "EUR")
    lost = money_table(New_app={"pays_back": "in the run, then lost", "p_gain_exceeds_cost": 0.9})
    text = recommendation(comparison_table([]), lost, "EUR")
    assert "covers its cost by month 9" in text and "less than it costs" in text
    never = money_table(New_app={"payback_month": np.nan, "pays_back": "never"})
    assert "Payback: never" in recommendation(comparison_table([]), never, "EUR")


def test_a_plan_with_a_free_text_name():
    name = "Plan *A* | all_of_it $5"
    money = money_table(Web_chat={"value_gain": 5e6}).replace({"scenario": {"Web chat": name}})
    text = recommendation(comparison_table([name]), money, "USD", plan=name)
    assert f"**{escape_markdown(name)}** (all the scenarios together)" in text
    assert escape_markdown(name) == r"Plan \*A\* \| all\_of\_it \$5"
    assert "USD" in text and "EUR" not in text
    # the plan of all the scenarios: its parts on their own instead of a runner-up
    assert "Its scenarios on their own" in text and "Runner-up" not in text


def test_a_table_without_the_new_columns_read_back_from_csv(tmp_path):
    path = tmp_path / "economics.csv"
    old = money_table(New_app={"payback_month": None}).drop(columns=["pays_back", "measure"])
    old.to_csv(path, index=False)
    text = recommendation(comparison_table([]), pd.read_csv(path), "EUR")
    assert recommended(text) == "New app" and "not within the run" in text


def test_summaries_keep_every_scenario_and_drop_undefined_outcomes():
    money = money_table()
    table = economics_summary(money, "EUR")
    assert list(table.index) == ranking(money)["scenario"].tolist()
    assert table.loc["Close stores", "pays back"] == "after the run"
    assert table.loc["Web chat", "pays back"] == "month 7"
    assert "lifetime value gained (EUR)" in table.columns
    shown = scenario_summary(comparison_table(["A", "B"]), "EUR")
    assert len(shown) == 4  # retention after 24 months is not defined
    assert shown.index.get_level_values("scenario").tolist() == ["A", "A", "B", "B"]


def test_the_scenario_table_names_the_new_outcomes():
    table = comparison_table(["A"])
    extra = table[table["outcome"] == "lifetime_value"].assign(outcome="acquired_lifetime_value")
    shown = scenario_summary(pd.concat([table, extra]), "EUR")
    outcomes = shown.index.get_level_values("outcome").tolist()
    assert outcomes == [
        "retention after 12 months (%)",
        "lifetime value per customer (EUR)",
        "lifetime value per acquired customer, net of acquisition (EUR)",
    ]
    assert "acquired_lifetime_value" in SHOWN


def test_sources_state_the_size_of_the_run(results):
    alone = sources_text(results)
    assert "world's own parameters" in alone and "not the uncertainty of the parameters" in alone
    assert (
        f"1 parameter set) x {REPLICATIONS} simulations with other random numbers x 200 "
        f"simulated customers x {MONTHS} months = {DRAWS} simulations of every plan"
    ) in alone
    good = sources_text(results, "/x/post.nc", {"ok": True, "rhat": 1.001})
    assert "`post.nc`" in good and "passed" in good and "rhat 1" in good
    assert f"{DRAWS // REPLICATIONS} posterior draws x {REPLICATIONS} simulations of each" in good
    bad = sources_text(results, "/x/post.nc", {"ok": False}, allow_unconverged=True)
    assert "did not pass" in bad and "allow-unconverged" in bad
    once = results.isel(draw=[0]).assign_attrs(replications=1)
    assert "intervals have no width" in sources_text(once)


def test_the_measure_of_value_is_said_with_what_it_leaves_out(results):
    text = measure_text(results, money_table())
    assert "lifetime value" in text and "1.00% a month" in text and f"{MONTHS} months" in text
    assert "customers the company goes on winning after the run" in text
    assert "keep their views" in text and "monthly cost (or saving) goes on" in text
    run = measure_text(results, money_table().assign(measure="run"))
    assert "value over the run" in run and "Nothing after the run is counted" in run


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


LABELS = {"store": "Retail store"}


def test_the_decision_states_the_break_even_share_of_a_removal():
    """Close stores: cost 100k, -400k if none of the store's traffic goes on, +600k if all
    does: it pays from 50% on; the plan assumes 30%."""
    money = money_table(Close_stores={"p_gain_exceeds_cost": 0.9, "value_gain": 2e6})
    removals = removals_table()
    text = recommendation(comparison_table([]), money, "EUR", removals=removals, labels=LABELS)
    assert recommended(text) == "Close stores"
    assert "Lifetime value gained: +2,000,000 EUR (90% interval +1,700,000 EUR to" in text
    assert "Cost: 100,000 EUR" in text and "P(gain > cost): 90%" in text
    (rests,) = [line for line in text.splitlines() if "What it rests on" in line]
    assert (
        "**Close stores** pays if at least 50% of the prospects who would have met the retail "
        "store (store) go on without it (the break-even share"
    ) in rests
    assert "-400,000 EUR if none go on and +600,000 EUR if all do, against a cost of 100,000" in (
        rests
    )
    assert "the plan assumes 30% go on and 70% are lost (stated in the scenario)" in rests


def test_the_break_even_share_follows_the_figures():
    at_82 = removals_table(value_gain_none_go_on=-720e3, value_gain_all_go_on=180e3)
    at_82["break_even_share"] = 0.82  # (100 + 720) / (180 + 720) - computed by the study
    text = assumption_text(at_82.iloc[0], 100e3, "EUR")
    assert "pays if at least 82% of the prospects who would have met store" in text
    odd = removals_table(value_gain_none_go_on=600e3, value_gain_all_go_on=-400e3)
    assert "pays only if at most 50%" in assumption_text(odd.iloc[0], 100e3, "EUR")


def test_a_removal_that_never_pays_or_always_pays_says_so():
    never = removals_table(
        value_gain_none_go_on=-900e3, value_gain_all_go_on=50e3, break_even_share=np.nan
    )
    text = recommendation(comparison_table([]), money_table(), "EUR", removals=never)
    assert "**Close stores** does not pay even if all of the prospects who would have met" in text
    assert "The other plans that remove a touchpoint" in text  # not the recommended one
    always = removals_table(
        value_gain_none_go_on=150e3, value_gain_all_go_on=800e3, break_even_share=np.nan
    )
    text = assumption_text(always.iloc[0], 100e3, "EUR")
    assert "**Close stores** pays even if none of the prospects" in text
    refused = removals_table(value_gain_all_go_on=np.nan, break_even_share=np.nan)
    refused["end_refused"] = "all go on: purchase as a first step"
    assert "no break-even share is known (all go on: purchase as a first step)" in (
        assumption_text(refused.iloc[0], 100e3, "EUR")
    )
    outside = removals_table(
        value_gain_none_go_on=0.0, value_gain_all_go_on=0.0, break_even_share=np.nan
    )  # a closure that starts after the run: the ends do not differ
    text = assumption_text(outside.iloc[0], -2e6, "EUR")
    assert "go makes no difference to its figures (it gains +0 EUR either way" in text
    assert "so it pays whatever share of them goes on" in text
    table = removals_summary(never, money_table(), "EUR", LABELS)
    assert table.loc["Close stores", "break-even share"] == "never pays"
    assert table.loc["Close stores", "removes"] == "the retail store (store)"


def test_user_strings_are_escaped_in_the_decision():
    removal = removals_table(scenario="Shut *all* stores", removed="shop_1")
    money = money_table().replace({"scenario": {"Close stores": "Shut *all* stores"}})
    text = assumption_text(removal.iloc[0], 100e3, "EUR")
    assert r"**Shut \*all\* stores**" in text and r"shop\_1" in text
    text = recommendation(comparison_table([]), money, "EUR", removals=removal)
    assert "\n- **Shut \\*all\\* stores** pays if at least 50%" in text


def test_a_combined_plan_names_the_parts_it_is_better_without():
    """The plan of all the scenarios is recommended, but Close stores is less likely than not
    to pay on its own (P 30%): the decision says the plan is likely better without it."""
    money = money_table(Web_chat={"value_gain": 5e6, "scenario": "All"})
    money.loc[money["scenario"] == "Web chat", "scenario"] = "All"
    text = recommendation(comparison_table(["All"]), money, "EUR", plan="All")
    assert "Of the actions, **Close stores** is less likely than not to pay on its own" in text
    assert "better without it" in text
    good = money.assign(p_gain_exceeds_cost=0.9)
    assert "better without" not in recommendation(comparison_table(["All"]), good, "EUR", "All")


def test_of_which_cross_sell_and_up_sell_where_a_world_has_some(results):
    """A world without add-ons shows no such line; with them the headline gives the part of
    lifetime value from cross-sell and up-sell, and the economics and the recommendation the
    part of the value gained, each with its interval."""
    assert "add_on_lifetime_value" not in headline(results)["outcome"].values
    assert "cross-sell" not in headline_text(headline(results), "EUR")
    assert "cross-sell" not in " ".join(economics_summary(money_table(), "EUR").columns)
    rng = np.random.default_rng(3)
    sold = results.assign(
        base_add_on_value=results["base_value"]
        * rng.uniform(0.05, 0.1, results["base_value"].shape),
        base_add_on_residual=results["base_residual"] * 0.08,
    )
    table = headline(sold).set_index("outcome")
    base = sold.sel(scenario=BASELINE).sum("segment")
    part = ((base["base_add_on_value"] + base["base_add_on_residual"]) / base["base_size"]).values
    assert table.loc["add_on_lifetime_value", "mean"] == pytest.approx(part.mean())
    assert table.loc["add_on_lifetime_value", "low"] == pytest.approx(np.quantile(part, 0.05))
    text = headline_text(headline(sold), "EUR")
    assert f"of which {part.mean():,.0f} EUR from cross-sell and up-sell (90% interval" in text
    money = money_table().assign(add_on_gain=[20e3, 15e3, -5e3])
    money = money.assign(add_on_gain_low=money["add_on_gain"] - 1e3, add_on_gain_high=4e4)
    summary = economics_summary(money, "EUR")
    column = summary["of which cross-sell and up-sell (EUR)"]
    assert column["Web chat"].startswith("+20,000 (+19,000 to +40,000)"), column["Web chat"]
    assert "from cross-sell and up-sell" in recommendation(
        comparison_table(list(money["scenario"])), money, "EUR"
    )
