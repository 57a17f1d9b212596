"""The executive, analyst and strategist notebooks (papermill-parameterised), as package data.

Run one with :func:`notebooks.report.execute`; ``ctm report`` runs the executive review
and exports it to HTML without code.
"""
