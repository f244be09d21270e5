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
