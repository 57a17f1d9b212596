"""The base of every file schema (world, queue settings, later scenarios)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown fields, infinities and NaN are errors; loaded files are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
