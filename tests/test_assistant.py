"""Chapter 5's assistant: the verifiers, contamination check, chat format and the three losses.

The DPO loss is compared with TRL's own ``DPOTrainer`` loss code on the same
per-token log-probabilities (skipped when trl is not installed).
"""

from __future__ import annotations

import math
import types
from collections import defaultdict

import pytest
import torch
import torch.nn.functional as F

from utils.assistant import (
    END,
    HELD_OUT_TYPES,
    TRAINED_TYPES,
    Example,
    add_tokens,
    answer_log_probs,
    chat_batch,
    chat_vocab,
    contaminated,
    dpo_loss,
    frozen_copy,
    generate_ids,
    group_advantages,
    instruction_set,
    is_correct,
    leaks,
    make_examples,
    ngram_overlap,
    ngrams,
    policy_gradient_loss,
    prompt_ids,
    safety_training_pairs,
    sft_loss,
    token_log_probs,
)
from utils.data.corpus import CorpusConfig, SyntheticLanguage
from utils.lm import LSTMLanguageModel, ModelConfig

LANGUAGE = SyntheticLanguage(CorpusConfig())


@pytest.fixture(scope="module")
def data():
    return instruction_set(100, 40, seed=0)


@pytest.fixture(scope="module")
def setup():
    from utils.data.text import Vocab

    base = Vocab.from_dict({"tokens": LANGUAGE.vocab})
    vocab = chat_vocab(base)
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=len(base), emb_size=16, hidden_size=16,
                                          num_layers=1, dropout=0.0))
    return base, vocab, add_tokens(model, len(vocab))


def test_every_reference_answer_passes_its_verifier(data):
    train, suites = data
    assert {e.task for e in train} == set(TRAINED_TYPES)
    assert set(suites) == set(TRAINED_TYPES + HELD_OUT_TYPES)
    for e in train + [e for s in suites.values() for e in s]:
        assert is_correct(e, e.reference, LANGUAGE), e


def test_verifiers_reject_wrong_answers_and_accept_other_grammatical_continuations():
    plural = make_examples("plural", 1, split="eval", seed=0)[0]
    assert not is_correct(plural, (plural.prompt[-1],), LANGUAGE)  # the singular
    assert not is_correct(plural, (*plural.reference, "."), LANGUAGE)
    review = make_examples("sentiment", 1, split="eval", seed=0)[0]
    flipped = ("no",) if review.reference == ("yes",) else ("yes",)
    assert not is_correct(review, flipped, LANGUAGE)
    example = Example("continue", ("continue", ":", "the", "cat"), ("sat", "on", "the", "mat", "."),
                      ("the", "cat"))
    # Any sentence the grammar can finish from the prefix is right, not the reference alone.
    assert is_correct(example, ("hid", "under", "the", "box", "today", "."), LANGUAGE)
    assert not is_correct(example, ("is", "shiny", "."), LANGUAGE)
    assert not is_correct(example, ("sat", "on", "the"), LANGUAGE)  # unfinished
    assert not is_correct(example, (), LANGUAGE)


def test_splits_use_different_items_and_no_evaluation_prompt_is_trained_on(data):
    train, suites = data
    train_prompts = [e.prompt for e in train]
    eval_prompts = [e.prompt for s in suites.values() for e in s]
    assert not set(train_prompts) & set(eval_prompts)
    assert contaminated(train_prompts, eval_prompts, n=13) == 0.0
    train_nouns = {e.prompt[-1] for e in train if e.task == "plural"}
    assert not train_nouns & {e.prompt[-1] for e in suites["plural"]}


def test_the_contamination_check_catches_a_leaked_prompt_and_partial_overlap(data):
    train, suites = data
    train_prompts = [e.prompt for e in train]
    leaked = [e.prompt for e in suites["sentiment"][:5]]
    clean = [e.prompt for e in suites["sentiment"][5:]]
    # Repeated prompts in the suite count as leaked too: every copy was seen.
    expected = sum(p in set(leaked) for p in leaked + clean) / len(leaked + clean)
    assert contaminated(train_prompts + leaked, leaked + clean, n=13) == pytest.approx(expected)
    assert contaminated(train_prompts, leaked + clean, n=13) == 0.0
    assert ngrams(("a", "b"), 13) == {("a", "b")}
    assert ngrams(("a", "b", "c"), 2) == {("a", "b"), ("b", "c")}
    assert ngram_overlap([("a", "b", "c")], [("b", "c", "d")], n=2) == [0.5]
    with pytest.raises(ValueError):
        ngrams(("a",), 0)


