"""Heading anchors as JupyterLab makes them, for the course site (site/conf.py).

A module of its own so that Sphinx can pickle the function by name with its build environment.
"""


def jupyterlab_slug(title: str) -> str:
    """The anchor JupyterLab gives a heading (spaces become hyphens, case and punctuation stay),
    so that the lectures' links to their own sections, e.g. `#Recurrent-layers`, work on the site
    as they do in JupyterLab."""
    return title.strip().replace(" ", "-")
