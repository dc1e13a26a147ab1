"""The Chinese copies of the notebooks and labs (``python -m utils.teaching.translate``).

They are up to date with the English notebooks and the catalogues; their code
is the English code but for the set-up cell's language line and the
parameters' help; on a page declared translated no English message is left;
their links resolve; and one of them runs, offline, in Chinese.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import nbformat
import pytest
from babel.messages.catalog import Catalog

from tests.conftest import ROOT, STUDENT_LABS
from tests.test_notebook_conventions import myst_markup

sys.path.insert(0, str(ROOT / "book" / "extensions"))
from utils.notebook.colab import setup_cell
from utils.teaching import translate
from utils.teaching.markdown_messages import messages
from utils.teaching.parameter_catalogue import catalogue_text, parameter_help, read_catalogue

ENGLISH = translate.english_notebooks(ROOT)
PAIRS = [(path, translate.chinese_path(path)) for path in ENGLISH]
PAIR_IDS = [str(chinese) for _, chinese in PAIRS]
CATALOGUES = ROOT / translate.CATALOGUES


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / path, as_version=4)


def test_every_notebook_and_lab_has_a_chinese_copy_one_folder_down():
    assert len(ENGLISH) >= 30
    assert translate.chinese_path(Path("notebooks/08_privacy.ipynb")) == Path(
        "notebooks/zh_CN/08_privacy.ipynb")
    assert translate.chinese_path(Path("labs/solutions/08_privacy.ipynb")) == Path(
        "labs/zh_CN/solutions/08_privacy.ipynb")
    assert translate.page_of(Path("labs/08_privacy.ipynb")) == "labs/solutions/08_privacy"
    copies = {p.relative_to(ROOT) for folder in ("notebooks/zh_CN", "labs/zh_CN")
              for p in (ROOT / folder).rglob("*.ipynb")}
    assert copies == {chinese for _, chinese in PAIRS}, "a Chinese copy without its English"


def test_the_chinese_copies_and_parameters_po_are_up_to_date(tmp_path):
    written, _ = translate.write(ROOT, tmp_path)
    assert len(written) == len(PAIRS) + 1
    stale = [str(path) for path in written
             if (tmp_path / path).read_bytes() != (ROOT / path).read_bytes()]
    assert not stale, f"run python -m utils.teaching.translate; stale: {stale}"


def code_differences(english: nbformat.NotebookNode, chinese: nbformat.NotebookNode) -> list[str]:
    """Where the Chinese copy's code differs from the English beyond its two allowed lines."""
    if [c.cell_type for c in english.cells] != [c.cell_type for c in chinese.cells]:
        return ["the cells differ in number or kind"]
    problems = []
    code = [(ours, theirs) for ours, theirs in zip(english.cells, chinese.cells, strict=True)
            if ours.cell_type == "code"]
    for index, (ours, theirs) in enumerate(code):
        if ours.metadata != theirs.metadata or theirs.outputs or theirs.execution_count:
            problems.append(f"code cell {index}: metadata or outputs differ")
        elif index == 0:
            if (ours.source, theirs.source) != (setup_cell("en"), setup_cell("zh_CN")):
                problems.append("the set-up cell is not the Chinese set-up cell")
        elif "parameters" in ours.metadata.get("tags", []):
            if without_comments(ours.source) != without_comments(theirs.source):
                problems.append("the parameters' code (not their help) differs")
        elif ours.source != theirs.source:
            problems.append(f"code cell {index} differs")
    return problems


def without_comments(source: str) -> list[str]:
    lines = source.split("\n")
    for index, column, _ in parameter_help(source):
        lines[index] = lines[index][:column].rstrip()
    return lines


@pytest.mark.parametrize(("english", "chinese"), PAIRS, ids=PAIR_IDS)
def test_the_code_is_the_english_code_but_for_language_and_help(english, chinese):
    ours, theirs = read(english), read(chinese)
    assert not code_differences(ours, theirs)
    assert theirs.metadata["kernelspec"] == ours.metadata["kernelspec"]
    assert theirs.metadata == {k: v for k, v in ours.metadata.items()
                               if k in ("kernelspec", "language_info")}
    assert [c.get("id") for c in ours.cells] == [c.get("id") for c in theirs.cells]


