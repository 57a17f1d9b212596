"""What to measure next: the value of information on each touchpoint's churn effect.

Before the next survey a company can ask about some touchpoints and not others. Which answers
are worth having? Those that could change what it does. The quick-win decision (the choice
:mod:`scenarios.quickwins` prepares) is taken here as a choice of one: **do nothing** (net
benefit 0) or **one candidate** d run by the sweep, with net benefit NB_d = value gained -
discounted cost, draw by draw (:func:`scenarios.compare.value_gained`, the sweep's measure;
the cost as in its table). The plan chosen today is the option with the largest expected net
benefit over the draws (not the ranking by value per cost, which orders a short list and does
not weigh size). The figures are in the world's currency, company scale, discounted to the
run's start.

- **EVPI**, the expected value of perfect information: E_i[max_d NB_d(i)] - max_d E_i[NB_d(i)],
  how much better the choice would be, on average, if everything uncertain were known. Over
  simulated draws it counts the simulation's noise as knowable too, so it is an upper bound.
- **EVPPI** of a parameter phi (Strong, Oakley & Brennan 2014, "Estimating multiparameter
  partial expected value of perfect information from a probabilistic sensitivity analysis
  sample: a nonparametric regression approach", Med Decis Making 34(3):311-326):
  E_phi[max_d g_d(phi)] - max_d E[NB_d], g_d(phi) = E[NB_d | phi], how much better the choice
  would be if phi alone were known. g_d is estimated by regressing NB_d over the draws on phi
  (:func:`fitted`): a polynomial in phi of degree 0 to 3 chosen per option by generalised
  cross-validation (GCV = n RSS / (n - p - 1)^2, Craven & Wahba 1979), a low-order stand-in for
  the paper's GAM; at least :data:`PER_COEFFICIENT` draws per coefficient, so 10 draws allow a
  straight line at most and fewer than 10 a constant (EVPPI 0: nothing can be learnt). Least
  squares with a constant keeps each option's mean, so the estimate is never below 0; it can
  only exceed EVPI by the regression's noise.
- Its Monte-Carlo error (:func:`evppi`): the standard deviation of the estimate over
  :data:`RESAMPLES` bootstrap resamples of the draws (Efron & Tibshirani 1993), and the
  **noise floor**: the 90th percentile of the estimate with phi shuffled over the draws
  (:data:`RESAMPLES` permutations), what the estimator reports when phi says nothing. A fitted
  line through few noisy points always finds some slope and the max of noisy fits exceeds the
  max of their means (the estimator's upward bias, Strong et al. section 4): an EVPPI at or
  below its floor, or within :data:`NOISE` standard errors of 0, cannot be told from 0 at
  this number of draws (``above_noise`` false).

A touchpoint's **churn effect** (phi_k) is the posterior's effect of a poor view of it on the
churn hazard (``beta``, by segment) weighted by reach, as question 2 of the maturity quiz
weighs it (:func:`models.maturity.effects`): one number per draw for the customers who meet
it. Knowing it means measuring it: asking customers about k in the survey (more responses
rating k, linked to who churns) narrows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models.draws import sample_indices
from models.maturity import effects
from scenarios.compare import value_gained
from sim.inputs.errors import InputError
from sim.inputs.world import World

MAX_DEGREE = 3
"""The highest degree of the polynomial fitted to an option's net benefit."""
PER_COEFFICIENT = 5
"""Draws needed per fitted coefficient: degree p needs 5 (p + 1) draws (10 for a line)."""
RESAMPLES = 200
"""Bootstrap resamples (standard error) and permutations (noise floor) of the draws."""
FLOOR = 0.90
"""The quantile of the permuted estimates that is the noise floor."""
NOISE = 2.0
"""An EVPPI is told from 0 when above its noise floor and this many standard errors."""
RIDGE = 1e-9
"""Added to the normal equations (times the draws) so that a resample with fewer distinct
effects than coefficients still solves; negligible against the standardised effect's n."""
SEED = 0
"""Seed of the resampling and the permutations (same inputs, same figures)."""
DO_NOTHING = "do nothing"


