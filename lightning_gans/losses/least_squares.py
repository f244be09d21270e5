"""Least squares GAN: Mao et al. 2017, "Least Squares Generative Adversarial Networks" (arXiv:1611.04076).

With the paper's 0-1 coding (a = 0 for fake, b = 1 for real, c = 1 the value G wants D to believe):
    D: 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]        G: 1/2 E[(D(G(z)) - c)^2]
"""

from __future__ import annotations

from torch import Tensor

from lightning_gans.losses.base import AdversarialLoss


def discriminator_least_squares(real_scores: Tensor, fake_scores: Tensor, a: float, b: float) -> Tensor:
    return 0.5 * (real_scores - b).square().mean() + 0.5 * (fake_scores - a).square().mean()


def generator_least_squares(fake_scores: Tensor, c: float) -> Tensor:
    return 0.5 * (fake_scores - c).square().mean()


class LeastSquaresLoss(AdversarialLoss):
    """LSGAN's losses. ``real_target`` below 1 is one-sided label smoothing (b = 0.9, say)."""

    def __init__(self, fake_target: float = 0.0, real_target: float = 1.0, generator_target: float = 1.0) -> None:
        self.a, self.b, self.c = fake_target, real_target, generator_target

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return discriminator_least_squares(real_logits, fake_logits, self.a, self.b)

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return generator_least_squares(fake_logits, self.c)

    def score(self, logits: Tensor) -> Tensor:
        return logits  # D regresses towards 1 for real and 0 for fake

    def __repr__(self) -> str:
        return f"LeastSquaresLoss(fake_target={self.a}, real_target={self.b}, generator_target={self.c})"
