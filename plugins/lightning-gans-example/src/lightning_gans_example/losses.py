"""A generator loss lightning-gans does not ship."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from lightning_gans.losses.base import AdversarialLoss


class ReverseKLLoss(AdversarialLoss):
    """Discriminator: the usual cross-entropy. Generator: minimise E[-logit D(G(z))] = E[-log(D / (1 - D))].

    With the optimal discriminator this generator objective minimises KL(p_g || p_data), the mode-seeking
    direction (Huszar 2016, "How (not) to Train your Generative Model"; Sonderby et al. 2017, "Amortised MAP
    Inference for Image Super-resolution", appendix).

    A loss subclasses ``AdversarialLoss`` and implements ``d_loss(real_logits, fake_logits)`` and
    ``g_loss(real_logits, fake_logits)`` on raw discriminator outputs, each returning a scalar to minimise; it
    never calls ``backward``. G's loss here ignores ``real_logits``: the class leaves ``relativistic`` False, so
    variants pass ``None`` in the generator step (a relativistic loss sets it True and gets D's logits on a
    real batch).
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()
