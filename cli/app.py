"""The ``ctm`` command line: one Typer application, its commands registered here.

Each group of commands lives in its own module (:mod:`cli.world`, :mod:`cli.fit`,
:mod:`cli.whatif`, :mod:`cli.report`, :mod:`cli.maturity`) and imports the layers below (sim,
models, scenarios, notebooks) inside each command, so that starting ``ctm`` loads only what
the command run needs: ``ctm validate`` reads a world file without loading numba, PyMC or
xarray.
"""

from __future__ import annotations

import typer

from cli import fit, maturity, report, whatif, world

app = typer.Typer(
    help="Simulate customer touchpoints and what-if scenarios.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command()(world.validate)
app.command()(world.simulate)
app.command()(whatif.compare)
app.command()(whatif.quickwins)
app.command()(whatif.attribution)
app.command()(report.report)
app.command()(world.staffing)
app.command("demo-data")(fit.demo_data)
app.command()(fit.fit)
app.command()(fit.cohorts)
app.command()(maturity.maturity)
