"""Small random worlds, from a seed: many shapes of what the engines must agree on.

A world here is a :class:`sim.inputs.parameters.Parameters` drawn at random, with a run's
size and, for some, changes during the run: one to three segments, two to six touchpoints,
journeys that end (every touchpoint leads to purchase or lost with probability 0.2 or more),
contact rates that are zero, whole or fractional, onboarding at up to two touchpoints, one
to three tenure bands, touchpoint effects on churn and loyalty (some zero), an sBG baseline
in some segments, an installed base with a mix of tenures in some worlds, add-ons bought by
some loyalty classes and a margin uplift in some (drawn from a generator of their own, so
that the rest of every world is as before), and changes of ratings, contact rates, churn and
arrivals from a month of the run on, and competitors' market moves (:func:`random_market`)
in some worlds from the start and in some changes. With ``queues``, one or two touchpoints
with recurring contacts are staffed (:func:`random_queue`): a few agents for their load,
exponential, lognormal or fixed handling, patience or none, call-backs; a change restaffs
them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logit

from sim.inputs.parameters import Parameters
from sim.inputs.queues import QueueSettings
from sim.inputs.units import MONTH


@dataclass
class RandomWorld:
    """A world, how long and how large a run of it is, and its changes."""

    params: Parameters
    customers: int
    months: int
    seed: int
    changes: list[tuple[int, Parameters]]

    @property
    def run(self) -> dict:
        """The keyword arguments of ``simulate``."""
        return {
            "customers": self.customers,
            "months": self.months,
            "seed": self.seed,
            "changes": self.changes,
        }


def random_world(seed: int, queues: bool = False, changes: bool = False) -> RandomWorld:
    """The world of ``seed`` (module notes), with staffed touchpoints if ``queues``, and with
    changes during the run if ``changes`` (else in about half the worlds)."""
    rng = np.random.default_rng(seed)
    S, K = int(rng.integers(1, 4)), int(rng.integers(2, 7))

    def some_zero(values: np.ndarray, share: float = 0.3) -> np.ndarray:
        return np.where(rng.uniform(size=values.shape) < share, 0.0, values)

    start = some_zero(rng.uniform(size=(S, K)))
    start[np.arange(S), rng.integers(0, K, S)] += 1.0  # every segment starts somewhere
    start /= start.sum(axis=1, keepdims=True)
    leaving = rng.uniform(0.2, 0.9, size=(S, K, 1))
    onward = some_zero(rng.uniform(size=(S, K, K)))
    onward /= np.maximum(onward.sum(axis=2, keepdims=True), 1e-12)
    ends = rng.dirichlet([1.0, 1.0], size=(S, K))
    transitions = np.concatenate([(1 - leaving) * onward, leaving * ends], axis=2)
    transitions /= transitions.sum(axis=2, keepdims=True)
    onboarding = np.zeros((S, K))
    for s in range(S):
        steps = rng.choice(K, size=int(rng.integers(0, 3)), replace=False)
        onboarding[s, steps] = np.arange(1, len(steps) + 1)
    bands = int(rng.integers(1, 4))
    band_starts = np.concatenate([[0.0], np.sort(rng.choice(np.arange(1, 13), bands - 1, False))])
    sbg = None
    if rng.uniform() < 0.5:
        sbg = rng.uniform(0.5, 3.0, size=(S, 2)) * [1.0, 15.0]
        sbg[rng.uniform(size=S) < 0.4] = np.nan
    base_tenure = None
    if rng.uniform() < 0.5:
        base_tenure = some_zero(rng.uniform(size=(S, int(rng.integers(2, 40)))))
        base_tenure[:, 0] += 0.1
        base_tenure /= base_tenure.sum(axis=1, keepdims=True)
    params = Parameters(
        segments=tuple(f"segment_{s}" for s in range(S)),
        touchpoints=tuple(f"touchpoint_{k}" for k in range(K)),
        ratings=rng.dirichlet(np.ones(5), size=(S, K)),
        emotional_weight=rng.uniform(0.05, 1.0, K),
        cost_per_contact=some_zero(rng.uniform(0.1, 30.0, K)),
        start=start,
        transitions=transitions,
        dropout_odds=rng.uniform(1.0, 5.0, S),
        onboarding=onboarding,
        contacts=_contact_rates(rng, (S, K)),
        customers=rng.integers(200, 20_000, S).astype(float),
        prospects=some_zero(rng.uniform(10.0, 3_000.0, S), 0.2),
        referral_rate=some_zero(rng.uniform(0.0, 0.3, S)),
        revenue=rng.uniform(10.0, 200.0, S),
        margin=rng.uniform(1.0, 80.0, S),
        acquisition_cost=rng.uniform(0.0, 300.0, S),
        band_starts=band_starts,
        alpha=logit(rng.uniform(0.005, 0.15, size=(S, bands))),
        beta=some_zero(rng.normal(0.0, 0.8, size=(S, K))),
        cutpoints=np.sort(rng.normal(0.0, 1.5, size=(S, 3)), axis=1),
        gamma=some_zero(rng.normal(0.0, 0.8, K)),
        discount_rate=float(rng.uniform(0.0, 0.02)),
        sbg=sbg,
        base_tenure=base_tenure,
    )
    params = params.replace(**_add_ons(np.random.default_rng([seed, 1]), S))
    if queues:
        met = np.flatnonzero(params.contacts.any(axis=0))
        staffed = rng.choice(met, size=min(len(met), int(rng.integers(1, 3))), replace=False)
        params = params.replace(
            queues={int(k): random_queue(rng, params, int(k)) for k in sorted(staffed)}
        )
    months = int(rng.integers(2 if changes else 1, 16))
    changed = []
    if months > 1 and (rng.uniform() < 0.6 or changes):
        for month in sorted(rng.choice(np.arange(1, months), min(2, months - 1), False)):
            changed.append((int(month), _changed(rng, params)))
    customers, seed_of_run = int(rng.integers(20, 400)), int(rng.integers(0, 2**31))
    # market moves from a generator of their own, so that every other draw of the world of
    # ``seed`` is what it was before they existed
    moves = np.random.default_rng([seed, 7])
    if moves.uniform() < 0.3:
        params = params.replace(market=random_market(moves, K))
    changed = [
        (month, p.replace(market=random_market(moves, K)) if moves.uniform() < 0.5 else p)
        for month, p in changed
    ]
    return RandomWorld(params, customers, months, seed_of_run, changed)


def random_market(rng: np.random.Generator, touchpoints: int) -> np.ndarray:
    """(touchpoint, 3) market moves at one or two touchpoints: an extra log-odds of 0.1 to 2
    per rating point of shortfall, the competitor's mean rating before the move (NaN, new
    there, in a third) and after it, each from 1 to 5 (views of 1 to 5 fall short of it or
    not); the other touchpoints none."""
    market = np.zeros((touchpoints, 3))
    moved = rng.choice(touchpoints, size=min(touchpoints, int(rng.integers(1, 3))), replace=False)
    for k in moved:
        before = np.nan if rng.uniform() < 1 / 3 else rng.uniform(1.0, 5.0)
        market[k] = [rng.uniform(0.1, 2.0), before, rng.uniform(1.0, 5.0)]
    return market


def random_queue(rng: np.random.Generator, params: Parameters, k: int) -> QueueSettings:
    """A staffed touchpoint k: agents for about its load (the installed base's contacts a
    minute times the mean handling time, times 0.6 to 1.5), so that callers wait, hang up
    and call back."""

    def minutes(low: float, high: float) -> str:
        return f"{rng.uniform(low, high):.3f} min"

    mean = float(rng.uniform(2.0, 15.0))
    handling = rng.choice(
        [
            {"distribution": "exponential", "mean": f"{mean} min"},
            {"distribution": "lognormal", "mean": f"{mean} min", "sd": minutes(mean / 2, mean * 2)},
            {"distribution": "fixed", "mean": f"{mean} min"},
        ]
    )
    load = params.customers @ params.contacts[:, k] / MONTH * mean
    patience = rng.choice([None, {"mean": minutes(0.5, 10.0)}, {"share": 0.5, "within": "2 min"}])
    return QueueSettings.model_validate(
        {
            "agents": max(1, round(load * rng.uniform(0.6, 1.5))),
            "handling": handling,
            "patience": patience,
            "service_level": {"share": 0.8, "within": minutes(0.2, 2.0)},
            "resolution": float(rng.uniform(0.5, 1.0)),
            "retry": {
                "after_abandon": float(rng.uniform(0, 1)),
                "after_unresolved": float(rng.uniform(0, 1)),
                "delay": minutes(5.0, 600.0),
                "max_attempts": int(rng.integers(1, 6)),
            },
            "experience": {
                "abandoned": int(rng.integers(1, 3)),
                "unresolved_max": int(rng.integers(1, 4)),
                "wait_per_point": minutes(0.5, 5.0),
            },
        }
    )


def _add_ons(rng: np.random.Generator, segments: int) -> dict[str, np.ndarray]:
    """In about two worlds of three, add-ons bought by some classes (probability up to 0.3,
    margin up to 100); in about one of three, a margin uplift of some classes (-0.3 to 0.5)."""
    shape = (segments, 4)
    out = {}
    if rng.uniform() < 0.67:
        chosen = rng.uniform(size=shape) < 0.6
        out["add_on_probability"] = np.where(chosen, rng.uniform(0.0, 0.3, shape), 0.0)
        out["add_on_margin"] = rng.uniform(0.0, 100.0, shape)
    if rng.uniform() < 0.33:
        chosen = rng.uniform(size=shape) < 0.5
        out["margin_uplift"] = np.where(chosen, rng.uniform(-0.3, 0.5, shape), 0.0)
    return out


def _contact_rates(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Recurring contacts per month: none, whole (1 or 2) or fractional (below 3)."""
    kind = rng.integers(0, 4, size=shape)
    whole = rng.integers(1, 3, size=shape).astype(float)
    return np.choose(kind, [np.zeros(shape), np.zeros(shape), whole, rng.uniform(0, 3, shape)])


