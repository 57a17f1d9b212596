"""Which touchpoint loses customers: prospects in the acquisition journey, customers to churn.

Journeys (:func:`journey_effects`). The removal effect of touchpoint k for segment s is
e = 1 - kept c_k / c (:mod:`scenarios.chains`: c the conversion per prospect, c_k the
conversion once k is removed by :func:`scenarios.edits.remove_from_journey`, the same
journey surgery a scenario's removal makes, kept the share of arrivals still walking), at
both ends of where traffic into k can go (``successors``, ``lost``). The ``lost`` end is
the standard first-order Markov removal effect (Anderl et al. 2016) when no touchpoint has
bad experiences; :mod:`scenarios.chains` says how bad experiences change both ends. It is
computed exactly with the fundamental matrix (:func:`scenarios.chains.removal_effects`), and
by simulation: n prospects walk the journey (:func:`sim.engine.journey.walk`, not the runner) with
and without k, with the same random streams (common random numbers: a prospect's experience
at its j-th visit of a touchpoint is the same number in both walks). With y0, y1 the purchase
indicators, m0, m1 their means and R = m1 / m0, the estimate is 1 - kept R, and its standard
error by the delta method for a ratio of paired means is kept sd(y1 - R y0) / (m0 sqrt n); the
95% interval is the estimate +- 1.96 standard errors. The chain is exact for the walk (ratings
are drawn afresh at every visit, so the walk follows the rows averaged over ratings), so the
two columns must agree within the interval. A touchpoint a segment never visits has effect 0
in both (its walk would be the same prospect for prospect, so it is not repeated). Over
parameter sets the effects are averaged; sets with the same journey, ratings and dropout odds
(every draw of a posterior of churn parameters) are computed once and weighted, each with its
own seed, and the interval is Monte-Carlo error only: sqrt(sum_j w_j^2 se_j^2) / D.

Journeys from data (:func:`path_attribution`, ``ctm attribution --paths``). A path file or
event log gives a first-order chain and a Dirichlet posterior over its rows
(:mod:`models.paths`), with no world, survey or churn fit. The removal effect is the same
1 - kept c_k / c with traffic ``lost`` (:func:`scenarios.chains.chains_removal_effects`:
:func:`scenarios.edits.remove_from_journey` on each posterior draw), on the chain as the
data give it: no bad-experience dropout is known, so none is added, and the effect is the
standard first-order removal effect (Anderl et al. 2016), the share of conversions lost
without k. (The world-based effects above apply the world's dropout odds after the
surgery, as the engine walks; that puts them above the standard effect wherever a
touchpoint's predecessors have bad experiences: :mod:`scenarios.chains`.) Reported per
touchpoint: the posterior mean and 90% equal-tailed interval over draws, the effect at the
observed frequencies, and the conversions attributed (effects normalised to sum to the
observed conversions, per draw, then averaged). Where no journey converts, c = 0 and every
effect is undefined (NaN: ``not defined`` in the tables, empty cells in the files).

Churn (:func:`churn_shares`). For each touchpoint k a counterfactual where its experiences are
never bad: ratings 1 and 2 get probability 0, the rest rescaled in proportion
(:func:`scenarios.edits.shift_bad_ratings` with f = 0), run with the baseline in one go
(:func:`scenarios.runner.run`, common random numbers). The share of churn that would not
happen is, per draw d, (C_base - C_k) / C_base with C the installed base's customers (cohort
0) who left during the run: base_size less those in service at the last month's end. The
installed base is the same people in both runs, so the share is churn avoided, not more or
fewer customers acquired (a journey touchpoint's bad experiences change who buys: see the
journeys). Reported: the mean over draws and the 90% equal-tailed interval over draws. For a
queued touchpoint the counterfactual removes bad conversations; waits, abandoned and
unresolved contacts still bring bad experiences (the desks' rules).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from models.paths import PathChain
from scenarios.chains import (
    TRAFFIC,
    chain_removal_effects,
    chains_removal_effects,
    journey_chain,
    removal_effects,
)
from scenarios.compare import INTERVAL
from scenarios.edits import remove_from_journey
from scenarios.quickwins import one_edit_plan, refusal
from scenarios.runner import BASELINE, Settings, run
from scenarios.scenario import Plan, Traffic
from sim.engine.journey import walk
from sim.engine.results import with_total
from sim.engine.streams import Streams
from sim.inputs.errors import InputError
from sim.inputs.files import atomic_directory, csv_safe
from sim.inputs.parameters import Parameters
from sim.inputs.world import World

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Z95 = 1.959963984540054
"""The standard normal's 97.5% quantile: a 95% interval is +- Z95 standard errors."""
PROSPECTS = 20_000
"""Prospects walking each journey of the simulated removal effects."""
NEVER_BAD = "never bad "
"""Prefix of the counterfactual scenarios' names: ``never bad invoice``."""
PATH_DRAWS = 1_000
"""Posterior draws of a chain fitted to journeys (:func:`path_attribution`)."""
EFFECT_COLUMNS = ["touchpoint", "removal_effect", "low", "high"]
"""The columns of ``removal_effects.csv`` (:func:`write_path_attribution`)."""


