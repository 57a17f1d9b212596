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
- ``ctm_versions``: the versions of the libraries that made it;
- ``ctm_checksum``: the SHA-256 of the draws (:func:`checksum`).

A posterior fitted month by month carries its own tenure bands (a ``band_starts`` variable
of the ``posterior`` group, :mod:`models.draws`); ``ctm_band_starts`` then lists those, and
loading does not hold them against the world's, since its ``alpha`` comes with them.

Every variable of the ``posterior`` group has dims ``chain`` and ``draw`` but one: the
installed base's tenure mix ``base_tenure`` (``segment``, ``tenure``), a point estimate
(:func:`models.submodels.tenure`).

Loading checks the ids against the world the simulation will run, so draws are never applied
to the wrong touchpoint; checks the draws against their checksum, so a file changed or damaged
after ``ctm fit`` wrote it (2 MB of zeroed bytes once loaded and changed a comparison) is
refused; and checks the values the simulation takes (:func:`check_values`): finite, positive
where they must be, probabilities in [0, 1] summing to 1. A file without a checksum (written
before it was added) is loaded with the values checked.
"""

from __future__ import annotations

import hashlib
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
    if posterior is not None:
        tree.attrs["ctm_checksum"] = checksum(posterior.to_dataset())
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
    if "posterior" in tree.children:
        draws = tree["posterior"].to_dataset()
        stored = tree.attrs.get("ctm_checksum")
        if stored is not None and stored != checksum(draws):
            raise InputError(
                source,
                [("ctm_checksum", "the draws differ from those 'ctm fit' wrote: the file was "
                  "changed or damaged since; expected the file as written (fit again)")],
            )  # fmt: skip
        problems = check_values(draws)
        if problems:
            raise InputError(source, problems)
    return tree


def stored_checksum(path: Path) -> str:
    """The checksum a posterior file was written with (:func:`checksum`; empty for a file
    written before checksums were added): the posterior's identity, recorded with a run of its
    draws (``ctm quickwins``), so that a later reader can tell the draws are this file's."""
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        return str(tree.attrs.get("ctm_checksum", ""))


def checksum(draws: xr.Dataset) -> str:
    """SHA-256 of every variable of a posterior group: its name, dims, dtype, shape and values
    (C order), variables by name. netCDF keeps values bit for bit, so a file as written gives
    the checksum it was saved with."""
    digest = hashlib.sha256()
    for name in sorted(map(str, draws.data_vars)):
        values = np.ascontiguousarray(draws[name].values)
        header = [name, list(draws[name].dims), str(values.dtype), list(values.shape)]
        digest.update(json.dumps(header).encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


PROBABILITIES = {
    "ratings": ("rating", False),
    "start": ("touchpoint", True),
    "transitions": ("next", True),
    "base_tenure": ("tenure", False),
}
"""Probability variables: the dim they sum to 1 over, and whether a row may be all 0 (a
segment without a journey, a touchpoint no journey reaches)."""
POSITIVE = ("sbg", "prospects")
"""Variables that must be above 0; NaN is allowed there for a segment the fit left to the
world (no cohorts for its sBG, too few new customers for its prospects)."""


def check_values(draws: xr.Dataset) -> list[tuple[str, str]]:
    """Problems with the values the simulation takes, one (variable, message) each: NaN or
    infinite values, probabilities outside [0, 1] or not summing to 1 (within 1e-6), values
    at or below 0 where they must be above."""
    problems = []
    for name in map(str, draws.data_vars):
        values = np.asarray(draws[name].values)
        if not np.issubdtype(values.dtype, np.number):
            continue
        finite = np.isfinite(values)
        if name in POSITIVE:
            if np.isinf(values).any() or (values[finite] <= 0).any():
                problems.append((name, "values at or below 0 or infinite, expected above 0"))
            continue
        if not finite.all():
            problems.append((name, f"{(~finite).sum():,} values NaN or infinite, expected finite"))
            continue
        if name in PROBABILITIES:
            dim, empty_allowed = PROBABILITIES[name]
            totals = draws[name].sum(dim).values
            ok = np.isclose(totals, 1, atol=1e-6) | (empty_allowed & np.isclose(totals, 0))
            outside = (values < -1e-9).any() or (values > 1 + 1e-9).any()  # rounding: 1 + 2e-16
            if outside or not ok.all():
                problems.append(
                    (name, f"probabilities outside [0, 1] or not summing to 1 over {dim}")
                )
    return problems


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
