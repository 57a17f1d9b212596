"""Reading scenario files: YAML, field validation, then cross-checks against the world.

:func:`load_scenario` reads one file and :func:`combine` joins scenarios into one plan; both
cross-check the edits against the world (:func:`scenarios.checks.check_plan`) and raise the
problems of the first file that has any, one line each naming the file and the field.
A removal that states no traffic gets the world's stated substitution of its touchpoint,
or ``lost`` (:func:`scenarios.scenario.default_traffic`), when the file is read.
:func:`scenario_files` finds the files a user names (files or folders; by default the
bundled examples).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from models.benchmark import rivals
from scenarios.checks import check_plan
from scenarios.scenario import (
    KINDS,
    AddTouchpoint,
    MarketMove,
    Plan,
    RemoveTouchpoint,
    Scenario,
    as_plan,
    default_traffic,
)
from sim.inputs.checks import Problems
from sim.inputs.errors import InputError
from sim.inputs.files import describe_all, read_yaml
from sim.inputs.world import World

EXAMPLES = Path(__file__).parent / "examples"
"""The bundled example scenarios."""


def load_scenario(path: str | Path, world: World) -> Scenario:
    """Read, validate and cross-check a scenario file against ``world``.

    Raises
    ------
    InputError
        With every problem found, one line each naming the file and the field.
    """
    path = Path(path)
    return parse_scenario(read_yaml(path), world, str(path))


def parse_scenario(data: dict, world: World, source: str = "scenario") -> Scenario:
    """A scenario from an already-read mapping (``source`` names it in error messages)."""
    try:
        scenario = _with_default_traffic(Scenario.model_validate(data), world)
        scenario = _with_benchmark(scenario, world)
    except ValidationError as error:
        raise InputError(source, _describe(error)) from None
    scenario._source, scenario._world = source, world
    _cross_check(as_plan(scenario), world)
    return scenario


def _with_default_traffic(scenario: Scenario, world: World) -> Scenario:
    """Every removal without ``traffic`` given :func:`default_traffic` of its touchpoint (the
    world's, or the one the scenario adds)."""
    if not any(isinstance(e, RemoveTouchpoint) and e.traffic is None for e in scenario.edits):
        return scenario
    added = [e.touchpoint for e in scenario.edits if isinstance(e, AddTouchpoint)]
    known = {t.id: t for t in [*world.touchpoints, *added]}
    edits = [
        e.model_copy(update={"traffic": default_traffic(known.get(e.touchpoint))})
        if isinstance(e, RemoveTouchpoint) and e.traffic is None
        else e
        for e in scenario.edits
    ]
    return scenario.model_copy(update={"edits": edits})


def _with_benchmark(scenario: Scenario, world: World) -> Scenario:
    """Every market move without ``before`` given the world's benchmark of its competitor at
    its touchpoint (the expected distribution: :class:`models.benchmark.Rival`), if the
    benchmark has it."""
    known = rivals(world)
    edits = [
        e.model_copy(update={"before": rival.expected.tolist()})
        if isinstance(e, MarketMove)
        and e.before is None
        and (
            rival := next((r for r in known.get(e.touchpoint, []) if r.name == e.competitor), None)
        )
        else e
        for e in scenario.edits
    ]
    if edits == scenario.edits:
        return scenario
    return scenario.model_copy(update={"edits": edits})


def recheck(plan: Plan | Scenario) -> Plan | Scenario:
    """``plan`` itself once its edits are cross-checked again against its world (after a
    change such as :func:`scenarios.edits.with_substitution`).

    Raises
    ------
    InputError
        With the problems of the first file that has any.
    ValueError
        If the plan's scenarios were not loaded against one world (:func:`load_scenario`).
    """
    scenarios = as_plan(plan).scenarios
    worlds = {id(s._world) for s in scenarios}
    if len(worlds) != 1 or scenarios[0]._world is None:
        raise ValueError("recheck needs scenarios loaded against one world (load_scenario)")
    _cross_check(as_plan(plan), scenarios[0]._world)
    return plan


def combine(scenarios: list[Scenario], name: str) -> Plan:
    """A plan of scenarios (loaded against one world), cross-checked together.

    Raises
    ------
    InputError
        For the first file whose edits clash with an earlier scenario's (a touchpoint
        added twice, removed twice, or edited after its removal).
    """
    worlds = {id(s._world) for s in scenarios}
    if not scenarios or len(worlds) != 1 or scenarios[0]._world is None:
        raise ValueError("combine needs scenarios loaded against one world (load_scenario)")
    plan = Plan(name, tuple(scenarios))
    _cross_check(plan, scenarios[0]._world)
    return plan


def scenario_files(given: list[Path] | None) -> list[Path]:
    """Scenario files from files and folders (every ``*.yaml`` in a folder, sorted); none
    given: the bundled examples.

    Raises
    ------
    InputError
        For a folder without scenario files.
    """
    found = []
    for path in map(Path, given or [EXAMPLES]):
        inside = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        if not inside:
            raise InputError(
                str(path), [("", "a folder without scenario files, expected *.yaml files")]
            )
        found += inside
    return found


def _cross_check(plan: Plan, world: World) -> None:
    """Raise InputError with the problems (:func:`scenarios.checks.check_plan`) of the first
    file that has any."""
    found = check_plan(plan, world)
    if found:
        source = found[0][0]
        raise InputError(source, [(w, m) for s, w, m in found if s == source])


def _describe(error: ValidationError) -> Problems:
    """Pydantic errors as problems, without the edit kind pydantic puts in the path."""
    errors, problems = [], []
    for e in error.errors():
        loc = e["loc"]
        if loc[:1] == ("edits",) and len(loc) > 2 and loc[2] in KINDS:
            loc = loc[:2] + loc[3:]
        kinds = ", ".join(KINDS)
        if e["type"] == "union_tag_invalid":
            tag = e["ctx"]["tag"]
            problems.append(
                (f"edits[{loc[1]}].kind", f"unknown kind {tag!r}, expected one of {kinds}")
            )
        elif e["type"] == "union_tag_not_found":
            problems.append((f"edits[{loc[1]}]", f"no 'kind', expected one of {kinds}"))
        elif e["type"] == "model_attributes_type" and loc[:1] == ("edits",):
            problems.append(
                (
                    f"edits[{loc[1]}]",
                    f"got {e['input']!r}, expected a mapping with a kind ({kinds})",
                )
            )
        else:
            errors.append({**e, "loc": loc})
    return describe_all(errors) + problems
