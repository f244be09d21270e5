"""Hinge loss: Lim & Ye 2017, "Geometric GAN" (arXiv:1705.02894); with spectral normalisation in Miyato et al.
2018, "Spectral Normalization for Generative Adversarial Networks" (arXiv:1802.05957).

    D: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]        G: -E[D(G(z))]
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.wasserstein import generator_wasserstein


def discriminator_hinge(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


# G's side of the hinge objective is WGAN's linear loss, -E[D(G(z))].
generator_hinge = generator_wasserstein


class HingeLoss(AdversarialLoss):
    """The hinge discriminator loss with the linear generator loss."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return discriminator_hinge(real_logits, fake_logits)

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return generator_hinge(fake_logits)

    def score(self, logits: Tensor) -> Tensor:
        return logits
