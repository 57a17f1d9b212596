"""Acquisition journeys learned from an event log of touchpoint contacts.

The log has one row per contact: case (customer id), activity (touchpoint id) and timestamp,
as process-mining tools name them. A case's touchpoints in time order are its journey; it
ends in *purchase* if the case is in the customers table, else in *lost*.

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
(rating <= 2, probability ``b``; :mod:`sim.journey`), so the log shows the averaged row
``q_lost = (1 - b) p + b o p / (1 - p + o p)``, other moves keeping their proportions.
:meth:`JourneyModel.sample` inverts this (:func:`simulation_rows`) unless ``observed=True``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from models.data import Problems, parse_dates, parse_ids, read_table
from sim.parameters import from_world
from sim.world import LOST, PURCHASE, START, World

UNKNOWN_SEGMENT = "unknown"
BURN, THIN = 1000, 10
"""Gibbs sweeps discarded before the first kept draw, and sweeps between kept draws."""


def read_event_log(path: str | Path, *, case: str = "customer_id", activity: str = "touchpoint",
                   timestamp: str = "timestamp", segment: str = "segment",
                   sort: bool = False) -> pd.DataFrame:
    """Read an event log; unknown touchpoint ids are kept for :meth:`JourneyModel.fit` to list.

    Returns ``customer_id``, ``touchpoint`` (text), ``timestamp`` and ``segment`` (text, ``""``
    if absent) indexed by file row - 1, sorted by case and time; ``attrs`` holds the file and
    its column names so later problems can name them. Raises :class:`InputError` naming each
    empty id or touchpoint, unreadable time, and (see :func:`check_event_log`) bad order.
    """
    frame = read_table(path)
    problems = Problems(str(path))
    missing = [c for c in (case, activity, timestamp) if c not in frame.columns]
    if missing:
        expected = f"expected columns {case}, {activity}, {timestamp}"
        problems.add("columns", f"missing {', '.join(missing)}; {expected}")
    problems.check()
    out = pd.DataFrame({"customer_id": parse_ids(frame[case], problems),
                        "touchpoint": frame[activity]}, index=frame.index)
    problems.cells(frame[activity], frame[activity] == "", "empty, expected a touchpoint id")
    out["timestamp"] = parse_dates(frame[timestamp], problems, time=True)
    out["segment"] = frame[segment] if segment in frame.columns else ""
    problems.check()
    out.attrs = {"source": str(path), "columns": {"timestamp": timestamp, "segment": segment}}
    return check_event_log(out, sort=sort)


def check_event_log(events: pd.DataFrame, *, sort: bool = False) -> pd.DataFrame:
    """The log sorted by case and time, after checking each case's times.

    Raises :class:`InputError` naming each row whose time repeats an earlier row of its
    case (the order of the two contacts is unknown) and, unless ``sort``, each row earlier
    than the row before it in its case. Rows are the index + 1 (file rows if read here).
    """
    source = events.attrs.get("source", "events")
    column = events.attrs.get("columns", {}).get("timestamp", "timestamp")
    problems = Problems(source)
    text = events["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S").rename(column)
    row = pd.Series(events.index + 1, index=events.index)
    ordered = events.sort_values(["customer_id", "timestamp"], kind="stable")
    again = ordered.duplicated(["customer_id", "timestamp"]).reindex(events.index)
    first = row[ordered.index].groupby([ordered["customer_id"], ordered["timestamp"]]
                                       ).transform("first").reindex(events.index)
    problems.cells(text, again, "time {value} repeats row {other} of the same customer, expected "
                   "distinct times within a customer", first.astype(str))
    if not sort:
        earlier = events["timestamp"] < events.groupby("customer_id")["timestamp"].shift()
        before = row.groupby(events["customer_id"]).shift().fillna(0).astype(int).astype(str)
        problems.cells(text, earlier, "time {value} is earlier than row {other} of the same "
                       "customer, expected each customer's events in time order (or sort=True)",
                       before)
    problems.check()
    return ordered.copy()


def case_table(events: pd.DataFrame, customers: pd.DataFrame,
               segments: list[str] | None = None) -> pd.DataFrame:
    """One row per case: ``segment`` (NaN if unknown), ``purchased`` and ``path`` (a tuple).

    With ``segments`` given, segment cells of the log are checked: each must be one of them,
    one per case, and agree with the customers table (InputError naming the rows).
    """
    source = events.attrs.get("source", "events")
    column = events.attrs.get("columns", {}).get("segment", "segment")
    of_customer = customers.set_index("customer_id")["segment"].astype(str)
    written = (events["segment"] if "segment" in events else pd.Series("", events.index))
    written = written.fillna("").astype(str).rename(column)
    first = written.where(written != "").groupby(events["customer_id"]).transform("first")
    known = events["customer_id"].map(of_customer)
    if segments is not None:
        problems = Problems(source)
        given = written != ""
        problems.cells(written, given & ~written.isin(segments),
                       f"unknown segment {{value}}, expected one of {', '.join(segments)}")
        problems.cells(written, given & (written != first), "segment {value} differs from "
                       "an earlier row of the same customer ({other}), expected one", first)
        problems.cells(written, given & known.notna() & (written != known), "segment {value} "
                       "differs from the customers table ({other}), expected the same", known)
        problems.check()
    ids = events["customer_id"].to_numpy()
    begins = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])  # events come sorted by case
    paths = np.split(events["touchpoint"].astype(str).to_numpy(dtype=object), begins[1:])
    return pd.DataFrame({"segment": known.fillna(first).to_numpy()[begins],
                         "path": [tuple(p) for p in paths] if len(ids) else [],
                         "purchased": _isin(ids[begins], of_customer.index)},
                        index=pd.Index(ids[begins], name="customer_id"))


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

    def fit(self, events: pd.DataFrame, customers: pd.DataFrame, world: World,
            ratings: np.ndarray | None = None, open_after: object = None) -> JourneyModel:
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
        known = _isin(events["touchpoint"].astype(str), self.touchpoints)
        self.unknown_touchpoints_ = events.loc[~known, "touchpoint"].astype(str).value_counts()
        if len(self.unknown_touchpoints_):
            found = ", ".join(f"{k} ({n})" for k, n in self.unknown_touchpoints_.items())
            warnings.warn(f"events at touchpoints not in the world skipped: {found}; candidates "
                          "for the touchpoint inventory", stacklevel=2)
        cases = case_table(events[known], customers, self.segments)
        self._report_missing(customers, every_case, events["timestamp"].min())
        paths = _unique_paths(cases, self.segments, self.touchpoints)
        self.cases_ = int(paths["cases"].sum())
        self.unassigned_cases_ = int(paths.loc[paths["segment"] < 0, "cases"].sum())
        self._moves = _moves(paths, S, K)
        allowed = np.concatenate([np.pad(params.start, ((0, 0), (0, 2)))[:, None],
                                  params.transitions], axis=1) > 0
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
            return self._dataset(_dirichlet(self.concentration_.values, self._gibbs.rng, draws),
                                 observed)
        rows = self._gibbs.draws(draws, THIN)
        self.ess_ = effective_size(rows)
        if self.ess_ < draws / 10:
            warnings.warn(f"journey draws: effective sample size {self.ess_:.0f} of {draws}; "
                          f"{self.unassigned_cases_} lost cases have no segment, so some rows are "
                          "barely identified: add the lead's segment to the event log",
                          stacklevel=2)
        return self._dataset(rows, observed)

    def _dataset(self, rows: np.ndarray, observed: bool) -> xr.Dataset:
        K = len(self.touchpoints)
        transitions = rows[:, :, 1:]
        if not observed:
            transitions = simulation_rows(transitions, self.bad_share_, self.dropout_odds_)
        coords = {"draw": np.arange(len(rows)), "segment": self.segments,
                  "touchpoint": self.touchpoints, "next": [*self.touchpoints, PURCHASE, LOST]}
        return xr.Dataset({"start": (("draw", "segment", "touchpoint"), rows[:, :, 0, :K]),
                           "transitions": (("draw", "segment", "touchpoint", "next"),
                                           transitions)}, coords=coords)

    def _label(self, values: np.ndarray, name: str) -> xr.DataArray:
        coords = {"segment": self.segments, "from": [START, *self.touchpoints],
                  "next": [*self.touchpoints, PURCHASE, LOST]}
        return xr.DataArray(values, dims=("segment", "from", "next"), coords=coords, name=name)

    def _report_missing(self, customers: pd.DataFrame, cases: np.ndarray,
                        log_start: pd.Timestamp) -> None:
        """Customers without events; warn of those who started after the log began."""
        silent = ~_isin(customers["customer_id"], cases)
        self.customers_without_events_ = int(silent.sum())
        late = customers.loc[silent & (customers["start"] > log_start), "customer_id"]
        self.missing_journeys_ = late.tolist()
        if len(late):
            warnings.warn(f"{len(late)} customers started after the event log began but have "
                          f"no events, such as {late.iloc[0]!r}: their journeys are not counted",
                          stacklevel=3)


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
        log_p = np.stack([np.bincount(self.path, self.weight * log_s[self.move],
                                      minlength=len(self.cases)) for log_s in log_rows], axis=1)
        log_p = log_p + np.log(self.share)
        p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    def scatter(self, per_path: np.ndarray) -> np.ndarray:
        """Move counts (segment, from, next) of paths weighted by ``per_path`` (path, segment)."""
        flat = [np.bincount(self.move, self.weight * w[self.path], minlength=self.known[0].size)
                for w in per_path.T]
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


def _unique_paths(cases: pd.DataFrame, segments: list[str], touchpoints: list[str]
                  ) -> pd.DataFrame:
    """Distinct (segment code, state path) with their case counts; code -1: unknown segment.

    A path lists next-state indices: touchpoints 0..K-1, then K (purchase) or K+1 (lost).
    """
    K, index = len(touchpoints), {k: i for i, k in enumerate(touchpoints)}
    cases = cases[cases["path"].map(len) > 0]
    code = pd.Categorical(cases["segment"], categories=segments).codes
    path = [(*map(index.get, p), K if bought else K + 1)
            for p, bought in zip(cases["path"], cases["purchased"], strict=True)]
    table = pd.DataFrame({"segment": code, "path": path}, index=cases.index)
    return table.groupby(["segment", "path"]).size().rename("cases").reset_index()


def _moves(paths: pd.DataFrame, S: int, K: int) -> dict[str, np.ndarray]:
    """Move counts of assigned cases (segment, from, next), the moves of each unassigned path
    (flat index from * (K + 2) + next, with its count) and the cases of each segment.

    From-state 0 is start and touchpoint k is from-state k + 1.
    """
    known = np.zeros((S, K + 1, K + 2))
    path, move, weight = [], [], []
    unassigned = paths[paths["segment"] < 0].reset_index(drop=True)
    for s, steps, n in paths.loc[paths["segment"] >= 0].itertuples(index=False):
        np.add.at(known[s], (_froms(steps), list(steps)), n)
    for u, steps in enumerate(unassigned["path"]):
        flat = pd.Series(_froms(steps) * (K + 2) + np.array(steps)).value_counts()
        path += [u] * len(flat)
        move += flat.index.tolist()
        weight += flat.tolist()
    known_cases = paths.loc[paths["segment"] >= 0].groupby("segment")["cases"].sum()
    return {"known": known, "unassigned": unassigned["cases"].to_numpy(),
            "path": np.array(path, dtype=int), "move": np.array(move, dtype=int),
            "weight": np.array(weight, dtype=float),
            "known_cases": known_cases.reindex(range(S), fill_value=0).to_numpy(dtype=float)}


def _support(allowed: np.ndarray, moves: dict[str, np.ndarray]) -> np.ndarray:
    """``allowed`` (segment, from, next) with the moves of unassigned paths that no segment
    allows opened to every segment."""
    flat = allowed.reshape(len(allowed), -1)
    blocked = np.stack([np.bincount(moves["path"], ~a[moves["move"]],
                                    minlength=len(moves["unassigned"])) for a in flat])
    orphan = np.isin(moves["path"], np.flatnonzero((blocked > 0).all(axis=0)))
    opened = np.zeros(flat.shape[1], dtype=bool)
    opened[moves["move"][orphan]] = True
    return allowed | opened.reshape(allowed.shape[1:])


def _froms(steps: tuple[int, ...]) -> np.ndarray:
    """From-states of a path's moves: start (0), then each touchpoint k as k + 1."""
    return np.array([0, *(k + 1 for k in steps[:-1])], dtype=int)


