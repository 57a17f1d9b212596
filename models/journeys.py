"""Acquisition journeys learned from an event log of touchpoint contacts.

A case's touchpoints in time order are its journey; it ends in *purchase* if the case is in
the customers table, else in *lost* (:mod:`models.eventlog` reads and checks the log).

Model (DESIGN, customer story 1). Prospects of segment s walk a Markov chain with rows
``P[s, i]`` over the next touchpoint, purchase and lost (row ``start`` over the first
touchpoint). With ``n[s, i, j]`` the observed moves, each row has the conjugate posterior

    P[s, i] | n ~ Dirichlet(a[s, i] + n[s, i]),    a[s, i, j] = prior * allowed[i, j]

``allowed[s]`` holds the moves the world's journey lists for s and the moves seen in cases
of s; a move the world forbids stays impossible until a case shows it (a case of unknown
segment whose path no segment allows opens its moves to every segment). Opening every move
to every segment instead lets a thin segment absorb lost prospects of unknown segment.
The mean ``(a_ij + n_ij) / (A_i + N_i)`` differs from the frequency
``n_ij / N_i`` by less than ``A_i / N_i``: it converges to the frequencies as data grows.

Segments. A purchaser's segment is in the customers table; a lost prospect's comes from an
optional ``segment`` column of the log (a lead's segment). Where it is missing (the demo log,
like most web logs) it is latent, and the segments and the chains are sampled together by
data augmentation (Tanner and Wong 1987), a Gibbs sampler:

    z_c | P, pi ~ Categorical(pi_s prod_ij P[s, i, j] ** m_c[i, j]),   pi | z ~ Dirichlet(1 + N_s)

and ``P | z`` as above (``m_c`` the moves of case c, ``N_s`` the cases of segment s). Segments
are missing only for lost cases, an observed outcome, so the gaps are ignorable (missing at
random). ``counts_`` then holds the expected counts over the sampled segments.

Simulation rows. The simulation multiplies the odds of lost by ``o`` after a bad experience
(rating <= 2, probability ``b``; :mod:`sim.engine.journey`), so the log shows the averaged row
``q_lost = (1 - b) p + b o p / (1 - p + o p)``, other moves keeping their proportions.
:meth:`JourneyModel.sample` inverts this (:func:`simulation_rows`) unless ``observed=True``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from models.eventlog import case_table, check_event_log, isin, move_counts, unique_paths
from sim.inputs.parameters import from_world
from sim.inputs.world import LOST, PURCHASE, START, World

BURN, THIN = 1000, 10
"""Gibbs sweeps discarded before the first kept draw, and sweeps between kept draws."""


class JourneyModel:
    """Per-segment journey chains with a Dirichlet posterior per row.

    Parameters
    ----------
    prior
        Pseudo-count on each allowed move of a row (1: uniform over the allowed moves).
    seed
        Seed of the numpy Generator for the Gibbs sampler and the Dirichlet draws.

    Attributes (after fit)
    ----------------------
    counts_, prior_, concentration_
        (segment, from, next): moves seen (expected ones for cases of unknown segment), prior
        pseudo-counts and their sum, the Dirichlet concentration of each row.
    unknown_touchpoints_
        Events per touchpoint id the world lacks: candidates for the touchpoint inventory.
    cases_, unassigned_cases_, open_cases_
        Cases counted, those of unknown segment, those left out by ``open_after``.
    customers_without_events_, missing_journeys_
        Customers with no events, and the ids of those who started after the log began.
    """

    def __init__(self, prior: float = 1.0, seed: int | None = None):
        if prior <= 0:
            raise ValueError(f"need prior > 0, got {prior}")
        self.prior = prior
        self.seed = seed

    def fit(
        self,
        events: pd.DataFrame,
        customers: pd.DataFrame,
        world: World,
        ratings: np.ndarray | None = None,
        open_after: object = None,
    ) -> JourneyModel:
        """Count the moves of every case and form the posterior.

        ``ratings`` (segment, touchpoint, rating, in the world's order) gives the share of bad
        experiences :func:`simulation_rows` needs (default: the world's; a fitted
        :class:`~models.experience.RatingModel` mean fits too). Events at touchpoints the world
        lacks are skipped (the journey joins around them) and listed, with their counts, in
        ``unknown_touchpoints_`` as candidates for the touchpoint inventory. Cases whose first
        event is at or after ``open_after`` are left out (``open_cases_``): near the end of a
        log a purchase may not be recorded yet, and they would count as lost.
        """
        params = from_world(world)
        self.segments, self.touchpoints = world.segment_ids, world.touchpoint_ids
        K, S = len(self.touchpoints), len(self.segments)
        events = check_event_log(events)
        every_case, self.open_cases_ = events["customer_id"].unique(), 0
        if open_after is not None:
            began = events.groupby("customer_id")["timestamp"].transform("min")
            open_case = began >= pd.Timestamp(open_after)
            self.open_cases_ = int(events.loc[open_case, "customer_id"].nunique())
            events = events[~open_case]
        known = isin(events["touchpoint"].astype(str), self.touchpoints)
        self.unknown_touchpoints_ = events.loc[~known, "touchpoint"].astype(str).value_counts()
        if len(self.unknown_touchpoints_):
            found = ", ".join(f"{k} ({n})" for k, n in self.unknown_touchpoints_.items())
            warnings.warn(
                f"events at touchpoints not in the world skipped: {found}; candidates "
                "for the touchpoint inventory",
                stacklevel=2,
            )
        cases = case_table(events[known], customers, self.segments)
        self._report_missing(customers, every_case, events["timestamp"].min())
        paths = unique_paths(cases, self.segments, self.touchpoints)
        self.cases_ = int(paths["cases"].sum())
        self.unassigned_cases_ = int(paths.loc[paths["segment"] < 0, "cases"].sum())
        self._moves = move_counts(paths, S, K)
        allowed = (
            np.concatenate(
                [np.pad(params.start, ((0, 0), (0, 2)))[:, None], params.transitions], axis=1
            )
            > 0
        )
        self.prior_ = self.prior * _support(allowed | (self._moves["known"] > 0), self._moves)
        self._gibbs = _Gibbs(self, np.random.default_rng(self.seed))
        counts = self._moves["known"] + self._gibbs.expected_counts(BURN)
        self.counts_ = self._label(counts, "counts")
        self.concentration_ = self._label(self.prior_ + counts, "concentration")
        ratings = params.ratings if ratings is None else np.asarray(ratings, dtype=float)
        self.bad_share_ = ratings[..., :2].sum(axis=-1)
        self.dropout_odds_ = params.dropout_odds
        return self

    def mean(self, observed: bool = False) -> xr.Dataset:
        """Rows ``c / C`` of the posterior concentration, as :meth:`sample` returns them."""
        c = self.concentration_.values
        return self._dataset((c / c.sum(axis=-1, keepdims=True))[None], observed).isel(draw=0)

    def sample(self, draws: int, observed: bool = False) -> xr.Dataset:
        """``draws`` posterior draws of ``start`` (draw, segment, touchpoint) and
        ``transitions`` (draw, segment, touchpoint, next), shaped like the Parameters fields:
        rows for the simulation, or the chain the log shows if ``observed``.

        With cases of unknown segment the draws come from the Gibbs sampler, ``THIN`` sweeps
        apart; ``ess_`` is their smallest effective sample size, and a warning says when it
        is below a tenth of ``draws`` (rows the log cannot tell apart by segment).
        """
        if not self.unassigned_cases_:
            self.ess_ = float(draws)
            return self._dataset(
                _dirichlet(self.concentration_.values, self._gibbs.rng, draws), observed
            )
        rows = self._gibbs.draws(draws, THIN)
        self.ess_ = effective_size(rows)
        if self.ess_ < draws / 10:
            warnings.warn(
                f"journey draws: effective sample size {self.ess_:.0f} of {draws}; "
                f"{self.unassigned_cases_} lost cases have no segment, so some rows are "
                "barely identified: add the lead's segment to the event log",
                stacklevel=2,
            )
        return self._dataset(rows, observed)

    def _dataset(self, rows: np.ndarray, observed: bool) -> xr.Dataset:
        K = len(self.touchpoints)
        transitions = rows[:, :, 1:]
        if not observed:
            transitions = simulation_rows(transitions, self.bad_share_, self.dropout_odds_)
        coords = {
            "draw": np.arange(len(rows)),
            "segment": self.segments,
            "touchpoint": self.touchpoints,
            "next": [*self.touchpoints, PURCHASE, LOST],
        }
        return xr.Dataset(
            {
                "start": (("draw", "segment", "touchpoint"), rows[:, :, 0, :K]),
                "transitions": (("draw", "segment", "touchpoint", "next"), transitions),
            },
            coords=coords,
        )

    def _label(self, values: np.ndarray, name: str) -> xr.DataArray:
        coords = {
            "segment": self.segments,
            "from": [START, *self.touchpoints],
            "next": [*self.touchpoints, PURCHASE, LOST],
        }
        return xr.DataArray(values, dims=("segment", "from", "next"), coords=coords, name=name)

    def _report_missing(
        self, customers: pd.DataFrame, cases: np.ndarray, log_start: pd.Timestamp
    ) -> None:
        """Customers without events; warn of those who started after the log began."""
        silent = ~isin(customers["customer_id"], cases)
        self.customers_without_events_ = int(silent.sum())
        late = customers.loc[silent & (customers["start"] > log_start), "customer_id"]
        self.missing_journeys_ = late.tolist()
        if len(late):
            warnings.warn(
                f"{len(late)} customers started after the event log began but have "
                f"no events, such as {late.iloc[0]!r}: their journeys are not counted",
                stacklevel=3,
            )


class _Gibbs:
    """Data augmentation over the segments of unassigned cases (see the module notes)."""

    def __init__(self, model: JourneyModel, rng: np.random.Generator):
        self.rng, self.prior, moves = rng, model.prior_, model._moves
        self.known, self.cases = moves["known"], moves["unassigned"]
        self.path, self.move = moves["path"], moves["move"]
        self.weight, self.known_cases = moves["weight"], moves["known_cases"]
        self.rows = self.prior + self.known
        self.rows = self.rows / self.rows.sum(axis=-1, keepdims=True)
        self.share = np.full(len(self.known), 1.0 / len(self.known))

    def probabilities(self) -> np.ndarray:
        """P(segment | path): (path, segment)."""
        with np.errstate(divide="ignore"):
            log_rows = np.log(self.rows.reshape(len(self.share), -1))
        log_p = np.stack(
            [
                np.bincount(self.path, self.weight * log_s[self.move], minlength=len(self.cases))
                for log_s in log_rows
            ],
            axis=1,
        )
        log_p = log_p + np.log(self.share)
        p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    def scatter(self, per_path: np.ndarray) -> np.ndarray:
        """Move counts (segment, from, next) of paths weighted by ``per_path`` (path, segment)."""
        flat = [
            np.bincount(self.move, self.weight * w[self.path], minlength=self.known[0].size)
            for w in per_path.T
        ]
        return np.stack(flat).reshape(self.known.shape)

    def sweep(self) -> None:
        """Segments given the chains, then the chains and the segment shares given segments."""
        assigned = self.rng.multinomial(self.cases, self.probabilities())
        self.rows = _dirichlet(self.prior + self.known + self.scatter(assigned), self.rng, 1)[0]
        share = self.rng.gamma(1.0 + self.known_cases + assigned.sum(axis=0))
        self.share = share / share.sum()

    def expected_counts(self, sweeps: int) -> np.ndarray:
        """Counts of the unassigned cases averaged over ``sweeps`` sweeps after as many burn-in
        sweeps (Rao-Blackwellised: expected, not sampled, segments); zero if there are none."""
        if len(self.cases) == 0:
            return np.zeros_like(self.known)
        total = np.zeros_like(self.known)
        for i in range(2 * sweeps):
            self.sweep()
            if i >= sweeps:
                total += self.scatter(self.cases[:, None] * self.probabilities())
        return total / sweeps

    def draws(self, count: int, thin: int) -> np.ndarray:
        """``count`` chains (draw, segment, from, next), ``thin`` sweeps apart."""
        out = np.empty((count, *self.known.shape))
        for d in range(count):
            for _ in range(thin):
                self.sweep()
            out[d] = self.rows
        return out


def _support(allowed: np.ndarray, moves: dict[str, np.ndarray]) -> np.ndarray:
    """``allowed`` (segment, from, next) with the moves of unassigned paths that no segment
    allows opened to every segment."""
    flat = allowed.reshape(len(allowed), -1)
    blocked = np.stack(
        [
            np.bincount(moves["path"], ~a[moves["move"]], minlength=len(moves["unassigned"]))
            for a in flat
        ]
    )
    orphan = np.isin(moves["path"], np.flatnonzero((blocked > 0).all(axis=0)))
    opened = np.zeros(flat.shape[1], dtype=bool)
    opened[moves["move"][orphan]] = True
    return allowed | opened.reshape(allowed.shape[1:])


def _dirichlet(concentration: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray:
    """Dirichlet draws of every row (last axis) as normalised Gamma variates (0 stays 0)."""
    gamma = rng.gamma(concentration, size=(draws, *concentration.shape))
    return gamma / gamma.sum(axis=-1, keepdims=True)


def effective_size(draws: np.ndarray) -> float:
    """Smallest effective sample size over the entries of ``draws`` (draw, ...).

    ``n / (1 + 2 sum_t rho_t)``, summing autocorrelations up to the first lag whose pair sum
    ``rho_t + rho_(t+1)`` is negative (Geyer's initial positive sequence); constant entries
    are skipped.
    """
    x = draws.reshape(len(draws), -1)
    x = x[:, x.std(axis=0) > 1e-12]
    x = x - x.mean(axis=0)
    if x.shape[1] == 0:
        return float(len(draws))
    f = np.fft.rfft(x, 2 * len(x), axis=0)
    rho = np.fft.irfft(f * np.conj(f), axis=0)[: len(x)]
    rho = rho / rho[0]
    pairs = rho[1:-1:2] + rho[2::2]
    stop = np.argmax(np.vstack([pairs, -np.ones(x.shape[1])]) < 0, axis=0)
    tau = 1 + 2 * np.array([pairs[:n, j].sum() for j, n in enumerate(stop)])
    return float(len(x) / tau.max())


def simulation_rows(observed: np.ndarray, bad: np.ndarray, odds: np.ndarray) -> np.ndarray:
    """Rows that the simulation turns into ``observed`` once bad experiences raise dropout.

    Solves ``q = (1 - b) p + b o p / (1 - p + o p)`` for the lost probability p, i.e.
    ``(1 - b)(o - 1) p^2 + B p - q = 0`` with ``B = 1 - b + b o - q (o - 1)``, by the stable
    root ``p = 2 q / (B + sqrt(B^2 + 4 (1 - b)(o - 1) q))``; the other moves keep their
    proportions: ``p_j = q_j (1 - p) / (1 - q)``. Shapes: observed (..., segment,
    touchpoint, next) with lost last, bad (segment, touchpoint), odds (segment,).
    """
    q = observed[..., -1]
    o = np.broadcast_to(np.asarray(odds)[:, None], bad.shape)
    a = (1 - bad) * (o - 1)
    b = 1 - bad + bad * o - q * (o - 1)
    root = np.sqrt(b * b + 4 * a * q)
    p = np.divide(2 * q, b + root, out=np.zeros_like(q), where=q > 0)
    scale = np.divide(1 - p, 1 - q, out=np.zeros_like(q), where=q < 1)
    rows = observed * scale[..., None]
    rows[..., -1] = p
    return rows
