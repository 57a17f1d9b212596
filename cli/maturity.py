"""``ctm maturity``: the maturity quiz of touchpoint management answered from the files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from cli.common import WorldArg, console, user_errors


@user_errors
def maturity(
    world: WorldArg,
    customers: Annotated[
        Path | None,
        typer.Option(
            help="Customers table (tells buyers from prospects who left).", show_default=False
        ),
    ] = None,
    responses: Annotated[
        Path | None,
        typer.Option(help="Survey responses (views; self_class answers).", show_default=False),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            help="Event log of prospects' contacts (customer_id, touchpoint, timestamp).",
            show_default=False,
        ),
    ] = None,
    ratings: Annotated[
        Path | None,
        typer.Option(
            help="Transactional ratings (each rating of one experience).", show_default=False
        ),
    ] = None,
    posterior: Annotated[
        Path | None,
        typer.Option(
            help="Posterior from 'ctm fit' (ranks what customers value); without it, "
            "question 2 is no.",
            show_default=False,
        ),
    ] = None,
    quickwins: Annotated[
        Path | None,
        typer.Option(
            help="Folder of 'ctm quickwins' run with --posterior (the same file): adds what to "
            "measure next, each touchpoint's value of information (EVPPI) for the quick-win "
            "decision.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for maturity.csv and maturity.json (and evppi.csv with --quickwins; "
            "nothing written unless given).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Answer the six-question maturity quiz from the world file and the tables given: each
    question yes, partly or no with its evidence, then the level (yes answers only count).
    With --quickwins, what to measure next: each touchpoint's EVPPI, ranked.

    WORLD 'demo' with no table given reads the bundled demo tables.
    """  # fmt: skip
    from models.data import BUNDLED, load_customers, load_responses
    from models.eventlog import read_event_log
    from models.maturity import assess, write_maturity
    from sim.inputs.errors import InputError
    from sim.inputs.files import check_folder
    from sim.inputs.load import load_world

    if quickwins is not None and posterior is None:
        raise InputError(
            "--quickwins",
            [("", "the quick wins' draws come from a posterior, expected --posterior too "
              "(the file the quick wins ran with)")],
        )  # fmt: skip
    if out is not None:
        check_folder(out)  # before the work, not after it
    loaded = load_world(world)
    if world == "demo" and not any((customers, responses, events, ratings)):
        customers, responses, events, ratings = (
            BUNDLED / f"{name}.csv" for name in ("customers", "responses", "events", "ratings")
        )
    customer_table = load_customers(customers, loaded) if customers else None
    response_table = load_responses(responses, loaded, customer_table) if responses else None
    event_log = read_event_log(events) if events else None
    rating_table = load_responses(ratings, loaded, customer_table) if ratings else None
    tree = None
    if posterior is not None:
        from models.posterior import load_posterior

        tree = load_posterior(posterior, loaded)
    run = None
    if quickwins is not None:
        from scenarios.information import check_quickwins

        run = check_quickwins(quickwins, loaded, tree, posterior)
    found = assess(loaded, customer_table, response_table, event_log, rating_table, tree)
    console.print(maturity_table(found))
    console.print(found.note())
    info = None
    if run is not None:
        from scenarios.information import quickwins_information

        info = quickwins_information(*run, loaded, tree)
        console.print(information_table(info))
        console.print(info.note())
    if out is not None:
        extra = None if info is None else ("evppi", info.table, info.as_dict())
        files = write_maturity(found, out, extra)
        console.print(f"Written: {out}/ ({', '.join(files)})")


def maturity_table(found) -> Table:
    """The maturity quiz (:class:`models.maturity.Maturity`): each question's answer and its
    evidence (the level is :meth:`~models.maturity.Maturity.note`)."""
    out = Table(
        title="Touchpoint management maturity: does the organisation know ...",
        show_lines=True,
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        show_edge=False,
    )
    out.add_column("#", justify="right")
    out.add_column("question", ratio=2)
    out.add_column("answer")
    out.add_column("evidence", ratio=5)
    style = {"yes": "green", "partly": "yellow", "no": "red"}
    for a in found.answers:
        out.add_row(
            str(a.number), a.question, f"[{style[a.answer]}]{a.answer}[/]", escape(a.evidence)
        )
    return out


def information_table(info) -> Table:
    """What to measure next (:class:`scenarios.information.Information`): each touchpoint's
    EVPPI with its standard error and noise floor, largest first, and the question it points
    to."""
    money = info.currency
    out = Table(
        title=f"What to measure next: value of knowing each touchpoint's churn effect ({money})",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        show_edge=False,
    )
    for name, justify in (
        ("touchpoint", "left"),
        ("EVPPI", "right"),
        ("± se", "right"),
        ("noise", "right"),
        ("effect", "right"),
        ("changes", "right"),
    ):
        out.add_column(name, justify=justify)  # fmt: skip
    out.add_column("survey question", ratio=3)
    for r in info.table.itertuples():
        style = "" if r.above_noise else "dim"
        out.add_row(
            r.touchpoint,
            f"{r.evppi:,.0f}",
            f"{r.evppi_se:,.0f}",
            f"{r.noise_floor:,.0f}",
            f"{r.effect_mean:.2f}±{r.effect_sd:.2f}",
            f"{r.plan_changes:.0%}",
            escape(r.question),
            style=style,
        )
    return out