@dataclass(frozen=True)
class Information:
    """The value of information of each touchpoint's churn effect for the quick-win decision.

    ``table``: one row per touchpoint, largest EVPPI first: ``touchpoint``, ``evppi``,
    ``evppi_se`` (bootstrap), ``noise_floor`` (90th percentile with the effect shuffled),
    ``above_noise``, ``effect_mean``, ``effect_sd`` (the reach-weighted effect over the draws),
    ``plan_changes`` (the share of draws whose effect, once known, would make another option
    best) and ``question`` (the survey question it points to)."""

    table: pd.DataFrame
    evpi: float
    chosen: str
    chosen_net: float
    draws: int
    options: int
    degree: int
    currency: str

    def note(self) -> str:
        """How to read the figures, and what they can tell at this number of draws."""
        money = f"{self.currency}"
        text = (
            f"Decision: do nothing or one of {self.options - 1} quick-win candidates, by expected "
            f"net benefit (value gained less cost); chosen now: {self.chosen} "
            f"({self.chosen_net:,.0f} {money}). Perfect information on everything (EVPI) "
            f"would be worth {self.evpi:,.0f} {money} on average, an upper bound (it counts the "
            f"simulation's noise as knowable); no touchpoint's EVPPI can exceed it in principle. "
            f"{self.draws} draws: "
        )
        if self.degree == 0:
            return text + (
                f"too few to fit anything (at least {2 * PER_COEFFICIENT} needed for a line): "
                "every EVPPI is 0 for want of draws, not of value; run the quick wins with "
                "more --draws."
            )
        above = int(self.table["above_noise"].sum())
        text += (
            f"each option's net benefit fitted by a polynomial of degree at most {self.degree}; "
            f"{above} of {len(self.table)} touchpoints above the noise"
        )
        if self.draws < 100:
            text += (
                ". With so few draws the figures are rough (a standard error is often as large "
                "as its figure, and is itself uncertain): one above its noise points to a "
                "touchpoint worth asking about, one below cannot be told from 0, which is not "
                "the same as worth nothing; run the quick wins with --draws 100 or more for "
                "figures to budget on."
            )
        return text + ("" if self.draws < 100 else ".")

    def as_dict(self) -> dict:
        """The table and the summary, as JSON-ready values."""
        return {
            "evpi": self.evpi,
            "chosen": self.chosen,
            "chosen_net_benefit": self.chosen_net,
            "draws": self.draws,
            "options": self.options,
            "max_degree": self.degree,
            "currency": self.currency,
            "note": self.note(),
            "touchpoints": self.table.to_dict(orient="records"),
        }


