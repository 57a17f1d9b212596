"""Notebooks run with parameters, and the executive review as a self-contained HTML page.

papermill runs a notebook of the :mod:`notebooks` package with the given parameters (it
inserts them after the cell tagged ``parameters``); nbconvert exports the executed notebook
to HTML without code cells, its figures embedded as PNG data, so the page opens without a
server. Both files are written whole or not at all: an interrupted run leaves the previous
files as they were.
"""

from __future__ import annotations

import logging
import subprocess
from importlib.resources import files
from pathlib import Path

from sim.inputs.files import atomic_file

NOTEBOOKS = ("executive_review", "analyst_quickwins", "strategist_plan")
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
"""The page's Content-Security-Policy: no script runs, none is fetched, whatever the page
holds; its figures (PNG data) and its own styles show. A user's string that got through as
markup could not run."""
OFFLINE_TEMPLATE = (
    """{%- extends 'lab/index.html.j2' -%}
{%- block html_head -%}
<meta http-equiv="Content-Security-Policy" content="POLICY">
{{ super() }}
{%- endblock html_head -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
).replace("POLICY", POLICY)
"""nbconvert's lab template without the scripts it would load from a CDN, and with the
:data:`POLICY` first in the page's head."""


def notebook_path(name: str) -> Path:
    """The bundled notebook ``name`` (one of :data:`NOTEBOOKS`)."""
    if name not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {name!r}; expected one of {', '.join(NOTEBOOKS)}")
    return Path(str(files("notebooks") / f"{name}.ipynb"))


def execute(name: str, parameters: dict, out: Path, progress: bool = False) -> Path:
    """Run notebook ``name`` with ``parameters``; the executed copy goes to ``out``.

    Paths among the parameters should be absolute: the kernel runs in the folder of ``out``.
    A failing cell raises ``papermill.PapermillExecutionError`` and writes nothing.
    """
    import papermill

    # After a Ctrl-C, the task of the interrupted cell ends with an error nobody reads, and
    # asyncio logs it with its traceback on the terminal ("Task exception was never
    # retrieved"); the command has said in one line that it was interrupted.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as partial:
        papermill.execute_notebook(
            str(notebook_path(name)),
            str(partial),
            parameters=parameters,
            progress_bar=progress,
            cwd=str(out.parent),
            kernel_name="python3",
            # the local kernel's warning about unencrypted loopback TCP is noise here
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            kernel_manager_class=_quiet_kernel_manager(),
        )
    return out


def _quiet_kernel_manager() -> type:
    """jupyter_client's kernel manager with the kernel's own output streams discarded.

    A cell's output and errors reach the notebook through the kernel's messages, and a failing
    cell raises ``PapermillExecutionError``; what the kernel process itself writes to the
    terminal is its log. On Ctrl-C the manager interrupts the kernel as it shuts it down, and
    the kernel then printed the interrupted cell's traceback (and "KeyboardInterrupt caught in
    kernel") under the command's one line.
    """
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            # A kernel that has not gone 1 s after its shutdown request is ended: after a
            # Ctrl-C it is busy in the cell it was running (the default 5 s delayed the stop).
            self.shutdown_wait_time = 1.0

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
            kw.setdefault("stdout", subprocess.DEVNULL)
            kw.setdefault("stderr", subprocess.DEVNULL)
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def to_html(executed: Path, out: Path, title: str = "Executive review") -> Path:
    """The executed notebook as one HTML page: outputs only (no code, no prompts), and no
    scripts fetched from the network (the lab template's require.js, MathJax and Mermaid
    blocks are emptied), so the page shows the same offline."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"report.html.j2": OFFLINE_TEMPLATE})],
        template_file="report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    notebook = nbformat.read(executed, as_version=4)
    notebook.metadata["title"] = title
    body, _ = exporter.from_notebook_node(notebook)
    with atomic_file(out) as partial:
        partial.write_text(body, encoding="utf-8")
    return Path(out)
