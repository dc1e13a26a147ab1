"""The first cell of every notebook: set-up for Google Colab, a no-op elsewhere.

The course's notebooks import the `utils` package. In JupyterLab, the book and
the tests it is installed in the virtual environment; in a fresh Colab runtime
it is missing, and the first cell installs it, at the fixed version
`COURSE_VERSION`, from the course repository. The cell looks for the course's
own distribution (`DISTRIBUTION`), not for any module that happens to be called
`utils`. pip keeps Colab's own torch, numpy and matplotlib, which satisfy the
package's ranges. The text of the cell is kept here so a test can check every
notebook carries the same one.
"""

REPOSITORY_URL = "https://github.com/fm-hands-on/course"
DISTRIBUTION = "foundation-models-hands-on"
COURSE_VERSION = "0.2.0"  # the git tag v0.2.0; must equal pyproject.toml's version (tested)

SETUP_CELL = f'''\
# Set-up: in Google Colab, install the course's `utils` package at a fixed
# version (keeping Colab's torch); everywhere else this cell does nothing.
import importlib.metadata
import subprocess
import sys

try:
    importlib.metadata.version("{DISTRIBUTION}")
except importlib.metadata.PackageNotFoundError:
    if "google.colab" in sys.modules:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "git+{REPOSITORY_URL}@v{COURSE_VERSION}"], check=True)'''
