"""The plugin's own tests: lightning-gans' contract checks on each part (what `lightning_gans.testing` gives
every plugin author), plus what is particular to these parts."""

from __future__ import annotations

import torch
from lightning_gans_example.losses import ReverseKLLoss
from lightning_gans_example.nets import MinibatchStdDiscriminator, UpsampleConvGenerator

from lightning_gans.testing import check_discriminator, check_generator, check_loss


def test_generator_keeps_the_contract_and_makes_28x28_images() -> None:
    samples = check_generator(UpsampleConvGenerator(latent_dim=8, width=16))
    assert samples.shape == (3, 1, 28, 28) and samples.abs().max() <= 1


def test_discriminator_keeps_the_contract_and_sees_the_batch_spread() -> None:
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    discriminator = MinibatchStdDiscriminator(width=8)
    check_discriminator(discriminator, images)
    discriminator.eval()
    with torch.no_grad():
        alone = discriminator(images)[0]
        images[1:] = images[0]  # the same first image in a batch without spread scores differently
        assert not torch.allclose(discriminator(images)[0], alone)


def test_loss_keeps_the_contract() -> None:
    check_loss(ReverseKLLoss())
