"""pix2pix: Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks"
(arXiv:1611.07004), section 3 and its training procedure (3.3).

A conditional GAN on paired images (a, b): D sees the input with either its real target or the output,

    min_D  1/2 [ -log D(a, b) - log(1 - D(a, G(a))) ]        (halved: "slows down the rate at which D learns")
    min_G  -log D(a, G(a)) + lambda * || b - G(a) ||_1        (non-saturating; lambda = 100)

with a U-Net G (skip connections carry the input's structure) and a PatchGAN D (scores per patch: the GAN
term models high frequencies, L1 the low ones). G has no noise input; dropout in its decoder is the noise.
Per batch: G(a) is made once; one D step on (a, b) against (a, G(a) detached); one G step. Adam(2e-4,
beta1 0.5) for both, as in the paper.

``adversarial_weight: 0`` trains the same U-Net with L1 alone (no discriminator step): the paper's "L1"
row, the baseline this variant's README bar is measured against.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lightning_gans.core.module import adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.core.translation import TranslationModule
from lightning_gans.losses.base import AdversarialLoss, real_logits_if_relativistic
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.patchgan import PatchGANDiscriminator
from lightning_gans.nets.unet import UNetGenerator


class Pix2Pix(TranslationModule):
    """Conditional adversarial image-to-image translation on paired data (Isola et al. 2017).

    Args:
        generator: image A -> image B; defaults to ``UNetGenerator()`` for 1x28x28 images.
        discriminator: scores (a, b) concatenated along channels, so its input has the channels of both;
            defaults to ``PatchGANDiscriminator(channels=2)``.
        loss: the adversarial loss (default ``NonSaturatingLoss()``, the paper's).
        l1_weight: lambda, the weight of the L1 term (the paper's 100).
        adversarial_weight: weight of G's adversarial term; 0 trains with L1 alone (no D steps).
        g_optimizer, d_optimizer: see ``TranslationModule``.
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        l1_weight: float = 100.0,
        adversarial_weight: float = 1.0,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
    ) -> None:
        generator = generator if generator is not None else UNetGenerator()
        discriminator = discriminator if discriminator is not None else PatchGANDiscriminator(channels=2)
        super().__init__(generator, discriminator, g_optimizer, d_optimizer)
        if l1_weight < 0 or adversarial_weight < 0:
            raise ValueError(
                f"weights must be >= 0, got l1_weight={l1_weight}, adversarial_weight={adversarial_weight}"
            )
        pair_channels = getattr(generator, "in_channels", None), getattr(generator, "out_channels", None)
        d_channels = getattr(discriminator, "channels", None)
        if None not in pair_channels and d_channels is not None and d_channels != sum(pair_channels):  # type: ignore[arg-type]
            raise ValueError(
                f"pix2pix's discriminator sees input and output together: it needs {pair_channels[0]} + "
                f"{pair_channels[1]} = {sum(pair_channels)} channels, got channels={d_channels}"  # type: ignore[arg-type]
            )
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.l1_weight = l1_weight
        self.adversarial_weight = adversarial_weight

    def judge(self, a: Tensor, b: Tensor) -> Tensor:
        """D's per-patch logits for the pair (input, candidate output)."""
        return self.discriminator(torch.cat([a, b], dim=1))

    def training_step(self, batch: Any, batch_idx: int) -> None:
        a, b = batch
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        fake = self.generator(a)
        metrics: dict[str, Tensor] = {}

        if self.adversarial_weight > 0:
            with self.toggled_optimizer(d_opt):
                real_logits, fake_logits = self.judge(a, b), self.judge(a, fake.detach())
                d_loss = 0.5 * self.loss.d_loss(real_logits, fake_logits)
                self.update_discriminator(d_opt, d_loss)
            metrics["train/d_loss"] = d_loss
            metrics.update(self.loss.scores(real_logits, fake_logits))

        with self.toggled_optimizer(g_opt):
            l1 = (fake - b).abs().mean()
            g_loss = self.l1_weight * l1
            if self.adversarial_weight > 0:
                real_pair = real_logits_if_relativistic(self.loss, lambda: self.judge(a, b))
                adversarial = self.loss.g_loss(real_pair, self.judge(a, fake))
                g_loss = g_loss + self.adversarial_weight * adversarial
                metrics["train/g_adversarial"] = adversarial
            self.update_generator(g_opt, g_loss)
        self.log_train({**metrics, "train/g_loss": g_loss, "train/l1": l1})
