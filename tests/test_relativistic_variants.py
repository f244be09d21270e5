"""Every variant with a ``loss`` argument trains with the relativistic losses, whose generator loss needs D's
logits on real data: they are computed in the generator step with the current D and passed to ``g_loss``."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
from conftest import tiny_captioned, tiny_images
from lightning.pytorch import LightningDataModule, Trainer, seed_everything
from torch import Tensor

from lightning_gans import registry
from lightning_gans.data.pairs import EdgesToImageDataModule, SuperResolutionDataModule, UnpairedClassesDataModule
from lightning_gans.data.toy import GaussianMixtureDataModule
from lightning_gans.losses import RelativisticAverageLoss, RelativisticPairingLoss
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.nets import MLPDiscriminator, MLPGenerator, SRResNet
from lightning_gans.variants.gan import GAN
from lightning_gans.variants.unrolled import UnrolledGAN

VARIANTS_WITH_A_LOSS = [
    name for name in registry.variants.names() if "loss" in inspect.signature(registry.variants.load(name)).parameters
]


class Recording:
    """Mixed into a relativistic loss: keeps what each ``g_loss`` call received."""

    calls: list[tuple[Tensor | None, Tensor]]

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        self.calls.append((real_logits, fake_logits))
        return super().g_loss(real_logits, fake_logits)  # type: ignore[misc]


class RecordingAverage(Recording, RelativisticAverageLoss):
    def __init__(self) -> None:
        self.calls = []


class RecordingPairing(Recording, RelativisticPairingLoss):
    def __init__(self) -> None:
        self.calls = []


def build(name: str, loss: AdversarialLoss) -> tuple[Any, LightningDataModule]:
    """A small model of variant ``name`` with ``loss``, and data it trains on."""
    if name == "pix2pix":
        return registry.variants.create(name, loss=loss), EdgesToImageDataModule(tiny_images(n=40, batch_size=4))
    if name == "srgan":
        model = registry.variants.create(name, generator=SRResNet(width=8, n_blocks=1), content_loss="pixel", loss=loss)
        return model, SuperResolutionDataModule(tiny_images(n=40, batch_size=4), scale=2)
    if name == "cyclegan":
        return registry.variants.create(name, loss=loss), UnpairedClassesDataModule(
            tiny_images(n=80, batch_size=4), class_a=7, class_b=9
        )
    if name == "gan_cls":
        return registry.variants.create(name, loss=loss), tiny_captioned(n=24, batch_size=4)
    return registry.variants.create(name, loss=loss), tiny_images(n=24, batch_size=4)


@pytest.mark.parametrize("loss_class", [RecordingAverage, RecordingPairing], ids=["average", "pairing"])
@pytest.mark.parametrize("name", VARIANTS_WITH_A_LOSS)
def test_every_variant_with_a_loss_trains_with_relativistic_losses(name: str, loss_class: type[Recording]) -> None:
    seed_everything(0)
    loss = loss_class()
    model, data = build(name, loss)  # type: ignore[arg-type]
    run = Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, max_epochs=1,
        limit_train_batches=1 + getattr(model, "n_critic", 1), limit_val_batches=1, log_every_n_steps=1,
    )  # fmt: skip
    run.fit(model, data)
    assert model.generator_steps > 0
    metrics = run.callback_metrics
    for key in ("train/d_loss", "train/g_loss", "train/d_real", "train/d_fake"):
        assert torch.isfinite(metrics[key]), key
    assert 0 < metrics["train/d_real"] < 1 and 0 < metrics["train/d_fake"] < 1  # relativistic probabilities

    # BiGAN trains G and E with D's loss on swapped pairs; every other variant calls g_loss, always with real logits
    if name == "bigan":
        return
    training_calls = [(real, fake) for real, fake in loss.calls if fake.requires_grad]
    assert len(training_calls) >= model.generator_steps  # CycleGAN: one per generator
    for real, fake in training_calls:
        assert real is not None and real.shape == fake.shape
        # computed without gradient, except by unrolled GAN's D, which depends on G
        assert real.requires_grad == (isinstance(model, UnrolledGAN) and model.unrolled_steps > 0)


def small_gan(loss: AdversarialLoss, **kwargs: Any) -> GAN:
    return GAN(
        MLPGenerator(latent_dim=4, out_shape=(2,), hidden=(16,), output_activation="none"),
        MLPDiscriminator(in_shape=(2 * kwargs.get("pack", 1),), hidden=(16,)),
        loss=loss,
        **kwargs,
    )


@pytest.mark.parametrize("pack", [1, 2])
def test_gan_generator_step_judges_the_real_batch_with_the_current_discriminator(pack: int) -> None:
    """G's loss is the loss of D's logits on the real batch (packed like the fakes) and on the fakes."""
    seed_everything(0)
    loss = RecordingPairing()
    model = small_gan(loss, pack=pack)
    real, fake = torch.randn(8, 2), torch.randn(8, 2, requires_grad=True)
    g_loss = model.generator_loss(real, fake)
    real_logits, fake_logits = loss.calls[-1]
    assert real_logits is not None and not real_logits.requires_grad
    assert torch.equal(real_logits, model.discriminator(model.discriminator_input(real)))
    expected = RelativisticPairingLoss().g_loss(
        model.discriminator(model.discriminator_input(real)), model.discriminator(model.discriminator_input(fake))
    )
    assert torch.allclose(g_loss, expected)
    g_loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_non_relativistic_losses_get_no_real_logits_in_the_generator_step() -> None:
    from lightning_gans.losses import NonSaturatingLoss

    seen: list[Tensor | None] = []

    class Watching(NonSaturatingLoss):
        def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
            seen.append(real_logits)
            return super().g_loss(real_logits, fake_logits)

    model = small_gan(Watching())
    model.generator_loss(torch.randn(8, 2), torch.randn(8, 2))
    assert seen == [None]


def test_unrolled_relativistic_real_logits_go_through_the_unrolled_discriminator() -> None:
    """With K > 0 the real logits come from the unrolled D, like the fake ones: they carry G's gradient."""
    seed_everything(0)
    losses: dict[int, float] = {}
    for steps in (0, 2):
        seed_everything(0)
        loss = RecordingAverage()
        model = UnrolledGAN(
            MLPGenerator(latent_dim=4, out_shape=(2,), hidden=(16,), output_activation="none"),
            MLPDiscriminator(in_shape=(2,), hidden=(16,)),
            loss=loss,
            unrolled_steps=steps,
        )
        Trainer(
            accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, max_steps=4,
        ).fit(model, GaussianMixtureDataModule(num_train=64, num_val=16, batch_size=16))  # fmt: skip
        loss.calls.clear()
        real = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
        fake = model.generator(torch.randn(16, 4, generator=torch.Generator().manual_seed(2)))
        value = model.generator_loss(real, fake)
        real_logits, _ = loss.calls[-1]
        assert real_logits is not None and real_logits.requires_grad == (steps > 0)
        plain = RelativisticAverageLoss().g_loss(model.discriminator(real), model.discriminator(fake))
        losses[steps] = value.item() - plain.item()
    assert losses[0] == pytest.approx(0.0, abs=1e-6)  # K = 0: the current D
    assert abs(losses[2]) > 1e-6  # K = 2: both batches judged by the unrolled D
