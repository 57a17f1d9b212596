"""``ctm benchmark``: our touchpoints' ratings against the best competitor's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from cli.common import PosteriorOpt, SeedOpt, WorldArg, check_options, console, user_errors

DRAWS_HELP = "Draws: of the posterior (default all), else of competitors' survey counts (4000)."


@user_errors
def benchmark(
    world: WorldArg,
    posterior: PosteriorOpt = None,
    draws: Annotated[int | None, typer.Option(min=1, help=DRAWS_HELP, show_default=False)] = None,
    seed: SeedOpt = 1,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for benchmark.csv, competitors.csv and benchmark.json (nothing "
            "written unless given).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The gap per benchmarked touchpoint: mean rating and share of bad experiences (1-2),
    ours against the best competitor, with 90% intervals where survey counts or a posterior
    carry uncertainty."""
    import numpy as np

    from models.benchmark import DRAWS, gaps, write_gaps
    from scenarios.study import draws_of
    from sim.inputs.errors import InputError
    from sim.inputs.files import check_folder
    from sim.inputs.load import DEMO, load_world

    check_options(draws=draws, seed=seed)
    if out is not None:
        check_folder(out)  # before the work, not after it
    loaded = load_world(world)
    if loaded.benchmark is None:
        raise InputError(
            str(DEMO if world == "demo" else world),
            [("benchmark", "missing, expected competitors' ratings per touchpoint (README: "
                           "'Competitor benchmarks')")],
        )  # fmt: skip
    ours, basis = None, "the world file's ratings"
    if posterior is not None:
        try:
            sets = draws_of(loaded, posterior, draws)
        except ValueError as error:
            raise InputError(
                str(posterior), [("", f"{error}; ask for at most that many")]
            ) from None
        ours = np.stack([p.ratings for p in sets])
        basis = f"{len(sets):,} draws of the posterior {posterior}"
    found = gaps(loaded, ours, draws or DRAWS, seed, basis)
    console.print(gaps_table(found))
    console.print(gaps_note(found), soft_wrap=True)
    if out is not None:
        files = write_gaps(found, out)
        console.print(f"Written: {out}/ ({', '.join(files)})")


def _gap(row, name: str, form: str) -> str:
    """A gap with its 90% interval, the interval left out where it is a point."""
    value, low, high = row[name], row[f"{name}_low"], row[f"{name}_high"]
    text = format(value, form)
    if format(low, form) != format(high, form):
        text += f" [dim]{format(low, form)}..{format(high, form)}[/]"
    return text


def gaps_table(found) -> Table:
    """The gaps (:class:`models.benchmark.Gaps`): one row per touchpoint and group of
    segments; ours and theirs as expected values, each gap with its 90% interval (all the
    intervals are in the files)."""
    out = Table(
        title="Ours against the best competitor: mean rating and bad experiences (1-2)",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        show_edge=False,
    )
    for name, justify in [
        ("touchpoint", "left"), ("segments", "left"), ("best", "left"),
        ("mean\nours", "right"), ("mean\ntheirs", "right"), ("mean gap\n(90%)", "right"),
        ("bad\nours", "right"), ("bad\ntheirs", "right"), ("bad gap\n(90%)", "right"),
        ("P\n(behind)", "right"),
    ]:  # fmt: skip
        number = justify == "right"  # figures stay on one line; names fold
        out.add_column(
            name, justify=justify, no_wrap=number, overflow="fold", min_width=None if number else 10
        )
    for _, row in found.table.iterrows():
        style = "red" if row["gap_mean"] < 0 else "green"
        out.add_row(
            escape(row["touchpoint"]),
            escape(row["segments"]),
            escape(row["competitor"]),
            f"{row['ours_mean']:.2f}",
            f"{row['their_mean']:.2f}",
            f"[{style}]{_gap(row, 'gap_mean', '+.2f')}[/]",
            f"{row['ours_bad']:.0%}",
            f"{row['their_bad']:.0%}",
            _gap(row, "gap_bad", "+.0%"),
            f"{row['p_behind']:.0%}",
        )
    return out


def gaps_note(found) -> str:
    """How the figures were made, in two sentences."""
    source = f" Source: {escape(found.source)}." if found.source else ""
    return (
        f"Gap = ours less theirs (a negative mean gap, a positive bad gap: behind). Ours: "
        f"{escape(found.ours)}; competitors from survey counts are Dirichlet posteriors "
        f"({found.draws:,} draws), from probabilities exact.{source}"
    )
