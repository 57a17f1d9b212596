"""The loyalty model: self-classification as an ordered logistic, and the net promoter score.

A customer of segment ``s`` whose views give ``x`` (``x_k = (3 - p_k) / 2``, 0 for a
touchpoint not rated: :func:`sim.formulas.perception.poor_view`) classifies themself as dissatisfied
(0) < satisfied (1) < loyal (2) < advocate (3) with

    P(class <= j) = logistic(c[s, j] + sum_k gamma_k x_k),   j = 0, 1, 2,
    c[s, 0] < c[s, 1] < c[s, 2],

the convention of the simulation (``Population._classify`` in :mod:`sim.engine.population`):
``gamma_k > 0`` means a poor view of ``k`` (``x_k > 0``) raises every ``P(class <= j)``,
so more customers are dissatisfied and fewer are advocates. (PyMC's ``OrderedLogistic``
writes ``P(y <= j) = logistic(c_j - eta)``; in its terms ``eta = -x . gamma``.) Priors,
weakly informative:

- ``c[s] ~ Normal((logit 0.25, 0, logit 0.75), 1.5)`` restricted to increasing values: a
  customer with neutral views is in each class with about equal chance; two standard
  deviations let the first cutpoint put between 1% and 85% of such customers in the lowest
  class.
- ``gamma_k ~ Normal(0, 1)``: as the churn model's ``mu``, a shift of 2 in log-odds for a
  view of 1 against a neutral one (7 times the odds) is already large.

Responses with the same segment and covariates share their class probabilities ``q``, so
they are collapsed into counts per class (:func:`collapse_classes`). The multinomial
likelihood of counts ``n_j``, ``C(n; n_0..n_3) prod q_j^n_j``, is the product of the
responses' categorical likelihoods times a coefficient free of the parameters: the posterior
is the same.

Net promoter score (NPS): answers 9-10 are promoters, 7-8 passives, 0-6 detractors, and
``NPS = 100 (share of promoters - share of detractors)``. With counts ``(P, A, D)`` of a
group and a Dirichlet(1, 1, 1) prior on the shares (uniform over all splits), the posterior
of the shares is Dirichlet(1 + P, 1 + A, 1 + D) (the Dirichlet is conjugate to the
multinomial); :func:`net_promoter_score` draws from it and reports equal-tailed intervals.

Example::

    rows = survey_rows(responses, customers, world.touchpoint_ids)
    model = LoyaltyModel(seed=1).fit(rows, world.segment_ids, world.touchpoint_ids)
    model.cutpoints_draws(), model.gamma_draws(), model.nps_
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy.special import expit, logit

from models.churn import check_int, diagnostics, sample_nuts
from sim.formulas.perception import poor_view
from sim.inputs.world import LOYALTY_CLASSES

CLASSES = LOYALTY_CLASSES
CUTPOINTS = ("dissatisfied|satisfied", "satisfied|loyal", "loyal|advocate")
"""Cutpoint labels, as in :func:`sim.inputs.parameters.to_dataset`."""
CUTPOINT_MEAN = logit([0.25, 0.5, 0.75])
CUTPOINT_SD = 1.5
GAMMA_SD = 1.0
NPS_GROUPS = ("promoters", "passives", "detractors")
NPS_PRIOR = 1.0
"""Dirichlet prior weight of each NPS group: uniform over the simplex."""
OVERALL = "all"
"""The label of all segments together in the NPS results."""


def survey_rows(
    responses: pd.DataFrame, customers: pd.DataFrame, touchpoints: Sequence[str]
) -> pd.DataFrame:
    """One row per response of a known customer: segment, covariates, class and NPS.

    Parameters
    ----------
    responses, customers
        The tables of :func:`models.data.load_responses` and :func:`models.data.load_customers`;
        responses of customers not in ``customers`` are ignored.
    touchpoints
        The touchpoints to make covariates for; one without a column gives ``x = 0``.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``x_<touchpoint>`` (``x = (3 - rating) / 2``, 0 where empty),
        ``self_class`` (ordered categorical, NaN where not answered) and ``nps`` (``Int8``).
    """
    segment = responses["customer_id"].map(customers.set_index("customer_id")["segment"])
    known = segment.notna().to_numpy()
    resp = responses.loc[known]
    out = pd.DataFrame({"segment": segment[known].astype(customers["segment"].dtype)})
    for touchpoint in touchpoints:
        rating = np.full(len(resp), np.nan)
        if touchpoint in resp.columns:
            rating = resp[touchpoint].to_numpy(dtype=float, na_value=np.nan)
        out[f"x_{touchpoint}"] = poor_view(rating)
    classes = resp["self_class"] if "self_class" in resp else pd.Series(np.nan, resp.index)
    out["self_class"] = pd.Categorical(classes, categories=CLASSES, ordered=True)
    nps = resp["nps"] if "nps" in resp else pd.Series(pd.NA, resp.index)
    out["nps"] = pd.array(nps, dtype="Int8")
    return out.reset_index(drop=True)


def collapse_classes(rows: pd.DataFrame, touchpoints: Sequence[str]) -> pd.DataFrame:
    """Responses with a class, grouped by (segment, x_*) into counts per class.

    Returns ``segment``, the ``x_*`` columns and one int64 count column per class (named as
    the class), one row per distinct (segment, x_*) present, sorted by them.
    """
    keys = ["segment", *[f"x_{t}" for t in touchpoints]]
    code = pd.Categorical(rows["self_class"], categories=CLASSES).codes
    answered = rows.loc[code >= 0, keys].reset_index(drop=True)
    counts = pd.DataFrame(
        np.eye(len(CLASSES), dtype=np.int64)[code[code >= 0]], columns=list(CLASSES)
    )
    grouped = pd.concat([answered, counts], axis=1).groupby(keys, observed=True, sort=True)
    return grouped[list(CLASSES)].sum().reset_index()


def class_probabilities(cutpoints: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """P(class = j), (..., 4), from cutpoints (..., 3) and ``eta = x . gamma`` (...).

    ``P(class <= j) = logistic(c_j + eta)``, differenced: the simulation's formula.
    """
    below = expit(np.asarray(cutpoints) + np.asarray(eta)[..., None])
    return np.diff(below, prepend=0.0, append=1.0, axis=-1)


class LoyaltyModel:
    """Bayesian ordered-logistic self-classification, scikit-learn style.

    Parameters
    ----------
    draws, tune, chains, seed
        As :class:`models.churn.ChurnModel`: draws kept and tuning steps per chain, chains
        (at least 2, for R-hat) and the sampler's seed.
    nps_prob
        Probability of the NPS intervals (equal-tailed), in (0, 1).
    nps_draws
        Posterior draws of each NPS.

    Attributes (after ``fit``)
    --------------------------
    posterior_ : xarray.DataTree
        What :func:`pymc.sample` returns: ``cutpoints`` (chain, draw, segment, cutpoint) and
        ``gamma`` (chain, draw, touchpoint), with ``sample_stats`` and ``observed_data``.
    diagnostics_ : dict
        :func:`models.churn.diagnostics`: ``rhat``, ``ess_bulk``, ``divergences``, ``ok``.
    sampling_seconds_ : float
        Wall time of sampling.
    model_ : pymc.Model
    n_rows_, n_responses_ : int
        Collapsed likelihood rows, and the responses with a class behind them.
    nps_ : pandas.DataFrame or None
        :func:`net_promoter_score` of the rows' ``nps`` (None without NPS answers).
    nps_samples_ : xarray.DataArray or None
        Its draws, (draw, segment), the segment ``"all"`` last.
    """

    def __init__(
        self,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 2,
        seed: int = 0,
        nps_prob: float = 0.9,
        nps_draws: int = 4000,
    ):
        for name, value, low in (
            ("draws", draws, 1),
            ("tune", tune, 1),
            ("chains", chains, 2),
            ("seed", seed, 0),
            ("nps_draws", nps_draws, 1),
        ):
            check_int(name, value, low)
        if not 0 < nps_prob < 1:
            raise ValueError(f"nps_prob is {nps_prob}, expected a number in (0, 1)")
        self.draws, self.tune, self.chains, self.seed = draws, tune, chains, seed
        self.nps_prob, self.nps_draws = float(nps_prob), nps_draws

    def build_model(
        self, rows: pd.DataFrame, segments: Sequence[str], touchpoints: Sequence[str]
    ) -> pm.Model:
        """The PyMC model of the collapsed ``rows`` (see :func:`survey_rows`)."""
        segments, touchpoints = list(segments), list(touchpoints)
        _check_rows(rows, segments, touchpoints)
        counts = collapse_classes(rows, touchpoints)
        if counts.empty:
            raise ValueError("no response has a self_class, nothing to fit")
        segment = pd.Categorical(counts["segment"], categories=segments).codes.astype(np.int64)
        x = counts[[f"x_{t}" for t in touchpoints]].to_numpy(dtype=float)
        y = counts[list(CLASSES)].to_numpy(dtype=np.int64)
        coords = {
            "segment": segments,
            "cutpoint": list(CUTPOINTS),
            "touchpoint": touchpoints,
            "row": np.arange(len(counts)),
            "class": list(CLASSES),
        }
        with pm.Model(coords=coords) as model:
            cutpoints = pm.Normal(
                "cutpoints",
                CUTPOINT_MEAN,
                CUTPOINT_SD,
                dims=("segment", "cutpoint"),
                transform=pm.distributions.transforms.ordered,
            )
            gamma = pm.Normal("gamma", 0.0, GAMMA_SD, dims="touchpoint")
            # P(class <= j) = logistic(c[s, j] + x . gamma): the simulation's sign, not eta's.
            below = pm.math.sigmoid(cutpoints[segment] + pt.dot(x, gamma)[:, None])
            p = pt.concatenate(
                [below[:, :1], below[:, 1:] - below[:, :-1], 1 - below[:, -1:]], axis=1
            )
            pm.Multinomial("classes", n=y.sum(axis=1), p=p, observed=y, dims=("row", "class"))
        return model

    def fit(
        self, rows: pd.DataFrame, segments: Sequence[str], touchpoints: Sequence[str]
    ) -> LoyaltyModel:
        """Sample the posterior given survey rows; compute the NPS; returns self."""
        model = self.build_model(rows, segments, touchpoints)
        posterior, seconds = sample_nuts(model, self.draws, self.tune, self.chains, self.seed)
        self.model_, self.posterior_ = model, posterior
        self.n_rows_ = len(model.coords["row"])
        self.n_responses_ = int(posterior["observed_data"]["classes"].sum())
        self.sampling_seconds_ = seconds
        self.diagnostics_ = diagnostics(posterior)
        self.nps_ = self.nps_samples_ = None
        if "nps" in rows and rows["nps"].notna().any():
            self.nps_, self.nps_samples_ = net_promoter_score(
                rows["nps"], rows["segment"], segments, self.nps_prob, self.nps_draws, self.seed
            )
        return self

    def cutpoints_draws(self) -> xr.DataArray:
        """Cutpoint draws, chains stacked: (draw, segment, cutpoint), for Parameters.cutpoints."""
        return self._draws("cutpoints", ("segment", "cutpoint"))

    def gamma_draws(self) -> xr.DataArray:
        """Loyalty effect draws, chains stacked: (draw, touchpoint), for Parameters.gamma."""
        return self._draws("gamma", ("touchpoint",))

    def _draws(self, name: str, dims: tuple[str, ...]) -> xr.DataArray:
        variable = self.posterior_["posterior"][name]
        values = variable.stack(sample=("chain", "draw")).transpose("sample", *dims).values
        coords = {"draw": np.arange(len(values)), **{d: variable[d].values for d in dims}}
        return xr.DataArray(values, dims=("draw", *dims), coords=coords, name=name)

    def __repr__(self) -> str:
        params = ("draws", "tune", "chains", "seed", "nps_prob", "nps_draws")
        return f"LoyaltyModel({', '.join(f'{p}={getattr(self, p)!r}' for p in params)})"


def nps_counts(nps: pd.Series, segment: pd.Series, segments: Sequence[str]) -> pd.DataFrame:
    """Promoters (9-10), passives (7-8) and detractors (0-6) per segment and in all.

    Answers that are missing are skipped. Index: ``segments`` then ``"all"``.
    """
    score = pd.to_numeric(pd.Series(nps), errors="coerce").astype("Float64")
    score = score.to_numpy(dtype=float, na_value=np.nan)
    group = np.select([score >= 9, score >= 7, score >= 0], [0, 1, 2], -1)  # NaN: -1
    code = pd.Categorical(np.asarray(segment, dtype=object), categories=list(segments)).codes
    counted = (code >= 0) & (group >= 0)
    table = np.zeros((len(segments), len(NPS_GROUPS)), dtype=np.int64)
    np.add.at(table, (code[counted], group[counted]), 1)
    table = np.vstack([table, table.sum(axis=0)])
    index = pd.Index([*segments, OVERALL], name="segment")
    return pd.DataFrame(table, index=index, columns=list(NPS_GROUPS))


def net_promoter_score(
    nps: pd.Series,
    segment: pd.Series,
    segments: Sequence[str],
    prob: float = 0.9,
    draws: int = 4000,
    seed: int = 0,
) -> tuple[pd.DataFrame, xr.DataArray]:
    """NPS per segment and in all, with its Dirichlet posterior (module docstring).

    Returns
    -------
    (table, samples)
        ``table``: per segment and ``"all"``, the counts of :func:`nps_counts`, ``responses``,
        ``nps`` (observed, points -100..100; NaN without answers), and the posterior
        ``mean``, ``lower`` and ``upper`` (equal-tailed ``prob`` interval). ``samples``:
        the NPS draws, (draw, segment).
    """
    counts = nps_counts(nps, segment, segments)
    rng = np.random.default_rng(seed)
    # Dirichlet(a) draws as normalised Gamma(a_i, 1) variates, all groups at once.
    g = rng.standard_gamma(NPS_PRIOR + counts.to_numpy(dtype=float), size=(draws, *counts.shape))
    shares = g / g.sum(axis=-1, keepdims=True)
    samples = xr.DataArray(
        100 * (shares[..., 0] - shares[..., 2]),
        dims=("draw", "segment"),
        coords={"draw": np.arange(draws), "segment": list(counts.index)},
        name="nps",
    )
    table = counts.copy()
    table["responses"] = counts.sum(axis=1)
    n = table["responses"].where(table["responses"] > 0)
    table["nps"] = 100 * (counts["promoters"] - counts["detractors"]) / n
    table["mean"] = samples.mean("draw").values
    tail = (1 - prob) / 2
    table["lower"], table["upper"] = samples.quantile([tail, 1 - tail], "draw").values
    return table, samples


def _check_rows(rows: pd.DataFrame, segments: list[str], touchpoints: list[str]) -> None:
    """Raise a ValueError naming missing columns or unknown segments."""
    missing = [
        c
        for c in ("segment", *[f"x_{t}" for t in touchpoints], "self_class")
        if c not in rows.columns
    ]
    if missing:
        raise ValueError(f"rows lack columns {', '.join(missing)}; expected survey_rows() output")
    unknown = sorted(set(rows["segment"].dropna().astype(str)) - set(segments))
    if unknown:
        raise ValueError(f"unknown segments {unknown}, expected some of {segments}")
