"""DetectGPT's curvature test (utils.misuse.curvature): the perturber, the score, a toy check.

The perturber is checked on chapter 4's masked-word model and on a stand-in
whose predictions are uniform (so the share it changes is known exactly); the
score against a direct computation; the whole detector on a toy language of
independent tokens, where an oracle perturber makes the answer known.
"""

import math
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from utils.data import SyntheticLanguage
from utils.data.text import SPECIALS
from utils.evaluate import auroc
from utils.lm import pretrained_model
from utils.lm.pretrained_transformer import TransformerPretrainConfig, pretrained_transformer
from utils.misuse import (
    curvature_scores,
    grammatical_share,
    mask_words,
    perturbed_log_probs,
    refill_from_language,
    refill_words,
    sample_true_texts,
    substitute_tokens,
)

N_SPECIAL = len(SPECIALS)


def _texts_with_boundaries(n=40, length=50, vocab_size=30, seed=0):
    """Random word ids with an <eos> every 7 tokens, as sentences end in real text."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(N_SPECIAL, vocab_size, (n, length), generator=generator)
    ids[:, 6::7] = SPECIALS.index("<eos>")
    return ids


@pytest.mark.parametrize("share", [0.1, 0.15, 0.5])
def test_mask_words_chooses_the_share_of_words_and_no_special(share):
    ids = _texts_with_boundaries()
    chosen = mask_words(ids, share, torch.Generator().manual_seed(1))
    words = ids >= N_SPECIAL
    assert not chosen[~words].any()
    expected = torch.round(share * words.sum(1).double()).long()
    assert torch.equal(chosen.sum(1), expected)


class _UniformMaskedModel(nn.Module):
    """A masked-word model that predicts every word equally at every position."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(()))
        self.vocab_size = vocab_size

    def features(self, tokens):
        return torch.zeros(*tokens.shape, 1) * self.scale

    def decoder(self, hidden):
        return hidden.expand(*hidden.shape[:2], self.vocab_size + 1)  # + the <mask> id


def test_refill_changes_the_requested_share_and_keeps_length():
    vocab_size, share = 30, 0.3
    ids = _texts_with_boundaries(n=400, vocab_size=vocab_size)
    out = refill_words(_UniformMaskedModel(vocab_size), ids, share, mask_id=vocab_size, window=35,
                       generator=torch.Generator().manual_seed(2))
    assert out.shape == ids.shape
    assert torch.equal(out[ids < N_SPECIAL], ids[ids < N_SPECIAL])  # boundaries kept
    assert (out[ids >= N_SPECIAL] >= N_SPECIAL).all() and (out < vocab_size).all()  # words
    words = (ids >= N_SPECIAL).sum(1).double()
    masked = torch.round(share * words)
    changed = (out != ids).sum(1).double()
    assert (changed <= masked).all()
    # A uniform refill keeps the original word with probability 1 / (words in the vocabulary).
    expected = float((masked / words).mean()) * (1 - 1 / (vocab_size - N_SPECIAL))
    assert float((changed / words).mean()) == pytest.approx(expected, abs=0.01)


@pytest.fixture(scope="module")
def course_models():
    lstm = pretrained_model(progress=False)
    mlm = pretrained_transformer(TransformerPretrainConfig(corpus=lstm.config.corpus,
                                                           objective="masked"), progress=False)
    assert mlm.vocab.itos == lstm.vocab.itos
    return lstm, mlm


def test_the_masked_model_refills_grammatically(course_models):
    """Chapter 4's model rewrites words so that far more sentences stay grammatical than a
    random substitution of the same share does, and changes most of the words it masks."""
    lstm, mlm = course_models
    language = SyntheticLanguage(lstm.config.corpus)
    texts = sample_true_texts(language, lstm.vocab, 100, 50, np.random.default_rng(0))
    share = 0.15
    refilled = refill_words(mlm.model, texts, share, mask_id=len(mlm.vocab),
                            window=mlm.config.train.seq_len,
                            generator=torch.Generator().manual_seed(0))
    substituted = substitute_tokens(texts, share, len(lstm.vocab), torch.Generator().manual_seed(0))
    assert refilled.shape == texts.shape
    words = (texts >= N_SPECIAL).sum().item()
    changed = (refilled != texts).sum().item() / words
    assert 0.5 * share <= changed <= share
    config = lstm.config.corpus
    assert grammatical_share(refilled, lstm.vocab, config) > (
        grammatical_share(substituted, lstm.vocab, config) + 0.2)


def test_curvature_score_is_the_normalised_perturbation_discrepancy():
    log_p = np.array([1.0, -2.0, 0.5])
    perturbed = np.array([[0.0, 0.5, -1.0], [-2.0, -3.0, -1.5], [0.5, 0.5, 0.5]])
    for text, rewrites, score, bare in zip(log_p, perturbed, curvature_scores(log_p, perturbed),
                                           curvature_scores(log_p, perturbed, normalise=False),
                                           strict=True):
        mean = statistics.fmean(rewrites)
        assert bare == pytest.approx(text - mean)
        spread = statistics.stdev(rewrites)  # the sample standard deviation, n - 1
        assert score == pytest.approx((text - mean) / spread if spread else text - mean)
    with pytest.raises(ValueError):
        curvature_scores(log_p, perturbed[:, :1])


