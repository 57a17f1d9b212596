"""The baseline hazard over tenure, fitted from lifetimes alone (no survey).

The data are binomial counts per segment ``s`` and month of service ``t``: ``n[s, t]``
customers at risk, ``d[s, t]`` of them churning (:func:`models.lifetimes.hazard_counts`,
censoring and truncation already in the counts). A discrete-time hazard model's likelihood
depends on nothing else, ``sum d log h + (n - d) log(1 - h)``, so a fit to 7,000 customers
or to 7 million costs the same. Two shapes of ``h[s, t]``:

**walk** (the default): a Gaussian random walk on the log-odds over tenure months, its shape
shared by the segments (partial pooling), so the hazard may fall, rise and fall again::

    logit h[s, t] = level[s] + shape[t] + own[s, t]
    level[s] ~ Normal(logit 0.02, 1.5)                    (the first month's log-odds)
    shape[1] = 0,   shape[t] - shape[t-1] ~ Normal(0, tau)
    own[s, t]: 0 at month 1, a walk over knots every 6 months, steps ~ Normal(0, tau_s),
               linear between knots

``shape`` is the curve every segment shares, ``level`` a segment's first month and ``own``
its slow departure from the shared shape. The months 1..M each have a value (band starts 0,
1, ..., M - 1 in tenure months completed), and every month after M shares one, a plateau
(band start M): the walk's next step after month M. M is the last month with at least 100
customers at risk, at most 120 (:func:`plateau_month`). With one segment there is no
``own``. Priors, weakly informative, and why:

- ``level[s] ~ Normal(logit 0.02, 1.5)``: the churn model's prior on alpha
  (:mod:`models.churn`): a first month's churn of about 2%, between 0.1% and 30% at two
  standard deviations. Levels are not pooled: each segment's data pin its own (the demo's 54
  enterprise customers with 7 churns to about +-0.4 in log-odds), and a spread fitted from
  three segments adds little but a funnel (the sampler diverged where that spread was small).
- ``tau ~ HalfNormal(0.15)``: the month-to-month change of the log-odds. A step of 0.15
  changes the hazard by about 16%; a year of such steps (sqrt 12 x 0.15 = 0.5) by a factor
  1.7, enough for the fall after onboarding or the rise towards a contract's end; larger
  steps (a sharp spike at a contract's end) must be shown by the data. A small ``tau`` is a
  smooth curve: where months hold few customers, their neighbours carry the estimate.
- ``tau_s ~ HalfNormal(0.1)`` per 6-month knot (about 0.04 a month): a segment keeps the
  shared shape unless its data say otherwise; segments share the month-to-month detail.

Sampling geometry: the walks move in standardised steps (non-centred), which keeps scales
and steps out of a funnel where data are thin; the level is sampled as each segment's
log-odds averaged over its months as its data weigh them (``level_centred``), which the data
pin, with the first month's level following and its prior kept exactly (a shear of Jacobian
1, as :class:`models.churn.ChurnModel` does for alpha). Anchored at the first month instead,
the level and the first step formed a ridge (bulk ESS 23-145 on the demo table).

**sbg**: the shifted-beta-geometric model (:mod:`models.sbg`), each customer's own monthly
churn ``theta ~ Beta(alpha, beta)``, constant over its life, so the segment's hazard
``h[s, t] = alpha / (alpha + beta + t - 1)`` can only fall with tenure: heterogeneity between
customers rather than a shape over tenure. Priors as :mod:`models.sbg`'s
(``ln alpha ~ Normal(0, 1.5)``, ``ln beta ~ Normal(1, 2)``), segments fitted apart. Its
likelihood on the counts is the paper's: the sBG hazard conditions on survival to t, so a
customer entering at tenure e contributes exactly its probability given survival to e.

How the fit reaches the simulation: the walk becomes ``alpha[segment, band]`` over its own
``band_starts`` (0, 1, ..., M; :mod:`models.draws`), the sBG becomes ``sbg[segment,
sbg_parameter]``. Both are the hazard of customers with every view neutral in the
simulation's story; fitted from lifetimes alone they are the hazard of the customers as they
are, their views averaged in (there are no views in the data), and the retention check
(:mod:`models.retention`) compares them with the Kaplan-Meier curve of the same customers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy.special import expit

from models.churn import ALPHA_MEAN, ALPHA_SD, check_int, diagnostics, sample_nuts
from models.sbg import LOG_ALPHA_PRIOR, LOG_BETA_PRIOR

KINDS = ("walk", "sbg")
TARGET_ACCEPT = 0.95
"""nutpie's target acceptance rate: at 0.8 and 0.9 the walk had a few divergences where tau
was large; sampling 7,000 customers takes 2-3 s either way."""
TAU_SD = 0.15
"""Prior scale of the shared walk's monthly step of the log-odds (module notes)."""
TAU_SEGMENT_SD = 0.1
"""Prior scale of a segment's own step about the shared shape, from one knot to the next."""
SEGMENT_KNOT_MONTHS = 6
"""A segment's own departure from the shared curve has a value every this many months (a
walk over these knots), linear in between: segments share the month-to-month detail."""
DRAWS = {"walk": 2000, "sbg": 1000}
"""Default draws per chain. The walk's smoothness tau mixes slowly (a scale over a hundred
standardised steps): in 2 chains of 1,000 draws its bulk ESS was 230-610 on the demo
customers table, against the gate's 400; sampling 2,000 takes about 5 s."""
PLATEAU_AT_RISK = 100
"""The automatic number of monthly values M: the last month of service at which at least this
many customers (all segments together) are at risk ..."""
LONGEST_MONTHS = 120
"""... and at most 10 years: later months share the plateau."""
GATED = {
    "walk": ("alpha", "tau", "level_centred", "tau_segment"),
    "sbg": ("log_alpha", "log_beta"),
}
"""The variables whose R-hat and bulk ESS the convergence gate reads (divergences: all).
The walk's standardised steps are the sampler's coordinates, hundreds of them; alpha, the
log-odds of every month that the simulation takes, is an invertible linear map of them (given
the scales, which are gated too), so a chain that did not mix shows in alpha. Reading the
steps too makes the gate fail at random: with 2 chains of 1,000 draws the largest R-hat of a
few hundred well-mixed values (bulk ESS near 3,000) passed 1.01 in 1 of 4 runs."""
NUTS_ADAPTATION = {"walk": "diag", "sbg": "low_rank"}
"""nutpie's mass matrix: the walk's standardised steps are nearly independent a posteriori;
sBG's ln alpha and ln beta are strongly correlated (see :mod:`models.sbg`)."""


