"""The first cell of every notebook: set-up for Google Colab, a no-op elsewhere.

The course's notebooks import the `utils` package. In JupyterLab, the book and
the tests it is installed in the virtual environment; in a fresh Colab runtime
it is missing, and the first cell installs it, at the fixed version
`COURSE_VERSION`, from the course repository. The cell looks for the course's
own distribution (`DISTRIBUTION`), not for any module that happens to be called
`utils`. pip keeps Colab's own torch, numpy and matplotlib, which satisfy the
package's ranges. The cell then sets the language of the course's messages (a
check's verdict, a parameter's error): `set_language("en")` in the English
notebooks, `set_language("zh_CN")` in their Chinese copies, which
`python -m utils.teaching.translate` writes. The text of the cell is kept here
so a test can check every notebook carries the same one.
"""

REPOSITORY_URL = "https://github.com/fm-hands-on/course"
DISTRIBUTION = "foundation-models-hands-on"
COURSE_VERSION = "0.3.0"  # the git tag v0.3.0; must equal pyproject.toml's version (tested)

# The set-up cell's last line, per language: the one line in which a Chinese
# notebook's set-up differs from the English one.
LANGUAGE_LINES = {
    "en": 'set_language("en")  # checks and parameter errors in English; '
          'the Chinese notebook: "zh_CN"',
    "zh_CN": 'set_language("zh_CN")  # 检查结果与参数错误用中文显示；英文版笔记本中为 "en"',
}


def setup_cell(language: str = "en") -> str:
    """The set-up cell of a notebook in `language` ("en" or "zh_CN")."""
    return f'''\
# Set-up: in Google Colab, install the course's `utils` package at a fixed
# version (keeping Colab's torch); everywhere else only the language is set.
import importlib.metadata
import subprocess
import sys

try:
    importlib.metadata.version("{DISTRIBUTION}")
except importlib.metadata.PackageNotFoundError:
    if "google.colab" in sys.modules:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "git+{REPOSITORY_URL}@v{COURSE_VERSION}"], check=True)

from utils.i18n import set_language

{LANGUAGE_LINES[language]}'''


SETUP_CELL = setup_cell("en")
