"""The Wasserstein critic objective of Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN"
(arXiv:1701.07875), used with weight clipping (WGAN) or a gradient penalty (WGAN-GP, Gulrajani et al. 2017).

The critic f estimates W(P_r, P_g) = max_{||f||_L <= 1} E[f(x)] - E[f(G(z))]. The Lipschitz constraint is not
part of the loss: the variant clips weights or adds ``regularisers.gradient_penalty``.
"""

from __future__ import annotations

from torch import Tensor

from lightning_gans.losses.base import AdversarialLoss


def critic_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[f(G(z))] - E[f(x)]: the negated Wasserstein estimate, minimised by the critic."""
    return fake_scores.mean() - real_scores.mean()


def generator_wasserstein(fake_scores: Tensor) -> Tensor:
    """-E[f(G(z))]."""
    return -fake_scores.mean()


class WassersteinLoss(AdversarialLoss):
    """WGAN's critic and generator losses. ``train/d_real``/``d_fake`` report the raw critic scores."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return critic_wasserstein(real_logits, fake_logits)

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return generator_wasserstein(fake_logits)

    def score(self, logits: Tensor) -> Tensor:
        return logits


class WassersteinDriftLoss(WassersteinLoss):
    """WGAN's losses with ProGAN's drift term (Karras et al. 2018, arXiv:1710.10196, section A.1): the critic also
    pays ``drift`` * E[f(x)^2] on real data, which keeps its scores from drifting far from zero (the Wasserstein
    loss is blind to a constant shift).

    Args:
        drift: epsilon_drift (the paper's 0.001).
    """

    def __init__(self, drift: float = 0.001) -> None:
        super().__init__()
        if drift < 0:
            raise ValueError(f"drift must be >= 0, got {drift}")
        self.drift = drift

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return critic_wasserstein(real_logits, fake_logits) + self.drift * real_logits.square().mean()
