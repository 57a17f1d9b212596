"""The churn model: a hierarchical discrete-time hazard fitted to person-months with PyMC.

Each customer of segment ``s``, each month at risk, churns with probability ``h``::

    logit h = alpha[s, band(tenure)] + sum_k beta[s, k] x_k,   x_k = (3 - p_k) / 2
    beta[s, k] = mu_k + sigma_k z[s, k],                        z[s, k] ~ Normal(0, 1)

(``beta[s, k] ~ Normal(mu_k, sigma_k)``, sampled in the coordinates of :func:`contrasts`, so
that the sampler meets neither a funnel nor the curved ridge that the plain non-centred form
has when the data pin some segments' beta and not others). Priors, weakly informative:

- ``alpha[s, b] ~ Normal(logit(0.02), 1.5)``: a monthly churn of about 2% for a customer
  with neutral views, anywhere between about 0.1% and 30% at two standard deviations.
- ``mu_k ~ Normal(0, 1)``: the average effect of touchpoint ``k``; ``exp(2)``, 7 times the
  odds of churn for a view of 1 against a neutral one, is already extreme, so two prior
  standard deviations reach it.
- ``sigma_k ~ HalfNormal(0.5)``: segments differ moderately around that average.

The data are person-months, the months in which customers answered the survey
(:func:`models.persons.person_months`); by default they are collapsed into binomial counts
(:func:`models.persons.collapse`), which gives the same posterior because the two
likelihoods differ by a constant, faster by as much as the rows shrink (2 times on the demo
data: few answers share all their ratings). Sampling uses nutpie through
:func:`pymc.sample`.

Example::

    model = ChurnModel(seed=1).fit(pm, segments, touchpoints, n_bands=4)
    model.diagnostics_["ok"], model.summary_.loc["beta[household, invoice]"]
    # one parameter set per draw for the simulation: models.draws.parameter_sets
"""

from __future__ import annotations