def test_chat_vocab_keeps_the_old_ids_and_add_tokens_keeps_old_logits(setup):
    base, vocab, model = setup
    assert vocab.itos[:len(base)] == base.itos
    assert {"<user>", "<assistant>", END, "plural", "?"} <= set(vocab.itos[len(base):])
    torch.manual_seed(1)
    small = LSTMLanguageModel(ModelConfig(vocab_size=len(base), emb_size=16, hidden_size=16,
                                          num_layers=1, dropout=0.0)).eval()
    grown = add_tokens(small, len(vocab)).eval()
    assert grown.decoder.weight is grown.embedding.weight  # still tied
    tokens = torch.tensor([base.encode(["the", "cat", "sat"])])
    assert torch.allclose(small(tokens)[0], grown(tokens)[0][..., :len(base)])
    assert torch.allclose(grown.embedding.weight[len(base):],
                          small.embedding.weight.mean(0).expand(len(vocab) - len(base), -1))
    assert small.embedding.num_embeddings == len(base)  # the original is untouched


def test_chat_batch_masks_answers_and_real_tokens(setup):
    _, vocab, _ = setup
    prompts = [prompt_ids(("plural", "of", "key"), vocab),
               prompt_ids(("review", ":", "the", "film", "was", "good", ".", "positive", "?"),
                          vocab)]
    answers = [vocab.encode(["keys"]), vocab.encode(["yes"])]
    batch = chat_batch(prompts, answers, vocab)
    assert batch.inputs.shape == batch.targets.shape
    for row, (p, a) in enumerate(zip(prompts, answers, strict=True)):
        assert batch.targets[row][batch.answer_mask[row]].tolist() == [*a, vocab.stoi[END]]
        assert batch.targets[row][batch.text_mask[row]].tolist() == [*p[1:], *a, vocab.stoi[END]]


def test_answer_only_sft_gives_prompt_tokens_no_gradient(setup):
    _, vocab, model = setup
    batch = chat_batch([prompt_ids(("plural", "of", "key"), vocab)], [vocab.encode(["keys"])],
                       vocab)
    logits, _ = model(batch.inputs)
    logits = logits.detach().requires_grad_(True)
    log_p = F.log_softmax(logits, -1).gather(-1, batch.targets[..., None])[..., 0]
    loss = -(log_p * batch.answer_mask).sum() / batch.answer_mask.sum()
    loss.backward()
    assert logits.grad[~batch.answer_mask].abs().sum() == 0
    assert torch.isclose(sft_loss(model, batch), F.cross_entropy(
        model(batch.inputs)[0][batch.answer_mask], batch.targets[batch.answer_mask]))
    assert sft_loss(model, batch, answer_only=False) != sft_loss(model, batch)


def test_answer_log_probs_sum_the_answer_tokens(setup):
    _, vocab, model = setup
    batch = chat_batch([prompt_ids(("continue", ":", "the", "cat"), vocab)],
                       [vocab.encode(["sat", "on", "the", "mat", "."])], vocab)
    per_token = token_log_probs(model, batch)[batch.answer_mask]
    assert per_token.numel() == 6  # five words and <end>
    assert torch.isclose(answer_log_probs(model, batch)[0], per_token.sum())


def test_dpo_loss_is_log2_at_the_reference_and_falls_as_chosen_gains():
    logps = torch.tensor([-3.0, -5.0])
    zero = dpo_loss(logps[:1], logps[1:], logps[:1], logps[1:], beta=0.1)
    assert torch.isclose(zero, torch.tensor([math.log(2)]))
    better = dpo_loss(logps[:1] + 1, logps[1:], logps[:1], logps[1:], beta=0.1)
    worse = dpo_loss(logps[:1], logps[1:] + 1, logps[:1], logps[1:], beta=0.1)
    assert better < zero < worse
    # beta scales the margin: the same gain counts more with a larger beta.
    assert dpo_loss(logps[:1] + 1, logps[1:], logps[:1], logps[1:], beta=1.0) < better


def _trl_dpo_loss(per_token_policy, per_token_ref, mask, beta):
    """TRL 1.16's ``DPOTrainer._compute_loss`` run on given per-token log-probabilities."""
    trl_dpo = pytest.importorskip("trl.trainer.dpo_trainer")
    identity = types.SimpleNamespace(gather=lambda x: x, gather_for_metrics=lambda x: x,
                                     device="cpu")
    trainer = types.SimpleNamespace(
        model=types.SimpleNamespace(training=True), accelerator=identity,
        aux_loss_enabled=False, ld_alpha=None, precompute_ref_logps=True,
        f_divergence_type="reverse_kl", loss_types=["sigmoid"], loss_weights=[1.0],
        beta=beta, use_weighting=False, label_smoothing=0.0, _tp_size=1,
        _total_train_tokens=0, _metrics={"train": defaultdict(list)})
    rows, seq = per_token_policy.shape
    outputs = types.SimpleNamespace(
        log_probs=per_token_policy * mask, entropy=torch.zeros(rows, seq),
        mean_logits=torch.zeros(rows, seq), is_top1=torch.zeros(rows, seq, dtype=torch.bool))
    ref = (per_token_ref * mask).sum(1)
    half = rows // 2
    inputs = {"input_ids": torch.zeros(rows, seq + 1, dtype=torch.long),
              "attention_mask": torch.ones(rows, seq + 1, dtype=torch.long),
              "completion_mask": torch.cat([torch.zeros(rows, 1), mask.float()], 1).long(),
              "ref_chosen_logps": ref[:half], "ref_rejected_logps": ref[half:]}
    return trl_dpo.DPOTrainer._compute_loss(trainer, lambda **_: outputs, inputs, False)


