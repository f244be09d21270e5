"""CycleGAN: Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks" (arXiv:1703.10593), sections 3-4.

Two generators, G: A -> B and F: B -> A, and two discriminators, D_B on domain B and D_A on domain A, trained
on unpaired batches (a, b) with::

    L_GAN(G, D_B) + L_GAN(F, D_A)                                      (least squares, section 4)
  + lambda_cyc * ( ||F(G(a)) - a||_1 + ||G(F(b)) - b||_1 )            (cycle consistency, lambda_cyc = 10)
  + lambda_id * lambda_cyc * ( ||G(b) - b||_1 + ||F(a) - a||_1 )      (identity, lambda_id = 0.5, section 5.2)

D's objective is halved, and each D sees a fake drawn from a pool of the last 50 generated images half of
the time (Shrivastava et al. 2017), which damps oscillation. Per batch: G(a), F(b) made once; one step of
both D on the pooled, detached fakes; one step of both G. Adam(2e-4, beta1 0.5), as in the paper.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics import MeanAbsoluteError

from lightning_gans.core.module import adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.core.translation import TranslationModule, to_unit_range
from lightning_gans.inference import translated
from lightning_gans.losses.base import AdversarialLoss, real_logits_if_relativistic
from lightning_gans.losses.least_squares import LeastSquaresLoss
from lightning_gans.nets.patchgan import PatchGANDiscriminator
from lightning_gans.nets.resnet import ResNetGenerator


class ImagePool:
    """A history of generated images (Shrivastava et al. 2017): once full, each image handed in is returned
    as is or, with probability 1/2, swapped for a random stored one, which it replaces. The pool lives in
    memory only: a resumed run refills it, as every run does in its first steps."""

    def __init__(self, size: int = 50) -> None:
        self.size = size
        self.images: list[Tensor] = []

    def __call__(self, images: Tensor) -> Tensor:
        if self.size == 0:
            return images.detach()
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(()) < 0.5:
                index = int(torch.randint(len(self.images), ()))
                out.append(self.images[index])
                self.images[index] = image
            else:
                out.append(image)
        return torch.stack(out)


class CycleGAN(TranslationModule):
    """Unpaired translation with cycle consistency (Zhu et al. 2017).

    ``generator``/``discriminator`` are G: A -> B and D_B (as in every ``TranslationModule``, so
    ``translate`` maps A to B); ``generator_ba``/``discriminator_a`` are F: B -> A and D_A.

    Args:
        generator: G, A -> B; defaults to ``ResNetGenerator()`` (1x28x28 images).
        discriminator: D_B; defaults to ``PatchGANDiscriminator(norm="instance")``.
        generator_ba: F, B -> A; defaults to ``ResNetGenerator()``.
        discriminator_a: D_A; defaults to ``PatchGANDiscriminator(norm="instance")``.
        loss: the adversarial loss; default ``LeastSquaresLoss()``, whose generator term is Mao et al.'s
            1/2 (D - 1)^2, half the paper's (D - 1)^2: hence ``adversarial_weight`` 2.
        adversarial_weight: weight of the generators' adversarial terms.
        cycle_weight: lambda_cyc (the paper's 10).
        identity_weight: lambda_id, relative to lambda_cyc (the paper's 0.5; 0 turns it off). Needs
            domains with the same number of channels.
        pool_size: generated images kept for the discriminators (the paper's 50; 0 turns the pool off).
        g_optimizer: one optimiser for both generators; d_optimizer: one for both discriminators.
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        generator_ba: Generator | None = None,
        discriminator_a: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        adversarial_weight: float = 2.0,
        cycle_weight: float = 10.0,
        identity_weight: float = 0.5,
        pool_size: int = 50,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
    ) -> None:
        super().__init__(
            generator if generator is not None else ResNetGenerator(),
            discriminator if discriminator is not None else PatchGANDiscriminator(norm="instance"),
            g_optimizer,
            d_optimizer,
        )
        if min(adversarial_weight, cycle_weight, identity_weight, pool_size) < 0:
            raise ValueError("adversarial_weight, cycle_weight, identity_weight and pool_size must be >= 0")
        self.generator_ba = generator_ba if generator_ba is not None else ResNetGenerator()
        self.discriminator_a = (
            discriminator_a if discriminator_a is not None else PatchGANDiscriminator(norm="instance")
        )
        self.loss = loss if loss is not None else LeastSquaresLoss()
        self.adversarial_weight, self.cycle_weight, self.identity_weight = (
            adversarial_weight,
            cycle_weight,
            identity_weight,
        )
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)
        self.val_cycle_a, self.val_cycle_b = MeanAbsoluteError(), MeanAbsoluteError()

    def configure_optimizers(self) -> tuple[Optimizer, Optimizer]:
        generators = chain(self.generator.parameters(), self.generator_ba.parameters())
        discriminators = chain(self.discriminator.parameters(), self.discriminator_a.parameters())
        return self.g_optimizer(generators), self.d_optimizer(discriminators)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        a, b = batch
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        fake_b, fake_a = self.generator(a), self.generator_ba(b)

        with self.toggled_optimizer(d_opt):
            real_b_logits, fake_b_logits = self.discriminator(b), self.discriminator(self.pool_b(fake_b))
            real_a_logits, fake_a_logits = self.discriminator_a(a), self.discriminator_a(self.pool_a(fake_a))
            d_loss_b = self.loss.d_loss(real_b_logits, fake_b_logits)
            d_loss_a = self.loss.d_loss(real_a_logits, fake_a_logits)
            self.update_discriminator(d_opt, d_loss_a + d_loss_b)

        with self.toggled_optimizer(g_opt):
            # each discriminator judges its own domain: D_B real b against G(a), D_A real a against F(b)
            fresh_real_b = real_logits_if_relativistic(self.loss, lambda: self.discriminator(b))
            fresh_real_a = real_logits_if_relativistic(self.loss, lambda: self.discriminator_a(a))
            adversarial_b = self.loss.g_loss(fresh_real_b, self.discriminator(fake_b))
            adversarial = adversarial_b + self.loss.g_loss(fresh_real_a, self.discriminator_a(fake_a))
            cycle = (self.generator_ba(fake_b) - a).abs().mean() + (self.generator(fake_a) - b).abs().mean()
            g_loss = self.adversarial_weight * adversarial + self.cycle_weight * cycle
            metrics = {"train/g_adversarial": adversarial, "train/cycle": cycle}
            if self.identity_weight > 0:
                identity = (self.generator(b) - b).abs().mean() + (self.generator_ba(a) - a).abs().mean()
                g_loss = g_loss + self.identity_weight * self.cycle_weight * identity
                metrics["train/identity"] = identity
            self.update_generator(g_opt, g_loss)
        self.log_train(
            {
                **metrics,
                "train/g_loss": g_loss,
                "train/d_loss": d_loss_a + d_loss_b,
                **self.loss.scores(real_b_logits, fake_b_logits),
            }
        )

    @torch.no_grad()
    def translate_back(self, b: Tensor) -> Tensor:
        """Domain-A images for domain-B images ``b`` (F), in eval mode, clamped to [-1, 1]."""
        return translated(self.generator_ba, b, self.device)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """``val/cycle_l1_a`` = ``|F(G(a)) - a|`` and ``val/cycle_l1_b`` = ``|G(F(b)) - b|``, on [0, 1] images."""
        a, b = batch
        self.val_cycle_a(to_unit_range(self.translate_back(self.translate(a))), to_unit_range(a))
        self.val_cycle_b(to_unit_range(self.translate(self.translate_back(b))), to_unit_range(b))
        self.log("val/cycle_l1_a", self.val_cycle_a, prog_bar=True)
        self.log("val/cycle_l1_b", self.val_cycle_b, prog_bar=True)

    def picture_rows(self, a: Tensor, b: Tensor) -> list[Tensor]:
        """a, G(a), F(G(a)), then b, F(b), G(F(b))."""
        a, b = a.to(self.device), b.to(self.device)
        fake_b, fake_a = self.translate(a), self.translate_back(b)
        return [a, fake_b, self.translate_back(fake_b), b, fake_a, self.translate(fake_a)]
