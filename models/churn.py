"""The churn model: a hierarchical discrete-time hazard fitted to person-months with PyMC.

Each customer of segment ``s``, each month at risk, churns with probability ``h``::

    logit h = alpha[s, band(tenure)] + sum_k beta[s, k] x_k,   x_k = (3 - p_k) / 2
    beta[s, k] = mu_k + sigma_k z[s, k],                        z[s, k] ~ Normal(0, 1)

(``beta[s, k] ~ Normal(mu_k, sigma_k)`` written non-centred, so that the sampler does not
meet a funnel when the data say little about a segment). Priors, weakly informative:

- ``alpha[s, b] ~ Normal(logit(0.02), 1.5)``: a monthly churn of about 2% for a customer
  with neutral views, anywhere between about 0.1% and 30% at two standard deviations.
- ``mu_k ~ Normal(0, 1)``: the average effect of touchpoint ``k``; ``exp(2)``, 7 times the
  odds of churn for a view of 1 against a neutral one, is already extreme, so two prior
  standard deviations reach it.
- ``sigma_k ~ HalfNormal(0.5)``: segments differ moderately around that average.

The data are person-months (:func:`models.persons.person_months`); by default they are
collapsed into binomial counts (:func:`models.persons.collapse`), which gives the same
posterior because the two likelihoods differ by a constant, many times faster. Sampling uses
nutpie through :func:`pymc.sample`.

Example::

    model = ChurnModel(seed=1).fit(pm, segments, touchpoints, n_bands=4)
    model.diagnostics_["ok"], model.summary_.loc["beta[household, invoice]"]
    # one parameter set per draw for the simulation: scenarios.draws.parameter_sets
"""

from __future__ import annotations

import logging
import numbers
import time
import warnings
from collections.abc import Sequence

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy.special import logit
from threadpoolctl import threadpool_limits

from models.persons import collapse

ALPHA_MEAN = float(logit(0.02))
"""Prior mean of alpha: a monthly churn of 2% with neutral views."""
ALPHA_SD = 1.5
MU_SD = 1.0
SIGMA_SD = 0.5
RHAT_MAX = 1.01
ESS_MIN = 400
INTERVALS = (0.94, 0.90)
"""The equal-tailed intervals of :attr:`ChurnModel.summary_`."""
NUTS_ADAPTATION = "low_rank"
"""nutpie's mass matrix: low-rank modified diagonal. The non-centred beta couples mu, sigma
and z; on 3 x 1,000 synthetic customers the diagonal default gave 124 divergences and
R-hat 1.04, low-rank (target_accept 0.95) 2 divergences and R-hat 1.007."""
PARAMETERS = ("alpha", "mu", "sigma", "beta")
"""The parameters summarised; ``z`` (beta's standardised form) enters the diagnostics only."""


