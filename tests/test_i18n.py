"""The checks', the grader's and the parameters' messages, in English and in Chinese.

The catalogue ``utils/i18n/locale/zh_CN/LC_MESSAGES/course.po`` must follow the
code (extraction and update change nothing), translate every message (nothing
untranslated or fuzzy), keep each message's placeholders and code spans, and be
what ``course.mo`` compiles from. Every message a student reads goes through
``_()``: a Wrong, CheckFailed or ValueError raised with a literal or an f-string
fails the scan below. A wrong answer gets a Chinese verdict after
``set_language("zh_CN")`` and an English one by default; the grader's report and
the sandbox's messages speak ``--language``, whatever the notebook sets.
"""

from __future__ import annotations

import ast
import csv
import re
import string

import nbformat
import pytest
import torch

from tests.conftest import ROOT
from utils.checks import CheckFailed
from utils.i18n import LANGUAGES, _, language, set_language
from utils.i18n.catalogue import MO_PATH, PO_PATH, _read, compile_mo, extract, problems, updated
from utils.teaching.isolate import isolation_mode

_HAN = re.compile(r"[\u4e00-\u9fff]")
PO_TEXT = PO_PATH.read_text(encoding="utf-8")
# Where a message a student or an instructor reads is raised: these exceptions, these folders.
_RAISED = {"Wrong", "CheckFailed", "ValueError", "TypeError", "ParameterError", "AttributeError",
           "RuntimeError", "FileNotFoundError", "ExerciseNotImplemented", "_Tampered"}
_SCANNED = [*sorted((ROOT / "utils" / "checks").glob("*.py")), ROOT / "utils" / "params.py",
            *(ROOT / "utils" / "teaching" / f"{m}.py" for m in ("grade", "sandbox", "report"))]


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    set_language("en")


def _translations() -> list:
    return [m for m in _read(PO_TEXT) if m.id]


# ------------------------------------------------------------------ the catalogue
def test_the_catalogue_is_up_to_date_with_the_code():
    assert updated(PO_TEXT, extract()) == PO_TEXT, "run `make course-messages`"


def test_every_message_is_translated_and_none_is_fuzzy():
    assert problems(PO_TEXT) == []
    assert len(_translations()) > 400


def test_the_mo_file_is_the_compile_of_the_po_file():
    assert MO_PATH.read_bytes() == compile_mo(PO_TEXT), "run `make course-messages`"


def test_an_update_marks_changed_messages_fuzzy_adds_new_ones_and_drops_removed_ones(tmp_path):
    source = tmp_path / "utils"
    source.mkdir()
    (source / "judge.py").write_text(
        'from utils.i18n import N_, _\nHINT = N_("subtract the maximum of each row")\n'
        'def judge():\n    return _("your rows sum to {total}, not 1")\n'
        'def other():\n    return _("a new message")\n', encoding="utf-8")
    header = PO_TEXT.split("\n\n")[0]
    old = (header + '\n\nmsgid "subtract the maximum of every row"\nmsgstr "减去每一行的最大值"\n'
           '\nmsgid "your rows sum to {total}, not 1"\nmsgstr "你的行之和为 {total}，而不是 1"\n'
           '\nmsgid "a message gone from the code"\nmsgstr "已删除"\n')
    new = updated(old, extract(source))
    messages = {m.id: m for m in _read(new) if m.id}
    assert set(messages) == {"subtract the maximum of each row", "your rows sum to {total}, not 1",
                             "a new message"}
    changed = messages["subtract the maximum of each row"]
    assert changed.fuzzy and changed.string == "减去每一行的最大值"  # the old Chinese, a draft
    assert not messages["your rows sum to {total}, not 1"].fuzzy
    assert messages["a new message"].string == ""
    assert [m.locations for m in messages.values()] == [[("utils/judge.py", None)]] * 3
    assert updated(new, extract(source)) == new  # a second run changes nothing
    assert compile_mo(new) == compile_mo(new)
    assert "减去".encode() not in compile_mo(new) and "你的行之和".encode() in compile_mo(new)
    assert len(problems(new)) == 2