def test_a_changed_code_line_in_a_chinese_copy_is_caught():
    english, chinese = read(PAIRS[-1][0]), read(PAIRS[-1][1])
    lesson = next(i for i, c in enumerate(chinese.cells) if c.cell_type == "code"
                  and "parameters" not in c.metadata.get("tags", []) and i > 3)
    for index, edit in [(lesson, lambda s: s.replace("\n", "\n# \n", 1) + "\nx = 1"),
                        (next(i for i, c in enumerate(chinese.cells) if "parameters" in
                              c.metadata.get("tags", [])), lambda s: s.replace("= ", "= 1 + ", 1))]:
        changed = copy.deepcopy(chinese)
        changed.cells[index].source = edit(changed.cells[index].source)
        assert code_differences(english, changed), f"an edit of cell {index} went unnoticed"
    english_setup = copy.deepcopy(chinese)
    english_setup.cells[next(i for i, c in enumerate(chinese.cells)
                             if c.cell_type == "code")].source = setup_cell("en")
    assert code_differences(english, english_setup) == [
        "the set-up cell is not the Chinese set-up cell"]


@pytest.mark.parametrize(("english", "chinese"), PAIRS, ids=PAIR_IDS)
def test_papermill_lists_the_same_parameters_with_the_chinese_help(english, chinese):
    import papermill

    ours, theirs = (papermill.inspect_notebook(str(ROOT / p)) for p in (english, chinese))
    assert list(ours) == list(theirs)
    helps = translate.translations(read_catalogue(ROOT / translate.PARAMETERS_CATALOGUE))
    for name, info in theirs.items():
        assert {k: v for k, v in info.items() if k != "help"} == {
            k: v for k, v in ours[name].items() if k != "help"}
        assert info["help"] == helps.get(ours[name]["help"], ours[name]["help"])


def test_every_parameters_help_is_translated_with_the_glossarys_terms():
    from tests.test_translation import glossary, missing_terms

    catalogue = read_catalogue(ROOT / translate.PARAMETERS_CATALOGUE)
    untranslated = [m.id for m in catalogue if m.id and (m.fuzzy or not m.string)]
    if untranslated:
        warnings.warn(f"parameters.po: {len(untranslated)} help(s) left in English: "
                      f"{untranslated[:5]}", stacklevel=1)
    terms = glossary()
    wrong = {m.id: missing_terms(m.id, m.string, terms) for m in catalogue if m.id and m.string}
    assert not {k: v for k, v in wrong.items() if v}
    assert not [m.string for m in catalogue if m.id and "=" in m.string], (
        "papermill stops a help at '='")


DECLARED = [(e, c) for e, c in PAIRS if translate.page_of(e) in translate.translated_pages(ROOT)]


@pytest.mark.parametrize(("english", "chinese"), DECLARED, ids=[str(c) for _, c in DECLARED])
def test_a_declared_pages_chinese_copy_has_no_english_message_left(english, chinese):
    catalogue = read_catalogue(CATALOGUES / f"{translate.page_of(english)}.po")
    english_only = {m.id for m in catalogue if m.id and m.string != m.id}
    left = [message for cell in read(chinese).cells if cell.cell_type == "markdown"
            for message in messages(cell.source) if message in english_only]
    assert not left, f"{chinese} still has English messages: {left[:5]}"


def test_the_notebooks_messages_are_their_catalogues_messages():
    """The Markdown splits into the blocks Sphinx's gettext builder extracts."""
    stale = {}
    for path in ENGLISH:
        ids = {m.id for m in read_catalogue(CATALOGUES / f"{translate.page_of(path)}.po")}
        missing = [m for c in read(path).cells if c.cell_type == "markdown"
                   for m in messages(c.source) if m not in ids]
        if missing:
            stale[str(path)] = missing
    declared = {p: m for p, m in stale.items()
                if translate.page_of(Path(p)) in translate.translated_pages(ROOT)}
    assert not declared, f"catalogues behind their notebooks (make translations): {declared}"
    if stale:
        warnings.warn(f"catalogues behind their notebooks: {sorted(stale)}", stacklevel=1)