def _changed(rng: np.random.Generator, params: Parameters) -> Parameters:
    """The same world with new ratings of one touchpoint, new contact rates, a shifted churn
    baseline, other arrivals and margins, and restaffed desks (:func:`_restaffed`)."""
    S, K = params.contacts.shape
    ratings = params.ratings.copy()
    ratings[:, rng.integers(0, K)] = rng.dirichlet(np.ones(5), size=S)
    queues = {k: _restaffed(rng, settings) for k, settings in params.queues.items()}
    return params.replace(
        ratings=ratings,
        contacts=_contact_rates(rng, (S, K)),
        alpha=params.alpha + rng.normal(0.0, 0.5),
        prospects=params.prospects * rng.uniform(0.5, 2.0),
        margin=params.margin * rng.uniform(0.8, 1.2),
        queues=queues,
    )


def _restaffed(rng: np.random.Generator, settings: QueueSettings) -> QueueSettings:
    """A staffed touchpoint with from a third to twice the agents, other handling times,
    resolution, patience and call-backs."""
    handling = settings.handling.model_copy(update={"mean": settings.handling.mean * 1.5})
    patience = settings.patience
    if patience is not None and patience.mean is not None:
        patience = patience.model_copy(update={"mean": patience.mean * rng.uniform(0.5, 2)})
    retry = settings.retry.model_copy(
        update={"after_abandon": float(rng.uniform()), "max_attempts": int(rng.integers(1, 6))}
    )
    return settings.model_copy(
        update={
            "agents": max(1, round(settings.agents * rng.uniform(0.3, 2.0))),
            "handling": handling if rng.uniform() < 0.5 else settings.handling,
            "patience": patience,
            "resolution": float(rng.uniform(0.5, 1.0)),
            "retry": retry,
        }
    )
