"""A Markdown cell's translatable messages, and the cell with each one replaced by its translation.

The Chinese edition's catalogues hold one message per block of a page, as
Sphinx's gettext builder extracts it from MyST: a paragraph, heading, list
item's paragraph or table cell is its raw source with its lines joined by
spaces; a display equation (``$$ ... $$``) is its content as it stands. Parsing
a notebook's Markdown cell with the book's own MyST parser gives the same
blocks, each with the lines it spans, so a cell is translated block by block:

>>> translate_markdown("# Title\\n\\nOne line\\nand another.\\n", {"Title": "标题"}.get)
('# 标题\\n\\nOne line\\nand another.\\n', ['One line and another.'])

A paragraph's translation takes its first line (after any list or quote
marker), and the paragraph's other lines go: one line of Chinese per block.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

# The MyST extensions the book enables (_config.yml, parse.myst_enable_extensions).
MYST_EXTENSIONS = frozenset({"amsmath", "colon_fence", "dollarmath", "deflist", "substitution"})
MATH_BLOCKS = {"math_block", "math_block_label", "amsmath"}

Lookup = Callable[[str], "str | None"]


class MarkdownLayoutError(ValueError):
    """A block's text could not be found where the parser says it is."""


@dataclass(frozen=True)
class MessageBlock:
    """One translatable block: its message, and the spans of the cell text it comes from."""

    message: str
    spans: tuple[tuple[int, int], ...]  # one (start, end) per source line of the block
    literal: bool  # an equation: its message keeps its line breaks


@functools.cache
def _parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    return create_md_parser(MdParserConfig(enable_extensions=set(MYST_EXTENSIONS)), RendererHTML)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def blocks(text: str) -> list[MessageBlock]:
    """The translatable blocks of a Markdown text, in order, with where each lies in `text`."""
    starts = _line_starts(text) + [len(text)]
    found, cursor = [], 0
    for token in _parser().parse(text):
        if token.type == "inline" and token.map:
            literal, lines = False, token.content.split("\n")
            message = token.content.replace("\n", " ").strip()
        elif token.type in MATH_BLOCKS and token.map:
            literal, lines, message = True, [token.content], token.content
        else:
            continue
        if not message.strip():
            continue
        cursor = max(cursor, starts[token.map[0]])
        spans = []
        for line in lines:
            line = line.strip() if not literal else line
            at = text.find(line, cursor)
            if at < 0 or at > starts[min(token.map[1], len(starts) - 1)]:
                raise MarkdownLayoutError(f"cannot find {line!r} of block {message[:60]!r}")
            spans.append((at, at + len(line)))
            cursor = at + len(line)
        found.append(MessageBlock(message, tuple(spans), literal))
    return found


def messages(text: str) -> list[str]:
    """The catalogue messages of a Markdown text, in order."""
    return [block.message for block in blocks(text)]


def translate_markdown(text: str, lookup: Lookup) -> tuple[str, list[str]]:
    """`text` with each block replaced by ``lookup(message)``; and the messages left in English.

    ``lookup`` returns a message's translation, or None when it has none: that
    block is left exactly as it was.
    """
    edits, untranslated = [], []
    for block in blocks(text):
        translation = lookup(block.message)
        if translation is None:
            untranslated.append(block.message)
            continue
        if translation == block.message:
            continue
        (start, end), *rest = block.spans
        edits.append((start, end, translation))
        previous_end = end
        for _, line_end in rest:
            # the newline and the list or quote marker before the line go with it
            edits.append((previous_end, line_end, ""))
            previous_end = line_end
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text, untranslated