def plateau_month(at_risk: np.ndarray, longest: int = LONGEST_MONTHS) -> int:
    """M: the last month of service with at least :data:`PLATEAU_AT_RISK` customers at risk
    over all segments (at least 1), at most ``longest``."""
    total = np.asarray(at_risk).sum(axis=0)
    enough = np.flatnonzero(total >= PLATEAU_AT_RISK)
    return int(min(max(enough[-1] + 1 if len(enough) else 1, 1), longest))


def band_counts(at_risk: np.ndarray, churned: np.ndarray, months: int):
    """Counts of months 1..months each, then every later month summed into the plateau:
    arrays of shape (segment, months + 1)."""
    at_risk, churned = np.asarray(at_risk), np.asarray(churned)
    pad = max(months + 1 - at_risk.shape[1], 0)
    at_risk = np.pad(at_risk, ((0, 0), (0, pad)))
    churned = np.pad(churned, ((0, 0), (0, pad)))

    def fold(x):
        return np.column_stack([x[:, :months], x[:, months:].sum(axis=1)])

    return fold(at_risk), fold(churned)


def knot_basis(bands: int, every: int) -> np.ndarray:
    """(band, knot) weights of linear interpolation between knots at bands 0, every,
    2 every, ..., the last knot at the last band; rows sum to 1."""
    knots = np.unique(np.append(np.arange(0, bands, every), bands - 1))
    basis = np.zeros((bands, len(knots)))
    for k in range(len(knots)):
        unit = np.zeros(len(knots))
        unit[k] = 1.0
        basis[:, k] = np.interp(np.arange(bands), knots, unit)
    return basis


