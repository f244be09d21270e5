"""The interface every adversarial loss implements.

A loss only turns discriminator outputs into scalars. It never calls ``backward`` and never steps an
optimiser: the variant owns the training algorithm, the loss owns the formula.

Both objectives see D's raw outputs (logits or critic scores, before any sigmoid) on a real and on a generated
batch, in that order: ``d_loss(real_logits, fake_logits)`` and ``g_loss(real_logits, fake_logits)``. Most
generator objectives ignore the real logits; relativistic ones (RaGAN, RpGAN) compare each fake with the real
data and need them. Such a loss sets ``relativistic = True`` and the variants then compute D's logits on
a real batch in the generator step too (an extra forward pass of D they skip for the other losses).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor


class AdversarialLoss(ABC):
    """A discriminator objective and the matching generator objective, both to be minimised.

    The contract, for plugin authors:

    * inputs are D's raw outputs with a leading batch dimension: ``(N,)``, or ``(N, ...)`` score maps for
      patch discriminators (PatchGAN); real and fake come from the same D (the same conditioning, packing
      and instance noise) and, in every built-in variant, from batches of the same size;
    * both methods return a scalar tensor to *minimise*, differentiable in their arguments; they never call
      ``backward``, step an optimiser or change D;
    * ``d_loss`` is what D minimises; in D's step its ``fake_logits`` are of a detached fake batch;
    * ``g_loss`` is what G minimises, through ``fake_logits`` (with the graph back to G). In the generator step
      its ``real_logits`` are ``None`` unless the class sets ``relativistic = True``; validation steps pass
      the real logits they have in any case;
    * ``scores`` says what ``train/d_real`` and ``train/d_fake`` mean; override ``score`` (one batch) or
      ``scores`` (both batches, as the relativistic losses do) when sigmoid of a logit is not it.
    """

    relativistic: ClassVar[bool] = False
    """True when ``g_loss`` needs D's logits on a real batch; variants then compute them (fresh, with the current D,
    under torch.no_grad since they do not depend on G) in the generator step and pass them, otherwise they pass
    ``None``."""

    @abstractmethod
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Discriminator loss from D's raw outputs on a real and on a (detached) generated batch."""

    @abstractmethod
    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        """Generator loss from D's raw outputs on a generated batch (with the graph to G).

        ``real_logits``: D's raw outputs on a real batch, judged by the same D as ``fake_logits``. Variants
        pass them when ``relativistic`` is True (computed without gradient, except where D itself depends on G,
        as in unrolled GAN) and ``None`` otherwise; a non-relativistic loss must ignore them, since validation
        steps pass the real logits they already have whatever the loss. A relativistic loss should raise a
        ``ValueError`` when given ``None``.
        """

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


def real_logits_if_relativistic(loss: AdversarialLoss, judge_real: Callable[[], Tensor]) -> Tensor | None:
    """What a generator step passes to ``loss.g_loss`` as ``real_logits``.

    ``judge_real()`` (D's current logits on the step's real batch) computed under ``torch.no_grad`` when
    ``loss.relativistic``; ``None`` otherwise, without calling D, so other losses cost no extra forward pass.
    """
    if not loss.relativistic:
        return None
    with torch.no_grad():
        return judge_real()
