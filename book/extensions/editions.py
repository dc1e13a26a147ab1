"""The book's two editions, English and Chinese, and the switch between them on every page.

A Sphinx extension (``_config.yml``, ``local_extensions``). The English book is
built into ``_build/html`` and the Chinese one, from the same sources through
Sphinx's gettext catalogues (``locales/zh_CN/LC_MESSAGES``), into
``_build/html/zh``. Every page's header gets a link to the same page in the
other edition.

When Sphinx builds with ``language=zh_CN`` (``make book`` passes ``-D``), the
extension also sets what a Chinese reader needs: search by words that jieba
segments (with the glossary's Chinese terms as its dictionary), "第 3 章" for
a numbered chapter, the theme's search box in Chinese, on a page not yet
translated a note saying so, and on a notebook's page launch buttons (Colab,
Binder) that open the notebook's Chinese copy (in ``notebooks/zh_CN/`` and
``labs/zh_CN/``, which ``python -m utils.teaching.translate`` writes). The
Chinese build and the message extraction read the notebooks' outputs from the
English build's execution cache; they refuse to execute a notebook, so an
edition can never show outputs of a run of its own.
"""

from __future__ import annotations

import csv
import gettext
import posixpath
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from docutils import nodes
from sphinx import addnodes, locale
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError

# The manifest of translated pages: the Chinese edition's contract, enforced by
# tests/test_translation.py.
from utils.i18n import MANIFEST, translated_pages  # noqa: F401 (tests import it from here)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
SWITCH_TEMPLATE = "edition-switch.html"


# Each edition's language, its name in its own language, and where its root
# lies below the English edition's root.
EDITIONS = {
    "en": {"name": "English", "hreflang": "en", "root": ""},
    "zh_CN": {"name": "中文", "hreflang": "zh-CN", "root": "zh/"},
}
COUNTERPART = {"en": "zh_CN", "zh_CN": "en"}


