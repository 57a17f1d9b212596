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
like most web logs) it is summed out. Each case belongs to segment s with probability
``pi_s`` (the segments' shares of prospects, ``pi ~ Dirichlet(1)``), so a case of segment s
adds ``log pi_s + sum_ij m[i, j] log P[s, i, j]`` and a case of unknown segment the mixture

    log sum_s pi_s prod_ij P[s, i, j] ** m[i, j]

over the segments whose chain allows its path (``m`` its moves). Such a case is lost, and
``pi_s P_s(path)`` is the segment's share of lost prospects times the path's probability
among its lost prospects, so this is the mixture over segments weighted by their shares of
the lost. Segments are missing only for lost cases, an observed outcome, so the gaps are
ignorable (missing at random). Cases are many and distinct paths few
(:func:`models.eventlog.unique_paths`): the likelihood is a sum over distinct paths, each
times its cases (the demo log: 6,125 cases of unknown segment on 54 paths).

Sampling. NUTS (nutpie) on this marginal posterior of the rows and the shares. Each simplex
is sampled in additive log-ratio coordinates ``x_j = log(p_j / p_last)`` (the last allowed
move, lost where allowed, is the reference), where the Jacobian ``prod_j p_j`` turns the
Dirichlet's ``a - 1`` into ``a``: the log density is ``sum_e (a_e + n_e) log p_e`` plus the
mixture terms, and its gradient is the expected counts less each row's total times its
probabilities. Both are compiled with numba (:func:`_log_density`) and handed to nutpie.
The posterior is not Gaussian in any coordinates tried: where two segments' lost prospects
look alike (the demo's households and small businesses lost after the online ad), the log
pins their sum but not their split, so one segment's lost probability trades against the
other's along a curved ridge, and a long one: the draws' ESS stays near a tenth of their
number. On the demo data (2 x 5,000 draws) other coordinates did no better than these with a
diagonal mass matrix (bulk ESS 930 at ``TARGET_ACCEPT``): centred log-ratios 450 to 720, lost
as a coordinate of its own 500 to 600, the shares and start rows as one joint simplex 1,050
(and divergences at 0.8), nutpie's low-rank mass matrix 810 with 4 divergences; a dense
mass matrix from a pilot run made it worse. So NUTS takes smaller steps (``TARGET_ACCEPT``)
and longer chains (``DRAWS``), and :meth:`JourneyModel.sample` thins them to the draws
asked. The fit passes the churn model's gate (:func:`models.churn.diagnostics`, over every
probability and share sampled): on the demo data as ``ctm fit`` fits it (seed 0, the last
month's cases left open) R-hat 1.002, bulk ESS 652 (612 in the 2,000 draws kept), no
divergence, 5 to 9 s of sampling. The Gibbs sampler by data augmentation (Tanner and Wong
1987) it replaces, which drew the segment of every case, gave an ESS of 7 to 31 of 2,000
draws there (R-hat up to 1.27).

``counts_`` then holds the known moves plus each path's moves times its cases times the
posterior mean of P(segment | path) (Rao-Blackwellised over the draws). When every case has
its segment the rows are conjugate and drawn exactly from their Dirichlet posteriors.

Simulation rows. The simulation multiplies the odds of lost by ``o`` after a bad experience
(rating <= 2, probability ``b``; :mod:`sim.engine.journey`), so the log shows the averaged row
``q_lost = (1 - b) p + b o p / (1 - p + o p)``, other moves keeping their proportions.
:meth:`JourneyModel.sample` inverts this (:func:`simulation_rows`) unless ``observed=True``.
"""

from __future__ import annotations

import math
import time
import warnings

import arviz as az
import numpy as np
import nutpie
import pandas as pd
import xarray as xr
from numba import njit
from nutpie.compiled_pyfunc import from_pyfunc

from models.churn import ESS_MIN, check_int, diagnostics, quiet
from models.eventlog import case_table, check_event_log, isin, move_counts, unique_paths
from sim.inputs.parameters import from_world
from sim.inputs.world import LOST, PURCHASE, START, World

CHAINS, TUNE, DRAWS = 2, 1000, 4000
"""NUTS chains, tuning steps and kept draws per chain when cases lack a segment. On the demo
data 2 x 4,000 draws give a bulk ESS of 650 to 830 (seeds 0 to 2; the gate asks 400)."""
TARGET_ACCEPT = 0.9
"""nutpie's target acceptance rate. At 0.8 (its default) the demo fit left 0 to 4 divergences
in 10,000 to 20,000 draws, at the ends of the ridges; at 0.9 none in the runs tried, with
ESS per draw a little higher (35 leapfrog steps a draw against 25)."""


class JourneyModel:
    """Per-segment journey chains: a Dirichlet posterior per row, the segments of cases
    without one summed out (see the module notes).

    Parameters
    ----------
    prior
        Pseudo-count on each allowed move of a row (1: uniform over the allowed moves).
    seed
        Seed of nutpie (cases of unknown segment) or of the numpy Generator of the exact
        Dirichlet draws (every segment known); the same seed gives the same draws.
    draws, tune, chains
        Kept draws and tuning steps per chain, and chains, of NUTS; unused when every case
        has its segment.
    target_accept
        nutpie's target acceptance rate, in (0, 1).

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
    diagnostics_, sampling_seconds_
        The churn model's gate over every probability and share sampled (``rhat``,
        ``ess_bulk``, ``divergences``, ``ok``) and nutpie's wall time; None and 0 when every
        case has its segment (exact draws).
    """

    def __init__(
        self,
        prior: float = 1.0,
        seed: int | None = None,
        draws: int = DRAWS,
        tune: int = TUNE,
        chains: int = CHAINS,
        target_accept: float = TARGET_ACCEPT,
    ):
        if prior <= 0:
            raise ValueError(f"need prior > 0, got {prior}")
        check_int("draws", draws, 1)
        check_int("tune", tune, 1)
        check_int("chains", chains, 2)
        if not 0 < target_accept < 1:
            raise ValueError(f"target_accept is {target_accept}, expected a number in (0, 1)")
        self.prior = prior
        self.seed = seed
        self.draws, self.tune, self.chains = draws, tune, chains
        self.target_accept = float(target_accept)

    def fit(
        self,
        events: pd.DataFrame,
        customers: pd.DataFrame,
        world: World,
        ratings: np.ndarray | None = None,
        open_after: object = None,
    ) -> JourneyModel:
        """Count the moves of every case and form the posterior (sampled with NUTS when some
        cases have no segment).

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
        self._rng = np.random.default_rng(self.seed)
        counts = self._moves["known"].copy()
        self.diagnostics_, self.sampling_seconds_, self._marginal = None, 0.0, None
        marginal = _Marginal(self.prior_, self._moves) if self.unassigned_cases_ else None
        if marginal is not None and marginal.certain:
            counts += marginal.split(np.ones(len(marginal.segment)))
        elif marginal is not None:
            self._marginal = marginal
            self._draws = self._run(self.draws)
            counts += marginal.expected_counts(self._draws.reshape(-1, marginal.size))
        self.counts_ = self._label(counts, "counts")
        self.concentration_ = self._label(self.prior_ + counts, "concentration")
        ratings = params.ratings if ratings is None else np.asarray(ratings, dtype=float)
        self.bad_share_ = ratings[..., :2].sum(axis=-1)
        self.dropout_odds_ = params.dropout_odds
        return self

    def _run(self, draws: int) -> np.ndarray:
        """NUTS draws (chain, draw, entry) of the marginal posterior; sets the diagnostics."""
        posterior, self.sampling_seconds_ = self._marginal.sample(
            draws, self.tune, self.chains, self.seed, self.target_accept
        )
        self.diagnostics_ = diagnostics(posterior)
        return posterior["posterior"]["p"].values

    def mean(self, observed: bool = False) -> xr.Dataset:
        """The posterior mean rows, as :meth:`sample` returns them: ``c / C`` of the
        concentration, or with cases of unknown segment the mean of the fit's draws (not
        ``c / C``: where the split of lost prospects is uncertain, the mean of a ratio is not
        the ratio of the mean counts; on the demo data they differ by up to 0.16)."""
        if self._marginal is not None:
            p = self._draws.reshape(-1, self._marginal.size).mean(axis=0)
            return self._dataset(self._marginal.rows(p[None]), observed).isel(draw=0)
        c = self.concentration_.values
        return self._dataset((c / c.sum(axis=-1, keepdims=True))[None], observed).isel(draw=0)

    def sample(self, draws: int, observed: bool = False) -> xr.Dataset:
        """``draws`` posterior draws of ``start`` (draw, segment, touchpoint) and
        ``transitions`` (draw, segment, touchpoint, next), shaped like the Parameters fields:
        rows for the simulation, or the chain the log shows if ``observed``.

        With cases of unknown segment the draws are the fit's NUTS draws, evenly spaced in
        each chain, chain after chain (sampled again, longer, if more are asked than it
        kept); ``ess_`` is their smallest bulk effective sample size, and a warning says when
        it is below both a tenth of ``draws`` and the gate's 400. Otherwise they are exact
        Dirichlet draws.
        """
        check_int("draws", draws, 1)
        if self._marginal is None:
            self.ess_ = float(draws)
            return self._dataset(_dirichlet(self.concentration_.values, self._rng, draws), observed)
        if draws > self._draws.shape[0] * self._draws.shape[1]:
            self._draws = self._run(math.ceil(draws / self.chains))
        kept = _spaced(self._draws, draws)
        self.ess_ = _smallest_ess(kept, self.chains)
        if self.ess_ < min(draws / 10, ESS_MIN):
            warnings.warn(
                f"journey draws: effective sample size {self.ess_:.0f} of {draws}; "
                f"{self.unassigned_cases_} lost cases have no segment, so some rows are "
                "barely identified: sample longer chains (draws) or add the lead's segment "
                "to the event log",
                stacklevel=2,
            )
        return self._dataset(self._marginal.rows(kept), observed)

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


class _Marginal:
    """The marginal posterior of the rows and shares (module notes), laid out for the kernels.

    The free probabilities are the entries of one vector ``p``: first the segments' shares,
    then every row with two or more allowed moves, each a block of consecutive entries
    (``block`` holds the blocks' bounds, ``first`` where each block's log-ratios begin in
    ``x``); a row with one allowed move is 1 and not sampled. ``entry[s, f]`` is the entry of
    move ``f = from * (K + 2) + next`` of segment s (-1: not sampled). Each distinct path of
    unknown segment has one *pair* per segment whose chain allows it (``path_ptr``: a path's
    pairs), and each pair its *terms* (``term_ptr``): the share's entry with weight 1, then
    the entries of the path's moves with their counts in the path.
    """

    def __init__(self, prior: np.ndarray, moves: dict[str, np.ndarray]):
        S, R, J = self.shape = prior.shape
        self.moves = moves
        support = prior > 0
        self.entry = np.full((S, R * J), -1)
        self.single = (support & (support.sum(axis=-1, keepdims=True) == 1)).reshape(S, -1)
        bounds, coef = [0, S], [1.0 + moves["known_cases"]]
        for s, i in zip(*np.nonzero(support.sum(axis=-1) >= 2), strict=True):
            j = np.flatnonzero(support[s, i])
            self.entry[s, i * J + j] = bounds[-1] + np.arange(len(j))
            bounds.append(bounds[-1] + len(j))
            coef.append(prior[s, i, j] + moves["known"][s, i, j])
        block = np.array(bounds)
        first = block - np.arange(len(block))
        self.dim, self.size = int(first[-1]), int(block[-1])
        term_ptr, terms, weights, path_ptr, segment = [0], [], [], [0], []
        for u in range(len(moves["unassigned"])):
            mine = moves["path"] == u
            move, weight = moves["move"][mine], moves["weight"][mine]
            for s in np.flatnonzero(support.reshape(S, -1)[:, move].all(axis=1)):
                sampled = self.entry[s, move] >= 0
                terms += [s, *self.entry[s, move[sampled]]]
                weights += [1.0, *weight[sampled]]
                term_ptr.append(len(terms))
                segment.append(s)
            path_ptr.append(len(segment))
        self.segment = np.array(segment, dtype=np.int64)
        self.pair_path = np.repeat(np.arange(len(path_ptr) - 1), np.diff(path_ptr))
        self.mixture = {
            "cases": moves["unassigned"].astype(float),
            "path_ptr": np.array(path_ptr, dtype=np.int64),
            "term_ptr": np.array(term_ptr, dtype=np.int64),
            "term_entry": np.array(terms, dtype=np.int64),
            "term_weight": np.array(weights, dtype=float),
        }
        self.data = {"block": block, "first": first, "coef": np.concatenate(coef), **self.mixture}

    def log_density(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The log posterior density at log-ratios ``x`` (up to a constant), and its gradient."""
        return _log_density(np.asarray(x, dtype=float), **self.data)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """The entries ``p`` at log-ratios ``x``."""
        return np.exp(_log_probabilities(np.asarray(x, dtype=float), **self._blocks))

    @property
    def _blocks(self) -> dict[str, np.ndarray]:
        return {"block": self.data["block"], "first": self.data["first"]}

    def initial_point(self, seed: int) -> np.ndarray:
        """Log-ratios of the posterior means given the known cases and the unknown ones spread
        over the segments allowing their paths in proportion to 1 + their known cases,
        jittered by U(-0.5, 0.5) so that chains start apart."""
        weight = 1.0 + self.moves["known_cases"][self.segment]
        weight = weight / np.bincount(self.pair_path, weight)[self.pair_path]
        ptr = self.mixture["term_ptr"]
        spread = self.mixture["term_weight"] * np.repeat(
            weight * self.mixture["cases"][self.pair_path], np.diff(ptr)
        )
        p = self.data["coef"] + np.bincount(self.mixture["term_entry"], spread, self.size)
        block = self.data["block"]
        x = np.concatenate(
            [np.log(p[a : b - 1] / p[b - 1]) for a, b in zip(block[:-1], block[1:], strict=True)]
        )
        return x + np.random.default_rng(seed).uniform(-0.5, 0.5, len(x))

    def sample(
        self, draws: int, tune: int, chains: int, seed: int | None, target_accept: float
    ) -> tuple[xr.DataTree, float]:
        """NUTS draws of the entries ``p`` (chain, draw, entry) with the divergences, and the
        seconds of sampling."""
        blocks = self._blocks

        def expand(x: np.ndarray, **_) -> dict[str, np.ndarray]:
            return {"p": np.exp(_log_probabilities(x, **blocks))}

        compiled = from_pyfunc(
            self.dim,
            lambda: _log_density,
            lambda *_: expand,
            [np.dtype("float64")],
            [(self.size,)],
            ["p"],
            shared_data=self.data,
            make_initial_point_fn=self.initial_point,
        )
        start = time.perf_counter()
        with quiet():
            found = nutpie.sample(
                compiled,
                draws=draws,
                tune=tune,
                chains=chains,
                cores=chains,
                seed=seed,
                progress_bar=False,
                target_accept=target_accept,
            )
        elapsed = time.perf_counter() - start
        tree = xr.DataTree.from_dict(
            {
                "posterior": xr.Dataset({"p": found["posterior"]["p"].variable}),
                "sample_stats": xr.Dataset(
                    {"diverging": found["sample_stats"]["diverging"].variable}
                ),
            }
        )
        return tree, elapsed

    def rows(self, p: np.ndarray) -> np.ndarray:
        """Chains (draw, segment, from, next) from entries ``p`` (draw, entry)."""
        out = np.zeros((len(p), *self.entry.shape))
        out[:, self.single] = 1.0
        sampled = self.entry >= 0
        out[:, sampled] = p[:, self.entry[sampled]]
        return out.reshape(len(p), *self.shape)

    @property
    def certain(self) -> bool:
        """Whether every path of unknown segment is allowed by one segment only: then its
        cases are that segment's, and the rows are conjugate."""
        return bool(np.all(np.diff(self.mixture["path_ptr"]) == 1))

    def expected_counts(self, p: np.ndarray) -> np.ndarray:
        """Moves of the cases of unknown segment (segment, from, next), each path's cases split
        by the mean of P(segment | path) over the draws ``p`` (draw, entry)."""
        return self.split(_mean_responsibility(np.log(p), **self.mixture))

    def split(self, share: np.ndarray) -> np.ndarray:
        """Moves of the cases of unknown segment (segment, from, next), each path's cases
        split over the segments by ``share`` (pair,)."""
        per_path = np.zeros((len(self.mixture["cases"]), self.shape[0]))
        per_path[self.pair_path, self.segment] = share * self.mixture["cases"][self.pair_path]
        moves, size = self.moves, self.entry.shape[1]
        flat = [
            np.bincount(moves["move"], moves["weight"] * w[moves["path"]], minlength=size)
            for w in per_path.T
        ]
        return np.stack(flat).reshape(self.shape)


def _spaced(draws: np.ndarray, count: int) -> np.ndarray:
    """``count`` of the draws (chain, draw, ...), evenly spaced in each chain, chain after
    chain; the first ``count % chains`` chains give one more."""
    chains, length = draws.shape[:2]
    each = count // chains + (np.arange(chains) < count % chains)
    return np.concatenate(
        [draws[c, ((np.arange(n) + 0.5) * length / n).astype(int)] for c, n in enumerate(each) if n]
    )


def _smallest_ess(draws: np.ndarray, chains: int) -> float:
    """Smallest bulk ESS over the entries of ``draws`` (sample, entry), chain after chain (as
    one chain when they do not split evenly)."""
    if len(draws) % chains:
        chains = 1
    values = draws.reshape(chains, len(draws) // chains, -1)
    ess = az.ess(xr.Dataset({"p": (("chain", "draw", "entry"), values)}), method="bulk")
    return float(ess["p"].min())


@njit(cache=True)
def _log_probabilities(x, block, first):
    """Log probabilities of every block's entries from their additive log-ratios (the last
    entry of a block is the reference, ``x`` = 0)."""
    out = np.empty(block[-1])
    for b in range(len(block) - 1):
        low, high, at = block[b], block[b + 1], first[b]
        top = 0.0
        for j in range(high - low - 1):
            top = max(top, x[at + j])
        total = np.exp(-top)
        for j in range(high - low - 1):
            total += np.exp(x[at + j] - top)
        norm = top + np.log(total)
        for j in range(high - low - 1):
            out[low + j] = x[at + j] - norm
        out[high - 1] = -norm
    return out


@njit(cache=True)
def _mixture(log_p, cases, path_ptr, term_ptr, term_entry, term_weight, given):
    """The cases of unknown segment: their log-likelihood, and ``given[pair]`` set to
    P(segment | path) of every pair."""
    total = 0.0
    for u in range(len(cases)):
        top = -np.inf
        for q in range(path_ptr[u], path_ptr[u + 1]):
            value = 0.0
            for t in range(term_ptr[q], term_ptr[q + 1]):
                value += term_weight[t] * log_p[term_entry[t]]
            given[q] = value
            top = max(top, value)
        mass = 0.0
        for q in range(path_ptr[u], path_ptr[u + 1]):
            mass += np.exp(given[q] - top)
        norm = top + np.log(mass)
        total += cases[u] * norm
        for q in range(path_ptr[u], path_ptr[u + 1]):
            given[q] = np.exp(given[q] - norm)
    return total


@njit(cache=True)
def _log_density(x, block, first, coef, cases, path_ptr, term_ptr, term_entry, term_weight):
    """Log posterior density at log-ratios ``x`` (up to a constant) and its gradient:
    ``sum_e coef_e log p_e`` (prior, Jacobian and known moves) plus the mixture of the cases
    of unknown segment. With ``g_e`` its derivative in ``log p_e`` (``coef_e`` plus the
    expected counts), the gradient in a block's log-ratio j is ``g_j - p_j sum_e g_e``."""
    log_p = _log_probabilities(x, block, first)
    given = np.empty(len(term_ptr) - 1)
    total = _mixture(log_p, cases, path_ptr, term_ptr, term_entry, term_weight, given)
    g = coef.copy()
    for e in range(len(coef)):
        total += coef[e] * log_p[e]
    for u in range(len(cases)):
        for q in range(path_ptr[u], path_ptr[u + 1]):
            for t in range(term_ptr[q], term_ptr[q + 1]):
                g[term_entry[t]] += cases[u] * given[q] * term_weight[t]
    grad = np.empty(len(x))
    for b in range(len(block) - 1):
        low, high, at = block[b], block[b + 1], first[b]
        mass = 0.0
        for e in range(low, high):
            mass += g[e]
        for j in range(high - low - 1):
            grad[at + j] = g[low + j] - np.exp(log_p[low + j]) * mass
    return total, grad


@njit(cache=True)
def _mean_responsibility(log_p, cases, path_ptr, term_ptr, term_entry, term_weight):
    """P(segment | path) of every pair averaged over draws ``log_p`` (draw, entry)."""
    given = np.empty(len(term_ptr) - 1)
    mean = np.zeros(len(term_ptr) - 1)
    for d in range(len(log_p)):
        _mixture(log_p[d], cases, path_ptr, term_ptr, term_entry, term_weight, given)
        mean += given
    return mean / len(log_p)


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
