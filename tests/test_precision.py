"""The output layer's precision (``utils.runtime.precision``): the setting, and what it changes.

bfloat16 is a speed setting, never a change of results: its fused loss must match
float32's, and a training run of the course's pretrained model must end within
1 % of float32's validation perplexity.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from utils.lm.fused_loss import fused_linear_cross_entropy
from utils.lm.pretrained import PretrainConfig, pretrained_model
from utils.runtime import precision
from utils.runtime.run import run_key
from utils.runtime.scoped import num_threads

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def fresh_precision(monkeypatch):
    """Each test reads ``$COURSE_PRECISION`` afresh and leaves no choice cached."""
    monkeypatch.delenv("COURSE_PRECISION", raising=False)
    precision.get_precision.cache_clear()
    yield
    precision.get_precision.cache_clear()


def _ask(monkeypatch, value: str, supported: bool | None = None) -> None:
    monkeypatch.setenv("COURSE_PRECISION", value)
    if supported is not None:
        monkeypatch.setattr(precision, "bf16_supported", lambda device: supported)
    precision.get_precision.cache_clear()


def test_default_is_float32():
    assert precision.get_precision(CPU) == "float32"
    assert precision.matmul_dtype(CPU) is None


@pytest.mark.parametrize("asked", ["bfloat16", "bf16", "auto"])
def test_bfloat16_where_the_hardware_has_it_float32_elsewhere(monkeypatch, asked):
    _ask(monkeypatch, asked, supported=True)
    assert precision.get_precision(CPU) == "bfloat16"
    assert precision.matmul_dtype(CPU) is torch.bfloat16
    _ask(monkeypatch, asked, supported=False)
    assert precision.get_precision(CPU) == "float32"


def test_unknown_precision_is_refused(monkeypatch):
    _ask(monkeypatch, "float16")
    with pytest.raises(ValueError, match="COURSE_PRECISION"):
        precision.get_precision(CPU)


def test_bfloat16_runs_have_their_own_cache_key(monkeypatch):
    config = PretrainConfig()
    float32_key = run_key("lstm-lm", config)
    _ask(monkeypatch, "float32", supported=True)
    assert run_key("lstm-lm", config) == float32_key  # asking for float32 changes nothing
    _ask(monkeypatch, "bfloat16", supported=True)
    assert run_key("lstm-lm", config) != float32_key


@pytest.mark.parametrize("with_bias", [True, False])
def test_bfloat16_fused_loss_matches_float32_autograd(with_bias):
    gen = torch.Generator().manual_seed(0)
    n, h, v = 300, 48, 1000  # 300 rows: three blocks of 128, the last one short
    hidden = torch.randn(n, h, generator=gen, requires_grad=True)
    weight = (0.3 * torch.randn(v, h, generator=gen)).requires_grad_()
    bias = torch.randn(v, generator=gen, requires_grad=True) if with_bias else None
    targets = torch.randint(v, (n,), generator=gen)
    inputs = [hidden, weight] + ([bias] if with_bias else [])

    reference = F.cross_entropy(F.linear(hidden, weight, bias), targets)
    expected = torch.autograd.grad(reference, inputs)
    loss = fused_linear_cross_entropy(hidden, weight, bias, targets, 128, torch.bfloat16)
    grads = torch.autograd.grad(loss, inputs)

    assert loss.dtype == torch.float32
    assert abs(loss.item() - reference.item()) < 0.01 * reference.item()
    for got, want in zip(grads, expected, strict=True):
        assert got.dtype == torch.float32
        # bfloat16 keeps 8 bits of mantissa: errors of a few parts in a thousand.
        assert (got - want).norm() < 0.02 * want.norm()
        assert F.cosine_similarity(got.flatten(), want.flatten(), dim=0) > 0.999


def _final_perplexity() -> float:
    # The course's pretrained model (chapter 4) through the model cache: the float32 run is the
    # one the book trained, and the bfloat16 run has its own cache key, so each trains once.
    run = pretrained_model(progress=False)
    return run.record.valid[-1]["perplexity"]


@pytest.mark.slow
@pytest.mark.skipif(not precision.bf16_supported(CPU),
                    reason="this CPU has no native bfloat16 matrix products (AVX-512 BF16, AMX)")
def test_bfloat16_training_ends_within_one_percent_of_float32(monkeypatch):
    with num_threads(1):
        _ask(monkeypatch, "float32")
        float32_ppl = _final_perplexity()
        _ask(monkeypatch, "bfloat16")
        assert precision.get_precision(CPU) == "bfloat16"
        bfloat16_ppl = _final_perplexity()
    _ask(monkeypatch, "float32")
    assert abs(bfloat16_ppl / float32_ppl - 1) < 0.01, (float32_ppl, bfloat16_ppl)