class ChurnModel:
    """Bayesian discrete-time churn hazard, scikit-learn style: ``fit`` returns ``self``.

    Parameters
    ----------
    draws, tune
        Draws kept and tuning steps, per chain.
    chains
        Independent chains (at least 2, for R-hat).
    seed
        Random seed of the sampler (runs with the same seed were not bit-identical here).
    collapsed
        Fit binomial counts of identical rows (``True``) or one Bernoulli per person-month.
        The posterior is the same; collapsed is much faster.
    target_accept
        nutpie's target acceptance rate, in (0, 1); higher means smaller steps.
    progress
        Show PyMC's progress bar of the chains while sampling.

    Sampling geometry: the sampler moves the intercept at each segment's mean covariates,
    alpha_centred[s, b] = alpha[s, b] + sum_k beta[s, k] xbar[s, k], rather than alpha itself,
    because alpha and beta are strongly correlated when the covariates are far from 0 (most
    views are better than neutral). The map (alpha_centred, beta) -> (alpha, beta) is a shear
    with Jacobian 1 and the Normal prior stays on alpha (a potential), so the posterior is
    exactly the model above; only the sampler's view of it changes.

    Attributes (after ``fit``)
    --------------------------
    posterior_ : xarray.DataTree
        What :func:`pymc.sample` returns: groups ``posterior`` (alpha, mu, sigma, z, beta with
        dims chain, draw, segment, band, touchpoint), ``sample_stats``, ``observed_data``.
    diagnostics_ : dict
        ``rhat`` (largest R-hat), ``ess_bulk`` (smallest bulk ESS), ``divergences`` over all
        parameters, and ``ok``: ``rhat <= 1.01 and ess_bulk >= 400 and divergences == 0``.
    summary_ : pandas.DataFrame
        Per parameter (index such as ``beta[household, invoice]``): ``mean``, ``sd``, the
        94% and 90% equal-tailed intervals (``eti94_lb``, ``eti94_ub``, ``eti90_lb``,
        ``eti90_ub``), ``mcse_mean``, ``ess_bulk`` and ``r_hat``.
    sampling_seconds_ : float
        Wall time of sampling alone (model compilation excluded).
    model_ : pymc.Model
        The model sampled.
    n_rows_ : int
        Likelihood rows: collapsed rows or person-months.
    """

    def __init__(
        self,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 2,
        seed: int = 0,
        collapsed: bool = True,
        target_accept: float = 0.9,
        progress: bool = False,
    ):
        check_int("draws", draws, 1)
        check_int("tune", tune, 1)
        check_int("chains", chains, 2)
        check_int("seed", seed, 0)
        if not isinstance(collapsed, bool):
            raise TypeError(f"collapsed is {collapsed!r}, expected True or False")
        if isinstance(target_accept, bool) or not isinstance(target_accept, numbers.Real):
            raise TypeError(f"target_accept is {target_accept!r}, expected a number in (0, 1)")
        if not 0 < target_accept < 1:
            raise ValueError(f"target_accept is {target_accept}, expected a number in (0, 1)")
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.seed = seed
        self.collapsed = collapsed
        self.target_accept = float(target_accept)
        if not isinstance(progress, bool):
            raise TypeError(f"progress is {progress!r}, expected True or False")
        self.progress = progress

    def build_model(
        self,
        data: pd.DataFrame,
        segments: Sequence[str],
        touchpoints: Sequence[str],
        n_bands: int,
    ) -> pm.Model:
        """The PyMC model of ``data``: person-months, or collapsed rows if ``collapsed``.

        ``data`` holds ``segment``, ``band``, ``x_<touchpoint>`` for every touchpoint and
        either ``churned`` (person-months; collapsed here when ``collapsed``) or ``n`` and
        ``y`` (already collapsed; only with ``collapsed=True``).
        """
        segments, touchpoints = list(segments), list(touchpoints)
        check_int("n_bands", n_bands, 1)
        rows = self._rows(data, segments, touchpoints, n_bands)
        segment = pd.Categorical(rows["segment"], categories=segments).codes.astype(np.int64)
        band = rows["band"].to_numpy(dtype=np.int64)
        x = rows[[f"x_{t}" for t in touchpoints]].to_numpy(dtype=float)
        x_mean = _segment_means(x, segment, len(segments),
                                rows["n"].to_numpy() if "n" in rows else np.ones(len(rows)))
        coords = {
            "segment": segments,
            "band": np.arange(n_bands),
            "touchpoint": touchpoints,
            "row": np.arange(len(rows)),
        }
        with pm.Model(coords=coords) as model:
            mu = pm.Normal("mu", 0.0, MU_SD, dims="touchpoint")
            sigma = pm.HalfNormal("sigma", SIGMA_SD, dims="touchpoint")
            z = pm.Normal("z", 0.0, 1.0, dims=("segment", "touchpoint"))
            beta = pm.Deterministic("beta", mu + sigma * z, dims=("segment", "touchpoint"))
            # Sampled: the intercept at the segment's mean covariates; alpha follows, with its
            # Normal prior kept exactly (the shear has Jacobian 1, see the class docstring).
            alpha_c = pm.Flat("alpha_centred", dims=("segment", "band"))
            alpha = pm.Deterministic(
                "alpha", alpha_c - (beta * x_mean).sum(axis=1)[:, None], dims=("segment", "band")
            )
            pm.Potential("alpha_prior", pm.logp(pm.Normal.dist(ALPHA_MEAN, ALPHA_SD), alpha).sum())
            eta = alpha_c[segment, band] + ((x - x_mean[segment]) * beta[segment]).sum(axis=1)
            if self.collapsed:
                pm.Binomial(
                    "y",
                    n=rows["n"].to_numpy(dtype=np.int64),
                    logit_p=eta,
                    observed=rows["y"].to_numpy(dtype=np.int64),
                    dims="row",
                )
            else:
                pm.Bernoulli(
                    "churned",
                    logit_p=eta,
                    observed=rows["churned"].to_numpy(dtype=np.int64),
                    dims="row",
                )
        return model

    def fit(
        self,
        person_months: pd.DataFrame,
        segments: Sequence[str],
        touchpoints: Sequence[str],
        n_bands: int,
    ) -> ChurnModel:
        """Sample the posterior given person-months (see :meth:`build_model`); returns self."""
        model = self.build_model(person_months, segments, touchpoints, n_bands)
        # One BLAS thread: threaded reductions in the mass-matrix adaptation change the last
        # bits from run to run, and NUTS trajectories amplify them; same seed, same draws.
        with model, quiet(), threadpool_limits(limits=1):
            start = time.perf_counter()
            posterior = pm.sample(
                draws=self.draws,
                tune=self.tune,
                chains=self.chains,
                cores=self.chains,
                random_seed=self.seed,
                nuts_sampler="nutpie",
                nuts={"target_accept": self.target_accept, "adaptation": NUTS_ADAPTATION},
                progressbar=self.progress,
                quiet=True,
            )
            elapsed = time.perf_counter() - start
        self.model_ = model
        self.n_rows_ = len(model.coords["row"])
        self.posterior_ = posterior
        self.sampling_seconds_ = float(posterior.posterior.attrs.get("sampling_time", elapsed))
        self.diagnostics_ = diagnostics(posterior)
        self.summary_ = summarise(posterior)
        return self

    def _rows(
        self, data: pd.DataFrame, segments: list[str], touchpoints: list[str], n_bands: int
    ) -> pd.DataFrame:
        """The likelihood rows, checked: collapsed counts or person-months."""
        columns = ["segment", "band", *[f"x_{t}" for t in touchpoints]]
        counts = {"n", "y"} <= set(data.columns)
        outcome = ["n", "y"] if counts and "churned" not in data.columns else ["churned"]
        missing = [c for c in [*columns, *outcome] if c not in data.columns]
        if missing:
            raise ValueError(
                f"data lacks columns {', '.join(missing)}; expected person-months "
                "(segment, band, x_<touchpoint>..., churned) or collapsed rows (..., n, y)"
            )
        if outcome == ["n", "y"] and not self.collapsed:
            raise ValueError("collapsed=False needs person-months (churned), got counts n, y")
        unknown = sorted(set(data["segment"].astype(str)) - set(segments))
        if unknown:
            raise ValueError(f"unknown segments {unknown}, expected some of {segments}")
        band = data["band"].to_numpy()
        if len(band) and (band.min() < 0 or band.max() >= n_bands):
            raise ValueError(f"bands {band.min()}..{band.max()}, expected 0..{n_bands - 1}")
        if len(data) == 0:
            raise ValueError("no rows to fit")
        rows = data[[*columns, *outcome]]
        if self.collapsed and outcome == ["churned"]:
            rows = collapse(rows)
        return rows

    def __repr__(self) -> str:
        params = ("draws", "tune", "chains", "seed", "collapsed", "target_accept", "progress")
        return f"ChurnModel({', '.join(f'{p}={getattr(self, p)!r}' for p in params)})"


