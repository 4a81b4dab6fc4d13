"""Sphinx configuration of jaxcurr's documentation site (``make docs``).

The API pages are written at build time from the package tree and the settings tables from
the kinds' config dataclasses (``_ext/jaxcurr_docs.py``), so neither can drift from the code.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "jaxcurr"
author = "jaxcurr contributors"
copyright = "2025, jaxcurr contributors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "jaxcurr_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "undoc-members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
# Re-exported names (jaxcurr.kinds.Engine is jaxcurr.core.engine.Engine) make a type in a
# signature match two documented targets; the first is the same object, so say nothing.
suppress_warnings = ["ref.python", "myst.header"]  # and REPORT.md's headings skip levels

html_theme = "sphinx_book_theme"
html_title = "jaxcurr"
html_theme_options = {"show_toc_level": 2, "use_download_button": False, "collapse_navbar": True,
                      "max_navbar_depth": 3}
