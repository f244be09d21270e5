"""Relativistic losses: D estimates how much more realistic real data is than generated data, not whether one
sample is real. Both players' objectives then depend on real *and* generated data, so G's loss needs D's
outputs on a real batch (``relativistic = True``; see ``AdversarialLoss``).

* RaGAN: Jolicoeur-Martineau 2018, "The relativistic discriminator: a key element missing from standard GAN"
  (arXiv:1807.00734), the relativistic average standard GAN. With C the critic (D's raw logit):

      D: -E_r[log sigmoid(C(x_r) - E_f C(x_f))] - E_f[log(1 - sigmoid(C(x_f) - E_r C(x_r)))]
      G: -E_f[log sigmoid(C(x_f) - E_r C(x_r))] - E_r[log(1 - sigmoid(C(x_r) - E_f C(x_f)))]

* RpGAN: Sun et al. 2020, "Towards a better global loss landscape of GANs" (arXiv:2011.04926), the
  relativistic pairing GAN, as R3GAN uses it (Huang et al. 2024, "The GAN is dead; long live the GAN! A Modern
  GAN Baseline", arXiv:2501.05441, which adds zero-centred gradient penalties on real and fake data;
  ``Regularisation(r1_gamma=...)`` gives the one on real data, R1):

      D: E_{(x_r, x_f)}[softplus(C(x_f) - C(x_r))]        G: E_{(x_r, x_f)}[softplus(C(x_r) - C(x_f))]

In both, G's objective is D's with real and fake swapped. Written with ``softplus`` for stability:
log sigmoid(a) = -softplus(-a) and log(1 - sigmoid(a)) = -softplus(a).

Adding a constant to C changes neither loss, so C's absolute level drifts freely and raw logits mean little.
What ``train/d_real`` and ``train/d_fake`` report is therefore the relativistic discriminator itself, each
batch measured against the other: the mean of sigmoid(C(x_r) - E_f C(x_f)) and of sigmoid(C(x_f) - E_r C(x_r))
for RaGAN, of sigmoid(C(x_r) - C(x_f)) and sigmoid(C(x_f) - C(x_r)) over the pairs for RpGAN. Like D(x) of
the standard GAN they lie in (0, 1): d_real near 1 and d_fake near 0 when D separates the batches easily,
both near 1/2 when it cannot (for RpGAN d_fake = 1 - d_real).

Score maps (PatchGAN, shape (N, ...)) work with both. RaGAN's averages E_r C and E_f C are taken over the
whole batch, every patch of every image. RpGAN pairs elementwise: patch (i, h, w) of real image i with patch
(i, h, w) of fake image i, and averages over all those pairs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lightning_gans.losses.base import AdversarialLoss


def discriminator_relativistic_average(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """RaGAN's D loss: E_r softplus(-(C_r - E C_f)) + E_f softplus(C_f - E C_r)."""
    real_vs_fake = real_logits - fake_logits.mean()
    fake_vs_real = fake_logits - real_logits.mean()
    return F.softplus(-real_vs_fake).mean() + F.softplus(fake_vs_real).mean()


def generator_relativistic_average(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """RaGAN's G loss: D's with real and fake swapped, E_f softplus(-(C_f - E C_r)) + E_r softplus(C_r - E C_f)."""
    return discriminator_relativistic_average(fake_logits, real_logits)


def check_pairs(real_logits: Tensor, fake_logits: Tensor) -> None:
    """RpGAN pairs real i with fake i (elementwise over score maps): the outputs must have the same shape."""
    if real_logits.shape != fake_logits.shape:
        raise ValueError(
            "the relativistic pairing loss pairs the i-th real sample with the i-th generated one, so D's outputs "
            f"on both batches must have the same shape (equal batch sizes); got real {tuple(real_logits.shape)} "
            f"and fake {tuple(fake_logits.shape)}"
        )


def discriminator_relativistic_pairing(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """RpGAN's D loss: E over pairs of softplus(C_f - C_r) = -E log sigmoid(C_r - C_f)."""
    check_pairs(real_logits, fake_logits)
    return F.softplus(fake_logits - real_logits).mean()


def generator_relativistic_pairing(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """RpGAN's G loss: E over pairs of softplus(C_r - C_f) = -E log sigmoid(C_f - C_r)."""
    return discriminator_relativistic_pairing(fake_logits, real_logits)


class _RelativisticLoss(AdversarialLoss):
    """What RaGAN and RpGAN share: G's loss needs the real logits, and one batch alone has no score."""

    relativistic = True

    def real_logits_for_g(self, real_logits: Tensor | None) -> Tensor:
        if real_logits is None:
            raise ValueError(
                f"{type(self).__name__} is relativistic: its g_loss needs D's logits on a real batch, got None "
                "(a variant must compute them in the generator step when loss.relativistic is True)"
            )
        return real_logits

    def score(self, logits: Tensor) -> Tensor:
        """The raw critic value C(x): alone, one batch has no relativistic probability (``scores`` has both)."""
        return logits


class RelativisticAverageLoss(_RelativisticLoss):
    """RaGAN (Jolicoeur-Martineau 2018): each sample is judged against the average of the other batch.

    ``train/d_real``/``d_fake``: the mean of sigmoid(C(x_r) - E C(x_f)) and of sigmoid(C(x_f) - E C(x_r)),
    the paper's relativistic average discriminator (see the module docstring).
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return discriminator_relativistic_average(real_logits, fake_logits)

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return generator_relativistic_average(self.real_logits_for_g(real_logits), fake_logits)

    def scores(self, real_logits: Tensor, fake_logits: Tensor, split: str = "train") -> dict[str, Tensor]:
        real_logits, fake_logits = real_logits.detach(), fake_logits.detach()
        return {
            f"{split}/d_real": torch.sigmoid(real_logits - fake_logits.mean()).mean(),
            f"{split}/d_fake": torch.sigmoid(fake_logits - real_logits.mean()).mean(),
        }


class RelativisticPairingLoss(_RelativisticLoss):
    """RpGAN (Sun et al. 2020; R3GAN's loss): each real sample against one generated sample.

    Needs real and fake batches of equal size (``ValueError`` otherwise): the i-th of each form a pair.
    ``train/d_real``/``d_fake``: the mean over pairs of sigmoid(C(x_r) - C(x_f)) and of its complement.
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return discriminator_relativistic_pairing(real_logits, fake_logits)

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return generator_relativistic_pairing(self.real_logits_for_g(real_logits), fake_logits)

    def scores(self, real_logits: Tensor, fake_logits: Tensor, split: str = "train") -> dict[str, Tensor]:
        check_pairs(real_logits, fake_logits)
        real_wins = torch.sigmoid(real_logits.detach() - fake_logits.detach()).mean()
        return {f"{split}/d_real": real_wins, f"{split}/d_fake": 1 - real_wins}
