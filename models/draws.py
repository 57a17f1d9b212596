"""Posterior draws as simulation parameter sets: one complete set per draw.

A posterior holds labelled draws (dims ``chain``, ``draw`` and the parameter's own, such as
``segment``, ``band``, ``touchpoint``, ``cutpoint``, ``next``, ``sbg_parameter``, ``rating``:
:data:`REPLACEABLE`). Each draw replaces the matching arrays of the world's default
:class:`~sim.inputs.parameters.Parameters`; labels are matched by name, so the order of segments,
touchpoints or next states in the posterior does not matter.

A variable without ``chain`` and ``draw`` is a point estimate, the same in every draw: the
installed base's tenure mix (``base_tenure``, dims ``segment`` and ``tenure``, the shares of
the customers in service by months of service at the fitted table's end,
:func:`models.submodels.tenure`). Its ``tenure`` axis is its own (0, 1, ..., the longest
tenure in the table), not the world's.

``prospects`` is NaN for a segment the arrivals could not fit (too few new customers to tell
referrals from conversions): that segment keeps the world's prospects in every draw.

A posterior may bring its own tenure bands: ``band_starts`` (dim ``band``, no chain or draw),
as a baseline fitted month by month has (:mod:`models.baseline`: band starts 0, 1, ..., M,
the last band the plateau). Its ``alpha`` is then over those bands, for every segment, and
both replace the world's: the engine takes ``Parameters.band_starts`` with ``alpha``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import xarray as xr

from sim.inputs.parameters import Parameters, to_dataset
from sim.inputs.world import LOYALTY_CLASSES

REPLACEABLE = {
    "alpha": ("segment", "band"),
    "beta": ("segment", "touchpoint"),
    "cutpoints": ("segment", "cutpoint"),
    "gamma": ("touchpoint",),
    "start": ("segment", "touchpoint"),
    "transitions": ("segment", "touchpoint", "next"),
    "sbg": ("segment", "sbg_parameter"),
    "ratings": ("segment", "touchpoint", "rating"),
    "prospects": ("segment",),
    "base_tenure": ("segment", "tenure"),
    "band_starts": ("band",),
    "add_on_probability": ("segment", "loyalty"),
    "add_on_margin": ("segment", "loyalty"),
    "margin_uplift": ("segment", "loyalty"),
}
"""Posterior variables the simulation takes, with the dims of the Parameters field; those
present replace the world's values, the others keep them."""


def sample_indices(posterior: xr.Dataset, count: int | None) -> np.ndarray:
    """``count`` draws spread evenly over all chains and draws (all of them if None).

    Raises
    ------
    ValueError
        If the posterior holds fewer than ``count`` draws: never silently fewer than asked.
    """
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    if count is not None and count > total:
        raise ValueError(f"asked for {count:,} draws, the posterior holds {total:,}")
    if count is None or count == total:
        return np.arange(total)
    return np.linspace(0, total - 1, count).round().astype(int)


def parameter_sets(
    posterior: xr.Dataset, params: Parameters, count: int | None = None
) -> Iterator[Parameters]:
    """One parameter set per draw (``count`` draws spread evenly; all if None).

    Raises
    ------
    ValueError
        If a posterior variable lacks a label of ``params`` (a segment, band, touchpoint,
        cutpoint or next state; labels as in :func:`sim.inputs.parameters.to_dataset`).
    """
    if "band_starts" in posterior:
        if "alpha" not in posterior:
            raise ValueError("posterior band_starts without alpha over those bands")
        starts = np.asarray(posterior["band_starts"].values, dtype=float)
        alpha = np.full((len(params.segments), len(starts)), np.nan)  # every draw replaces it
        params = params.replace(band_starts=starts, alpha=alpha)
    labels = {name: coords.values.tolist() for name, coords in to_dataset(params).coords.items()}
    labels["loyalty"] = list(LOYALTY_CLASSES)
    stacked = posterior.stack(sample=("chain", "draw"))
    present = [name for name in REPLACEABLE if name in posterior]
    arrays, constant = {}, {}
    for name in present:
        dims = REPLACEABLE[name]
        variable = stacked[name]
        own = {"tenure"} if name == "base_tenure" else set()  # its own axis, not the world's
        for dim in dims:
            if dim in own:
                if variable[dim].values.tolist() != list(range(variable.sizes[dim])):
                    raise ValueError(f"posterior {name} has {dim} other than 0, 1, 2, ...")
                continue
            missing = set(labels[dim]) - set(variable[dim].values.tolist())
            if missing:
                raise ValueError(f"posterior {name} has no {dim} {sorted(missing)}")
        chosen = variable.sel({d: labels[d] for d in dims if d not in own})
        if "sample" in chosen.dims:
            arrays[name] = chosen.transpose("sample", *dims).values
        else:
            constant[name] = chosen.transpose(*dims).values
    if "prospects" in arrays:  # a segment the arrivals could not fit keeps the world's
        values = arrays["prospects"]
        arrays["prospects"] = np.where(np.isnan(values), params.prospects, values)
    for i in sample_indices(posterior, count):
        yield params.replace(**constant, **{name: values[i] for name, values in arrays.items()})
