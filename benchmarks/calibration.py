"""Churn model calibration: how often the truth lies inside the 90% equal-tailed intervals.

Run: ``.venv/bin/python benchmarks/calibration.py`` (``--datasets 20``, ``--customers 1000``
per segment, ``--seed 1``, ``--draws 1000`` and as many tuning steps). For each dataset ``i``
true parameters are drawn (random generator seeded by ``(seed, i)``)::

    mu_k ~ Normal(0, 1),  sigma_k ~ HalfNormal(0.5)           (the model's own priors)
    alpha[s, b] ~ Normal(logit(0.02), 0.5)                     (narrower than the prior)
    beta[s, k] = mu_k + sigma_k z[s, k],  z[s, k] ~ Normal(0, 1)

alpha is drawn narrower than its prior, Normal(logit(0.02), 1.5): that prior reaches 30% churn
a month, which empties a 24-month panel in a few months; between 0.8% and 5% a month is the
range of real subscriptions. A truth narrower than the prior makes alpha's intervals, if
anything, conservative. Customers and responses follow the model exactly
(:func:`models.persons.simulate_person_months`: 3 segments, 5 touchpoints, 4 tenure bands,
24 months, response rate 0.3), the model is fitted (sampler seed ``i``) and each of the 37
parameters (12 alpha, 5 mu, 5 sigma, 15 beta) is checked against its 90% equal-tailed
interval (``eti90_lb <= truth <= eti90_ub``).

Printed: per dataset the coverage, the diagnostics (largest R-hat, smallest bulk ESS,
divergences) and the time; then the overall coverage ``c = hits / n`` with its binomial
standard error ``sqrt(c (1 - c) / n)``, the coverage per parameter family, and whether ``c`` lies
in [80%, 97%] (criterion of issue "Churn model"). Parameters of one dataset share its data, so
their hits are correlated and the binomial error is optimistic; the between-dataset standard
error, ``sd(c_i) / sqrt(datasets)`` (``c_i`` the coverage of dataset ``i``), is printed beside it.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from scipy.special import logit

from models.churn import MU_SD, SIGMA_SD, ChurnModel
from models.persons import person_months, simulate_person_months

SEGMENTS = ["household", "small_business", "enterprise"]
TOUCHPOINTS = ["invoice", "call_centre", "app", "installer", "website"]
BAND_STARTS = [0, 3, 12, 24]
MONTHS = 24
RESPONSE_RATE = 0.3
ALPHA_SPREAD = 0.5
"""Standard deviation of the true alpha around logit(0.02) (the prior's is 1.5)."""
CRITERION = (0.80, 0.97)
"""Acceptable overall coverage of the 90% intervals (issue "Churn model")."""


@dataclass
class Result:
    """One dataset's check: hits per parameter family, diagnostics and time."""

    hits: dict[str, tuple[int, int]]  # family -> (inside, parameters)
    diagnostics: dict
    seconds: float

    @property
    def coverage(self) -> float:
        inside, total = (sum(v[i] for v in self.hits.values()) for i in (0, 1))
        return inside / total


def true_parameters(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """mu, sigma from the priors; alpha around logit(0.02); beta = mu + sigma z."""
    S, K, B = len(SEGMENTS), len(TOUCHPOINTS), len(BAND_STARTS)
    mu = rng.normal(0.0, MU_SD, K)
    sigma = np.abs(rng.normal(0.0, SIGMA_SD, K))
    alpha = logit(0.02) + rng.normal(0.0, ALPHA_SPREAD, (S, B))
    beta = mu + sigma * rng.normal(size=(S, K))
    return {"alpha": alpha, "mu": mu, "sigma": sigma, "beta": beta}


def labels(name: str, shape: tuple[int, ...]) -> list[str]:
    """Row names of :attr:`ChurnModel.summary_` for a parameter, in C order."""
    axes = {
        "alpha": [SEGMENTS, [str(b) for b in range(len(BAND_STARTS))]],
        "mu": [TOUCHPOINTS],
        "sigma": [TOUCHPOINTS],
        "beta": [SEGMENTS, TOUCHPOINTS],
    }[name]
    assert tuple(len(a) for a in axes) == shape, (name, shape)
    grid = pd.MultiIndex.from_product(axes).to_flat_index()
    return [f"{name}[{', '.join(key)}]" for key in grid]


def check(summary: pd.DataFrame, truth: dict[str, np.ndarray]) -> dict[str, tuple[int, int]]:
    """Per family, how many true values lie in [eti90_lb, eti90_ub], and how many there are."""
    hits = {}
    for name, values in truth.items():
        rows = summary.loc[labels(name, values.shape)]
        inside = (rows["eti90_lb"] <= values.ravel()) & (values.ravel() <= rows["eti90_ub"])
        hits[name] = (int(inside.sum()), values.size)
    return hits


def run_one(index: int, seed: int, customers: int, draws: int) -> Result:
    """Draw a truth, simulate its data, fit the model and check the intervals."""
    rng = np.random.default_rng([seed, index])
    truth = true_parameters(rng)
    data_seed = int(rng.integers(2**31))
    table, responses = simulate_person_months(
        truth["alpha"], truth["beta"], SEGMENTS, TOUCHPOINTS, BAND_STARTS, customers, MONTHS,
        RESPONSE_RATE, data_seed,
    )  # fmt: skip
    months = person_months(
        table, responses, TOUCHPOINTS, BAND_STARTS, table.attrs["observed_until"]
    )
    start = time.perf_counter()
    model = ChurnModel(draws=draws, tune=draws, seed=index).fit(
        months, SEGMENTS, TOUCHPOINTS, len(BAND_STARTS)
    )
    return Result(check(model.summary_, truth), model.diagnostics_, time.perf_counter() - start)


def report(results: list[Result], console: Console) -> None:
    """Overall coverage, its standard errors, per family, and the verdict."""
    inside = sum(sum(v[0] for v in r.hits.values()) for r in results)
    total = sum(sum(v[1] for v in r.hits.values()) for r in results)
    c = inside / total
    binomial = np.sqrt(c * (1 - c) / total)
    between = np.std([r.coverage for r in results], ddof=1) / np.sqrt(len(results))
    console.print(
        f"overall coverage of the 90% intervals: {inside} / {total} = {c:.1%} "
        f"(binomial s.e. {binomial:.1%}; between-dataset s.e. {between:.1%})"
    )
    for name in results[0].hits:
        hit, n = (sum(r.hits[name][i] for r in results) for i in (0, 1))
        console.print(f"  {name:<6} {hit:>4} / {n:<4} = {hit / n:.1%}")
    low, high = CRITERION
    verdict = "met" if low <= c <= high else "NOT met"
    console.print(f"criterion {low:.0%} <= coverage <= {high:.0%}: {verdict}")
    flagged = sum(not r.diagnostics["ok"] for r in results)
    console.print(
        f"fits failing the diagnostics (R-hat <= 1.01, ESS >= 400, no divergences): "
        f"{flagged} of {len(results)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--customers", type=int, default=1000, help="per segment")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--draws", type=int, default=1000, help="and as many tuning steps")
    args = parser.parse_args()
    console = Console(soft_wrap=True)
    console.print(
        f"{args.datasets} datasets: {len(SEGMENTS)} segments x {args.customers:,} "
        f"customers, {len(TOUCHPOINTS)} touchpoints, {MONTHS} months; "
        f"{args.draws} draws and tuning steps x 2 chains"
    )
    console.print(
        f"{'dataset':>7} {'coverage':>9} {'max R-hat':>9} {'min ESS':>8} "
        f"{'diverg.':>7} {'fit s':>6}"
    )
    results = []
    columns = (TextColumn("fitting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("fitting", total=args.datasets)
        for index in range(args.datasets):
            result = run_one(index, args.seed, args.customers, args.draws)
            d = result.diagnostics
            progress.console.print(
                f"{index:>7} {result.coverage:>9.1%} {d['rhat']:>9.4f} "
                f"{d['ess_bulk']:>8.0f} {d['divergences']:>7} "
                f"{result.seconds:>6.1f}"
            )
            results.append(result)
            progress.advance(task)
    report(results, console)


if __name__ == "__main__":
    main()