CHINESE = {
    "html_title": "动手学基础模型",
    "author": "本课程作者",
    "html_search_language": "zh",
    "numfig_format": {"section": "第 %s 章", "figure": "图 %s", "table": "表 %s",
                      "code-block": "代码 %s"},
}
SEARCH_BAR_TEXT = "搜索本书……"
NOT_TRANSLATED = "本页尚未译成中文，下面是英文原文。"


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", configure_edition)
    app.add_css_file("editions.css")
    app.connect("builder-inited", refuse_to_execute_outside_the_english_build)
    app.connect("builder-inited", translate_the_themes_strings)
    app.connect("builder-inited", name_the_book_in_the_catalogues)
    app.connect("doctree-read", translate_toctree_captions)
    app.connect("doctree-resolved", note_untranslated_page)
    app.connect("html-page-context", link_counterpart)
    # after the theme's launch buttons (priority 501), which it makes for the English notebook
    app.connect("html-page-context", launch_the_chinese_notebook, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def edition(config: Config) -> str:
    """The edition Sphinx is building: ``en`` unless a translation's language is set."""
    language = config.language or "en"
    if language == "en":
        return "en"
    if language not in EDITIONS:
        raise ExtensionError(f"no edition for language {language!r}; editions: {sorted(EDITIONS)}")
    return language


def configure_edition(app: Sphinx, config: Config) -> None:
    if Path(app.confdir).resolve() != Path(app.srcdir).resolve():
        # A conf.py generated outside the book (the Chinese build's, in _build/zh):
        # the bibliography's paths are the book's, not that folder's.
        config.bibtex_bibfiles = [str(Path(app.srcdir) / path) for path in config.bibtex_bibfiles]
    # first, so that the templates here come before the theme's own of the same name
    config.templates_path = [str(TEMPLATES), *config.templates_path]
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    options = dict(config.html_theme_options)
    header_end = list(options.get("article_header_end", ["article-header-buttons.html"]))
    if SWITCH_TEMPLATE not in header_end:
        header_end.insert(0, SWITCH_TEMPLATE)
    options["article_header_end"] = header_end
    if edition(config) == "zh_CN":
        for name, value in CHINESE.items():
            config[name] = value
        options["search_bar_text"] = SEARCH_BAR_TEXT
        dictionary = write_jieba_dictionary(Path(app.srcdir), Path(app.outdir).parent)
        config.html_search_options = {**config.html_search_options, "dict": str(dictionary)}
    config.html_theme_options = options


def write_jieba_dictionary(root: Path, folder: Path) -> Path:
    """The glossary's Chinese terms as a jieba user dictionary, so search finds them whole."""
    with (root / "book" / "glossary.csv").open(encoding="utf-8") as rows:
        terms = sorted({row["chinese"].strip() for row in csv.DictReader(rows)} - {""})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "jieba-glossary.txt"
    # jieba's user dictionary: "word frequency" per line; it splits on spaces,
    # so a term with a space (such as "Transformer 模型") is entered without it.
    path.write_text("".join(f"{term.replace(' ', '')} 10\n" for term in terms), encoding="utf-8")
    return path


def name_the_book_in_the_catalogues(app: Sphinx) -> None:
    if app.builder.name == "gettext" and app.config.project == "Project name not set":
        app.config.project = app.config.html_title


def catalogue_folder(app: Sphinx) -> Path:
    return Path(app.srcdir) / MANIFEST.rsplit("/", 1)[0] / "LC_MESSAGES"


def translate_the_themes_strings(app: Sphinx) -> None:
    """The book theme's strings that its own Chinese catalogue lacks or gives in another usage.

    Sphinx's own domain (``sphinx.po`` beside the pages' catalogues) already takes
    precedence over Sphinx's and the themes' translations; the book theme's domain
    (``booktheme.po``) is put in front of the theme's catalogue here.
    """
    if edition(app.config) == "en":
        return
    source = catalogue_folder(app) / "booktheme.po"
    if not source.exists():
        return
    compiled = Path(app.outdir).parent / "booktheme.mo"
    with source.open("rb") as po, compiled.open("wb") as mo:
        write_mo(mo, read_po(po))
    with compiled.open("rb") as mo:
        ours = gettext.GNUTranslations(mo)
    key = ("general", "booktheme")
    if key in locale.translators:
        ours.add_fallback(locale.translators[key])
    locale.translators[key] = ours


def translate_toctree_captions(app: Sphinx, doctree: nodes.document) -> None:
    """The parts' captions (_toc.yml), which the toctrees get after Sphinx translated the page."""
    if edition(app.config) == "en":
        return
    catalogue = catalogue_folder(app) / f"{app.env.docname}.po"
    if not catalogue.exists():
        return
    with catalogue.open("rb") as po:
        translations = {m.id: m.string for m in read_po(po) if m.id and m.string and not m.fuzzy}
    for toctree in doctree.findall(addnodes.toctree):
        caption = toctree.get("caption")
        if caption in translations:
            toctree["caption"] = translations[caption]


def refuse_to_execute_outside_the_english_build(app: Sphinx) -> None:
    """Make a cache miss an error, not a second execution, in every build but the English one."""
    if edition(app.config) == "en" and app.builder.name != "gettext":
        return
    from myst_nb.core.execute import cache

    def refuse(notebook, cwd, **kwargs):
        raise RuntimeError(
            "this build reuses the English build's executed notebooks, and a notebook "
            f"(run in {cwd}) is not in the execution cache {app.config.nb_execution_cache_path!r}: "
            "build the English book first (make book)"
        )

    cache.single_nb_execution = refuse


def note_untranslated_page(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if edition(app.config) == "en" or app.builder.format != "html":
        return
    if docname in translated_pages(Path(app.srcdir)):
        return
    section = doctree.next_node(nodes.section)
    if section is None:
        return
    note = nodes.note("", nodes.paragraph("", NOT_TRANSLATED), classes=["edition-untranslated"])
    title_at = next((i for i, child in enumerate(section.children)
                     if isinstance(child, nodes.title)), -1)
    section.insert(title_at + 1, note)


def counterpart_url(pagename: str, suffix: str, language: str) -> str:
    """The relative URL from ``pagename`` in ``language``'s edition to that page in the other."""
    here, there = EDITIONS[language], EDITIONS[COUNTERPART[language]]
    depth = pagename.count("/") + here["root"].count("/")
    return posixpath.join(*([".."] * depth or ["."]), there["root"] + pagename + suffix)


def link_counterpart(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    language = edition(app.config)
    other = EDITIONS[COUNTERPART[language]]
    context["edition_counterpart"] = {
        "url": counterpart_url(pagename, app.builder.link_suffix, language),
        "name": other["name"],
        "hreflang": other["hreflang"],
    }


def chinese_launch_url(url: str, notebook: str, root: Path) -> str:
    """A launch button's URL for `notebook` (path in the repository) made to open its Chinese copy.

    Colab's and Binder's URLs end with the notebook's path; a notebook without a
    Chinese copy keeps its English link.
    """
    from utils.teaching.translate import chinese_path

    chinese = chinese_path(Path(notebook))
    if not url.endswith(notebook) or not (root / chinese).is_file():
        return url
    return url[: -len(notebook)] + chinese.as_posix()


def launch_the_chinese_notebook(app: Sphinx, pagename: str, templatename: str, context: dict,
                                doctree) -> None:
    """In the Chinese edition, the launch buttons of a notebook's page open its Chinese copy."""
    if edition(app.config) == "en":
        return
    prefix = app.config.html_theme_options.get("path_to_docs", "").strip("/")
    notebook = posixpath.join(prefix, f"{pagename}.ipynb")
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if "url" in button:
                button["url"] = chinese_launch_url(button["url"], notebook, Path(app.srcdir))