def max_degree(draws: int) -> int:
    """The highest polynomial degree fitted with ``draws`` draws (module notes)."""
    return int(max(0, min(MAX_DEGREE, draws // PER_COEFFICIENT - 1)))


def fitted(net: np.ndarray, phi: np.ndarray, degree: int) -> np.ndarray:
    """E[NB_d | phi] at each draw: each option's net benefit (``net``: option x draw)
    regressed on a polynomial in phi, its degree (0 to ``degree``) chosen per option by
    generalised cross-validation (module notes). Returns option x draw. Leading dims of
    ``net`` and ``phi`` (resamples) are fitted each on its own."""
    n = phi.shape[-1]
    mean = net.mean(axis=-1, keepdims=True)
    best = np.broadcast_to(mean, net.shape).copy()
    score = ((net - best) ** 2).sum(axis=-1) * n / (n - 1) ** 2
    spread = phi.std(axis=-1, keepdims=True)
    varies = spread[..., 0] > 0
    z = np.divide(phi - phi.mean(axis=-1, keepdims=True), spread, where=spread > 0,
                  out=np.zeros_like(phi, dtype=float))  # fmt: skip
    for p in range(1, degree + 1):
        design = z[..., :, None] ** np.arange(p + 1)  # draw x coefficient
        gram = np.swapaxes(design, -1, -2) @ design + RIDGE * n * np.eye(p + 1)
        coef = np.linalg.solve(gram, np.swapaxes(design, -1, -2) @ np.swapaxes(net, -1, -2))
        fit = np.swapaxes(design @ coef, -1, -2)
        gcv = ((net - fit) ** 2).sum(axis=-1) * n / (n - p - 1) ** 2
        better = (gcv < score) & varies[..., None]
        best = np.where(better[..., None], fit, best)
        score = np.where(better, gcv, score)
    return best


def expected_value(net: np.ndarray, phi: np.ndarray, degree: int) -> np.ndarray:
    """The regression estimate of EVPPI: mean over draws of max_d g_d(phi) less max_d of the
    options' means (Strong et al. 2014, eq. 12); one per leading index of ``net``, ``phi``."""
    g = fitted(net, phi, degree)
    gain = g.max(axis=-2).mean(axis=-1) - net.mean(axis=-1).max(axis=-1)
    return np.maximum(0.0, gain)


def evppi(
    net: np.ndarray, phi: np.ndarray, degree: int | None = None, seed: int = SEED
) -> tuple[float, float, float]:
    """EVPPI of ``phi`` for the options' net benefits (``net``: option x draw, a row of zeros
    for doing nothing included by the caller), its bootstrap standard error and its noise
    floor (module notes). ``degree``: the highest degree (default :func:`max_degree`).

    The estimate is capped at the draws' EVPI (:func:`perfect`), which no EVPPI can exceed:
    with many options and few draws the best of the fitted options is biased upward (on the
    demo's 32 candidates at 10 draws the regression gave 4.7M against an EVPI of 1.2M). The
    standard error and the noise floor are left as they are, so such an estimate stays below
    its floor: not above the noise.
    """
    n = len(phi)
    degree = max_degree(n) if degree is None else degree
    bound = perfect(net)
    estimate = min(float(expected_value(net, phi, degree)), bound)
    if degree == 0:
        return estimate, 0.0, 0.0
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(RESAMPLES, n))
    boot = expected_value(np.moveaxis(net[:, picks], 1, 0), phi[picks], degree)
    shuffled = np.argsort(rng.random((RESAMPLES, n)), axis=1)
    floor = expected_value(np.broadcast_to(net, (RESAMPLES, *net.shape)), phi[shuffled], degree)
    return estimate, float(np.std(boot, ddof=1)), float(np.quantile(floor, FLOOR))


def perfect(net: np.ndarray) -> float:
    """EVPI over the draws: E[max_d NB_d] - max_d E[NB_d]."""
    return float(net.max(axis=0).mean() - net.mean(axis=1).max())


def value_of_information(
    net: xr.DataArray,
    phi: xr.DataArray,
    currency: str,
    labels: Mapping[str, str] | None = None,
    seed: int = SEED,
) -> Information:
    """EVPPI of each touchpoint's effect for the choice among ``net``'s options.

    Parameters
    ----------
    net
        Net benefit (option, draw) of each candidate; "do nothing" (0) is added here.
    phi
        Each touchpoint's churn effect in the same draws (draw, touchpoint).
    currency
        The world's currency, for the note.
    labels
        Touchpoint labels by id, for the survey questions (default: the ids).
    """
    options = [DO_NOTHING, *map(str, net["option"].values)]
    values = np.vstack([np.zeros(net.sizes["draw"]), net.transpose("option", "draw").values])
    means = values.mean(axis=1)
    chosen = int(np.argmax(means))
    n = values.shape[1]
    degree = max_degree(n)
    rows = []
    for k, tp in enumerate(map(str, phi["touchpoint"].values)):
        x = phi.transpose("draw", "touchpoint").values[:, k]
        estimate, se, floor = evppi(values, x, degree, seed)
        g = fitted(values, x, degree)
        rows.append(
            {
                "touchpoint": tp,
                "evppi": estimate,
                "evppi_se": se,
                "noise_floor": floor,
                "above_noise": bool(degree > 0 and estimate > max(floor, NOISE * se)),
                "effect_mean": float(x.mean()),
                "effect_sd": float(x.std(ddof=1)) if n > 1 else 0.0,
                "plan_changes": float((g.argmax(axis=0) != chosen).mean()),
            }
        )
    table = pd.DataFrame(rows).sort_values("evppi", ascending=False, ignore_index=True)
    table["question"] = [question(r, currency, labels) for r in table.itertuples()]
    return Information(
        table, perfect(values), options[chosen], float(means[chosen]), n, len(options), degree,
        currency,
    )  # fmt: skip


def question(row, currency: str, labels: Mapping[str, str] | None = None) -> str:
    """The survey question a touchpoint's EVPPI points to, in one line: "ask customers about
    the installer visit (installer): worth about 40,000 EUR in better decisions"."""
    if not row.above_noise:
        return "none yet: not above the noise of these draws"
    label = (labels or {}).get(row.touchpoint) or row.touchpoint
    if not label[:2].isupper():  # "Installer visit" -> "installer visit"; "TV ads" stays
        label = label[0].lower() + label[1:]
    named = label if label == row.touchpoint else f"{label} ({row.touchpoint})"
    return (
        f"ask customers about the {named}: worth about {_rounded(row.evppi)} {currency} in "
        f"better decisions (the plan would change in {row.plan_changes:.0%} of draws)"
    )


def _rounded(value: float) -> str:
    """Two significant figures, as a figure to act on deserves at best."""
    if value <= 0:
        return "0"
    return f"{float(f'{value:.2g}'):,.0f}"


def check_quickwins(
    folder: Path, world: World, posterior: xr.DataTree, posterior_file: Path
) -> tuple[xr.Dataset, pd.DataFrame]:
    """A ``ctm quickwins`` folder's results and table (:func:`read_quickwins`), checked to be
    of this world and of the posterior's draws (its checksum, recorded by ``ctm quickwins``).

    Raises
    ------
    InputError
        If the folder lacks either file, is of another world, ran without a posterior, or ran
        another posterior's draws; or if the posterior holds no churn effects.
    """
    results, table = read_quickwins(folder)
    source = str(folder / "study" / "results.nc")
    if results.attrs.get("world") != world.name:
        raise InputError(
            source,
            [("world", f"quick wins of '{results.attrs.get('world')}', expected '{world.name}'")],
        )
    stored = str(results.attrs.get("posterior_checksum", ""))
    if not stored or "parameter_draw" not in results.coords:
        raise InputError(
            source,
            [("posterior_checksum", "quick wins run without a posterior (or before ctm recorded "
              "which), expected 'ctm quickwins ... --posterior FILE' with the same posterior")],
        )  # fmt: skip
    if stored != str(posterior.attrs.get("ctm_checksum", "")):
        raise InputError(
            source,
            [("posterior_checksum", "quick wins of another posterior's draws, expected a run "
              f"with --posterior {posterior_file}")],
        )  # fmt: skip
    if "posterior" not in posterior.children or "beta" not in posterior["posterior"].data_vars:
        raise InputError(
            str(posterior_file), [("beta", "no churn effects of poor views, expected a "
                                  "posterior of 'ctm fit' with the churn model")]
        )  # fmt: skip
    return results, table


def quickwins_information(
    results: xr.Dataset, table: pd.DataFrame, world: World, posterior: xr.DataTree,
    seed: int = SEED,
) -> Information:  # fmt: skip
    """The value of information from a quick-wins run (:func:`check_quickwins`) and the
    posterior whose draws it ran: each candidate's net benefit per draw and each touchpoint's
    reach-weighted churn effect in the same draws (module notes)."""
    run = table[table["skipped"].fillna("") == ""]
    run = run[np.isfinite(run["cost"].to_numpy(dtype=float))]
    measure = str(run["measure"].iloc[0]) if len(run) else "lifetime"
    gains = value_gained(results, measure).sel(scenario=run["scenario"].tolist())
    cost = xr.DataArray(run["cost"].to_numpy(dtype=float), dims="scenario")
    net = (gains - cost.assign_coords(scenario=gains["scenario"])).rename(scenario="option")
    draws = posterior["posterior"].to_dataset()
    used = results["parameter_draw"].values
    index = sample_indices(draws, int(used.max()) + 1)[used]
    phi = xr.DataArray(
        effects(world, draws["beta"])[index],
        dims=("draw", "touchpoint"),
        coords={"touchpoint": world.touchpoint_ids},
    )
    labels = {t.id: t.label for t in world.touchpoints if t.label}
    return value_of_information(net, phi, str(results.attrs["currency"]), labels, seed)


def read_quickwins(folder: Path) -> tuple[xr.Dataset, pd.DataFrame]:
    """A ``ctm quickwins`` folder's results and table (InputError naming what is missing)."""
    results_file = folder / "study" / "results.nc"
    table_file = folder / "quickwins.parquet"
    for path in (results_file, table_file):
        if not path.is_file():
            raise InputError(
                str(path), [("", "no such file, expected a folder written by 'ctm quickwins'")]
            )
    try:
        with xr.open_dataset(results_file, engine="h5netcdf") as opened:
            results = opened.load()
        table = pd.read_parquet(table_file)
    except (OSError, ValueError):
        raise InputError(
            str(folder), [("", "unreadable files, expected a folder written by 'ctm quickwins'")]
        ) from None
    return results, table
