"""Regularisers against hand-written formulas, finite under bf16 autocast, and composed into training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_gans.regularisers import (
    Regularisation,
    apply_spectral_norm,
    clip_weights_,
    gradient_penalty,
    pack,
    r1_penalty,
    r2_penalty,
)


class Quadratic(nn.Module):
    """D(x) = sum(w * x^2): its input gradient is 2 w x, known in closed form."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.5, -1.5, 2.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.w * x.square()).sum(dim=1)


def test_gradient_penalty_matches_the_formula_on_the_interpolates() -> None:
    d = Quadratic()
    real, fake = torch.randn(6, 3), torch.randn(6, 3)
    rng = torch.Generator().manual_seed(7)
    penalty = gradient_penalty(d, real, fake, generator=rng)
    alpha = torch.rand(6, 1, generator=torch.Generator().manual_seed(7))
    x_hat = alpha * real + (1 - alpha) * fake
    reference = ((2 * d.w.detach() * x_hat).norm(dim=1) - 1).square().mean()
    assert penalty.item() == pytest.approx(reference.item(), rel=1e-5)
    penalty.backward()  # the penalty trains D: it reaches D's parameters
    assert d.w.grad is not None and d.w.grad.abs().sum() > 0


def test_r1_matches_the_formula() -> None:
    d = Quadratic()
    real = torch.randn(5, 3)
    reference = (2 * d.w.detach() * real).square().sum(dim=1).mean()
    assert r1_penalty(d, real).item() == pytest.approx(reference.item(), rel=1e-5)


def test_penalties_stay_float32_and_finite_under_bf16_autocast() -> None:
    torch.manual_seed(0)
    d = nn.Sequential(nn.Linear(3, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
    real, fake = torch.randn(32, 3) * 50, torch.randn(32, 3) * 50  # large inputs overflow half precision sooner
    exact_gp = gradient_penalty(d, real, fake, torch.Generator().manual_seed(1))
    exact_r1 = r1_penalty(d, real)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gp = gradient_penalty(d, real, fake, torch.Generator().manual_seed(1))
        r1 = r1_penalty(d, real)
    assert gp.dtype == torch.float32 and r1.dtype == torch.float32
    assert torch.isfinite(gp) and torch.isfinite(r1)
    assert gp.item() == pytest.approx(exact_gp.item(), rel=1e-6)
    assert r1.item() == pytest.approx(exact_r1.item(), rel=1e-6)


def test_regularisation_combines_the_weighted_penalties() -> None:
    d = Quadratic()
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    combined = Regularisation(gradient_penalty=10.0, r1_gamma=2.0).penalty(d, real, fake, torch.Generator())
    gp = gradient_penalty(d, real, fake, torch.Generator())
    assert combined is not None
    assert combined.item() == pytest.approx(10 * gp.item() + 0.5 * 2.0 * r1_penalty(d, real).item(), rel=1e-5)
    assert Regularisation().penalty(d, real, fake, None) is None
    with pytest.raises(ValueError, match="weight_clip"):
        Regularisation(weight_clip=0.0)


def test_weight_clipping_bounds_every_parameter() -> None:
    d = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    nn.init.normal_(d[0].weight, std=5.0)
    clip_weights_(d, 0.01)
    assert all(p.abs().max() <= 0.01 for p in d.parameters())


def test_spectral_norm_bounds_each_layers_largest_singular_value() -> None:
    torch.manual_seed(0)
    d = apply_spectral_norm(nn.Sequential(nn.Linear(16, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1)))
    for _ in range(20):  # power iteration converges while training runs forward passes
        d(torch.randn(8, 16))
    d.eval()
    sigma = torch.linalg.matrix_norm(d[0].weight.detach(), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_instance_noise_anneals_linearly_to_zero() -> None:
    schedule = Regularisation(instance_noise=0.2, instance_noise_steps=100)
    assert [schedule.noise_std(s) for s in (0, 50, 100, 150)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    assert Regularisation(instance_noise=0.3).noise_std(10_000) == 0.3


def test_pack_concatenates_consecutive_samples() -> None:
    x = torch.arange(6 * 2, dtype=torch.float32).view(6, 2)
    packed = pack(x, 3)
    assert packed.tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    images = torch.randn(8, 1, 4, 4)
    assert pack(images, 4).shape == (2, 4, 4, 4) and torch.equal(pack(images, 4)[0, 1], images[1, 0])
    assert pack(torch.randn(7, 2), 2).shape == (3, 4)  # the last incomplete pack is dropped
    with pytest.raises(ValueError, match="groups of 4"):
        pack(torch.randn(3, 2), 4)


def test_r2_matches_the_formula_on_generated_samples() -> None:
    d = Quadratic()
    fake = torch.randn(5, 3)
    reference = (2 * d.w.detach() * fake).square().sum(dim=1).mean()
    assert r2_penalty(d, fake).item() == pytest.approx(reference.item(), rel=1e-5)
    real = torch.randn(5, 3)
    both = Regularisation(r1_gamma=0.4, r2_gamma=0.6).penalty(d, real, fake, None)
    assert both is not None
    assert both.item() == pytest.approx(0.2 * r1_penalty(d, real).item() + 0.3 * reference.item(), rel=1e-5)


def test_lazy_regularisation_applies_the_penalties_every_kth_step_weighted_by_k() -> None:
    d = Quadratic()
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    every = Regularisation(r1_gamma=1.0, r2_gamma=1.0).penalty(d, real, fake, None)
    lazy = Regularisation(r1_gamma=1.0, r2_gamma=1.0, lazy_interval=4)
    assert [lazy.penalty(d, real, fake, None, step) is None for step in range(6)] == [
        False,
        True,
        True,
        True,
        False,
        True,
    ]
    weighted = lazy.penalty(d, real, fake, None, 8)
    assert every is not None and weighted is not None and weighted.item() == pytest.approx(4 * every.item(), rel=1e-6)
    with pytest.raises(ValueError, match="lazy_interval"):
        Regularisation(lazy_interval=0)
