"""The first cell of every notebook: set-up for Google Colab, a no-op elsewhere.

The course's notebooks import the `utils` package. In JupyterLab, the book and
the tests it is installed in the virtual environment; in a fresh Colab runtime
it is missing, and the first cell installs it from the course repository with
`--no-deps`, so Colab's own torch, numpy and matplotlib are never replaced
(Colab already ships every dependency the package needs). The text of that cell
is kept here so a test can check every notebook carries the same one.
"""

REPOSITORY_URL = "https://github.com/fm-hands-on/course"

SETUP_CELL = f'''\
# Set-up: in Google Colab, install the course's `utils` package (never touching
# Colab's torch); everywhere else this cell does nothing.
import importlib.util
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("utils") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "git+{REPOSITORY_URL}"], check=True)'''
