"""``python -m cli``: the ``ctm`` command."""

from cli.app import app

app()
