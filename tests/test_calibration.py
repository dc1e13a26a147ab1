"""Tests of utils.evaluate.calibration: ECE against a plain loop, temperature scaling."""

import pytest
import torch

from utils.evaluate.calibration import (
    apply_temperature,
    confidence_and_correct,
    expected_calibration_error,
    fit_temperature,
    nll_at_temperature,
    reliability_diagram,
)


def plain_ece(confidence, correct, n_bins):
    """ECE written the obvious way: loop over bins ((m-1)/M, m/M], weight by bin size."""
    n, total = len(confidence), 0.0
    for m in range(n_bins):
        low, high = m / n_bins, (m + 1) / n_bins
        members = [i for i in range(n)
                   if low < confidence[i] <= high or (m == 0 and confidence[i] == 0)]
        if members:
            acc = sum(correct[i] for i in members) / len(members)
            conf = sum(confidence[i] for i in members) / len(members)
            total += len(members) / n * abs(acc - conf)
    return total


@pytest.mark.parametrize("seed, n_bins", [(0, 15), (1, 10), (2, 4), (3, 15)])
def test_ece_equals_a_plain_reimplementation(seed, n_bins):
    generator = torch.Generator().manual_seed(seed)
    confidence = torch.rand(500, generator=generator, dtype=torch.float64)
    correct = (torch.rand(500, generator=generator, dtype=torch.float64) < confidence ** 2).double()
    expected = plain_ece(confidence.tolist(), correct.tolist(), n_bins)
    assert expected_calibration_error(confidence, correct, n_bins=n_bins) == pytest.approx(
        expected, abs=1e-12)


def test_default_is_fifteen_bins():
    generator = torch.Generator().manual_seed(4)
    confidence = torch.rand(300, generator=generator, dtype=torch.float64)
    correct = (torch.rand(300, generator=generator) < 0.5).double()
    assert reliability_diagram(confidence, correct).count.numel() == 15
    assert expected_calibration_error(confidence, correct) == pytest.approx(
        plain_ece(confidence.tolist(), correct.tolist(), 15), abs=1e-12)


def test_bin_edges_are_right_closed():
    diagram = reliability_diagram(torch.tensor([0.0, 0.5, 0.5001, 1.0]),
                                  torch.tensor([1.0, 1.0, 0.0, 1.0]), n_bins=2)
    assert diagram.count.tolist() == [2.0, 2.0]


def test_ece_is_zero_for_a_perfectly_calibrated_case():
    # In each bin, exactly the stated fraction of predictions is right.
    confidence = torch.tensor([0.25] * 4 + [0.6] * 5 + [0.9] * 10, dtype=torch.float64)
    correct = torch.tensor([1, 0, 0, 0] + [1, 1, 1, 0, 0] + [1] * 9 + [0], dtype=torch.float64)
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_a_fully_confident_wrong_model_is_one():
    assert expected_calibration_error(torch.ones(10), torch.zeros(10)) == pytest.approx(1.0)


def test_confidence_and_correct_use_the_top_class():
    probs = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    confidence, correct = confidence_and_correct(probs, torch.tensor([1, 2]))
    assert confidence.tolist() == pytest.approx([0.7, 0.5])
    assert correct.tolist() == [1.0, 0.0]


def overconfident_data(seed, n=4000, classes=6):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=generator, dtype=torch.float64) * 3
    targets = torch.multinomial(torch.softmax(logits / 2.0, dim=1), 1,
                                generator=generator).squeeze(1)
    return logits, targets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fitted_temperature_never_raises_the_nll(seed):
    logits, targets = overconfident_data(seed)
    t = fit_temperature(logits, targets)
    assert nll_at_temperature(logits, targets, t) <= nll_at_temperature(logits, targets, 1.0)
    assert t == pytest.approx(2.0, rel=0.15)  # the data were drawn at temperature 2
    # It is the minimum: nearby temperatures do no better.
    for nearby in (0.95 * t, 1.05 * t):
        assert nll_at_temperature(logits, targets, t) <= nll_at_temperature(
            logits, targets, nearby) + 1e-12


def test_temperature_scaling_lowers_ece_and_keeps_accuracy():
    logits, targets = overconfident_data(5)
    t = fit_temperature(logits, targets)
    before = confidence_and_correct(torch.softmax(logits, 1), targets)
    after = confidence_and_correct(torch.softmax(logits / t, 1), targets)
    assert torch.equal(before[1], after[1])
    assert expected_calibration_error(*after) < expected_calibration_error(*before)


def test_calibrated_model_keeps_temperature_one():
    generator = torch.Generator().manual_seed(6)
    logits = torch.randn(20_000, 5, generator=generator, dtype=torch.float64) * 2
    targets = torch.multinomial(torch.softmax(logits, 1), 1, generator=generator).squeeze(1)
    assert fit_temperature(logits, targets) == pytest.approx(1.0, abs=0.05)


def test_apply_temperature_matches_dividing_logits():
    probs = torch.tensor([[0.5, 0.3, 0.2, 0.0]], dtype=torch.float64)
    scaled = apply_temperature(probs, 0.5)
    expected = probs ** 2 / (probs ** 2).sum()
    assert torch.allclose(scaled, expected)
    assert scaled[0, 3] == 0
    with pytest.raises(ValueError):
        apply_temperature(probs, 0.0)


def test_confidences_on_bin_edges_go_to_the_bin_below():
    # 0.3 * 10 rounds to 3.0000000000000004: binning by ceil(c * M) would put 0.3 in
    # (0.3, 0.4]; it belongs to (0.2, 0.3], as the plain loop over edges m / M says.
    confidence = [0.1, 0.2, 0.3, 0.6, 0.7, 0.9, 1.0, 0.0, 0.35]
    correct = [1, 0, 1, 1, 0, 1, 1, 0, 0]
    diagram = reliability_diagram(torch.tensor(confidence, dtype=torch.float64), correct,
                                  n_bins=10)
    assert diagram.count.tolist() == [2, 1, 1, 1, 0, 1, 1, 0, 1, 1]
    assert expected_calibration_error(confidence, correct, n_bins=10) == pytest.approx(
        plain_ece(confidence, correct, 10), abs=1e-12)
    for n_bins in (3, 7, 15, 20):
        edges = [m / n_bins for m in range(n_bins + 1)]
        on_edges = torch.tensor(edges, dtype=torch.float64)
        hits = [m % 2 for m in range(n_bins + 1)]
        assert expected_calibration_error(on_edges, hits, n_bins=n_bins) == pytest.approx(
            plain_ece(edges, hits, n_bins), abs=1e-12)


def test_bad_input_is_rejected_with_a_clear_error():
    with pytest.raises(ValueError, match="non-empty"):
        expected_calibration_error([], [])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error([0.5, float("nan")], [1, 0])
    with pytest.raises(ValueError, match="0 or 1"):
        expected_calibration_error([0.5, 0.7], [1, 2])
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([0.5], [1], n_bins=0)
    logits, targets = overconfident_data(0, n=50)
    with pytest.raises(ValueError, match="bounds"):
        fit_temperature(logits, targets, bounds=(0.0, 10.0))  # a zero temperature bound
    with pytest.raises(ValueError, match="bounds"):
        fit_temperature(logits, targets, bounds=(5.0, 1.0))
    with pytest.raises(ValueError, match="49 entries"):
        fit_temperature(logits, targets[:-1])
    with pytest.raises(ValueError, match="targets has 3 entries"):
        confidence_and_correct(torch.softmax(logits, 1), targets[:3])
    with pytest.raises(ValueError, match="temperature"):
        nll_at_temperature(logits, targets, 0.0)
