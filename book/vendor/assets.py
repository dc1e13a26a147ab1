"""The book's JavaScript, served by the book itself so that its pages work offline.

MathJax 3, mermaid, require.js and the Jupyter widgets manager come from the
npm registry, pinned by `package-lock.json` in this folder. `make book` (and
`make test`) install them with `npm ci` whenever the lock changes, then run

    python book/vendor/assets.py

which copies the files the pages use from `node_modules/` into `static/vendor/`
(both ignored by git). As a Sphinx extension (`_config.yml`, `local_extensions`)
this module points Sphinx at those copies. Where they are missing (no npm on
the machine) or `BOOK_ASSETS=cdn` is set, it says so and leaves Sphinx's
defaults: the pages then load the same libraries from public CDNs.
"""

from __future__ import annotations

import os
import shutil
import sys
from fnmatch import fnmatch
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
STATIC = HERE / "static"  # becomes _build/html/_static/ (html_static_path)
STAMP = STATIC / "vendor" / ".complete"

# Destination under static/vendor/: (package folder under node_modules/,
# files to copy, relative to it; a trailing "/**" copies a whole folder).
# Source maps and bundles the pages never load are left out.
FILES = {
    "mathjax": ("mathjax/es5", [
        "tex-mml-chtml.js",
        "input/**",  # TeX extensions that autoload loads on demand
        "output/chtml/**",  # the CHTML fonts
        "a11y/**",  # accessibility: assistive MathML, the explorer
        "sre/**",  # speech rule engine, loaded by the explorer
        "ui/**",  # the menu's lazy parts
        "adaptors/**",
    ]),
    "mermaid": ("mermaid/dist", [
        "mermaid.esm.min.mjs",
        "chunks/mermaid.esm.min/*.mjs",  # the diagram types it imports lazily
    ]),
    "requirejs": ("requirejs", ["require.js"]),
    "html-manager": ("@jupyter-widgets/html-manager/dist", [
        "embed-amd.js",
        "*.woff2", "*.woff", "*.ttf", "*.eot", "*.svg",  # fonts its CSS refers to
    ]),
}

# Where the pages find them, relative to _static/ (Sphinx's convention).
MATHJAX = "vendor/mathjax/tex-mml-chtml.js"
MERMAID = "vendor/mermaid/mermaid.esm.min.mjs"
WIDGETS_JS = {
    "vendor/requirejs/require.js": {},
    # Widgets outside ipywidgets' own set would still be fetched from this
    # base; the course uses only ipywidgets' controls, which are bundled.
    "vendor/html-manager/embed-amd.js": {"data-jupyter-widgets-cdn": "vendor/"},
}


def _matches(relative: str, pattern: str) -> bool:
    if pattern.endswith("/**"):
        return relative.startswith(pattern[:-2])
    return fnmatch(relative, pattern) and relative.count("/") == pattern.count("/")


def copy_assets() -> int:
    """Copy the vendored files from node_modules/ to static/vendor/; return how many."""
    if STATIC.exists():
        shutil.rmtree(STATIC)
    count = 0
    for dest, (package, patterns) in FILES.items():
        source = NODE_MODULES / package
        if not source.is_dir():
            raise FileNotFoundError(f"{source} is missing; run `npm ci` in {HERE}")
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source).as_posix()
            if path.is_file() and not relative.endswith(".map") and any(
                    _matches(relative, p) for p in patterns):
                target = STATIC / "vendor" / dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                count += 1
    STAMP.write_text("copied by book/vendor/assets.py\n", encoding="utf-8")
    return count


def local_assets_available() -> bool:
    """Whether the vendored copies are in place and not switched off."""
    return STAMP.is_file() and os.environ.get("BOOK_ASSETS", "local") != "cdn"


def _use_local_assets(app, config) -> None:
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    if not local_assets_available():
        reason = ("BOOK_ASSETS=cdn is set" if STAMP.is_file()
                  else f"{STATIC.relative_to(HERE.parent.parent)} is missing (npm not run)")
        logger.info(f"\nbook assets: {reason}; the pages will load MathJax, mermaid and "
                    "the widgets manager from public CDNs and need the internet.\n")
        return
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    config.mathjax_path = MATHJAX
    config.mermaid_use_local = MERMAID
    config.nb_ipywidgets_js = WIDGETS_JS
    logger.info("book assets: MathJax, mermaid and the widgets manager served from "
                "_static/vendor/ (the pages load nothing from the internet)")


def setup(app):
    """Sphinx extension: serve the vendored assets when they are there."""
    app.connect("config-inited", _use_local_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    try:
        n = copy_assets()
    except FileNotFoundError as error:
        sys.exit(str(error))
    print(f"book assets: copied {n} files to {STATIC.relative_to(HERE.parent.parent)}/vendor")
