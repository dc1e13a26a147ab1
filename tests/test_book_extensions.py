"""The book's Sphinx extensions: the execution report's run table, the code fingerprint."""

import json
import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "extensions"))
from execution_cache import fingerprint, forget_outputs_of_old_code  # noqa: E402
from run_report import latest_runs, names, row_texts  # noqa: E402


def _line(doc, execution, name, trained, seconds=1.0, train_time_s=1.0):
    return json.dumps({"doc": doc, "execution": execution, "name": name, "trained": trained,
                       "seconds": seconds, "train_time_s": train_time_s, "time": 0.0})


def test_only_each_pages_latest_execution_counts(tmp_path):
    log = tmp_path / "runs.jsonl"
    log.write_text("\n".join([
        _line("a", "first", "lstm", True), _line("b", "x", "ngram", True),
        _line("a", "second", "lstm", False), _line("a", "second", "probe", True),
    ]) + "\n")
    latest = latest_runs(log)
    assert [(r["name"], r["trained"]) for r in latest["a"]] == [("lstm", False), ("probe", True)]
    assert [r["name"] for r in latest["b"]] == ["ngram"]
    assert latest_runs(tmp_path / "missing.jsonl") == {}


def test_a_cold_run_measures_cold_and_estimates_warm_without_its_training():
    runs = [{"name": "lstm", "key": "lstm-1", "trained": True, "seconds": 20.0,
             "train_time_s": 19.5},
            {"name": "lstm", "key": "lstm-1", "trained": False, "seconds": 0.2,
             "train_time_s": 19.5}]
    assert row_texts(30.0, runs) == ["30.0", "30.0", "\u2248 10.0", "lstm", "lstm"]


def test_cold_counts_a_model_trained_elsewhere_once_however_often_it_is_loaded():
    loads = [{"name": "lstm", "key": "lstm-1", "trained": False, "seconds": 0.5,
              "train_time_s": 20.5}] * 4
    assert row_texts(8.0, loads)[1] == "\u2248 28.0"
    # A page that trained one model and loaded another still needs the other's training.
    mixed = [{"name": "probe", "key": "probe-1", "trained": True, "seconds": 5.0,
              "train_time_s": 4.5}, loads[0]]
    assert row_texts(8.0, mixed)[1:3] == ["\u2248 28.0", "\u2248 3.0"]


def test_a_warm_run_measures_warm_and_estimates_cold_with_the_recorded_training():
    runs = [{"name": "lstm", "trained": False, "seconds": 0.5, "train_time_s": 20.5},
            {"name": "probe", "trained": False, "seconds": 0.5, "train_time_s": 5.5}]
    assert row_texts(8.0, runs) == ["8.0", "\u2248 33.0", "8.0", "none", "lstm, probe"]


def test_a_page_without_runs_costs_the_same_cold_and_warm():
    assert row_texts(2.0, None) == ["2.0", "2.0", "2.0", "none", "none"]


def test_names_count_the_configurations_of_each_run():
    runs = [{"name": "lstm"}, {"name": "lstm"}, {"name": "ngram"}]
    assert names(runs) == "lstm \u00d72, ngram" and names([]) == "none"


def test_the_fingerprint_changes_with_the_code_and_only_with_it(tmp_path):
    (tmp_path / "utils" / "lm").mkdir(parents=True)
    code = tmp_path / "utils" / "lm" / "lstm.py"
    code.write_text("hidden = 64\n")
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    before = fingerprint(tmp_path)
    (tmp_path / "notes.txt").write_text("not code")
    (tmp_path / "utils" / "lm" / "cache.bin").write_bytes(b"\0")
    assert fingerprint(tmp_path) == before, "files outside the code changed the fingerprint"
    code.write_text("hidden = 128\n")
    assert fingerprint(tmp_path) != before
    code.write_text("hidden = 64\n")
    assert fingerprint(tmp_path) == before
    code.rename(tmp_path / "utils" / "lm" / "rnn.py")  # same content, another module
    assert fingerprint(tmp_path) != before


def test_the_real_fingerprint_covers_the_package_and_the_pins():
    assert fingerprint(ROOT) != fingerprint(ROOT, ("utils/**/*.py",))
    assert fingerprint(ROOT, ("utils/**/*.py",)) != fingerprint(ROOT, ("utils/lm/*.py",))


def test_only_the_english_build_empties_the_execution_cache(tmp_path):
    """The Chinese build reads the English build's outputs: it must not throw them away."""
    from types import SimpleNamespace

    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "a.py").write_text("x = 1\n")
    cache = tmp_path / "_build" / ".jupyter_cache"

    def build(builder: str, language: str | None):
        return SimpleNamespace(
            srcdir=str(tmp_path), outdir=str(tmp_path / "_build" / "html"),
            builder=SimpleNamespace(name=builder),
            config=SimpleNamespace(language=language, nb_execution_cache_path=str(cache)))

    forget_outputs_of_old_code(build("html", "en"))  # the first build records the code
    cache.mkdir(parents=True)
    (tmp_path / "utils" / "a.py").write_text("x = 2\n")
    for chinese in (build("gettext", None), build("html", "zh_CN")):
        forget_outputs_of_old_code(chinese)
        assert cache.exists(), "a build that executes nothing emptied the execution cache"
    english = build("html", "en")
    forget_outputs_of_old_code(english)
    assert english.course_code_changed and not cache.exists()
