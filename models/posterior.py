"""The posterior file: the draws with their ids, the data, the diagnostics and the versions.

A fitted posterior is an ArviZ DataTree (groups ``posterior``, ``sample_stats``, ...). It is
saved as netCDF with these attributes on the root, each a JSON text:

- ``ctm_segments``, ``ctm_touchpoints``, ``ctm_band_starts``: what the draws are labelled by;
- ``ctm_data``: a summary of the data fitted (files, customers, person-months, churns);
- ``ctm_diagnostics``: max R-hat, min bulk ESS, divergences, and whether they passed;
- ``ctm_allow_unconverged``: true when the user accepted a posterior that failed them;
- ``ctm_fitted``: each sub-model (churn, loyalty, journeys, ratings, cohorts, arrivals,
  tenure) with its data source, rows, the variables it put in the ``posterior`` group, its
  diagnostics and notes, and ``from_world``: the Parameters fields that still come from the
  world file (absent in files written before sub-models were added);
- ``ctm_retention``: the retention check (:mod:`models.retention`): per segment the months
  compared, how many of them the observed curve spent outside the fitted band, and the
  warning when that share exceeds 10% (absent in files written before the check);
- ``ctm_versions``: the versions of the libraries that made it.

A posterior fitted month by month carries its own tenure bands (a ``band_starts`` variable
of the ``posterior`` group, :mod:`models.draws`); ``ctm_band_starts`` then lists those, and
loading does not hold them against the world's, since its ``alpha`` comes with them.

Every variable of the ``posterior`` group has dims ``chain`` and ``draw`` but one: the
installed base's tenure mix ``base_tenure`` (``segment``, ``tenure``), a point estimate
(:func:`models.submodels.tenure`).

Loading checks the ids against the world the simulation will run, so draws are never applied
to the wrong touchpoint.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import xarray as xr

from sim.inputs.errors import InputError
from sim.inputs.files import atomic_file
from sim.inputs.units import MONTH
from sim.inputs.world import World

LIBRARIES = ("ctm", "pymc", "nutpie", "arviz", "numpy", "xarray")


def save_posterior(
    tree: xr.DataTree,
    path: Path,
    *,
    world: World,
    data: dict,
    diagnostics: dict,
    allow_unconverged: bool = False,
    fitted: dict | None = None,
    retention: dict | None = None,
) -> None:
    """Write ``tree`` with the ctm attributes to ``path`` (atomically: all or nothing).

    ``fitted`` becomes ``ctm_fitted`` when given (the sub-models' summary, module notes),
    ``retention`` ``ctm_retention``. The band starts are the posterior's own
    (``band_starts`` in its ``posterior`` group) or else the world's.
    """
    tree = tree.copy()
    if fitted is not None:
        tree.attrs["ctm_fitted"] = json.dumps(fitted, default=_plain)
    if retention is not None:
        tree.attrs["ctm_retention"] = json.dumps(retention, default=_plain)
    posterior = tree["posterior"] if "posterior" in tree.children else None
    own = posterior is not None and "band_starts" in posterior.data_vars
    starts = np.asarray(posterior["band_starts"]) if own else band_starts(world)
    tree.attrs.update(
        {
            "ctm_segments": json.dumps(world.segment_ids),
            "ctm_touchpoints": json.dumps(world.touchpoint_ids),
            "ctm_band_starts": json.dumps(starts.tolist()),
            "ctm_data": json.dumps(data, default=str),
            "ctm_diagnostics": json.dumps(diagnostics, default=float),
            "ctm_allow_unconverged": json.dumps(bool(allow_unconverged)),
            "ctm_versions": json.dumps({name: version(name) for name in LIBRARIES}),
        }
    )
    with atomic_file(path) as partial:
        tree.to_netcdf(partial, engine="h5netcdf")


def load_posterior(path: Path, world: World) -> xr.DataTree:
    """Read a posterior file and check that its ids and tenure bands are the world's.

    Raises
    ------
    InputError
        If the file is missing, is not a ctm posterior, or was fitted to other ids.
    """
    source = str(path)
    try:
        tree = xr.open_datatree(path, engine="h5netcdf")
    except FileNotFoundError:
        raise InputError(source, [("", "no such file")]) from None
    except (OSError, ValueError):
        raise InputError(
            source, [("", "not a netCDF posterior file, expected the output of 'ctm fit'")]
        ) from None
    if "ctm_segments" not in tree.attrs:
        raise InputError(
            source, [("", "a netCDF file without ctm attributes, expected the output of 'ctm fit'")]
        )
    checked = [("segments", world.segment_ids), ("touchpoints", world.touchpoint_ids)]
    own = "posterior" in tree.children and "band_starts" in tree["posterior"].data_vars
    if not own:  # a posterior with its own bands brings alpha over them
        checked.append(("band_starts", band_starts(world).tolist()))
    problems = [
        _compare(f"ctm_{name}", json.loads(tree.attrs[f"ctm_{name}"]), expected)
        for name, expected in checked
    ]
    problems = [p for p in problems if p]
    if problems:
        raise InputError(source, problems)
    return tree


def attribute(tree: xr.DataTree, name: str) -> object:
    """One ctm attribute of a loaded posterior, decoded (``"diagnostics"``, ``"data"``...)."""
    return json.loads(tree.attrs[f"ctm_{name}"])


def band_starts(world: World) -> np.ndarray:
    """The world's tenure band starts in months."""
    return np.array(world.churn.tenure_bands) / MONTH


def _plain(value: object) -> object:
    """A numpy scalar as its Python value; anything else JSON cannot write as text."""
    return value.item() if isinstance(value, np.generic) else str(value)


def _compare(where: str, found: list, expected: list) -> tuple[str, str] | None:
    if sorted(map(str, found)) == sorted(map(str, expected)):
        return None
    extra = [x for x in found if x not in expected]
    missing = [x for x in expected if x not in found]
    what = (
        "; ".join(
            part
            for part in (
                f"fitted to {', '.join(map(str, extra))} not in the world" if extra else "",
                f"the world's {', '.join(map(str, missing))} missing" if missing else "",
            )
            if part
        )
        or f"{found} differ"
    )
    return where, f"{what}: expected a posterior fitted to this world (ctm fit --world ...)"
