"""The two objectives of Goodfellow et al. 2014, "Generative Adversarial Nets" (arXiv:1406.2661).

Written on logits with ``softplus`` because log(sigmoid(l)) = -softplus(-l) and
log(1 - sigmoid(l)) = -softplus(l) stay finite where taking the log of a saturated sigmoid would not.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from lightning_gans.losses.base import AdversarialLoss


def discriminator_bce(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))]: the discriminator side of the minimax value function.

    ``real_target`` < 1 is one-sided label smoothing (Salimans et al. 2016): the cross-entropy against a
    target t is softplus(l) - t * l, which for t = 1 is softplus(-l).
    """
    real_term = F.softplus(-real_logits) if real_target == 1.0 else F.softplus(real_logits) - real_target * real_logits
    return real_term.mean() + F.softplus(fake_logits).mean()


def generator_minimax(fake_logits: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))]: the generator side of the minimax game (Algorithm 1). Saturates early on."""
    return -F.softplus(fake_logits).mean()


def generator_non_saturating(fake_logits: Tensor) -> Tensor:
    """-E[log D(G(z))]: the paper's practical alternative with strong gradients when D rejects fakes."""
    return F.softplus(-fake_logits).mean()


class _CrossEntropyDiscriminator(AdversarialLoss):
    """D's cross-entropy, with optional one-sided label smoothing (real target 1 - label_smoothing)."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return discriminator_bce(real_logits, fake_logits, 1.0 - self.label_smoothing)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(label_smoothing={self.label_smoothing})"


class MinimaxLoss(_CrossEntropyDiscriminator):
    """min_G max_D V(D, G) exactly as written in Goodfellow et al. 2014, eq. 1."""

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return generator_minimax(fake_logits)


class NonSaturatingLoss(_CrossEntropyDiscriminator):
    """Goodfellow et al. 2014, section 3: G maximises log D(G(z)) instead of minimising log(1 - D(G(z)))."""

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return generator_non_saturating(fake_logits)
