"""The interface every adversarial loss implements.

A loss only turns discriminator outputs into scalars. It never calls ``backward`` and never steps an
optimiser: the variant owns the training algorithm, the loss owns the formula.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor


class AdversarialLoss(ABC):
    """A discriminator objective and the matching generator objective, both to be minimised."""

    @abstractmethod
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Discriminator loss from D's raw outputs on a real and on a generated batch."""

    @abstractmethod
    def g_loss(self, fake_logits: Tensor) -> Tensor:
        """Generator loss from D's raw outputs on a generated batch."""

    def score(self, logits: Tensor) -> Tensor:
        """What ``train/d_real`` and ``train/d_fake`` report: D's probability that the input is real."""
        return torch.sigmoid(logits)

    def scores(self, real_logits: Tensor, fake_logits: Tensor, split: str = "train") -> dict[str, Tensor]:
        """``{split}/d_real`` and ``{split}/d_fake``: the mean ``score`` of a real and a generated batch (detached)."""
        return {
            f"{split}/d_real": self.score(real_logits.detach()).mean(),
            f"{split}/d_fake": self.score(fake_logits.detach()).mean(),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