def band_weights(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(segment, band) weights summing to 1 per segment: the data's information about each
    band's log-odds, n h (1 - h) at the pooled churn rate; equal weights for a segment
    without data."""
    h = min(max(d.sum() / max(n.sum(), 1), 1e-3), 0.5)
    information = n * h * (1 - h)
    totals = information.sum(axis=1, keepdims=True)
    return np.where(totals > 0, information / np.where(totals > 0, totals, 1), 1 / n.shape[1])


class BaselineModel:
    """The baseline hazard over tenure from counts, scikit-learn style: ``fit`` returns self.

    Parameters
    ----------
    kind
        ``"walk"`` or ``"sbg"`` (module notes).
    draws
        Draws kept per chain; default :data:`DRAWS` of the kind.
    tune, chains, seed, progress
        As :class:`models.churn.ChurnModel`.

    Attributes (after ``fit``)
    --------------------------
    posterior_ : xarray.DataTree
        What :func:`pymc.sample` returns; the walk's ``alpha`` (segment, band) and its
        hyperparameters, or the sBG's ``sbg`` (segment, sbg_parameter).
    band_starts_ : numpy.ndarray
        The walk's band starts in tenure months completed: 0, 1, ..., M (None for sbg).
    diagnostics_ : dict
        As :func:`models.churn.diagnostics` (R-hat, bulk ESS, divergences, ``ok``).
    sampling_seconds_ : float
        Wall time of sampling (compilation excluded where PyMC reports it).
    segments_ : list[str]
    """

    def __init__(
        self,
        kind: str = "walk",
        draws: int | None = None,
        tune: int = 1000,
        chains: int = 2,
        seed: int = 0,
        progress: bool = False,
    ):
        if kind not in KINDS:
            raise ValueError(f"kind is {kind!r}, expected one of {', '.join(KINDS)}")
        draws = DRAWS[kind] if draws is None else draws
        check_int("draws", draws, 1)
        check_int("tune", tune, 1)
        check_int("chains", chains, 2)
        check_int("seed", seed, 0)
        self.kind, self.draws, self.tune, self.chains, self.seed = kind, draws, tune, chains, seed
        self.progress = bool(progress)

    def build_model(
        self,
        at_risk: np.ndarray,
        churned: np.ndarray,
        segments: Sequence[str],
        months: int | None = None,
    ) -> pm.Model:
        """The PyMC model of counts of shape (segment, month of service 1..T)."""
        segments = list(segments)
        at_risk, churned = np.asarray(at_risk, np.int64), np.asarray(churned, np.int64)
        if at_risk.shape != churned.shape or at_risk.shape[0] != len(segments):
            raise ValueError(
                f"counts of shapes {at_risk.shape} and {churned.shape}, expected (segment, "
                f"month) with {len(segments)} segments"
            )
        if np.any(churned > at_risk) or np.any(churned < 0):
            raise ValueError("churned counts must lie between 0 and the customers at risk")
        if at_risk.sum() == 0:
            raise ValueError("no customer at risk in any month: nothing to fit")
        if self.kind == "sbg":
            return self._sbg_model(at_risk, churned, segments)
        if months is None:
            months = plateau_month(at_risk)
        check_int("months", months, 1)
        n, d = band_counts(at_risk, churned, months)
        self.band_starts_ = np.arange(months + 1, dtype=float)
        return self._walk_model(n, d, segments)

    def _walk_model(self, n: np.ndarray, d: np.ndarray, segments: list[str]) -> pm.Model:
        S, J = n.shape
        coords = {"segment": segments, "band": np.arange(J), "step": np.arange(1, J)}
        weights = band_weights(n, d)  # (segment, band), rows summing to 1
        with pm.Model(coords=coords) as model:
            # the shared shape: 0 in the first month, then standardised steps (non-centred)
            tau = pm.HalfNormal("tau", TAU_SD)
            steps = pm.Normal("shape_steps", 0.0, 1.0, dims="step")
            shape = pt.concatenate([pt.zeros(1), pt.cumsum(tau * steps)])
            pm.Deterministic("shape", shape, dims="band")
            curve = pt.broadcast_to(shape[None, :], (S, J))
            if S > 1:
                tau_s = pm.HalfNormal("tau_segment", TAU_SEGMENT_SD)
                basis = knot_basis(J, SEGMENT_KNOT_MONTHS)  # (band, knot)
                model.add_coord("knot_step", np.arange(1, basis.shape[1]))
                own = pm.Normal("segment_steps", 0.0, 1.0, dims=("segment", "knot_step"))
                knots = pt.concatenate([pt.zeros((S, 1)), pt.cumsum(tau_s * own, axis=1)], axis=1)
                curve = curve + pt.dot(knots, basis.T)
            # Sampled: each segment's log-odds averaged over its bands as its data weigh
            # them, which the data pin; the first month's level follows, with its Normal
            # prior kept exactly (a shear: Jacobian 1), as models.churn does for alpha.
            centre = pm.Flat("level_centred", dims="segment")
            level = pm.Deterministic(
                "level", centre - (weights * curve).sum(axis=1), dims="segment"
            )
            prior = pm.Normal.dist(ALPHA_MEAN, ALPHA_SD)
            pm.Potential("level_prior", pm.logp(prior, level).sum())
            alpha = pm.Deterministic("alpha", level[:, None] + curve, dims=("segment", "band"))
            # binomial without its constant log C(n, d): d eta - n log(1 + e^eta)
            pm.Potential("loglik", (d * alpha).sum() - (n * pt.softplus(alpha)).sum())
        return model

    def _sbg_model(self, n: np.ndarray, d: np.ndarray, segments: list[str]) -> pm.Model:
        t = np.arange(1, n.shape[1] + 1)
        coords = {"segment": segments, "sbg_parameter": ["alpha", "beta"]}
        with pm.Model(coords=coords) as model:
            log_a = pm.Normal("log_alpha", *LOG_ALPHA_PRIOR, dims="segment")
            log_b = pm.Normal("log_beta", *LOG_BETA_PRIOR, dims="segment")
            a, b = pt.exp(log_a)[:, None], pt.exp(log_b)[:, None]
            pm.Deterministic(
                "sbg", pt.stack([a[:, 0], b[:, 0]], axis=1), dims=("segment", "sbg_parameter")
            )
            # h = a / (a + b + t - 1), 1 - h = (b + t - 1) / (a + b + t - 1)
            total = pt.log(a + b + t - 1)
            log_h, log_q = pt.log(a) - total, pt.log(b + t - 1) - total
            pm.Potential("loglik", (d * log_h).sum() + ((n - d) * log_q).sum())
        return model

    def fit(
        self,
        at_risk: np.ndarray,
        churned: np.ndarray,
        segments: Sequence[str],
        months: int | None = None,
    ) -> BaselineModel:
        """Sample the posterior given counts (segment, month of service 1..T); returns self.

        ``months`` (walk only): M, the months with a value of their own (default
        :func:`plateau_month`).
        """
        self.band_starts_ = None
        model = self.build_model(at_risk, churned, segments, months)
        options = {"adaptation": NUTS_ADAPTATION[self.kind], "target_accept": TARGET_ACCEPT}
        posterior, seconds = sample_nuts(
            model, self.draws, self.tune, self.chains, self.seed, options, self.progress
        )
        self.model_ = model
        self.segments_ = list(segments)
        self.posterior_ = posterior
        self.sampling_seconds_ = seconds
        gated = GATED[self.kind]
        self.diagnostics_ = diagnostics(posterior, [v for v in gated if v in posterior.posterior])
        return self

    def hazard(self, months: int) -> xr.DataArray:
        """Monthly churn h[s, t] per draw, dims (sample, segment, month t = 1..months)."""
        post = self.posterior_["posterior"].to_dataset()
        return baseline_hazard(post, months, self.band_starts_)


def baseline_hazard(
    posterior: xr.Dataset, months: int, band_starts: np.ndarray | None = None
) -> xr.DataArray:
    """h[s, t] of a baseline posterior (``alpha`` over ``band_starts``, or ``sbg``) at months
    of service t = 1..months, dims (sample, segment, month), chains and draws stacked."""
    t = np.arange(1, months + 1)
    if "sbg" in posterior and band_starts is None:
        sbg = _stacked(posterior["sbg"])
        a, b = sbg.sel(sbg_parameter="alpha"), sbg.sel(sbg_parameter="beta")
        month = xr.DataArray(t, dims="month", coords={"month": t})
        return (a / (a + b + month - 1)).transpose("sample", "segment", "month")
    alpha = _stacked(posterior["alpha"])
    band = np.searchsorted(np.asarray(band_starts, float), t - 1, side="right") - 1
    values = expit(alpha.values[:, :, band])
    return xr.DataArray(
        values,
        dims=("sample", "segment", "month"),
        coords={"segment": alpha["segment"].values, "month": t},
    )


def _stacked(array: xr.DataArray) -> xr.DataArray:
    """Chains and draws as one ``sample`` dim first, without their labels."""
    stacked = array.stack(sample=("chain", "draw")).transpose("sample", ...)
    return stacked.drop_vars(["sample", "chain", "draw"])
