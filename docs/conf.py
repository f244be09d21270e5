"""Sphinx configuration of the lightning-gans site: MyST Markdown pages, furo, autodoc + napoleon for the API
reference, and the site's own directives (``_ext/lightning_gans_docs.py``) that read every results table from
``benchmarks/results/*.json`` and every registered part from the entry points at build time.

Build: ``nox -s docs`` (or ``sphinx-build -W --keep-going -b html docs docs/_build/html``).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the package itself, when it is not installed (it is, in CI)

import lightning_gans  # noqa: E402

project = "lightning-gans"
author = "lightning-gans contributors"
copyright = "lightning-gans contributors, MIT licence"
release = version = lightning_gans.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "lightning_gans_docs",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
smartquotes = False  # "--config" stays two hyphens in commands quoted from the results files

# the API reference: the docstrings, in source order, with the signature's types in the description
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "description"
autodoc_class_signature = "separated"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# the library's own docstrings quote code with ``double backquotes``; they are plain reST, and render as such
suppress_warnings: list[str] = []
# the overridden Lightning hooks would show Lightning's own docstrings (and their cross-references to its site)
autodoc_inherit_docstrings = False

html_theme = "furo"
html_title = f"lightning-gans {release}"
html_static_path = ["_static"]
html_css_files = ["lightning-gans.css"]
html_show_sourcelink = False
