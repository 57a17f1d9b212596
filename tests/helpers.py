"""Shared test helpers: the ctm command, parameter sets with closed-form answers, and the
absorbing-chain reference for acquisition journeys (written out independently of
:mod:`scenarios.chains`)."""

from __future__ import annotations

import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
from scipy.special import logit
from typer.testing import CliRunner

from cli.app import app
from sim.engine.journey import walk
from sim.engine.streams import Streams
from sim.inputs.parameters import Parameters

CTM = str(Path(sys.executable).parent / "ctm")


def ctm(*args: str) -> subprocess.CompletedProcess:
    """Run a ``ctm`` command in this process (typer's CliRunner); output captured as text.

    An exception that escapes the command is written to stderr as a traceback with exit code
    1, as the installed script would show it, so a test that asks for no traceback sees one.
    """
    result = CliRunner().invoke(app, list(args))
    stderr = result.stderr
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
        code = 1
    return subprocess.CompletedProcess(["ctm", *args], code, result.stdout, stderr)


def installed_ctm(*args: str) -> subprocess.CompletedProcess:
    """Run the installed ``ctm`` script as a user would; output captured as text."""
    return subprocess.run([CTM, *args], capture_output=True, text=True, timeout=300)


def constant_hazard(params: Parameters, hazard: float, discount_rate: float) -> Parameters:
    """No prospects, no contacts, no touchpoint effects: every customer churns with ``hazard``."""
    S, K = params.beta.shape
    return params.replace(
        prospects=np.zeros(S),
        contacts=np.zeros((S, K)),
        onboarding=np.zeros((S, K)),
        beta=np.zeros((S, K)),
        alpha=np.full(params.alpha.shape, logit(hazard)),
        discount_rate=discount_rate,
    )


PROSPECTS = 100_000


def absorbing_chain(start: np.ndarray, P: np.ndarray) -> tuple[float, np.ndarray]:
    """P(purchase) and expected visits per touchpoint: N = (I - Q)^-1, B = N R."""
    K = len(start)
    Q, R = P[:, :K], P[:, K:]
    N = np.linalg.inv(np.eye(K) - Q)
    return float(start @ N @ R[:, 0]), start @ N


def averaged_over_ratings(params, s: int) -> np.ndarray:
    """The chain prospects follow on average, written out from the story in DESIGN.

    With probability P(rating <= 2) the odds of lost are multiplied by the dropout odds
    ratio and the other moves shrink in proportion.
    """
    P = params.transitions[s]
    bad = params.ratings[s, :, :2].sum(axis=1)
    odds, lost = params.dropout_odds[s], params.lost
    out = np.empty_like(P)
    for k in range(P.shape[0]):
        pl = P[k, lost]
        pl_bad = odds * pl / (1 - pl + odds * pl)
        row_bad = P[k] * ((1 - pl_bad) / (1 - pl) if pl < 1 else 0.0)
        row_bad[lost] = pl_bad
        out[k] = (1 - bad[k]) * P[k] + bad[k] * row_bad
    return out


def simulated(params, s: int, seed: int = 1):
    prospects = walk(params, s, np.arange(PROSPECTS, dtype=np.uint64), Streams(seed))
    return prospects.purchased, prospects.visits


def posterior_file(path: Path, world, draws: int = 4, seed: int = 0) -> Path:
    """A small posterior file (2 chains x ``draws``) around the world's own churn parameters:
    alpha, beta and mu with noise of sd 0.1, so that intervals have a width."""
    import xarray as xr

    from models.posterior import save_posterior
    from sim.inputs.parameters import from_world

    params, rng = from_world(world), np.random.default_rng(seed)

    def around(value: np.ndarray) -> np.ndarray:
        return value + rng.normal(0, 0.1, size=(2, draws, *value.shape))

    posterior = xr.Dataset(
        {
            "alpha": (("chain", "draw", "segment", "band"), around(params.alpha)),
            "beta": (("chain", "draw", "segment", "touchpoint"), around(params.beta)),
            "mu": (("chain", "draw", "touchpoint"), around(params.beta.mean(axis=0))),
        },
        coords={
            "chain": range(2),
            "draw": range(draws),
            "segment": list(params.segments),
            "touchpoint": list(params.touchpoints),
            "band": range(len(params.band_starts)),
        },
    )
    save_posterior(
        xr.DataTree.from_dict({"posterior": posterior}),
        path,
        world=world,
        data={"customers": 0},
        diagnostics={"ok": True},
    )
    return path


def read_csv(path: Path):
    """A CSV table as written, empty cells missing (not the text "NaN" or "None")."""
    import pandas as pd

    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def notebook_outputs(notebook, kind: str) -> list:
    """Every output of an executed notebook's code cells holding ``kind`` (a MIME type such
    as ``image/png``, or ``stderr``)."""
    found = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if kind == "stderr" and out.get("name") == "stderr":
                found.append(out["text"])
            elif kind in out.get("data", {}):
                found.append(out["data"][kind])
    return found


def quickwins_folder(folder: Path, world, checksum: str, net: dict, draws: list[int]) -> Path:
    """A ``ctm quickwins`` folder as ``ctm maturity --quickwins`` reads it: ``study/results.nc``
    whose value gained (lifetime, scale 1, no spending) is ``net[scenario]`` per draw (in the
    first segment's residual value), the draws those of the posterior's parameter sets
    ``draws`` (``parameter_draw``), recorded as run with the posterior of ``checksum``; and
    ``quickwins.parquet`` with each scenario at cost 0."""
    import pandas as pd
    import xarray as xr

    names = ["baseline", *net]
    S, D, M = len(world.segment_ids), len(draws), 2
    residual = np.zeros((len(names), D, S))
    for i, name in enumerate(net, start=1):
        residual[i, :, 0] = net[name]
    zero = np.zeros((len(names), D, S, M))
    ends = np.zeros((len(names), D, S))
    data = {v: (("scenario", "draw", "segment", "month"), zero)
            for v in ("margin", "cost_to_serve", "acquisition_spend")}  # fmt: skip
    data |= {v: (("scenario", "draw", "segment"), ends)
             for v in ("new_value", "new_size", "future_acquired", "future_spend")}  # fmt: skip
    data["residual"] = (("scenario", "draw", "segment"), residual)
    results = xr.Dataset(
        data,
        coords={"scenario": names, "draw": range(D), "segment": world.segment_ids,
                "month": range(M), "parameter_draw": ("draw", draws)},
        attrs={"scale": 1.0, "discount_rate": 0.008, "world": world.name,
               "currency": world.economics.currency, "posterior_checksum": checksum},
    )  # fmt: skip
    (folder / "study").mkdir(parents=True, exist_ok=True)
    results.to_netcdf(folder / "study" / "results.nc", engine="h5netcdf")
    table = pd.DataFrame({"scenario": list(net), "skipped": "", "cost": 0.0, "measure": "lifetime"})
    table.to_parquet(folder / "quickwins.parquet", index=False)
    return folder