import logging
import numbers
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
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
NUTS_ADAPTATION = "diag"
"""nutpie's mass matrix: diagonal (its default). With the plain non-centred beta the diagonal
gave 124 divergences on 3 x 1,000 synthetic customers and low-rank was needed; in the
coordinates of :func:`contrasts` the diagonal is enough, and on the demo data it needed
fewer leapfrog steps than low-rank (17 against 16 a draw, but 23 against 30 in tuning) with
a larger smallest ESS (312 against 168, 2 x 500 draws)."""
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
        nutpie's target acceptance rate, in (0, 1); higher means smaller steps. 0.8 (nutpie's
        default): in the coordinates of :func:`contrasts` the demo fit has no divergences at
        0.8 and needs 15 leapfrog steps a draw against 17-19 at 0.9.
    progress
        Show PyMC's progress bar of the chains while sampling.

    Sampling geometry of beta: see :func:`contrasts`. Of alpha: the sampler moves the
    intercept at each segment's mean covariates,
    alpha_centred[s, b] = alpha[s, b] + sum_k beta[s, k] xbar[s, k], rather than alpha itself,
    because alpha and beta are strongly correlated when the covariates are far from 0 (most
    views are better than neutral). The map (alpha_centred, beta) -> (alpha, beta) is a shear
    with Jacobian 1 and the Normal prior stays on alpha (a potential), so the posterior is
    exactly the model above; only the sampler's view of it changes.

    Attributes (after ``fit``)
    --------------------------
    posterior_ : xarray.DataTree
        What :func:`pymc.sample` returns: groups ``posterior`` (alpha, mu, sigma, z, beta with
        dims chain, draw, segment, band, touchpoint), ``sample_stats``; beta is sampled
        through ``beta_mean``, ``u`` and ``w`` (see :func:`contrasts`).
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
        target_accept: float = 0.8,
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
        n = rows["n"].to_numpy(dtype=np.int64) if "n" in rows else np.ones(len(rows), np.int64)
        y = rows["y" if "n" in rows else "churned"].to_numpy(dtype=np.int64)
        x_mean = _segment_means(x, segment, len(segments), n)
        S, K = len(segments), len(touchpoints)
        a, p, norm = contrasts(_information(x - x_mean[segment], segment, S, n, y))
        coords = {
            "segment": segments,
            "band": np.arange(n_bands),
            "touchpoint": touchpoints,
            "row": np.arange(len(rows)),  # the likelihood's rows (ChurnModel.n_rows_)
        }
        with pm.Model(coords=coords) as model:
            sigma = pm.HalfNormal("sigma", SIGMA_SD, dims="touchpoint")
            # beta[:, k] = m_k + sigma_k (a_k u_k + P_k w_k), mu_k = m_k - sigma_k |pi_k| u_k:
            # exactly beta ~ Normal(mu, sigma), mu ~ Normal(0, MU_SD) (see contrasts).
            m = pm.Flat("beta_mean", dims="touchpoint")
            u = pm.Normal("u", 0.0, 1.0, dims="touchpoint")
            w = pm.Normal("w", 0.0, 1.0, shape=(max(S - 1, 1), K))
            mu = pm.Deterministic("mu", m - sigma * norm * u, dims="touchpoint")
            pm.Potential("mu_prior", pm.logp(pm.Normal.dist(0.0, MU_SD), mu).sum())
            pw = (p * w.T[:, None, :]).sum(-1).T  # (segment, touchpoint)
            beta = pm.Deterministic(
                "beta", m + sigma * (a * u + pw), dims=("segment", "touchpoint")
            )
            pm.Deterministic("z", (a + norm) * u + pw, dims=("segment", "touchpoint"))
            # Sampled: the intercept at the segment's mean covariates; alpha follows, with its
            # Normal prior kept exactly (the shear has Jacobian 1, see the class docstring).
            alpha_c = pm.Flat("alpha_centred", dims=("segment", "band"))
            alpha = pm.Deterministic(
                "alpha", alpha_c - (beta * x_mean).sum(axis=1)[:, None], dims=("segment", "band")
            )
            pm.Potential("alpha_prior", pm.logp(pm.Normal.dist(ALPHA_MEAN, ALPHA_SD), alpha).sum())
            # The log-likelihood, binomial without its constant log C(n, y) (Bernoulli when
            # n = 1): sum y eta - n log(1 + e^eta). eta of segment s is a dense product
            # [one-hot band | centred x] @ [alpha_centred[s]; beta[s]] (no gathers), and the
            # first term is linear in those parameters, so its coefficients are summed here.
            xc = x - x_mean[segment]
            etas, weights, linear = [], [], np.zeros((S, n_bands + K))
            for s in range(S):
                inside = segment == s
                if not inside.any():
                    continue
                design = np.column_stack([np.eye(n_bands)[band[inside]], xc[inside]])
                linear[s] = design.T @ y[inside]
                etas.append(pt.dot(design, pt.concatenate([alpha_c[s], beta[s]])))
                weights.append(n[inside])
            theta = pt.concatenate([alpha_c, beta], axis=1)
            pm.Potential(
                "loglik",
                (linear * theta).sum()
                - pt.dot(np.concatenate(weights).astype(float), pt.softplus(pt.concatenate(etas))),
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
        options = {"target_accept": self.target_accept, "adaptation": NUTS_ADAPTATION}
        posterior, seconds = sample_nuts(
            model, self.draws, self.tune, self.chains, self.seed, options, self.progress
        )
        self.model_ = model
        self.n_rows_ = len(model.coords["row"])
        self.posterior_ = posterior
        self.sampling_seconds_ = seconds
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


def diagnostics(posterior: xr.DataTree, var_names: Sequence[str] | None = None) -> dict:
    """Largest R-hat, smallest bulk ESS and divergences of a fit, and whether all pass;
    R-hat and ESS over ``var_names`` (default: every variable of the posterior)."""
    names = None if var_names is None else list(var_names)
    rhat = _extreme(az.rhat(posterior, var_names=names), max)
    ess = _extreme(az.ess(posterior, method="bulk", var_names=names), min)
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


def contrasts(information: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates in which the sampler moves beta: ``a`` (segment, touchpoint), ``p``
    (touchpoint, segment, segment - 1) and ``norm`` (touchpoint), from the data's information
    about each beta[s, k] (:func:`_information`).

    For each touchpoint, ``pi`` (weights over segments, summing to 1) is proportional to the
    information, so ``m = pi . beta`` is the combination the data pin best; ``p`` is an
    orthonormal basis of the directions orthogonal to ``pi``, rotated so that the data's
    information is diagonal in it. Writing ``v = (beta - mu) / sigma ~ Normal(0, I)`` as
    ``v = u pi / |pi| + p w`` (an orthogonal change of basis: u, w ~ Normal(0, 1)) and
    ``mu = m - sigma |pi| u`` gives ``beta = m + sigma (a u + p w)`` with
    ``a = pi / |pi| - |pi|``. The map (mu, z) -> (m, u, w) has Jacobian 1 and the Normal
    prior stays on mu (a potential), so the posterior is exactly the model's. Why: with the
    plain ``beta = mu + sigma z``, a segment with much data pins ``mu + sigma z[s]`` and the
    sampler has to move mu, sigma and z together along a curve (on the demo data: smallest
    ESS 119 on sigma, R-hat 1.023, 31 leapfrog steps a draw). Here the pinned ``m`` is a
    coordinate of its own, mu moves freely about it, and only the contrasts between segments
    meet sigma. A touchpoint no segment informs gets equal weights (the plain contrasts).
    """
    S, K = information.shape
    a = np.zeros((S, K))
    p = np.zeros((K, S, max(S - 1, 1)))
    norm = np.zeros(K)
    for k in range(K):
        info = information[:, k]
        pi = info / info.sum() if info.sum() > 0 else np.full(S, 1.0 / S)
        norm[k] = np.linalg.norm(pi)
        a[:, k] = pi / norm[k] - norm[k]
        if S > 1:
            basis = np.linalg.svd(pi[None, :])[2][1:].T  # orthonormal, orthogonal to pi
            _, rotation = np.linalg.eigh(basis.T @ np.diag(info) @ basis)
            rotation *= np.where(rotation[np.abs(rotation).argmax(0), range(S - 1)] < 0, -1, 1)
            p[k] = basis @ rotation
    return a, p, norm


def _information(
    xc: np.ndarray, segment: np.ndarray, n_segments: int, n: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Fisher information about beta[s, k] at the pooled churn rate h: sum n h (1 - h) xc^2
    over the segment's rows (xc the centred covariates), shape (segment, touchpoint).

    h is clipped to [0.001, 0.5] so that data without churn (or all churn) still give
    positive weights; the weights only choose the sampler's coordinates (:func:`contrasts`
    is an exact change of coordinates for any weights), not the posterior."""
    h = min(max(y.sum() / max(n.sum(), 1), 1e-3), 0.5)
    info = np.zeros((n_segments, xc.shape[1]))
    np.add.at(info, segment, n[:, None] * h * (1 - h) * xc**2)
    return info


def _segment_means(
    x: np.ndarray, segment: np.ndarray, n_segments: int, weight: np.ndarray
) -> np.ndarray:
    """Weighted mean covariates per segment, (segment, touchpoint); 0 for an empty segment."""
    totals = np.zeros((n_segments, x.shape[1]))
    np.add.at(totals, segment, x * weight[:, None])
    counts = np.bincount(segment, weight, n_segments)[:, None]
    return np.divide(totals, counts, out=np.zeros_like(totals), where=counts > 0)


def largest_difference(
    first: xr.DataTree, second: xr.DataTree, names: Sequence[str] = ("alpha", "beta")
) -> float:
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


def sample_nuts(
    model: pm.Model,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    nuts: dict | None = None,
    progress: bool = False,
) -> tuple[xr.DataTree, float]:
    """The posterior of ``model`` from nutpie, every model of this package sampled alike, and
    the seconds it took (nutpie's own sampling time where it reports one, else wall time).

    One BLAS thread: threaded reductions in the mass-matrix adaptation change the last bits
    from run to run, and NUTS trajectories amplify them; same seed, same draws. PyMC's and
    nutpie's logging and warnings are silenced (:class:`quiet`). ``nuts``: nutpie's options
    (``adaptation``, ``target_accept``).

    Raises
    ------
    KeyboardInterrupt
        If sampling was stopped by Ctrl-C: nutpie catches it and returns the draws it had so
        far (none while tuning), which would otherwise pass for a posterior (and fail later,
        or worse, not).
    """
    keep_generated_source()
    with model, quiet(), threadpool_limits(limits=1):
        start = time.perf_counter()
        posterior = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=chains,
            random_seed=seed,
            nuts_sampler="nutpie",
            nuts=nuts or {},
            progressbar=progress,
            quiet=True,
        )
        elapsed = time.perf_counter() - start
    if posterior["posterior"].sizes.get("draw", 0) < draws:
        raise KeyboardInterrupt  # nutpie, stopped by Ctrl-C, returns the draws it had so far
    return posterior, float(posterior["posterior"].attrs.get("sampling_time", elapsed))


def keep_generated_source() -> None:
    """Send the Python source PyTensor's numba backend writes for each compiled function to
    PyTensor's own cache folder (``<compiledir>/generated_src``: one file per distinct source,
    pruned by PyTensor), unless the user chose a folder (``PYTENSOR_FLAGS=generated_src_dir=``).
    By default each function got a new file in the system temp folder, never removed: over a
    thousand after a tester's session, 7,614 on this machine."""
    if not pytensor.config.generated_src_dir:
        folder = Path(pytensor.config.compiledir) / "generated_src"
        pytensor.config.generated_src_dir = str(folder)


class quiet:
    """Silence PyMC's and nutpie's logging and warnings during sampling."""

    def __enter__(self):
        self.logger = logging.getLogger("pymc")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore", FutureWarning)
        # an interrupted run's empty trace (sample_nuts raises KeyboardInterrupt after it)
        warnings.filterwarnings("ignore", "Found chain dimension to be longer", UserWarning)
        return self

    def __exit__(self, *exc):
        self.warnings.__exit__(*exc)
        self.logger.setLevel(self.level)
        return False