def _fields(text: str) -> list[tuple]:
    return sorted((name, spec, conversion) for _, name, spec, conversion
                  in string.Formatter().parse(text) if name is not None)


def test_every_translation_keeps_the_placeholders_and_the_code_spans():
    for message in _translations():
        assert _fields(message.string) == _fields(message.id), message.id
        assert sorted(re.findall(r"`[^`]*`", message.string)) == \
            sorted(re.findall(r"`[^`]*`", message.id)), message.id


def _marked(tree: ast.AST) -> set[str]:
    """Every ``_("...")`` / ``N_("...")`` argument, f-strings' insides included."""
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("_", "N_") and node.args
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)}


def test_every_marked_message_reaches_the_catalogue():
    # Babel does not look inside an f-string: a _() there would never be translated.
    ids = {m.id for m in _translations()}
    for path in sorted((ROOT / "utils").rglob("*.py")):
        missing = _marked(ast.parse(path.read_text(encoding="utf-8"))) - ids
        assert not missing, f"{path.relative_to(ROOT)}: {sorted(missing)[:3]}"


# ------------------------------------------------------------------ the code marks its messages
def _words_outside_gettext(node: ast.AST) -> list[str]:
    """Literal text with letters in ``node`` that no ``_()``/``N_()`` call wraps."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in ("_", "N_"):
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if re.search("[A-Za-z]{2}", node.value) else []
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        inside = [w for v in node.values if isinstance(v, ast.FormattedValue)
                  for w in _words_outside_gettext(v.value)]
        return ([text] if re.search("[A-Za-z]{2}", text) else []) + inside
    if isinstance(node, ast.Subscript):  # message[:500]: the message is the value
        return _words_outside_gettext(node.value)
    return [w for child in ast.iter_child_nodes(node) for w in _words_outside_gettext(child)]


def unmarked_raises(source: str) -> list[tuple[int, str]]:
    """(line, text) of each message raised as a literal or an f-string instead of ``_()``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", ""))
            if name in _RAISED and node.exc.args:
                found += [(node.lineno, w) for w in _words_outside_gettext(node.exc.args[0])]
    return found


