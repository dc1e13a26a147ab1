"""The parameters' help in Chinese: ``locales/zh_CN/LC_MESSAGES/parameters.po``.

A notebook's parameters cell documents each parameter in a comment on its line,
``seed: int = 0  # seed of the generated corpus (an integer, at least 0)``;
papermill lists that comment as the parameter's help (``papermill
--help-notebook``), and the Chinese copy of the notebook carries its Chinese.
The help comments of every English notebook are this catalogue's messages.
``updated_catalogue`` brings the catalogue up to date as the checks' catalogue
is (``utils.i18n.catalogue.brought_up_to_date``) and as ``sphinx-intl update``
does a page's: a help that is new gets an empty translation, or a fuzzy one
when it is close to a help that went; a help that went is dropped.
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Callable
from pathlib import Path

PROJECT = "Foundation Models, Hands-On"
LANGUAGE = "zh_CN"


def parameter_help(source: str) -> list[tuple[int, int, str]]:
    """The help comments of a parameters cell: (line index, column of the ``#``, help text).

    >>> parameter_help('seed: int = 0  # seed of the corpus (integer, at least 0)')
    [(0, 15, 'seed of the corpus (integer, at least 0)')]
    """
    comments = [token for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT]
    return [(token.start[0] - 1, token.start[1], token.string.lstrip("#").strip())
            for token in comments]


def translate_parameters(source: str, lookup: Callable[[str], str | None]) -> tuple[str, list[str]]:
    """A parameters cell with each help comment translated; and the helps left in English."""
    lines, untranslated = source.split("\n"), []
    for index, column, help_text in parameter_help(source):
        translation = lookup(help_text)
        if translation is None:
            untranslated.append(help_text)
        else:
            lines[index] = f"{lines[index][:column]}# {translation}"
    return "\n".join(lines), untranslated


def read_catalogue(path: Path):
    from babel.messages.pofile import read_po

    with path.open("rb") as file:
        return read_po(file)


def catalogue_text(catalogue) -> str:
    """A catalogue as its .po file, lines unwrapped, as ``make translations`` writes the pages'."""
    from babel.messages.pofile import write_po

    buffer = io.BytesIO()
    write_po(buffer, catalogue, width=-1, ignore_obsolete=True)
    return buffer.getvalue().decode("utf-8")


def updated_catalogue(path: Path, helps: dict[str, list[str]]):
    """The catalogue at `path` (if any) brought up to date with `helps` (help -> notebooks)."""
    from babel.messages.catalog import Catalog

    from utils.i18n.catalogue import brought_up_to_date

    existing = (read_catalogue(path) if path.exists()
                else Catalog(locale=LANGUAGE, project=PROJECT, fuzzy=False))
    template = Catalog(project=PROJECT, fuzzy=False)
    for help_text, notebooks in helps.items():
        template.add(help_text, locations=[(notebook, None) for notebook in notebooks])
    return brought_up_to_date(existing, template)
