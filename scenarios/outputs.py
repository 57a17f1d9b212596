"""Writing results so that an interrupted or failed run never leaves half an output."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import xarray as xr

from sim.results import tidy


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """A fresh folder to write into, which replaces ``target`` only if the block succeeds.

    On any error, Ctrl-C included, the partial folder is removed and ``target`` is as before.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; results are for sharing
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = target.with_name(f".{target.name}.previous")
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)


def write_results(results: xr.Dataset, folder: Path) -> list[Path]:
    """The labelled arrays as netCDF and each tidy table as Parquet; returns the files."""
    files = [folder / "results.nc"]
    results.to_netcdf(files[0], engine="h5netcdf")
    for name, table in tidy(results).items():
        files.append(folder / f"{name}.parquet")
        table.to_parquet(files[-1], index=False)
    return files