@dataclass
class Attribution:
    """Removal effects (exact and simulated), churn shares, and the run behind them."""

    journeys: pd.DataFrame
    churn: pd.DataFrame
    results: xr.Dataset


def attribution(
    world: World,
    draws: list[Parameters],
    settings: Settings,
    prospects: int = PROSPECTS,
    executor: str = "processes",
    store: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Attribution:
    """Both analyses (module notes) for the parameter sets ``draws``."""
    plans, skipped = never_bad_plans(world)
    results = run(draws, plans, settings, executor=executor, store=store, progress=progress)
    results.attrs.update(world=world.name, currency=world.economics.currency)
    churn = churn_shares(results)
    for touchpoint, reason in skipped.items():
        churn.loc[len(churn), ["touchpoint", "segment", "skipped"]] = [touchpoint, "all", reason]
    return Attribution(journey_effects(draws, prospects, settings.seed), churn, results)


def never_bad_plans(
    world: World, touchpoints: list[str] | None = None
) -> tuple[dict[str, Plan], dict[str, str]]:
    """The counterfactual ``never bad <touchpoint>`` of each touchpoint (all if None): ratings
    1 and 2 times 0 from month 0; and the touchpoints the edits refuse, with the reason."""
    plans, skipped = {}, {}
    for touchpoint in world.touchpoint_ids if touchpoints is None else touchpoints:
        name = f"{NEVER_BAD}{touchpoint}"
        try:
            plans[name] = one_edit_plan(
                world, name, {"kind": "fix", "touchpoint": touchpoint, "bad_ratings": 0.0}
            )
        except InputError as error:
            skipped[touchpoint] = refusal(error)
    return plans, skipped


def journey_effects(
    draws: list[Parameters], prospects: int = PROSPECTS, seed: int = 1
) -> pd.DataFrame:
    """Removal effects per (traffic, segment, touchpoint): expected ``visits`` per prospect,
    ``exact``, ``simulated``, its standard error ``se`` and 95% interval ``low``, ``high``."""
    groups: dict[bytes, list[Parameters]] = {}
    for params in draws:
        groups.setdefault(_journey_key(params), []).append(params)
    parts = [
        (len(same), _one_set(same[0], prospects, _seed(seed, j)))  # independent errors
        for j, same in enumerate(groups.values())
    ]
    total = sum(w for w, _ in parts)
    table = parts[0][1].copy()
    for column in ("visits", "exact", "simulated"):
        table[column] = sum(w * part[column] for w, part in parts) / total
    table["se"] = np.sqrt(sum(w**2 * part["se"] ** 2 for w, part in parts)) / total
    table["low"] = table["simulated"] - Z95 * table["se"]
    table["high"] = table["simulated"] + Z95 * table["se"]
    return table


def _seed(seed: int, group: int) -> int:
    """The seed of the prospects of one journey set (``seed`` itself for the first)."""
    return seed if group == 0 else int(np.random.SeedSequence([seed, group]).generate_state(1)[0])


def _journey_key(params: Parameters) -> bytes:
    """What the acquisition journey depends on, as bytes."""
    arrays = (params.start, params.transitions, params.ratings, params.dropout_odds)
    return b"".join(np.ascontiguousarray(a, dtype=float).tobytes() for a in arrays)


def _one_set(params: Parameters, prospects: int, seed: int) -> pd.DataFrame:
    """Exact and simulated removal effects of one parameter set."""
    exact = removal_effects(params)
    visits = journey_chain(params)["visits"]
    ids = np.arange(prospects, dtype=np.uint64)
    rows = []
    for s, segment in enumerate(params.segments):
        bought = walk(params, s, ids, Streams(seed)).purchased
        for k, touchpoint in enumerate(params.touchpoints):
            seen = float(visits.values[s, k])
            for traffic in TRAFFIC:
                effect, se = (
                    simulated_removal(params, s, k, traffic, bought, seed)
                    if seen > 0
                    else (0.0, 0.0)
                )
                rows.append(
                    {
                        "traffic": traffic,
                        "segment": segment,
                        "touchpoint": touchpoint,
                        "visits": seen,
                        "simulated": effect,
                        "se": se,
                        "exact": float(exact.values[TRAFFIC.index(traffic), s, k]),
                    }
                )
    return pd.DataFrame(rows)


def simulated_removal(
    params: Parameters, s: int, k: int, traffic: Traffic | str, bought: np.ndarray, seed: int
) -> tuple[float, float]:
    """1 - kept R and its standard error (module notes), ``bought`` being the purchases of
    the same prospects walking with k; NaN where the removal is refused or nobody buys."""
    try:
        start, rows, kept = remove_from_journey(
            params.start[s], params.transitions[s], k, traffic, params.touchpoints
        )
    except (ValueError, KeyError):
        return np.nan, np.nan
    m0 = bought.mean()
    if m0 == 0:
        return np.nan, np.nan
    new_start, new_rows = params.start.copy(), params.transitions.copy()
    new_start[s], new_rows[s] = start, rows
    without = params.replace(start=new_start, transitions=new_rows)
    ids = np.arange(len(bought), dtype=np.uint64)
    y1 = walk(without, s, ids, Streams(seed)).purchased.astype(float)
    ratio = y1.mean() / m0
    se = kept * np.std(y1 - ratio * bought, ddof=1) / (m0 * np.sqrt(len(bought)))
    return 1.0 - kept * ratio, float(se)


def leavers(results: xr.Dataset) -> xr.DataArray:
    """The installed base's customers who left during the run (the sample's), per (scenario,
    draw, segment and ``all``): base_size less base_active at the last month's end."""
    total = with_total(results)
    return total["base_size"] - total["base_active"].isel(month=-1, drop=True)


def churn_avoided(results: xr.Dataset) -> xr.DataArray:
    """(C_base - C_k) / C_base per (touchpoint, draw, segment and ``all``), C the
    :func:`leavers`; NaN where the baseline lost none."""
    left = leavers(results)
    base = left.sel(scenario=BASELINE, drop=True)
    share = (base - left.drop_sel(scenario=BASELINE)) / base.where(base > 0)
    return _by_touchpoint(share)


def _by_touchpoint(values: xr.DataArray) -> xr.DataArray:
    """Counterfactual scenarios ``never bad <k>`` as a ``touchpoint`` dim ``k``."""
    names = [str(name).removeprefix(NEVER_BAD) for name in values["scenario"].values]
    return values.assign_coords(scenario=names).rename(scenario="touchpoint")


def churn_shares(results: xr.Dataset) -> pd.DataFrame:
    """Per (touchpoint, segment and ``all``): the share of the installed base's churn avoided
    when the touchpoint is never bad (:func:`churn_avoided`), mean and 90% interval over
    draws, with the installed base's leavers over the run in the baseline and never bad
    (means over draws, company scale)."""
    share = churn_avoided(results)
    with warnings.catch_warnings():  # NaN in every draw where the baseline lost no one
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = share.quantile(list(INTERVAL), dim="draw").drop_vars("quantile")
    left = leavers(results).mean("draw") * results.attrs["scale"]
    table = (
        xr.Dataset(
            {
                "share": share.mean("draw"),
                "low": low,
                "high": high,
                "churned_baseline": left.sel(scenario=BASELINE, drop=True).broadcast_like(low),
                "churned_never_bad": _by_touchpoint(left.drop_sel(scenario=BASELINE)),
            }
        )
        .to_dataframe()
        .reset_index()
    )
    table["skipped"] = ""
    return table


def write_attribution(
    found: Attribution, out: Path, figures: Mapping[str, Figure] | None = None
) -> list[str]:
    """results.nc, ``journeys`` and ``churn`` as CSV and Parquet, attribution.json and each
    of ``figures`` (file name: figure, such as
    :func:`notebooks.touchpoint_plots.bar_plot`), into ``out`` atomically; returns the file
    names."""
    with atomic_directory(out) as folder:
        found.results.to_netcdf(folder / "results.nc", engine="h5netcdf")
        tables = {"journeys": found.journeys, "churn": found.churn}
        for name, table in tables.items():
            csv_safe(table).to_csv(folder / f"{name}.csv", index=False)
            table.to_parquet(folder / f"{name}.parquet", index=False)
        settings = {
            k: v.item() if hasattr(v, "item") else v for k, v in found.results.attrs.items()
        }
        summary = {
            "settings": settings,
            **{name: json.loads(t.to_json(orient="records")) for name, t in tables.items()},
        }
        (folder / "attribution.json").write_text(json.dumps(summary, indent=1))
        for name, figure in (figures or {}).items():
            figure.savefig(folder / name, dpi=120)
    return sorted(p.name for p in out.iterdir())


@dataclass
class PathAttribution:
    """Removal effects of a chain fitted to journeys (:func:`path_attribution`).

    ``effects``: per touchpoint, ``removal_effect`` (posterior mean), ``low``, ``high``
    (90% interval), ``standard`` (at the observed frequencies: the standard first-order
    removal effect), ``attributed`` (conversions attributed: the effects normalised to sum
    to the observed conversions, posterior mean) and ``journeys`` (journeys meeting it),
    largest effect first. ``conversion``: P(conversion) per journey, posterior ``mean``,
    ``low``, ``high``, and ``observed`` (the share of journeys converting, which is the
    chain's at the frequencies).
    """

    chain: PathChain
    effects: pd.DataFrame
    conversion: dict[str, float]
    draws: int
    seed: int

    @property
    def defined(self) -> bool:
        """Whether the removal effects are defined (some journey converts)."""
        return bool(self.effects["removal_effect"].notna().any())


def path_attribution(chain: PathChain, draws: int = PATH_DRAWS, seed: int = 1) -> PathAttribution:
    """Removal effects of a fitted first-order chain over its Dirichlet posterior.

    The removal effect of touchpoint k is the scenarios' (:mod:`scenarios.chains`):
    1 - kept c_k / c, c_k after :func:`scenarios.edits.remove_from_journey` with traffic
    ``lost``, here on the chain as the data give it, with no bad-experience dropout added
    (none is known): the standard first-order removal effect (Anderl et al. 2016), the share
    of conversions lost without k. It is computed for each of ``draws`` posterior draws of
    the chain (:meth:`models.paths.PathChain.sample`, ``seed``); reported are the mean and
    the 90% equal-tailed interval over draws. Undefined (NaN) where no journey converts.
    """
    conversion, effects = chains_removal_effects(*chain.sample(draws, seed))
    _, standard = chain_removal_effects(*chain.frequencies())
    defined = conversion > 0
    table = pd.DataFrame({"touchpoint": list(chain.channels)})
    if defined.any():
        found = effects[defined]
        table["removal_effect"] = found.mean(axis=0)
        table["low"], table["high"] = np.quantile(found, INTERVAL, axis=0)
        sums = found.sum(axis=1, keepdims=True)
        table["attributed"] = (found / sums).mean(axis=0) * chain.conversions
    else:
        table["removal_effect"] = table["low"] = table["high"] = np.nan
        table["attributed"] = np.nan
    table["standard"] = standard
    table["journeys"] = chain.meeting()
    table = table.sort_values(
        ["removal_effect", "touchpoint"], ascending=[False, True], na_position="last"
    )
    low, high = np.quantile(conversion, INTERVAL)
    summary = {
        "mean": float(conversion.mean()),
        "low": float(low),
        "high": float(high),
        "observed": chain.conversions / chain.total,
    }
    return PathAttribution(chain, table.reset_index(drop=True), summary, draws, seed)


def write_path_attribution(
    found: PathAttribution, out: Path, figures: Mapping[str, Figure] | None = None
) -> list[str]:
    """``removal_effects.csv`` (:data:`EFFECT_COLUMNS`: posterior mean and 90% interval of
    the share of conversions lost without each touchpoint; empty cells where not defined),
    ``journey_map.csv`` (:meth:`models.paths.PathChain.moves`) and each of ``figures`` (file
    name: figure), into ``out`` atomically; returns the file names."""
    with atomic_directory(out) as folder:
        found.effects[EFFECT_COLUMNS].to_csv(folder / "removal_effects.csv", index=False)
        found.chain.moves().to_csv(folder / "journey_map.csv", index=False)
        for name, figure in (figures or {}).items():
            figure.savefig(folder / name, dpi=120)
    return sorted(p.name for p in out.iterdir())
