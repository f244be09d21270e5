"""A generator loss lightning-gans does not ship."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from lightning_gans.losses.base import AdversarialLoss


class ReverseKLLoss(AdversarialLoss):
    """Discriminator: the usual cross-entropy. Generator: minimise E[-logit D(G(z))] = E[-log(D / (1 - D))].

    With the optimal discriminator this generator objective minimises KL(p_g || p_data), the mode-seeking
    direction (Huszar 2016, "How (not) to Train your Generative Model"; Sonderby et al. 2017, "Amortised MAP
    Inference for Image Super-resolution", appendix). A loss subclasses ``AdversarialLoss`` and implements
    ``d_loss`` and ``g_loss`` on raw discriminator outputs; it never calls ``backward``.
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()
