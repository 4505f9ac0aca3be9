"""Sphinx configuration of the course site (built by site/build.py, `make site`).

Sphinx + MyST-NB render the executed lectures and the exercise releases; Furo gives a layout that
works on a phone. Nothing is loaded from the network when a page is read: MathJax is served from
the site's own _static/mathjax (sphinx-mathjax-offline ships MathJax 3 in its wheel), and the
ipywidgets embedding scripts, which MyST-NB would fetch from a CDN, are switched off (a static page
has no kernel to drive widgets).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anchors import jupyterlab_slug

project = "Artificial Neural Networks"
author = "the course authors"
copyright = "the course authors, MIT licence"

extensions = [
    "myst_nb",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # copies MathJax 3 into _static/mathjax after the build
    "a11y",  # site/a11y.py: heading levels, keyboard-scrollable code, named landmarks
]
mathjax_path = "mathjax/tex-chtml.js"  # relative to _static: the local copy, never a CDN

root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# MyST: $...$ / $$...$$ maths and LaTeX environments, as Jupyter renders them.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_dmath_double_inline = True  # $$...$$ inside a paragraph, as the lectures write it
myst_heading_anchors = 3
myst_heading_slug_func = jupyterlab_slug  # the lectures link to #Recurrent-layers etc.
suppress_warnings = ["config.cache"]  # the slug function is not cached; every build is fresh

# Executing notebooks: the lectures once per build; the exercises never (their stubs raise
# NotImplementedError). A lecture that raises fails the build instead of publishing a traceback.
nb_execution_mode = "force"
nb_execution_excludepatterns = ["exercises/*/*.ipynb"]
nb_execution_timeout = 120
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# No widget JavaScript (MyST-NB would load it from a CDN): a static page has no kernel to drive a
# widget, so widget outputs (tqdm's progress bars) stay out of sight instead of showing their text
# form, which is their first state ("0%| 0/40").
nb_ipywidgets_js = {}

html_theme = "furo"
html_static_path = ["_static"]  # relative to site/
html_css_files = ["a11y.css"]  # a visible keyboard focus on Furo's search box
html_title = "Artificial Neural Networks"
html_copy_source = False
html_show_sourcelink = False
html_show_sphinx = False
html_last_updated_fmt = None
