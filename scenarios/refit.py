"""After launch, what is the plan worth now? Refit on the new data, run the plan again.

``ctm track --refit`` fits the churn model (:mod:`models.churn`, as ``ctm fit`` does with
a customers and a responses table) to the tables brought up to date, so the months since
the launch, with the views the plan changed and the churn that followed, count in the
touchpoint effects. The plan is then simulated again against the baseline over the new
posterior's draws (:func:`scenarios.study.run_study`, the prediction's customers, months and
seed) and its value gained set beside the value predicted before launch.

Only the churn model is refitted; the rating distributions, journeys and arrivals stay the
world's, as the prediction had them: refitting the ratings on data in which the plan already
happened would apply its fix twice when the plan's edits are run on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import xarray as xr

from models.churn import ChurnModel
from models.fitting import fit_churn, read_feedback, write_fit
from scenarios.prediction import stored_plan
from scenarios.runner import Settings
from scenarios.study import draws_of, run_study
from sim.inputs.world import World


def refit(
    world: World, customers: Path, responses: Path, out: Path, draws: int = 1000, seed: int = 0
) -> ChurnModel:
    """The churn model fitted to the tables up to date, written to ``out`` (a posterior file,
    its diagnostics recorded; written even when it misses the convergence gate, said so in
    the file, since the forecast is read with its diagnostics beside it)."""
    customer_table, response_table, summary = read_feedback(world, customers, responses)
    model = ChurnModel(draws=draws, tune=draws, chains=2, seed=seed)
    result = fit_churn(world, customer_table, response_table, summary, model)
    write_fit(result, world, out, allow_unconverged=True)
    return model


def forecast(
    world: World,
    prediction: xr.Dataset,
    scenario: str,
    posterior: Path,
    draws: int,
    executor: str = "processes",
) -> pd.DataFrame:
    """The plan's value gained over ``draws`` draws of the refitted posterior, beside the
    value predicted before launch: one row each, columns when, value_gain, value_gain_low,
    value_gain_high, measure."""
    plan = stored_plan(prediction, scenario, world)
    settings = Settings(
        customers=int(prediction.attrs["customers"]),
        months=int(prediction.attrs["months"]),
        seed=int(prediction.attrs["seed"]),
    )
    study = run_study(world, {scenario: plan}, draws_of(world, posterior, draws), settings,
                      executor, None)  # fmt: skip
    columns = ["value_gain", "value_gain_low", "value_gain_high", "measure"]
    now = study.money.set_index("scenario").loc[[scenario], columns].assign(when="refitted")
    before = json.loads(prediction.attrs.get("value_gain", "{}")).get(scenario)
    rows = [now]
    if before:
        rows.insert(0, pd.DataFrame([before], index=[scenario]).assign(when="before launch"))
    return pd.concat(rows).reset_index(drop=True)[["when", *columns]]
