"""The labels of mermaid diagrams are messages, and the Chinese edition draws them translated."""

from __future__ import annotations

import re
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "extensions"))
from translatable_diagrams import labels, replace_label  # noqa: E402

DIAGRAM = '''flowchart LR
    A["1. Collect<br/>data (text)"] --> B[Pretrain]
    B -- "frozen reference" --> C[Pretrain]
    C -->|reward 1 / 0| D[DPO]'''


def test_every_kind_of_label_is_a_message_once():
    assert labels(DIAGRAM) == ["1. Collect<br/>data (text)", "Pretrain", "frozen reference",
                               "reward 1 / 0", "DPO"]


def test_a_translated_label_replaces_every_copy_and_nothing_else():
    code = replace_label(DIAGRAM, "Pretrain", "预训练")
    assert code.count("预训练") == 2 and "Pretrain" not in code
    assert 'A["1. Collect<br/>data (text)"] --> B[预训练]' in code
    code = replace_label(code, "frozen reference", "冻结的参考模型")
    assert 'B -- "冻结的参考模型" --> C[预训练]' in code
    code = replace_label(code, "reward 1 / 0", "奖励 1 / 0")
    assert "C -->|奖励 1 / 0| D[DPO]" in code
    # A label that is only part of another is not touched.
    assert replace_label("A[Pretrain more] --> B[Pretrain]", "Pretrain", "预训练") == (
        "A[Pretrain more] --> B[预训练]")


ZH_PAGE = ROOT / "_build" / "html" / "zh" / "book" / "01_foundation_models.html"


@pytest.mark.skipif(not ZH_PAGE.exists(), reason="the Chinese edition is not built")
def test_the_chinese_page_draws_its_diagram_in_chinese():
    page = ZH_PAGE.read_text(encoding="utf-8")
    diagram = re.search(r'<pre[^>]*class="mermaid[^"]*"[^>]*>(.*?)</pre>', page, re.S)
    assert diagram, "no mermaid diagram on the Chinese page of chapter 1"
    assert "数据收集" in diagram.group(1) and "Data collection" not in diagram.group(1)
