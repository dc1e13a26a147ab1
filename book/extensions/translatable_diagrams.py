"""Diagrams whose labels are messages of their page, so the Chinese edition draws them in Chinese.

A Sphinx extension (``_config.yml``, ``local_extensions``). Sphinx translates the
nodes it knows as text; a mermaid diagram is a node holding source code, so
its labels would stay English on a Chinese page. This extension makes every
mermaid node translatable: each label (a node's text ``A[...]`` or
``A["..."]``, an edge's ``-- "..." -->`` or ``|...|``) becomes one message,
extracted by the gettext builder with the page's other messages, and the
Chinese build writes the translated label back into the diagram's code. The
diagram's structure (its ids, arrows, line breaks ``<br>``) is left as it is.
"""

from __future__ import annotations

import re

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinxcontrib import mermaid as mermaid_extension

# The text of a node's box (quoted or not), of a quoted edge label, of a |piped| one.
LABEL = re.compile(r'\[\s*"?(?P<box>[^\]"]+?)"?\s*\]'
                   r'|--\s*"(?P<edge>[^"]+)"\s*-->'
                   r'|\|(?P<pipe>[^|]+)\|')


def labels(code: str) -> list[str]:
    """The diagram's labels, in order, each once."""
    found = [next(text for text in match.groups() if text) for match in LABEL.finditer(code)]
    return list(dict.fromkeys(label.strip() for label in found))


def replace_label(code: str, original: str, translated: str) -> str:
    """The diagram's code with every label `original` written as `translated`."""
    def swap(match: re.Match) -> str:
        group = next(name for name, text in match.groupdict().items() if text)
        if match.group(group).strip() != original:
            return match.group(0)
        start, end = match.span(group)
        whole = match.group(0)
        offset = match.start()
        return whole[:start - offset] + translated + whole[end - offset:]
    return LABEL.sub(swap, code)


# Named like the node it replaces, because docutils finds a node's HTML (and LaTeX)
# writer by the class's name: sphinxcontrib-mermaid's visitors render this one unchanged.
class mermaid(mermaid_extension.mermaid, addnodes.translatable):  # noqa: N801
    """A mermaid diagram whose labels are translatable messages."""

    def preserve_original_messages(self) -> None:
        self["original_code"] = self["code"]

    def extract_original_messages(self) -> list[str]:
        return labels(self.get("original_code", self["code"]))

    def apply_translated_message(self, original_message: str, translated_message: str) -> None:
        self["code"] = replace_label(self["code"], original_message, translated_message)


class MakeDiagramsTranslatable(SphinxTransform):
    """Turn each mermaid node into the translatable kind, before Sphinx preserves messages."""

    default_priority = 5  # before PreserveTranslatableMessages (10) and Locale (20)

    def apply(self, **kwargs) -> None:
        for node in list(self.document.findall(mermaid_extension.mermaid)):
            node.__class__ = mermaid


def setup(app: Sphinx) -> dict:
    app.add_transform(MakeDiagramsTranslatable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
