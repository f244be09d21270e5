"""The margin loss of energy-based GANs: Zhao, Mathieu & LeCun 2017, "Energy-based Generative Adversarial Network"
(arXiv:1609.03126), equations 1-2, on D's energies E (lower means real; ``lightning_gans.nets.ebgan``):

    D: E(x) + max(0, m - E(G(z)))        G: E(G(z))

D pulls the energy of data down and pushes that of samples up, but only until it reaches the margin m: a
sample already at energy >= m gives D no gradient. At the equilibrium G's samples are indistinguishable from
data (the paper's theorem 2) while D need not assign them any particular value.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from lightning_gans.losses.base import AdversarialLoss


class EnergyMarginLoss(AdversarialLoss):
    """EBGAN's margin loss on energies, for an auto-encoder (or any energy-valued) discriminator.

    Args:
        margin: m, the energy above which a generated sample no longer pushes D (in the units of D's energy;
            for the mean squared reconstruction error of ``lightning_gans.nets.ebgan`` on data in [-1, 1], about
            the error of reconstructing an image by a flat grey one).
    """

    def __init__(self, margin: float = 1.0) -> None:
        if margin <= 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.margin = margin

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return real_logits.mean() + F.relu(self.margin - fake_logits).mean()

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return fake_logits.mean()

    def score(self, logits: Tensor) -> Tensor:
        """``train/d_real`` and ``train/d_fake`` are mean energies (lower means D takes it for data)."""
        return logits

    def __repr__(self) -> str:
        return f"EnergyMarginLoss(margin={self.margin})"