def _isin(values: object, pool: object) -> np.ndarray:
    """Membership of each value in ``pool`` by hashing (pandas' isin on Arrow text is slow)."""
    pool = pd.Index(np.asarray(pool, dtype=object))
    return pool.get_indexer(np.asarray(values, dtype=object)) >= 0


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


def common_sequences(events: pd.DataFrame, customers: pd.DataFrame, top: int = 10
                     ) -> pd.DataFrame:
    """The ``top`` most common touchpoint sequences of each segment.

    Touchpoints are as written in the log (unknown ones too). Cases without a known segment
    (lost prospects of a log without a segment column) form the segment ``"unknown"``.
    Columns: segment, rank, sequence ("a > b > c"), outcome, cases, share of the segment's cases.
    """
    cases = case_table(check_event_log(events, sort=True), customers)
    table = pd.DataFrame({"segment": cases["segment"].fillna(UNKNOWN_SEGMENT),
                          "sequence": cases["path"].map(" > ".join),
                          "outcome": np.where(cases["purchased"], PURCHASE, LOST)})
    table = table.value_counts().rename("cases").reset_index()
    table["share"] = table["cases"] / table.groupby("segment")["cases"].transform("sum")
    table = table.sort_values(["segment", "cases", "sequence"], ascending=[True, False, True])
    table = table.groupby("segment", sort=False).head(top)
    table.insert(1, "rank", table.groupby("segment").cumcount() + 1)
    return table.reset_index(drop=True)


