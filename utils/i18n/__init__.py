"""The language the course's messages speak: English, or Simplified Chinese.

A check's verdict, the grader's report and a parameter's error reach the
student in the language of the notebook they opened. The Chinese notebooks'
set-up cell calls ``set_language("zh_CN")``, the English ones
``set_language("en")``; the grader takes ``--language``. Without a call the
language is ``$COURSE_LANGUAGE``, else English. Messages are marked in the code
with ``_("...")`` (Python's `gettext`); their Chinese lives in
``utils/i18n/locale/zh_CN/LC_MESSAGES/course.po``, compiled next to it into the
``course.mo`` that `gettext` reads, so a pip-installed package carries it.
A message with values is a template, ``_("{n} cases failed").format(n=n)``, so
the translator can move the value where Chinese puts it. A message kept in a
module-level constant is marked ``N_("...")`` (found by extraction, left as it
is) and translated where it is used, ``_(CONSTANT)``: at import time the
notebook has not chosen its language yet. ``python -m utils.i18n.catalogue``
brings the catalogue up to date with the code and compiles it.

Layer: the bottom one; imports nothing from ``utils``.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

__all__ = ["LANGUAGES", "LOCALE_DIR", "DOMAIN", "N_", "_", "language", "set_language"]

LANGUAGES = ("en", "zh_CN")
DOMAIN = "course"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGE_ENV = "COURSE_LANGUAGE"
# The pages of the Chinese edition declared translated, relative to the repository root.
MANIFEST = "locales/zh_CN/translated.txt"

_current: dict[str, object] = {}


def set_language(code: str) -> None:
    """Speak `code` ("en" or "zh_CN") from now on, in this process."""
    if code not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {code!r}")
    if code == "en":
        translations: gettext.NullTranslations = gettext.NullTranslations()
    else:
        # fallback=False: a Chinese notebook whose catalogue is missing fails loudly.
        translations = gettext.translation(DOMAIN, LOCALE_DIR, languages=[code])
    _current.update(code=code, translations=translations)


def language() -> str:
    """The language messages are in now."""
    if not _current:
        set_language(os.environ.get(LANGUAGE_ENV) or "en")
    return str(_current["code"])


def _(message: str) -> str:
    """`message` in the current language (itself where it has no translation)."""
    language()
    return _current["translations"].gettext(message)  # type: ignore[union-attr]


def N_(message: str) -> str:
    """Mark `message` for the catalogue without translating it (a constant; `_` it at use)."""
    return message


def translated_pages(root: Path) -> list[str]:
    """The manifest's document names, one per line, in order; ``#`` starts a comment."""
    path = Path(root) / MANIFEST
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]
