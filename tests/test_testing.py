"""The plugin kit (``lightning_gans.testing``) catches the mistakes a plugin author makes: each check below is
tried on a deliberately broken part and must fail with an ``AssertionError`` naming the rule it breaks, not pass
silently nor fail with a raw torch error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import tiny_images
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from lightning_gans.core import real_samples
from lightning_gans.data.base import GANDataModule
from lightning_gans.data.toy import GaussianMixtureDataModule
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.hinge import HingeLoss
from lightning_gans.nets import MLPDiscriminator, MLPGenerator
from lightning_gans.regularisers import uncompiled
from lightning_gans.testing import check_datamodule, check_discriminator, check_generator, check_loss, check_variant
from lightning_gans.variants.gan import GAN

IMAGES = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


# -- nets and losses: detached outputs are rules, not torch's RuntimeErrors -------------------------------------
class NoGradGenerator(MLPGenerator):
    def forward(self, z: Tensor) -> Tensor:
        with torch.no_grad():
            return super().forward(z)


class InputDetachingDiscriminator(MLPDiscriminator):
    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.detach())


class NoGradDiscriminator(MLPDiscriminator):
    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return super().forward(x)


class DetachedGeneratorLoss(HingeLoss):
    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return super().g_loss(real_logits, fake_logits).detach()


class DetachedDiscriminatorLoss(HingeLoss):
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return super().d_loss(real_logits, fake_logits).detach()


def test_a_generator_with_detached_samples_fails_naming_the_rule() -> None:
    with pytest.raises(AssertionError, match="samples must be differentiable in its parameters"):
        check_generator(NoGradGenerator(latent_dim=4, hidden=(8,)))


@pytest.mark.parametrize(
    ("discriminator", "rule"),
    [
        (InputDetachingDiscriminator(hidden=(8,)), "scores must depend on the input, with a gradient to it"),
        (NoGradDiscriminator(hidden=(8,)), "scores must be differentiable"),
    ],
)
def test_a_discriminator_without_an_input_gradient_fails_naming_the_rule(discriminator: nn.Module, rule: str) -> None:
    with pytest.raises(AssertionError, match=rule):
        check_discriminator(discriminator, IMAGES)


@pytest.mark.parametrize(
    ("loss", "rule"),
    [(DetachedGeneratorLoss(), "g_loss must be differentiable"), (DetachedDiscriminatorLoss(), "d_loss must be")],
)
def test_a_detached_loss_fails_naming_the_rule(loss: AdversarialLoss, rule: str) -> None:
    with pytest.raises(AssertionError, match=rule):
        check_loss(loss)


# -- data: images in [-1, 1], points in their own units ---------------------------------------------------------
class UnmappedImages(GANDataModule):
    """Images left in [0, 255] or [0, 1] (torchvision's ToTensor): a module that forgot to map them to [-1, 1]."""

    def __init__(self, scale: float) -> None:
        super().__init__(batch_size=4, num_workers=0, seed=0)
        images = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * scale
        self.train_set = self.val_set = TensorDataset(images, torch.zeros(16, dtype=torch.long))


@pytest.mark.parametrize(("scale", "rule"), [(255.0, r"spans \[[\d.]+, 255\] \(map"), (1.0, r"looks like \[0, 1\]")])
def test_image_data_outside_minus_one_to_one_fails_naming_the_rule(scale: float, rule: str) -> None:
    with pytest.raises(AssertionError, match=r"images lie in \[-1, 1\]: element 0 of a train batch.*" + rule):
        check_datamodule(lambda: UnmappedImages(scale))


def test_points_keep_their_own_units_the_grid_mixture_passes() -> None:
    (batch,) = check_datamodule(lambda: GaussianMixtureDataModule("grid", num_train=64, num_val=16, batch_size=32))
    assert real_samples(batch).abs().max() > 3  # the 5x5 grid reaches ±4: no [-1, 1] rule for points


# -- variants -------------------------------------------------------------------------------------------------
def small_gan(cls: type[GAN] = GAN, **arguments: Any) -> GAN:
    return cls(MLPGenerator(latent_dim=8, hidden=(16,)), MLPDiscriminator(hidden=(16,)), **arguments)


class GlobalNoiseGAN(GAN):
    def fake_batch(self, n: int) -> Tensor:
        return self.generator(torch.randn(n, self.latent_dim))  # the global RNG: the mistake


class UncountedGStepGAN(GAN):
    def update_generator(self, g_opt: Any, loss: Tensor) -> None:  # its own G step, past the base's helper
        g_opt.zero_grad()
        self.manual_backward(loss)
        g_opt.step()


class CountedGStepWithoutEMAGAN(UncountedGStepGAN):
    def update_generator(self, g_opt: Any, loss: Tensor) -> None:
        super().update_generator(g_opt, loss)
        self.generator_steps += 1  # counted by hand, but the EMA never moves


class NoiseConsumingValidationGAN(GAN):
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        real = real_samples(batch)
        fake = self.generate(self.sample_latent(len(real)))  # the training noise: the mistake
        self.log("val/d_fake", self.discriminator(fake).mean())


class HandWrittenPenaltyGAN(GAN):
    """A D step with an R1 penalty of its own: D called directly inside a double backward."""

    eager = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = real_samples(batch)
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        fake = self.generator(self.sample_latent(len(real)))
        with self.toggled_optimizer(d_opt):
            x = real.detach().requires_grad_(True)
            critic = uncompiled(self.discriminator) if self.eager else self.discriminator
            (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
            d_loss = self.loss.d_loss(self.discriminator(real), self.discriminator(fake.detach()))
            self.update_discriminator(d_opt, d_loss + grad.square().sum(dim=(1, 2, 3)).mean())
        with self.toggled_optimizer(g_opt):
            self.update_generator(g_opt, self.loss.g_loss(None, self.discriminator(fake)))


class EagerPenaltyGAN(HandWrittenPenaltyGAN):
    eager = True


def test_a_variant_drawing_noise_from_the_global_rng_fails_naming_the_rule(tmp_path: Path) -> None:
    # exact resume alone does not catch it: last.ckpt stores the global RNG state too
    with pytest.raises(AssertionError, match=r"draws from the global RNG \(torch.randn without generator=\)"):
        check_variant(lambda: small_gan(GlobalNoiseGAN), tiny_images, tmp_path, compiled=False)


def test_a_nets_own_dropout_is_not_a_draw_of_the_training_step(tmp_path: Path) -> None:
    def make() -> GAN:
        return GAN(MLPGenerator(latent_dim=8, hidden=(16,)), MLPDiscriminator(hidden=(16,), dropout=0.3))

    assert check_variant(make, tiny_images, tmp_path, compiled=False)


@pytest.mark.parametrize(
    ("cls", "rule"),
    [
        (UncountedGStepGAN, "the generator trained .* but generator_steps is 0: step G with self.update_generator"),
        (CountedGStepWithoutEMAGAN, "the EMA generator was updated 0 times in 2 generator steps"),
    ],
)
def test_a_variant_bypassing_update_generator_fails_naming_the_rule(cls: type[GAN], rule: str, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=rule):
        check_variant(lambda: small_gan(cls, ema_decay=0.9), tiny_images, tmp_path, batches=1, compiled=False)


def test_a_validation_step_consuming_training_noise_fails_naming_the_rule(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="validation consumed the training noise"):
        check_variant(lambda: small_gan(NoiseConsumingValidationGAN), tiny_images, tmp_path, compiled=False)


def test_a_hand_written_gradient_penalty_fails_under_compile_nets_pointing_to_uncompiled(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="must call D through lightning_gans.regularisers.uncompiled"):
        check_variant(lambda: small_gan(HandWrittenPenaltyGAN), tiny_images, tmp_path / "direct", batches=1)
    assert check_variant(lambda: small_gan(EagerPenaltyGAN), tiny_images, tmp_path / "uncompiled", batches=1)
