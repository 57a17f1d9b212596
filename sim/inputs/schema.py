"""The base of every file schema (world, queue settings, later scenarios), and shared types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Probability = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]


class StrictModel(BaseModel):
    """Unknown fields, infinities and NaN are errors, and so are numbers written as text or
    as true/false (strict); loaded files are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)