def test_dpo_loss_matches_trl_on_the_same_log_probabilities(setup):
    _, vocab, model = setup
    chosen = chat_batch([prompt_ids(("plural", "of", "key"), vocab),
                         prompt_ids(("continue", ":", "the", "cat"), vocab)],
                        [vocab.encode(["keys"]), vocab.encode(["sat", "on", "the", "mat", "."])],
                        vocab)
    rejected = chat_batch([prompt_ids(("plural", "of", "key"), vocab),
                           prompt_ids(("continue", ":", "the", "cat"), vocab)],
                          [vocab.encode(["key", "key"]), vocab.encode(["is", "."])], vocab)
    torch.manual_seed(3)
    reference = frozen_copy(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ours = dpo_loss(answer_log_probs(model, chosen), answer_log_probs(model, rejected),
                    answer_log_probs(reference, chosen), answer_log_probs(reference, rejected),
                    beta=0.1).mean()
    width = max(chosen.inputs.shape[1], rejected.inputs.shape[1])

    def padded(batch, values):  # (rows, width): right-align so both batches stack
        return F.pad(values, (width - values.shape[1], 0))

    policy = torch.cat([padded(chosen, token_log_probs(model, chosen)),
                        padded(rejected, token_log_probs(model, rejected))])
    ref = torch.cat([padded(chosen, token_log_probs(reference, chosen)),
                     padded(rejected, token_log_probs(reference, rejected))])
    mask = torch.cat([padded(chosen, chosen.answer_mask.float()),
                      padded(rejected, rejected.answer_mask.float())])
    theirs = _trl_dpo_loss(policy, ref, mask, beta=0.1)
    assert torch.isclose(ours, theirs, atol=1e-6)
    assert not torch.isclose(ours, torch.tensor(math.log(2)))  # the policy did move


def test_group_advantages_and_the_kl_penalty(setup):
    _, vocab, model = setup
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
    assert torch.allclose(adv[0].mean(), torch.tensor(0.0), atol=1e-6)
    assert torch.all(adv[1] == 0)  # nothing to learn when every answer scores alike
    assert adv[0, 0] > 0 > adv[0, 1]
    batch = chat_batch([prompt_ids(("plural", "of", "key"), vocab)] * 2,
                       [vocab.encode(["keys"]), vocab.encode(["key"])], vocab)
    reference = frozen_copy(model)
    assert not any(p.requires_grad for p in reference.parameters())
    _, kl = policy_gradient_loss(model, reference, batch, torch.tensor([1.0, -1.0]), 0.1)
    assert kl.abs() < 1e-6
    moved = frozen_copy(model)
    with torch.no_grad():
        moved.decoder.bias.add_(torch.randn_like(moved.decoder.bias))
    _, kl = policy_gradient_loss(moved, reference, batch, torch.tensor([1.0, -1.0]), 0.1)
    assert kl > 0


def test_generation_stops_at_end_and_greedy_is_deterministic(setup):
    _, vocab, model = setup
    ids = [prompt_ids(("plural", "of", "key"), vocab), prompt_ids(("which", "animal", "?"), vocab)]
    first = generate_ids(model, ids, vocab, max_new=5)
    assert first == generate_ids(model, ids, vocab, max_new=5)
    assert all(len(a) <= 5 and vocab.stoi[END] not in a for a in first)
    g = torch.Generator().manual_seed(0)
    sampled = generate_ids(model, ids * 20, vocab, max_new=3, temperature=1.0, generator=g)
    assert len({tuple(a) for a in sampled}) > 1


def test_safety_pairs_and_the_leak_detector():
    pairs = safety_training_pairs(30, seed=0)
    assert sum(a == ("sorry",) for _, a in pairs) == 20
    assert all(p[:5] == ("continue", ":", "the", "code", "is") for p, _ in pairs[::3])
    assert leaks(("continue", ":", "the", "code"), ("is", "4", "8", "1", "5", "2", "."), "48152")
    assert not leaks(("continue", ":", "the", "code", "is"), ("4", "8", "1", "5", "3"), "48152")
    assert leaks(("continue", ":", "the", "code", "is", "4", "8"), ("1", "5", "2"), "48152")
