"""The Chinese edition cannot lag the English one on the pages it declares translated.

``make book`` (through ``make translations``) extracts the English messages and
brings the catalogues ``locales/zh_CN/LC_MESSAGES/**.po`` up to date, so a
changed English sentence becomes an untranslated or fuzzy message there. On the
pages that ``locales/zh_CN/translated.txt`` lists, these tests then fail; the
other pages' progress is reported, not enforced. A translated message must also
use the glossary's Chinese term (``book/glossary.csv``) wherever its English
uses the glossary's English one.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import warnings
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "extensions"))
from editions import counterpart_url, translated_pages  # noqa: E402

CATALOGUES = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
GLOSSARY = ROOT / "book" / "glossary.csv"
GLOSSARY_PAGE = "book/glossary"
TRANSLATED = translated_pages(ROOT)
# Catalogues of the theme's and Sphinx's own strings, not of a page; always complete.
THEME_CATALOGUES = ["sphinx", "booktheme"]
# The notebooks' parameter help, kept by utils/teaching/translate.py, not of a page.
NOTEBOOK_CATALOGUES = ["parameters"]

# The short allowance: other Chinese renderings accepted for an English term,
# besides the glossary's own. In running text "Transformer" alone is the usual
# Chinese name; the glossary's "Transformer 模型" is the term's full form. An
# acronym (LSTM, DP-SGD, AUROC) is also accepted as itself: Chinese textbooks write
# 长短期记忆网络（LSTM） once, then the acronym.
ACRONYM = re.compile(r"[A-Z][A-Z0-9-]+")
ALSO_ACCEPTED = {"Transformer": ("Transformer",)}
# Pages where an English term is used in another sense than the glossary's, so its
# Chinese term would be wrong there: the page's catalogue is exempt for that term.
OTHER_SENSE = {
    # numerical precision (float32, bfloat16), not the classifier's metric 精确率
    "book/performance": {"precision"},
    "notebooks/04_transformer": {"precision"},  # "double precision"
    "labs/solutions/00_warmup": {"precision"},  # "loses precision"
}

# What in a message is not prose: inline code, mathematics, and roles whose text is
# a target (a citation key, a label, a document path).
NOT_PROSE = re.compile(r"`[^`]*`|\{(?:cite|numref|ref|doc|eq|download)(?::\w+)?\}`[^`]*`"
                       r"|\$\$.*?\$\$|\$[^$]+\$", re.S)


def catalogue(docname: str) -> Catalog:
    with (CATALOGUES / f"{docname}.po").open("rb") as file:
        return read_po(file)


def messages(docname: str) -> list[Message]:
    return [message for message in catalogue(docname) if message.id]


def is_language(text: str) -> bool:
    """Whether a message has words to translate; a number or a symbol reads the same."""
    return bool(re.search(r"[^\W\d_]", text))


def source_of(docname: str) -> Path:
    matches = [path for path in ROOT.glob(f"{docname}.*") if path.suffix in {".md", ".ipynb"}]
    assert matches, f"{docname} is in the manifest but there is no such page"
    return matches[0]


def source_text(docname: str) -> str:
    """The page's text as written: a notebook's cells joined, not its JSON with escapes."""
    path = source_of(docname)
    if path.suffix != ".ipynb":
        text = path.read_text(encoding="utf-8")
        # a table's cells from a file (``:file:`` of a csv-table) are the page's text too
        included = re.findall(r"^:file:\s*(\S+)", text, re.M)
        return "\n".join([text, *((path.parent / name).read_text(encoding="utf-8")
                                   for name in included)])
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    # a figure's caption is written in its code cell's metadata (mystnb: figure: caption)
    captions = [cell["metadata"].get("mystnb", {}).get("figure", {}).get("caption", "")
                for cell in cells]
    return "\n\n".join(["".join(cell["source"]) for cell in cells] + captions)


def glossary() -> list[tuple[str, str]]:
    with GLOSSARY.open(encoding="utf-8") as rows:
        return [(row["term"], row["chinese"]) for row in csv.DictReader(rows)]


def term_pattern(term: str) -> re.Pattern:
    """The English term as a word, in the singular or plural; case matters for names like LSTM."""
    flags = 0 if any(char.isupper() for char in term) else re.IGNORECASE
    return re.compile(rf"(?<![\w-]){re.escape(term)}(?:s|es)?(?![\w-])", flags)


def missing_terms(english: str, chinese: str, terms: list[tuple[str, str]]) -> list[str]:
    """The glossary terms the English message uses and its translation does not."""
    prose = NOT_PROSE.sub(" ", english)
    chinese_text = chinese.replace(" ", "")
    missing = []
    for term, name in terms:
        if not term_pattern(term).search(prose):
            continue
        accepted = (name, *ALSO_ACCEPTED.get(term, ()))
        if ACRONYM.fullmatch(term):
            accepted += (term,)
        if not any(form.replace(" ", "") in chinese_text for form in accepted):
            missing.append(f"{term} → {name}")
    return missing


def test_the_manifest_lists_pages_that_have_catalogues():
    assert TRANSLATED, "locales/zh_CN/translated.txt lists no page"
    for docname in TRANSLATED:
        source_of(docname)
        assert (CATALOGUES / f"{docname}.po").is_file(), (
            f"{docname} is declared translated but has no catalogue: run make translations")


@pytest.mark.parametrize("docname", TRANSLATED + THEME_CATALOGUES)
def test_every_message_of_a_translated_page_is_translated_and_not_fuzzy(docname):
    problems = [f"{'fuzzy' if message.fuzzy else 'untranslated'}: {message.id[:100]!r}"
                for message in messages(docname)
                if message.fuzzy or (not message.string and is_language(message.id))]
    assert not problems, (
        f"{docname} is declared translated (locales/zh_CN/translated.txt) but its catalogue "
        f"has {len(problems)} message(s) to translate or confirm:\n" + "\n".join(problems))


@pytest.mark.parametrize("docname", TRANSLATED)
def test_a_translated_pages_catalogue_matches_its_english_text(docname):
    """Every English message is still in the page: a sentence edited since the catalogue
    was updated fails here, before ``make translations`` turns it into a fuzzy message."""
    # The root page's catalogue also holds the table of contents' part captions.
    text = source_text(docname) + (ROOT / "_toc.yml").read_text()
    source = " ".join(text.split())
    # a table cell's escaped pipe reaches the catalogue unescaped (but \| in maths stays)
    unescaped = source.replace("\\|", "|")
    stale = [message.id[:100] for message in messages(docname)
             if not any(" ".join(message.id.split()) in text for text in (source, unescaped))]
    assert not stale, (f"{docname}'s English changed since its catalogue was updated "
                       "(run make translations, then translate):\n" + "\n".join(stale))


@pytest.mark.parametrize("docname", TRANSLATED)
def test_a_translated_page_uses_the_glossarys_chinese_terms(docname):
    terms = [(term, name) for term, name in glossary()
             if term not in OTHER_SENSE.get(docname, set())]
    english_names = {term for term, _ in terms} | {name for _, name in terms}
    problems = []
    for message in messages(docname):
        if docname == GLOSSARY_PAGE and message.id in english_names:
            # A glossary entry's own names stay as they are, in both languages.
            if message.string != message.id:
                problems.append(f"{message.id!r}: a term's name is kept, not translated")
            continue
        missing = missing_terms(message.id, message.string, terms)
        if missing:
            problems.append(f"{message.id[:80]!r}: {', '.join(missing)}")
    assert not problems, "translations not using the glossary's terms:\n" + "\n".join(problems)


def test_the_terminology_check_catches_a_wrong_term():
    terms = [("foundation model", "基础模型"), ("fine-tuning", "微调"), ("LSTM", "长短期记忆网络")]
    assert missing_terms("Two foundation models.", "两个基座模型。", terms) == [
        "foundation model → 基础模型"]
    assert missing_terms("Two foundation models.", "两个基础模型。", terms) == []
    assert missing_terms("Fine-tuning helps.", "精调有帮助。", terms) == ["fine-tuning → 微调"]
    # Citation keys, labels and code are not prose; "lstm" in lower case is not the name.
    assert missing_terms("See {numref}`ch-lstm` and `lstm_model`.", "见第 4 章。", terms) == []
    assert missing_terms("An LSTM.", "一个长短时记忆网络。", terms) == ["LSTM → 长短期记忆网络"]
    # An acronym may stand as itself; a word may not.
    assert missing_terms("An LSTM.", "一个 LSTM。", terms) == []
    assert missing_terms("Fine-tuning helps.", "Fine-tuning 有帮助。", terms) == [
        "fine-tuning → 微调"]


def test_every_page_of_the_book_is_declared_translated():
    """The whole book is in Chinese: a new page lands with its translation."""
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    pages = re.findall(r"^\s*(?:root|- file):\s*(\S+)", toc, re.M)
    assert len(pages) > 40, "the table of contents was not read"
    missing = sorted(set(pages) - set(TRANSLATED))
    assert not missing, ("pages not in locales/zh_CN/translated.txt: translate their catalogues "
                         "(make translations writes them) and list them: " + ", ".join(missing))


def test_every_catalogue_belongs_to_a_page_and_progress_is_reported():
    """Catalogues of removed pages are an error; the untranslated rest is reported."""
    orphans, untranslated = [], []
    for path in sorted(CATALOGUES.rglob("*.po")):
        docname = path.relative_to(CATALOGUES).with_suffix("").as_posix()
        if docname in THEME_CATALOGUES + NOTEBOOK_CATALOGUES:
            continue
        if not any(ROOT.glob(f"{docname}.md")) and not any(ROOT.glob(f"{docname}.ipynb")):
            orphans.append(docname)
            continue
        if docname in TRANSLATED:
            continue
        found = messages(docname)
        done = sum(1 for message in found if message.string and not message.fuzzy)
        untranslated.append(f"{docname}: {done}/{len(found)}")
    assert not orphans, f"catalogues of pages that no longer exist: {orphans}"
    if untranslated:
        warnings.warn("Chinese edition, pages not yet declared translated (translated/total): "
                      + "; ".join(untranslated), stacklevel=1)


def test_the_language_switch_links_each_page_to_its_counterpart():
    assert counterpart_url("index", ".html", "en") == "./zh/index.html"
    assert counterpart_url("book/index", ".html", "en") == "../zh/book/index.html"
    assert counterpart_url("book/index", ".html", "zh_CN") == "../../book/index.html"
    assert counterpart_url("index", ".html", "zh_CN") == "../index.html"


ZH_HTML = ROOT / "_build" / "html" / "zh"


@pytest.mark.skipif(not (ZH_HTML / "book" / "index.html").exists(),
                    reason="the Chinese edition is not built (make book builds it)")
@pytest.mark.parametrize("docname", TRANSLATED)
def test_the_built_chinese_page_is_in_chinese_and_links_back(docname):
    page = (ZH_HTML / f"{docname}.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in page or "<html lang='zh-CN'" in page
    link = re.search(r'href="([^"]+)"[^>]*hreflang="en"', page)
    assert link, "no link to the English page"
    assert (ZH_HTML / f"{docname}.html").parent.joinpath(link.group(1)).resolve().is_file()
    english = (ZH_HTML.parent / f"{docname}.html").read_text(encoding="utf-8")
    assert 'hreflang="zh-CN"' in english, "the English page has no link to the Chinese one"
    assert "本页尚未译成中文" not in page
    # The theme's own strings are Chinese too.
    assert "搜索" in page and "Search this book" not in page


def test_the_chinese_build_refuses_to_execute_a_notebook(monkeypatch):
    """A notebook missing from the English build's cache is an error there, not a second run."""
    from types import SimpleNamespace

    from editions import refuse_to_execute_outside_the_english_build
    from myst_nb.core.execute import cache

    monkeypatch.setattr(cache, "single_nb_execution", cache.single_nb_execution)
    english = SimpleNamespace(config=SimpleNamespace(language="en", nb_execution_cache_path=""),
                              builder=SimpleNamespace(name="html"))
    refuse_to_execute_outside_the_english_build(english)
    assert cache.single_nb_execution.__name__ == "single_nb_execution"
    chinese = SimpleNamespace(config=SimpleNamespace(language="zh_CN", nb_execution_cache_path="c"),
                              builder=SimpleNamespace(name="html"))
    refuse_to_execute_outside_the_english_build(chinese)
    with pytest.raises(RuntimeError, match="reuses the English build's executed notebooks"):
        cache.single_nb_execution(None, cwd="notebooks")


def test_only_messages_with_words_need_a_translation():
    assert not any(map(is_language, ["15042", "1.07", "0.35×", "—", "64 × 8 = 512"]))
    assert all(map(is_language, ["metric", "精确率", "3 runs", "ratio or note"]))
