"""The two objectives of Goodfellow et al. 2014, "Generative Adversarial Nets" (arXiv:1406.2661).

Written on logits with ``softplus`` because log(sigmoid(l)) = -softplus(-l) and
log(1 - sigmoid(l)) = -softplus(l) stay finite where taking the log of a saturated sigmoid would not.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from lightning_gans.losses.base import AdversarialLoss


def discriminator_bce(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))]: the discriminator side of the minimax value function."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_minimax(fake_logits: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))]: the generator side of the minimax game (Algorithm 1). Saturates early on."""
    return -F.softplus(fake_logits).mean()


def generator_non_saturating(fake_logits: Tensor) -> Tensor:
    """-E[log D(G(z))]: the paper's practical alternative with strong gradients when D rejects fakes."""
    return F.softplus(-fake_logits).mean()


class MinimaxLoss(AdversarialLoss):
    """min_G max_D V(D, G) exactly as written in Goodfellow et al. 2014, eq. 1."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return discriminator_bce(real_logits, fake_logits)

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return generator_minimax(fake_logits)


class NonSaturatingLoss(AdversarialLoss):
    """Goodfellow et al. 2014, section 3: G maximises log D(G(z)) instead of minimising log(1 - D(G(z)))."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return discriminator_bce(real_logits, fake_logits)

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return generator_non_saturating(fake_logits)
