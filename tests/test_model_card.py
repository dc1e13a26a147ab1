"""The model card: Mitchell et al.'s nine sections, computed numbers, and one of them recomputed.

The card is a MyST text notebook that the book executes. The test runs its
code cells as the book does, reads the test perplexity it printed, and
recomputes that number independently: the whole test stream through the
model at once, cross-entropy by hand, no course evaluation helper.
"""

import math
import re

import jupytext
import nbclient
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import ROOT
from utils.data import batchify, lm_stream
from utils.lm import pretrained_model

CARD = ROOT / "book" / "model_card.md"
SECTIONS = ("Model details", "Intended use", "Factors", "Metrics", "Evaluation data",
            "Training data", "Quantitative analyses", "Ethical considerations",
            "Caveats and recommendations")


def test_card_has_every_mitchell_section_in_order():
    headings = re.findall(r"^## (.+)$", CARD.read_text(encoding="utf-8"), flags=re.M)
    assert [h for h in headings if h in SECTIONS] == list(SECTIONS)


def test_card_is_a_text_notebook_that_links_the_datasheet():
    text = CARD.read_text(encoding="utf-8")
    assert text.startswith("---\n") and "kernelspec:" in text.split("---")[1]
    assert "(model-card)=" in text and "{doc}`corpus_datasheet`" in text
    assert "myst_nb" not in text  # the page must not depend on the book's build tools
    notebook = jupytext.read(CARD)
    assert sum(c.cell_type == "code" for c in notebook.cells) >= 8


@pytest.fixture(scope="module")
def executed():
    notebook = jupytext.read(CARD)
    nbclient.NotebookClient(notebook, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(CARD.parent)}}).execute()
    return notebook


def _outputs(notebook) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


def test_card_test_perplexity_recomputes(executed):
    printed = re.search(r"^test perplexity\s+([0-9.]+)$", _outputs(executed), flags=re.M)
    assert printed, "the card should print its test perplexity"
    pretrained = pretrained_model(progress=False)
    model, vocab = pretrained.model.eval(), pretrained.vocab
    data = batchify(lm_stream(pretrained.corpus.test, vocab), 64)  # (64, n)
    with torch.no_grad():
        logits, _ = model(data[:, :-1])  # (64, n - 1, vocab_size): each row read whole
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), data[:, 1:].reshape(-1))
    assert float(printed.group(1)) == pytest.approx(math.exp(float(loss)), abs=1.5e-3)


def test_card_computes_every_social_impact_figure(executed):
    text = _outputs(executed)
    # No placeholder: a figure that cannot be computed fails the build instead.
    assert "sign_agreement" in text
    assert "membership AUC" in text
    assert "CO2e" in text
