"""Reading a world file: YAML, then field validation, then cross-checks.

Every problem becomes one line that names the file and the path to the field
(:class:`sim.inputs.errors.InputError`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from sim.inputs.checks import check_world
from sim.inputs.errors import InputError
from sim.inputs.files import describe_all, read_yaml
from sim.inputs.world import World

DEMO = Path(__file__).parents[1] / "worlds" / "broadband.yaml"


def load_world(path: str | Path) -> World:
    """Read, validate and cross-check a world file; ``"demo"`` names the bundled demo.

    Raises
    ------
    InputError
        With every problem found, each naming the field and what is expected.
    """
    path = DEMO if str(path) == "demo" else Path(path)
    data = read_yaml(path)
    try:
        world = World.model_validate(data)
    except ValidationError as error:
        raise InputError(str(path), describe_all(error.errors())) from None
    problems = check_world(world)
    if problems:
        raise InputError(str(path), problems)
    return world