@pytest.mark.parametrize("path", STUDENT_LABS, ids=[p.name for p in STUDENT_LABS])
def test_a_student_labs_markdown_is_its_solutions(path):
    """So the solution page's catalogue translates the student lab too."""
    student = [c.source for c in read(path.relative_to(ROOT)).cells if c.cell_type == "markdown"]
    solution = [c.source for c in read(Path("labs/solutions") / path.name).cells
                if c.cell_type == "markdown"]
    assert all(cell in solution for cell in student)


def markdown_links(path: Path) -> list[str]:
    return [match[2] for cell in read(path).cells if cell.cell_type == "markdown"
            for match in translate.LINK.finditer(cell.source)]


@pytest.mark.parametrize(("english", "chinese"), PAIRS, ids=PAIR_IDS)
def test_a_chinese_notebooks_markdown_reads_the_same_in_jupyterlab_and_colab(english, chinese):
    """A translation may not bring in the book's MyST markup, which notebooks show raw."""
    raw = [line for cell in nbformat.read(ROOT / chinese, as_version=4).cells
           if cell.cell_type == "markdown" for line in myst_markup(cell.source)]
    assert not raw, f"{chinese}: MyST markup that JupyterLab and Colab show raw: {raw}"


@pytest.mark.parametrize(("english", "chinese"), PAIRS, ids=PAIR_IDS)
def test_a_chinese_notebooks_relative_links_resolve(english, chinese):
    relative = [link.split("#")[0] for link in markdown_links(chinese)
                if not link.startswith(("http:", "https:", "mailto:", "#"))]
    assert len(relative) == len([link for link in markdown_links(english)
                                 if not link.startswith(("http:", "https:", "mailto:", "#"))])
    broken = [link for link in relative if not (ROOT / chinese.parent / link).exists()]
    assert not broken, f"{chinese}: links that do not resolve from {chinese.parent}: {broken}"


def test_links_lead_from_the_new_folder_and_to_the_chinese_copies():
    copies = {Path("notebooks/04_transformer.ipynb"), Path("labs/08_privacy.ipynb")}
    colab = "https://colab.research.google.com/github/fm-hands-on/course/blob/main/"
    text = ("[Chapter 8](../book/08_privacy.md#exposure), [notebook](04_transformer.ipynb), "
            f"[lab]({colab}labs/08_privacy.ipynb), `labs/08_privacy.ipynb`, [web](https://x.org/a.md)")
    assert translate.relink(text, Path("notebooks/05_assistant.ipynb"), copies) == (
        "[Chapter 8](../../book/08_privacy.md#exposure), [notebook](04_transformer.ipynb), "
        f"[lab]({colab}labs/zh_CN/08_privacy.ipynb), `labs/zh_CN/08_privacy.ipynb`, "
        "[web](https://x.org/a.md)")
    assert translate.relink("[c](../../book/a.md)", Path("labs/solutions/08_privacy.ipynb"),
                            copies) == "[c](../../../book/a.md)"


def test_a_real_link_resolves_from_its_chinese_notebook():
    links = markdown_links(Path("notebooks/zh_CN/01_foundation_models.ipynb"))
    assert "../../book/01_foundation_models.md" in links
    assert (ROOT / "notebooks/zh_CN" / "../../book/01_foundation_models.md").is_file()


# A course of one notebook, to see what the generator does with a page's catalogue.
PAGE = textwrap.dedent("""\
    # A title

    A paragraph over
    two lines, with [a link](../book/a.md).

    - an item
      that goes on

    | name | value |
    | --- | --- |
    | seed | 0 |

    $$ p = 1 $$
    """)