def journey_map(counts: xr.DataArray, labels: dict[str, str] | None = None
                ) -> tuple[pd.DataFrame, plt.Figure]:
    """Moves between states per segment as a table and a figure of one heatmap per segment.

    ``counts`` is :attr:`JourneyModel.counts_`. The table lists segment, from, next, cases and
    share (of the cases leaving ``from``), nonzero moves only. Each panel colours the share
    and writes the count; only states met in some segment are drawn.
    """
    share = counts / counts.sum("next").where(counts.sum("next") > 0)
    table = xr.Dataset({"cases": counts, "share": share}).to_dataframe().reset_index()
    table = table.loc[table["cases"] > 0, ["segment", "from", "next", "cases", "share"]]
    rows = counts["from"].values[counts.sum(("segment", "next")).values > 0]
    cols = counts["next"].values[counts.sum(("segment", "from")).values > 0]
    name = (labels or {}).get
    panels = counts.sizes["segment"]
    fig, axes = plt.subplots(1, panels, squeeze=False, sharey=True, constrained_layout=True,
                             figsize=(0.5 * len(cols) * panels + 3.5, 0.45 * len(rows) + 2.8))
    for ax, segment in zip(axes[0], counts["segment"].values, strict=True):
        part = {"segment": segment, "from": rows, "next": cols}
        n, s = counts.sel(part).values, share.sel(part).fillna(0).values
        image = ax.imshow(s, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for (i, j), value in np.ndenumerate(n):
            if value >= 0.5:
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if s[i, j] > 0.6 else "black")
        ax.set_xticks(range(len(cols)), [name(c, c) for c in cols], rotation=60, ha="right")
        ax.set_yticks(range(len(rows)), [name(r, r) for r in rows])
        ax.set_title(str(segment))
    fig.suptitle("Journey map: cases moving from each row's state to each column's")
    fig.colorbar(image, ax=axes[0].tolist(), label="share of the row's cases", shrink=0.8)
    return table.reset_index(drop=True), fig