def diagnostics(posterior: xr.DataTree) -> dict:
    """Largest R-hat, smallest bulk ESS and divergences of a fit, and whether all pass."""
    rhat = _extreme(az.rhat(posterior), max)
    ess = _extreme(az.ess(posterior, method="bulk"), min)
    divergences = int(posterior["sample_stats"]["diverging"].sum())
    ok = rhat <= RHAT_MAX and ess >= ESS_MIN and divergences == 0
    return {"rhat": rhat, "ess_bulk": ess, "divergences": divergences, "ok": bool(ok)}


def summarise(posterior: xr.DataTree) -> pd.DataFrame:
    """Mean, sd, 94% and 90% equal-tailed intervals, MCSE, ESS and R-hat per parameter."""
    names = [p for p in PARAMETERS if p in posterior["posterior"].data_vars]
    tables = [
        az.summary(
            posterior,
            var_names=names,
            kind="stats",
            ci_kind="eti",
            ci_prob=prob,
            round_to="none",
        )
        for prob in INTERVALS
    ]
    checks = az.summary(posterior, var_names=names, kind="diagnostics", round_to="none")
    out = pd.concat(
        [
            tables[0],
            tables[1].drop(columns=["mean", "sd"]),
            checks[["mcse_mean", "ess_bulk", "r_hat"]],
        ],
        axis=1,
    )
    return pd.DataFrame(out).astype(float)


def _segment_means(x: np.ndarray, segment: np.ndarray, n_segments: int,
                   weight: np.ndarray) -> np.ndarray:
    """Weighted mean covariates per segment, (segment, touchpoint); 0 for an empty segment."""
    totals = np.zeros((n_segments, x.shape[1]))
    np.add.at(totals, segment, x * weight[:, None])
    counts = np.bincount(segment, weight, n_segments)[:, None]
    return np.divide(totals, counts, out=np.zeros_like(totals), where=counts > 0)


def largest_difference(first: xr.DataTree, second: xr.DataTree,
                       names: Sequence[str] = ("alpha", "beta")) -> float:
    """Largest |mean_1 - mean_2| / sqrt(mcse_1^2 + mcse_2^2) over the parameters ``names``.

    Two samplers of the same posterior give values of about 1, rarely above 3.5.
    """
    worst = 0.0
    for name in names:
        means = [f["posterior"][name].mean(("chain", "draw")) for f in (first, second)]
        mcse = [az.mcse(f, var_names=[name])[name] for f in (first, second)]
        z = np.abs(means[0] - means[1]) / np.sqrt(mcse[0] ** 2 + mcse[1] ** 2)
        worst = max(worst, float(z.max()))
    return worst


def _extreme(result: xr.DataTree | xr.Dataset, pick) -> float:
    """The largest or smallest value over every variable of an ArviZ diagnostic."""
    data = result["posterior"] if "posterior" in getattr(result, "children", {}) else result
    dataset = data.to_dataset() if isinstance(data, xr.DataTree) else data
    return float(pick(float(getattr(v, pick.__name__)()) for v in dataset.data_vars.values()))


def check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} is {value!r}, expected an integer of at least {low}")
    if value < low:
        raise ValueError(f"{name} is {value}, expected an integer of at least {low}")


class quiet:
    """Silence PyMC's and nutpie's logging and warnings during sampling."""

    def __enter__(self):
        self.logger = logging.getLogger("pymc")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore", FutureWarning)
        return self

    def __exit__(self, *exc):
        self.warnings.__exit__(*exc)
        self.logger.setLevel(self.level)
        return False
