"""Every registered loss against hand-written reference formulas, and the contract over the registry."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_gans import registry
from lightning_gans.losses import (
    AdversarialLoss,
    HingeLoss,
    LeastSquaresLoss,
    MinimaxLoss,
    NonSaturatingLoss,
    WassersteinLoss,
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


REAL = [2.0, -0.5, 0.3, 4.0]
FAKE = [-1.0, 0.7, -3.0, 0.1]


def reference_d_loss() -> float:
    """-(1/m) sum log D(x) - (1/m) sum log(1 - D(G(z))), with D = sigmoid(logit)."""
    return -sum(math.log(sigmoid(r)) for r in REAL) / 4 - sum(math.log(1 - sigmoid(f)) for f in FAKE) / 4


@pytest.mark.parametrize(
    ("loss", "reference_g_loss"),
    [
        (MinimaxLoss(), sum(math.log(1 - sigmoid(f)) for f in FAKE) / 4),  # (1/m) sum log(1 - D(G(z)))
        (NonSaturatingLoss(), -sum(math.log(sigmoid(f)) for f in FAKE) / 4),  # -(1/m) sum log D(G(z))
    ],
)
def test_gan_losses_match_the_paper_formulas(loss: AdversarialLoss, reference_g_loss: float) -> None:
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    assert loss.d_loss(real, fake).item() == pytest.approx(reference_d_loss(), rel=1e-12)
    assert loss.g_loss(fake).item() == pytest.approx(reference_g_loss, rel=1e-12)
    assert loss.score(real).tolist() == pytest.approx([sigmoid(r) for r in REAL])


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.mark.parametrize(
    ("loss", "reference_d", "reference_g"),
    [
        # Arjovsky et al. 2017: the critic maximises E f(x) - E f(G(z)); G maximises E f(G(z))
        (WassersteinLoss(), mean(FAKE) - mean(REAL), -mean(FAKE)),
        # Mao et al. 2017, 0-1 coding: 1/2 E(D(x) - 1)^2 + 1/2 E D(G(z))^2 and 1/2 E(D(G(z)) - 1)^2
        (
            LeastSquaresLoss(),
            0.5 * mean([(r - 1) ** 2 for r in REAL]) + 0.5 * mean([f**2 for f in FAKE]),
            0.5 * mean([(f - 1) ** 2 for f in FAKE]),
        ),
        # Lim & Ye 2017: E max(0, 1 - D(x)) + E max(0, 1 + D(G(z))) and -E D(G(z))
        (HingeLoss(), mean([max(0, 1 - r) for r in REAL]) + mean([max(0, 1 + f) for f in FAKE]), -mean(FAKE)),
    ],
)
def test_score_based_losses_match_their_papers(loss: AdversarialLoss, reference_d: float, reference_g: float) -> None:
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    assert loss.d_loss(real, fake).item() == pytest.approx(reference_d, rel=1e-12)
    assert loss.g_loss(fake).item() == pytest.approx(reference_g, rel=1e-12)
    assert torch.equal(loss.score(real), real)  # critics report raw scores, not probabilities


def test_one_sided_label_smoothing_targets_real_at_one_minus_s() -> None:
    """Salimans et al. 2016: the real term becomes -(0.9 log D(x) + 0.1 log(1 - D(x)))."""
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    smoothed = NonSaturatingLoss(label_smoothing=0.1).d_loss(real, fake).item()
    reference = -mean([0.9 * math.log(sigmoid(r)) + 0.1 * math.log(1 - sigmoid(r)) for r in REAL]) - mean(
        [math.log(1 - sigmoid(f)) for f in FAKE]
    )
    assert smoothed == pytest.approx(reference, rel=1e-12)
    # the fake side and the generator are untouched (one-sided)
    assert MinimaxLoss(label_smoothing=0.1).g_loss(fake) == MinimaxLoss().g_loss(fake)
    assert LeastSquaresLoss(real_target=0.9).d_loss(real, fake).item() == pytest.approx(
        0.5 * mean([(r - 0.9) ** 2 for r in REAL]) + 0.5 * mean([f**2 for f in FAKE]), rel=1e-12
    )
    with pytest.raises(ValueError, match="label_smoothing"):
        NonSaturatingLoss(label_smoothing=1.0)


def test_minimax_saturates_where_non_saturating_does_not() -> None:
    """Goodfellow et al. section 3: when D confidently rejects fakes, log(1 - D) has a vanishing gradient."""
    grads = {}
    for loss in (MinimaxLoss(), NonSaturatingLoss()):
        logits = torch.full((8,), -10.0, requires_grad=True)
        loss.g_loss(logits).backward()
        grads[type(loss).__name__] = logits.grad.abs().sum().item()  # type: ignore[union-attr]
    assert grads["MinimaxLoss"] < 1e-4 < 0.9 < grads["NonSaturatingLoss"]


def test_losses_stay_finite_at_extreme_logits() -> None:
    big = torch.tensor([-200.0, 200.0])
    for loss in (MinimaxLoss(), NonSaturatingLoss()):
        assert torch.isfinite(loss.d_loss(big, big)) and torch.isfinite(loss.g_loss(big))


@pytest.mark.parametrize("name", registry.losses.names())
def test_every_registered_loss_obeys_the_contract(name: str) -> None:
    loss = registry.losses.create(name)
    real = torch.randn(16, requires_grad=True)
    fake = torch.randn(16, requires_grad=True)
    d_loss, g_loss = loss.d_loss(real, fake), loss.g_loss(fake)
    assert d_loss.dim() == 0 and g_loss.dim() == 0
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    (d_loss + g_loss).backward()
    assert real.grad is not None and fake.grad is not None