PAGE_CHINESE = {"A title": "标题", "A paragraph over two lines, with [a link](../book/a.md).":
                "一段话，带[一个链接](../book/a.md)。", "an item that goes on": "一项，接着写",
                "name": "名称", "value": "值", "seed": "seed", "0": "0", " p = 1 ": " p = 1 "}
HELP = "seed of everything (an integer, at least 0)"
HELP_CHINESE = "一切的随机种子（整数，至少为 0）"


def one_notebook_course(root: Path, translations: dict[str, str], declared: bool) -> None:
    kernel = {"name": "python3", "display_name": "Python 3"}
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": kernel})
    notebook.cells = [nbformat.v4.new_markdown_cell(PAGE), nbformat.v4.new_code_cell(setup_cell()),
                      nbformat.v4.new_code_cell(f"seed: int = 0  # {HELP}",
                                                metadata={"tags": ["parameters"]})]
    (root / "notebooks").mkdir()
    nbformat.write(notebook, root / "notebooks" / "01_x.ipynb")
    folder = root / translate.CATALOGUES / "notebooks"
    folder.mkdir(parents=True)
    catalogue = Catalog(locale="zh_CN", fuzzy=False)
    for message in messages(PAGE):
        catalogue.add(message, translations.get(message, ""))
    (folder / "01_x.po").write_text(catalogue_text(catalogue), encoding="utf-8")
    (root / translate.MANIFEST).write_text("notebooks/01_x\n" if declared else "")


def test_a_page_is_translated_block_by_block_from_its_catalogue(tmp_path):
    one_notebook_course(tmp_path, PAGE_CHINESE, declared=False)
    files, report = translate.chinese_copies(tmp_path)
    assert report == {"notebooks/zh_CN/01_x.ipynb": [f"parameter help: {HELP}"]}, (
        "a new help is left in English, and parameters.po gets it")
    parameters = files[translate.PARAMETERS_CATALOGUE]
    assert f'msgid "{HELP}"\nmsgstr ""' in parameters
    chinese = nbformat.reads(files[Path("notebooks/zh_CN/01_x.ipynb")], as_version=4)
    assert chinese.cells[0].source == textwrap.dedent("""\
        # 标题

        一段话，带[一个链接](../../book/a.md)。

        - 一项，接着写

        | 名称 | 值 |
        | --- | --- |
        | seed | 0 |

        $$ p = 1 $$
        """)
    assert chinese.cells[1].source == setup_cell("zh_CN")
    assert chinese.cells[1].source.splitlines()[-1].startswith('set_language("zh_CN")  # ')


def test_a_help_is_translated_from_parameters_po_and_a_changed_one_turns_fuzzy(tmp_path):
    one_notebook_course(tmp_path, PAGE_CHINESE, declared=True)
    catalogue = Catalog(locale="zh_CN", fuzzy=False)
    catalogue.add(HELP, HELP_CHINESE)
    (tmp_path / translate.PARAMETERS_CATALOGUE).write_text(catalogue_text(catalogue))
    files, report = translate.chinese_copies(tmp_path)
    assert not report
    chinese = nbformat.reads(files[Path("notebooks/zh_CN/01_x.ipynb")], as_version=4)
    assert chinese.cells[2].source == f"seed: int = 0  # {HELP_CHINESE}"
    english = tmp_path / "notebooks" / "01_x.ipynb"
    english.write_text(english.read_text().replace("at least 0", "at least 1"))
    with pytest.raises(translate.TranslationMissing, match="at least 1"):
        translate.chinese_copies(tmp_path)
    (tmp_path / translate.MANIFEST).write_text("")
    files, report = translate.chinese_copies(tmp_path)
    assert "#, fuzzy\n" in files[translate.PARAMETERS_CATALOGUE]
    assert report["notebooks/zh_CN/01_x.ipynb"] == [f"parameter help: {HELP}".replace("0)", "1)")]


