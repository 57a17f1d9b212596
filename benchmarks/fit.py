"""Churn model fitting speed: collapsed binomial rows against one Bernoulli per person-month,
and the baseline fitted from a customers table alone.

Run: ``.venv/bin/python benchmarks/fit.py`` fits the bundled demo data (``models/demo``, as
``ctm fit --world demo`` reads it: 3 segments, 14 touchpoints); ``--synthetic`` fits synthetic
person-months instead (:func:`models.persons.simulate_person_months`: 3 segments x
``--customers`` 3,000, ``--months`` 24, 5 touchpoints). Both forms are fitted to the same
person-months with the same settings (``--draws`` draws and as many tuning steps, 2 chains);
for each, the wall time (compilation included), sampling time, smallest bulk ESS and that ESS
per second of sampling, then their ratio, the number of person-months against collapsed rows,
and the largest difference of posterior means (alpha, beta) in Monte-Carlo standard errors,
sqrt(mcse_a^2 + mcse_b^2). Target (issue "Churn model"): sampling within 15 s on 2 cores, at
least 10 times faster than person-months.

The person-months are the months in which customers answered the survey
(:func:`models.persons.person_months`). Each answer reports 14 views, so few answer months
share all their covariates: on the demo data they collapse only about 2 times (9,420 months
into 4,661 rows), and the collapsed form can be only about 2 times faster. The 10 times of the
target held while every month at risk carried the last answer forward (62,745 months into
6,125 rows), a model that the posterior predictive check rejected.

``--customers-only`` times the baseline fitted from a customers table alone (issue "Real
customer data in"): 7,000 customers (``--table-customers``) of 3 segments starting over 72
months (``--table-months``), taken at the end, with a known hazard that falls after
onboarding, peaks at a contract's end (month 24) and creeps up later
(:func:`models.lifetimes.simulate_customers`); the random-walk baseline over tenure months
(:class:`models.baseline.BaselineModel`, 2 chains x 2,000 draws after 1,000 tuning steps).
Its likelihood needs only the counts at risk and churning per segment and month, so the
table's size hardly matters. Target: sampling under 30 s. It prints the sampling time, the
diagnostics and the share of months whose true hazard lies in the fitted 90% band.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import logit

from models.churn import ChurnModel, largest_difference
from models.data import BUNDLED
from models.persons import collapse, person_months, simulate_person_months

SEGMENTS = ["household", "small_business", "enterprise"]
TOUCHPOINTS = ["invoice", "call_centre", "app", "installer", "website"]
BAND_STARTS = [0, 3, 12, 24]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000, help="per segment")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--response-rate", type=float, default=0.3)
    parser.add_argument("--draws", type=int, default=1000, help="and as many tuning steps")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--collapsed-only", action="store_true", help="skip person-months")
    parser.add_argument("--synthetic", action="store_true", help="not the bundled demo data")
    parser.add_argument(
        "--customers-only", action="store_true", help="the baseline from a customers table"
    )
    parser.add_argument("--table-customers", type=int, default=7000)
    parser.add_argument("--table-months", type=int, default=72)
    args = parser.parse_args()
    if args.customers_only:
        customers_only(args.table_customers, args.table_months, args.seed)
        return
    start = time.perf_counter()
    pm, segments, touchpoints, n_bands = synthetic(args) if args.synthetic else demo()
    rows = collapse(pm)
    print(f"{pm['customer_id'].nunique():,} customers, {len(pm):,} person-months, "
          f"{len(rows):,} collapsed rows ({len(pm) / len(rows):.1f} times fewer); prepared in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip

    forms = [True] if args.collapsed_only else [True, False]
    fits, results = [], []
    print(f"{'form':<14} {'rows':>9} {'wall s':>8} {'sampling s':>11} {'min ESS':>8} "
          f"{'ESS/s':>8} {'max R-hat':>9} {'diverg.':>7}")  # fmt: skip
    for collapsed in forms:
        model = ChurnModel(draws=args.draws, tune=args.draws, seed=args.seed, collapsed=collapsed)
        start = time.perf_counter()
        model.fit(pm, segments, touchpoints, n_bands)
        wall = time.perf_counter() - start
        d = model.diagnostics_
        rate = d["ess_bulk"] / model.sampling_seconds_
        name = "collapsed" if collapsed else "person-months"
        print(f"{name:<14} {model.n_rows_:>9,} {wall:>8.1f} {model.sampling_seconds_:>11.1f} "
              f"{d['ess_bulk']:>8.0f} {rate:>8.1f} {d['rhat']:>9.4f} {d['divergences']:>7}",
              flush=True)  # fmt: skip
        fits.append(model)
        results.append(rate)

    if len(fits) == 2:
        speed = results[0] / results[1]
        time_ratio = fits[1].sampling_seconds_ / fits[0].sampling_seconds_
        print(f"collapsed / person-months: {speed:.1f} x the min bulk ESS per second, "
              f"{time_ratio:.1f} x less sampling time")  # fmt: skip
        worst = largest_difference(fits[0].posterior_, fits[1].posterior_)
        print(f"largest difference of posterior means (alpha, beta): {worst:.2f} MCSE")
        print(
            f"target >= 10 x the ESS per second of person-months: {speed:.1f} x, "
            f"{'met' if speed >= 10 else 'NOT met'}"
        )
    collapsed_seconds = fits[0].sampling_seconds_
    verdict = "met" if collapsed_seconds <= 15 else "NOT met"
    print(f"target sampling <= 15 s (collapsed): {collapsed_seconds:.1f} s, {verdict}")


def customers_only(customers: int, months: int, seed: int) -> None:
    """The walk baseline from a customers table alone: counts, then sampling, timed."""
    from scipy.special import expit

    from models.baseline import BaselineModel
    from models.lifetimes import customer_lifetimes, hazard_counts, simulate_customers

    t = np.arange(1, months + 1)
    shape = logit(0.04) - (1 - np.exp(-t / 4)) + 0.8 * np.exp(-(((t - 24) / 5) ** 2)) + 0.01 * t
    hazard = expit(shape[None, :] + np.array([0.0, 0.4, -0.5])[:, None])
    start = time.perf_counter()
    table, dates = simulate_customers(hazard, SEGMENTS, customers // 3, months, seed)
    lifetimes = customer_lifetimes(table, "simulated", dates["snapshot"])
    at_risk, churned = hazard_counts(lifetimes, SEGMENTS)
    print(f"{len(table):,} customers, {int(churned.sum()):,} churned, "
          f"{int(at_risk.sum()):,} customer-months at risk in {at_risk.size} counts; "
          f"prepared in {time.perf_counter() - start:.1f} s")  # fmt: skip
    model = BaselineModel(seed=seed)
    start = time.perf_counter()
    model.fit(at_risk, churned, SEGMENTS)
    wall = time.perf_counter() - start
    d = model.diagnostics_
    low, high = model.hazard(months).quantile([0.05, 0.95], "sample").values
    inside = float(((low <= hazard) & (hazard <= high)).mean())
    print(f"walk baseline, {len(model.band_starts_) - 1} monthly values and a plateau: "
          f"wall {wall:.1f} s (compilation included), sampling {model.sampling_seconds_:.1f} s "
          f"({model.chains} chains x {model.draws} draws); max R-hat {d['rhat']:.4f}, min bulk "
          f"ESS {d['ess_bulk']:.0f}, divergences {d['divergences']}; true hazard inside the "
          f"90% band in {inside:.0%} of months")  # fmt: skip
    verdict = "met" if model.sampling_seconds_ < 30 else "NOT met"
    print(f"target sampling < 30 s: {model.sampling_seconds_:.1f} s, {verdict}")


def demo() -> tuple:
    """Person-months of the bundled demo data, as ``ctm fit --world demo`` builds them."""
    from models.fitting import read_feedback
    from models.posterior import band_starts
    from sim.inputs.load import load_world

    world = load_world("demo")
    customers, responses, _ = read_feedback(
        world, BUNDLED / "customers.csv", BUNDLED / "responses.csv"
    )
    pm = person_months(customers, responses, world.touchpoint_ids, band_starts(world))
    return pm, list(world.segment_ids), list(world.touchpoint_ids), len(band_starts(world))


def synthetic(args: argparse.Namespace) -> tuple:
    """Synthetic person-months from known parameters (seeded by ``--seed``)."""
    rng = np.random.default_rng(args.seed)
    mu = np.array([0.8, 0.5, 0.3, 0.0, -0.2])
    sigma = np.array([0.3, 0.2, 0.4, 0.2, 0.3])
    alpha = logit(0.02) + rng.normal(0, 0.4, (len(SEGMENTS), len(BAND_STARTS)))
    beta = mu + sigma * rng.normal(size=(len(SEGMENTS), len(TOUCHPOINTS)))
    customers, responses = simulate_person_months(
        alpha, beta, SEGMENTS, TOUCHPOINTS, BAND_STARTS, args.customers, args.months,
        args.response_rate, args.seed,
    )  # fmt: skip
    pm = person_months(customers, responses, TOUCHPOINTS, BAND_STARTS)
    return pm, SEGMENTS, TOUCHPOINTS, len(BAND_STARTS)


if __name__ == "__main__":
    main()
