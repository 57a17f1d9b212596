"""The ``ctm`` command line: one Typer application, its commands registered here.

Each group of commands lives in its own module (:mod:`cli.world`, :mod:`cli.fit`,
:mod:`cli.whatif`, :mod:`cli.plan`, :mod:`cli.report`, :mod:`cli.maturity`,
:mod:`cli.benchmark`, :mod:`cli.track`) and imports the layers below (sim, models, scenarios,
notebooks) inside each command, so that starting ``ctm`` loads only what the command run
needs: ``ctm validate`` reads a world file without loading numba, PyMC or xarray.
each command, so that starting ``ctm`` loads only what the command run needs: ``ctm validate``
reads a world file without loading numba, PyMC or xarray.
"""

from __future__ import annotations

import sys

import typer
from typer._click import exceptions as click  # typer 0.29 carries its own click
from typer.core import TyperGroup

from cli import benchmark, fit, maturity, plan, report, track, whatif, world
from cli.common import errors


class Commands(TyperGroup):
    """ctm's commands, whose usage errors (an unknown option, a value of the wrong type or out
    of range) are one line naming the option, with exit code 2, as every other bad input is
    (click's own is a usage message in a box)."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.NoArgsIsHelpError as error:
            error.show()
            sys.exit(error.exit_code)
        except click.UsageError as error:
            errors.print(f"{_where(error)}: {error.format_message()}", markup=False,
                         highlight=False, soft_wrap=True)  # fmt: skip
            sys.exit(2)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except (typer.Exit, typer.Abort) as error:
            sys.exit(getattr(error, "exit_code", 1))
        if standalone_mode:
            sys.exit(code or 0)
        return code


def _where(error: click.UsageError) -> str:
    """The option or argument a usage error is about, else the command."""
    if getattr(error, "option_name", None):
        return error.option_name
    param = getattr(error, "param", None)
    if param is not None:
        return param.opts[0] if param.opts else str(param.name)
    command = error.ctx.command_path if error.ctx is not None else "ctm"
    return command


app = typer.Typer(
    cls=Commands,
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
app.command()(plan.plan)
app.command()(report.report)
app.command()(world.staffing)
app.command("demo-data")(fit.demo_data)
app.command()(fit.fit)
app.command()(fit.cohorts)
app.command()(maturity.maturity)
app.command()(benchmark.benchmark)
app.command()(track.track)