def test_an_untranslated_message_is_an_error_only_on_a_declared_page(tmp_path):
    partly = {k: v for k, v in PAGE_CHINESE.items() if k != "an item that goes on"}
    one_notebook_course(tmp_path, partly, declared=False)
    files, report = translate.chinese_copies(tmp_path)
    assert "an item that goes on" in report["notebooks/zh_CN/01_x.ipynb"]
    chinese = nbformat.reads(files[Path("notebooks/zh_CN/01_x.ipynb")], as_version=4)
    assert "- an item\n  that goes on\n" in chinese.cells[0].source, "left as the English"
    (tmp_path / translate.MANIFEST).write_text("notebooks/01_x\n")
    with pytest.raises(translate.TranslationMissing, match="an item that goes on"):
        translate.chinese_copies(tmp_path)
    assert not (tmp_path / "notebooks" / "zh_CN").exists()


class ThemeConfig(dict):
    """What the theme's launch buttons read of Sphinx's config: ``config["html_theme_options"]``."""

    def __init__(self, language: str, options: dict):
        super().__init__(html_theme_options=options)
        self.language, self.html_theme_options = language, options


def test_a_notebooks_launch_buttons_open_its_chinese_copy_in_the_chinese_edition():
    """The theme's own Colab and Binder buttons, then the Chinese edition's change of them."""
    from types import SimpleNamespace

    import yaml
    from editions import launch_the_chinese_notebook
    from sphinx_book_theme.header_buttons.launch import add_launch_buttons

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    options = {"launch_buttons": config["launch_buttons"], "path_to_docs": "",
               "repository_branch": config["repository"]["branch"]}
    page = "labs/solutions/00_warmup"
    repository = "fm-hands-on/course/blob/main"
    for language, expected in [("en", "labs/solutions/00_warmup.ipynb"),
                               ("zh_CN", "labs/zh_CN/solutions/00_warmup.ipynb")]:
        app = SimpleNamespace(config=ThemeConfig(language, options), srcdir=str(ROOT),
                              env=SimpleNamespace(doc2path=lambda name: str(ROOT / f"{name}.ipynb"),
                                                  metadata={page: {"kernelspec": {}}}))
        context = {"pagename": page, "header_buttons": [], "sourcename": f"{page}.ipynb",
                   "github_url": "https://github.com", "github_user": "fm-hands-on",
                   "github_repo": "course"}
        add_launch_buttons(app, page, "page.html", context, None)
        launch_the_chinese_notebook(app, page, "page.html", context, None)
        (group,) = context["header_buttons"]
        assert {button["text"]: button["url"] for button in group["buttons"]} == {
            "Binder": "https://mybinder.org/v2/gh/fm-hands-on/course/main"
                      f"?urlpath=lab/tree/{expected}",
            "Colab": f"https://colab.research.google.com/github/{repository}/{expected}",
        }


def offline(command: list[str]) -> tuple[list[str], bool]:
    """`command` in a new network namespace with only loopback up, where the machine allows it."""
    if shutil.which("unshare") and shutil.which("ip") and subprocess.run(
            ["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', *command], True
    return command, False


RUN_IN_CHINESE = """\
import sys, nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
notebook.cells.append(nbformat.v4.new_code_cell(
    "import socket, utils.i18n\\n"
    "try:\\n    socket.create_connection(('pypi.org', 443), timeout=3); online = True\\n"
    "except OSError:\\n    online = False\\n"
    "print(utils.i18n.language(), 'online' if online else 'offline')"))
NotebookClient(notebook, timeout=240, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
print(notebook.cells[-1].outputs[0]["text"].strip())
"""


@pytest.mark.slow
def test_the_chinese_warmup_lab_runs_offline_and_speaks_chinese():
    path = ROOT / "labs" / "zh_CN" / "solutions" / "00_warmup.ipynb"
    command, cut = offline([sys.executable, "-c", RUN_IN_CHINESE, str(path), str(path.parent)])
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("zh_CN "), "the set-up cell did not set the language to Chinese"
    if cut:
        assert last == "zh_CN offline"
    else:
        warnings.warn("ran with the network (cutting it needs root and unshare)", stacklevel=1)