def unmarked_verdicts(source: str) -> list[tuple[int, str]]:
    """(line, text) of each sentence a judge returns, or keys a mistake by, outside ``_()``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        values = [node.value] if isinstance(node, ast.Return) and node.value is not None else \
            [k for k in node.keys if k is not None] if isinstance(node, ast.Dict) else []
        found += [(node.lineno, w) for v in values for w in _words_outside_gettext(v)
                  if w.count(" ") >= 3]  # a sentence, not a key such as "not attempted"
    return found


def test_the_scans_catch_an_f_string_verdict_and_pass_a_template():
    wrong = 'def judge(case, output):\n    raise Wrong(f"expected {case[\'n\']} cases")\n'
    plain = 'def judge(case, output):\n    raise ValueError("not a number")\n'
    right = ('def judge(case, output):\n'
             '    raise Wrong(_("expected {n} cases").format(n=len(case)))\n')
    assert unmarked_raises(wrong) == [(2, "expected  cases")]
    assert unmarked_raises(plain) == [(2, "not a number")]
    assert unmarked_raises(right) == []
    returned = 'def judge(case, output):\n    return f"your value {output} is not the mean"\n'
    keyed = 'def judge(case, output):\n    diagnose(output, {"you forgot the mean here": 1})\n'
    assert unmarked_verdicts(returned) == [(2, "your value  is not the mean")]
    assert unmarked_verdicts(keyed) == [(2, "you forgot the mean here")]
    assert unmarked_verdicts(right.replace("raise Wrong", "return")) == []


@pytest.mark.parametrize("path", _SCANNED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_raised_or_returned_message_is_a_template(path):
    source = path.read_text(encoding="utf-8")
    assert unmarked_raises(source) == []
    assert unmarked_verdicts(source) == []


def test_no_module_that_translates_assigns_the_name_underscore():
    # `_, x = f()` in a function makes `_` local there: its `_("...")` would call x's twin.
    for path in sorted((ROOT / "utils").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if "_" not in {a.name for n in tree.body if isinstance(n, ast.ImportFrom)
                       and n.module == "utils.i18n" for a in n.names}:
            continue
        stores = [n.lineno for n in ast.walk(tree)
                  if isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)]
        assert not stores, f"{path.relative_to(ROOT)} assigns _ at lines {stores}"


# ------------------------------------------------------------------ a student's view
def test_set_language_rejects_an_unknown_language_and_keeps_the_current_one():
    set_language("zh_CN")
    for code in ("fr", "zh", "zh-CN", "", "EN"):
        with pytest.raises(ValueError, match="zh_CN"):
            set_language(code)
    assert language() == "zh_CN"
    assert LANGUAGES == ("en", "zh_CN")


def _wrong_softmax(x):
    return torch.exp(x)  # not normalised


def test_a_wrong_answer_gets_its_verdict_in_the_notebooks_language():
    from utils.checks.warmup import check_softmax

    with pytest.raises(CheckFailed) as english:
        check_softmax(_wrong_softmax)
    assert str(english.value).startswith("softmax: ") and not _HAN.search(str(english.value))
    set_language("zh_CN")
    with pytest.raises(CheckFailed) as chinese:
        check_softmax(_wrong_softmax)
    assert str(chinese.value).startswith("softmax：") and _HAN.search(str(chinese.value))


def test_a_bad_parameter_is_reported_in_the_notebooks_language():
    from utils.params import Integer, ParameterError, validate

    with pytest.raises(ParameterError, match="must be an integer between 0 and 5; got -1"):
        validate(seed=Integer(-1, min=0, max=5))
    set_language("zh_CN")
    with pytest.raises(ParameterError, match="必须是整数，介于 0 与 5 之间；实际得到 -1"):
        validate(seed=Integer(-1, min=0, max=5))
    assert _("your probabilities") == "你的概率"


# ------------------------------------------------------------------ the grader's view
@pytest.fixture(scope="module")
def one_student(tmp_path_factory):
    """Lab 03, one exercise wrong and two left as stubs; its set-up cell asks for English, and
    a last cell for Chinese, as a student's notebook may: neither may change the report."""
    from utils.teaching.demo import KINDS, LAB, make_class

    secret = b"an instructor's secret, 32 bytes"
    folder = tmp_path_factory.mktemp("class")
    submissions, manifest, _ = make_class(folder, {"ada": (LAB, KINDS["partly_correct"])},
                                          secret)
    path = submissions / "ada" / f"{LAB}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    assert any('set_language("en")' in cell.source for cell in notebook.cells)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "from utils.i18n import set_language\nset_language('zh_CN')"))
    nbformat.write(notebook, path)
    (folder / "secret").write_bytes(secret)
    return folder, submissions


def _grade(folder, submissions, out, *language):
    from utils.teaching.cli import main

    assert main(["grade", str(submissions), "--manifest",
                 str(folder / "handed_out" / "03_maximum_likelihood" / "manifest.csv"),
                 "--out", str(out), "--secret-file", str(folder / "secret"), "--workers", "1",
                 "--timeout", "60", *language]) == 0
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        rows = {r["exercise"]: r for r in csv.DictReader(f)}
    return rows, (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.skipif(isolation_mode() == "none", reason="needs root or userns")
def test_the_grader_reports_in_its_language_whatever_the_notebook_sets(one_student, tmp_path):
    folder, submissions = one_student
    rows, page = _grade(folder, submissions, tmp_path / "zh", "--language", "zh_CN")
    assert [rows[e]["status"] for e in ("nll", "add_k")] == ["failed", "not attempted"]
    assert _HAN.search(rows["nll"]["message"])  # judged in the grader
    assert rows["add_k"]["message"].startswith("练习 'add_k' 尚未实现")  # said in the sandbox
    assert '<html lang="zh-CN">' in page and "全班报告" in page and "未作答" in page
    rows, page = _grade(folder, submissions, tmp_path / "en")
    assert not any(_HAN.search(r["message"]) for r in rows.values())
    assert rows["add_k"]["message"].startswith("Exercise 'add_k' is not implemented yet")
    assert '<html lang="en">' in page and "Class report" in page and not _HAN.search(page)