def test_perturbed_log_probs_keeps_each_texts_rewrites_together():
    ids = torch.tensor([[10, 0], [20, 0]])
    k = 3

    def perturb(copies):  # rewrite j of text i gets the number i k + j in its second slot
        out = copies.clone()
        out[:, 1] = torch.arange(len(copies))
        return out

    log_p, perturbed = perturbed_log_probs(ids, lambda x: x.sum(1).double().numpy(), perturb, k)
    assert log_p.tolist() == [10, 20]
    assert perturbed.tolist() == [[10, 11, 12], [23, 24, 25]]


def _toy_log_prob(log_q):
    return lambda ids: log_q[ids].sum(dim=1).double().numpy()


def test_curvature_separates_the_models_text_with_an_oracle_perturber():
    """Independent tokens; the model q is peaked, people write uniformly. The oracle
    perturber replaces a share of tokens by draws from the human distribution: a rewrite
    of q's text then loses log q on average, a rewrite of human text neither loses nor
    gains, so the curvature score must put the model's text above people's."""
    vocab, length, n, share = 20, 40, 200, 0.2
    generator = torch.Generator().manual_seed(0)
    log_q = torch.log_softmax(2.0 * torch.randn(vocab, generator=generator), dim=0)
    machine = torch.multinomial(log_q.exp(), n * length, replacement=True,
                                generator=generator).view(n, length)
    human = torch.randint(0, vocab, (n, length), generator=generator)

    def oracle(copies):
        out = copies.clone()
        where = torch.rand(out.shape, generator=generator) < share
        out[where] = torch.randint(0, vocab, (int(where.sum()),), generator=generator)
        return out

    scores = {}
    for name, texts in (("machine", machine), ("human", human)):
        log_p, perturbed = perturbed_log_probs(texts, _toy_log_prob(log_q), oracle, 10)
        scores[name] = curvature_scores(log_p, perturbed)
    labels = np.r_[np.ones(n), np.zeros(n)]
    assert auroc(np.r_[scores["machine"], scores["human"]], labels) > 0.9
    # Human text is no peak of q: its scores centre on zero, within a few standard errors.
    assert abs(scores["human"].mean()) < 4 * scores["human"].std() / math.sqrt(n)
    assert scores["machine"].mean() > 1.0


ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "09_misuse.md"
NOTEBOOK = ROOT / "notebooks_py" / "09_misuse.py"
PASTED = re.compile(r"\{glue:text\}`([^`:]+)::([^`:]+)(?::[^`]*)?`")


def _glued_key_patterns(source: str) -> list[re.Pattern]:
    """The keys the notebook glues: literal names, and f-string names with each {...} a wildcard."""
    patterns = []
    for prefix, name in re.findall(r'glue\(\s*(f?)"([^"]+)"', source):
        parts = re.split(r"\{[^}]*\}", name) if prefix else [name]
        patterns.append(re.compile("[^:]+".join(re.escape(p) for p in parts) + r"\Z"))
    return patterns


def test_every_number_the_chapter_pastes_is_glued_by_its_notebook():
    """The chapter states the notebook's results through myst-nb's cross-page glue, so they
    cannot drift from the run; a key the notebook does not glue would paste nothing."""
    pasted = PASTED.findall(CHAPTER.read_text())
    assert len(pasted) >= 30
    patterns = _glued_key_patterns(NOTEBOOK.read_text())
    for document, key in pasted:
        assert (CHAPTER.parent / document).resolve() == ROOT / "notebooks" / "09_misuse.ipynb"
        assert any(p.match(key) for p in patterns), f"{key!r} is pasted but never glued"
    assert not _glued_key_patterns('glue("a", 1)')[0].match("b")  # the check can fail


def test_the_language_rewriter_keeps_grammatical_text_grammatical(course_models):
    """The ideal rewriter redraws words from the language's own conditional: a rewrite of
    the language's text stays grammatical and still changes words."""
    lstm, _ = course_models
    language = SyntheticLanguage(lstm.config.corpus)
    texts = sample_true_texts(language, lstm.vocab, 8, 50, np.random.default_rng(1))
    rewritten = refill_from_language(texts, 0.15, lstm.vocab, language,
                                     torch.Generator().manual_seed(1))
    assert rewritten.shape == texts.shape
    assert torch.equal(rewritten[texts < N_SPECIAL], texts[texts < N_SPECIAL])
    assert grammatical_share(rewritten, lstm.vocab, lstm.config.corpus) == 1.0
    assert (rewritten != texts).any()
