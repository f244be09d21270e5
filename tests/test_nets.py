"""Contract tests over every registered generator and discriminator, plus the DCGAN guidelines."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from lightning_gans import registry
from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator, MLPGenerator, R3GANDiscriminator, R3GANGenerator
from lightning_gans.nets.r3gan import R3GANBlock, default_widths
from lightning_gans.testing import check_discriminator, check_generator

# Registry convention: a part built with its defaults works on the default data, 1x28x28 images.
DEFAULT_SHAPE = (1, 28, 28)


def assert_every_parameter_gets_a_gradient(module: nn.Module, loss: Callable[[], torch.Tensor]) -> None:
    """Every parameter gets a gradient (but exactly those ``unused_parameters()`` names, where a net has it: a
    growing net's layers for other resolutions); one that is exactly zero must be non-zero after one SGD step (a
    layer initialised to zero on purpose, like R3GAN's Fix-up, blocks the gradient of the layers before it at
    first)."""
    loss().backward()
    unused = set(module.unused_parameters()) if hasattr(module, "unused_parameters") else set()
    missing = {n for n, p in module.named_parameters() if p.requires_grad and p.grad is None}
    assert missing == unused, f"no gradient reached {sorted(missing - unused)}; declared unused {sorted(unused)}"
    zero = [n for n, p in module.named_parameters() if p.requires_grad and p.grad is not None and not p.grad.any()]
    if zero:
        torch.optim.SGD(module.parameters(), lr=0.1).step()
        module.zero_grad()
        loss().backward()
        still = [n for n, p in module.named_parameters() if n in zero and p.grad is not None and not p.grad.any()]
        assert not still, f"no gradient reached {still}, even after one step"


@pytest.mark.parametrize("name", registry.generators.names())
def test_registered_generator_contract(name: str) -> None:
    """Noise -> image generators say their ``latent_dim``; image -> image ones their ``in_channels``,
    ``out_channels`` and ``scale`` (output side / input side), and map a 28/scale-pixel input to 1x28x28."""
    torch.manual_seed(0)
    generator = registry.generators.create(name)
    if hasattr(generator, "latent_dim"):
        assert isinstance(generator.latent_dim, int) and generator.latent_dim > 0
        inputs = torch.randn(4, generator.latent_dim)
    else:
        assert {"in_channels", "out_channels", "scale"} <= set(dir(generator)), f"{name} says neither kind"
        assert generator.out_channels == DEFAULT_SHAPE[0]
        side = DEFAULT_SHAPE[1] // generator.scale
        inputs = torch.rand(4, generator.in_channels, side, side) * 2 - 1
    # a class-conditional generator (biggan) takes labels too
    arguments = (inputs, torch.arange(4) % generator.num_classes) if getattr(generator, "num_classes", 0) else (inputs,)
    if getattr(generator, "text_dim", 0):  # a text-to-image generator (text_dcgan) takes caption embeddings
        arguments = (inputs, torch.randn(4, generator.text_dim))
    out = generator(*arguments)
    assert out.shape == (4, *DEFAULT_SHAPE)
    assert torch.isfinite(out).all()
    assert out.min() >= -1 and out.max() <= 1, "images live in [-1, 1] inside models"
    assert_every_parameter_gets_a_gradient(generator, lambda: generator(*arguments).square().mean())


@pytest.mark.parametrize("name", registry.discriminators.names())
def test_registered_discriminator_contract(name: str) -> None:
    """One logit per sample (N,), or a map of per-patch logits (N, H', W') for PatchGAN-style nets."""
    torch.manual_seed(0)
    discriminator = registry.discriminators.create(name)
    images = torch.rand(4, *DEFAULT_SHAPE) * 2 - 1
    arguments = (images, torch.randn(4, discriminator.text_dim)) if getattr(discriminator, "text_dim", 0) else (images,)
    logits = discriminator(*arguments)
    assert logits.shape[0] == 4 and logits.dim() in (1, 3)
    assert torch.isfinite(logits).all()
    assert_every_parameter_gets_a_gradient(discriminator, lambda: discriminator(*arguments).square().mean())


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_nets_fit_the_sizes_they_claim(size: int, channels: int) -> None:
    generator = DCGANGenerator(latent_dim=16, channels=channels, image_size=size, width=8)
    discriminator = DCGANDiscriminator(channels=channels, image_size=size, width=8)
    images = generator(torch.randn(3, 16))
    assert images.shape == (3, channels, size, size)
    assert discriminator(images).shape == (3,)


def test_dcgan_rejects_sizes_it_cannot_build() -> None:
    with pytest.raises(ValueError, match="got 30"):
        DCGANGenerator(image_size=30)


def test_dcgan_follows_the_papers_guidelines() -> None:
    generator, discriminator = DCGANGenerator(width=64), DCGANDiscriminator(width=64)
    g_layers, d_layers = list(generator.net), list(discriminator.net)
    # no pooling and no fully connected hidden layers: only (transposed) convolutions carry weights
    for layers in (g_layers, d_layers):
        assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in layers)
    assert isinstance(g_layers[-1], nn.Tanh) and not isinstance(g_layers[-3], nn.BatchNorm2d)
    assert {type(m) for m in g_layers if not isinstance(m, (nn.ConvTranspose2d, nn.BatchNorm2d))} == {nn.ReLU, nn.Tanh}
    assert isinstance(d_layers[1], nn.LeakyReLU) and d_layers[1].negative_slope == 0.2
    assert not isinstance(d_layers[1], nn.BatchNorm2d)  # no batch norm on D's input layer
    assert not any(isinstance(m, nn.ReLU) for m in d_layers)
    convs = torch.cat([m.weight.flatten() for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert convs.mean().abs() < 2e-3 and abs(convs.std().item() - 0.02) < 2e-3  # N(0, 0.02) init


def test_mlp_generator_without_tanh_for_unbounded_data() -> None:
    generator = MLPGenerator(latent_dim=2, out_shape=(2,), hidden=(8,), output_activation="none")
    assert generator(torch.full((5, 2), 100.0)).abs().max() > 1


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_r3gan_nets_fit_the_sizes_they_claim(size: int, channels: int) -> None:
    torch.manual_seed(0)
    generator = R3GANGenerator(channels=channels, image_size=size)
    discriminator = R3GANDiscriminator(channels=channels, image_size=size)
    assert generator.widths == discriminator.widths == default_widths(size)
    images = generator(torch.randn(3, generator.latent_dim))
    assert images.shape == (3, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    assert discriminator(images).shape == (3,)


def r3gan_blocks(module: nn.Module) -> list[R3GANBlock]:
    return [m for m in module.modules() if isinstance(m, R3GANBlock)]


def test_r3gan_blocks_start_as_the_identity_with_fixup_scaled_branches() -> None:
    torch.manual_seed(0)
    widths, blocks_per_stage = [128, 32, 16], 2
    for net in (
        R3GANGenerator(widths=widths, blocks_per_stage=blocks_per_stage),
        R3GANDiscriminator(widths=widths, blocks_per_stage=blocks_per_stage),
    ):
        assert not any(
            isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)) for m in net.modules()
        )
        blocks = r3gan_blocks(net)
        total = len(blocks)
        assert total == blocks_per_stage * len(widths)
        for block in blocks:
            assert not block.project.weight.any()  # the last conv of the branch starts at zero
            x = torch.randn(2, block.expand.in_channels, 7, 7)
            assert torch.equal(block(x), x)
            for conv in (block.expand, block.grouped):
                assert conv.bias is not None and not conv.bias.any()
        # He init for LeakyReLU(0.2), times L^(-1/(2(m-1))) = L^(-1/4) with m = 3 convs per branch
        widest = max(blocks, key=lambda b: b.expand.in_channels)
        for conv in (widest.expand, widest.grouped):
            fan_in = conv.weight[0].numel()
            expected = (2 / (1 + 0.2**2)) ** 0.5 / fan_in**0.5 * total**-0.25
            assert abs(conv.weight.std().item() / expected - 1) < 0.05


def test_r3gan_gradients_reach_every_parameter() -> None:
    """Every parameter is on the graph at init (the plugin kit's contract); a zero last conv passes no gradient
    back into the rest of its branch, so those convs start learning after the first step has moved it."""
    torch.manual_seed(0)
    generator, discriminator = R3GANGenerator(), R3GANDiscriminator()
    check_discriminator(discriminator, check_generator(generator))
    for net, inputs in ((generator, torch.randn(4, 64)), (discriminator, torch.rand(4, 1, 28, 28) * 2 - 1)):
        net.train()
        optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
        for step in range(2):
            optimiser.zero_grad()
            net(inputs).square().mean().backward()
            silent = [n for n, p in net.named_parameters() if (grad := p.grad) is None or not grad.any()]
            if step == 0:
                assert silent and all(".expand." in n or ".grouped." in n for n in silent)
                optimiser.step()
        assert not silent, f"no gradient reached {silent} after one step"


@pytest.mark.parametrize("group_size", [16, 8])
def test_r3gan_grouped_conv_has_the_documented_group_count(group_size: int) -> None:
    widths, expansion = [128, 32, 8], 2
    for net in (
        R3GANGenerator(widths=widths, group_size=group_size),
        R3GANDiscriminator(widths=widths, group_size=group_size),
    ):
        for block in r3gan_blocks(net):
            width = block.expand.in_channels
            assert block.expand.out_channels == width * expansion
            assert block.grouped.groups == width * expansion // group_size
            assert block.grouped.weight.shape == (width * expansion, group_size, 3, 3)  # group_size channels a group
    generator, discriminator = R3GANGenerator(widths=widths), R3GANDiscriminator(widths=widths)
    assert [b.expand.in_channels for b in r3gan_blocks(generator)] == widths  # coarse to fine
    assert [b.expand.in_channels for b in r3gan_blocks(discriminator)] == widths[::-1]  # the mirror


def test_r3gan_discriminator_scores_each_sample_alone() -> None:
    """No normalisation layer mixes samples: a sample's score does not depend on its batch (R1/R2 rely on it)."""
    torch.manual_seed(0)
    discriminator, images = R3GANDiscriminator(), torch.rand(5, 1, 28, 28) * 2 - 1
    alone = torch.cat([discriminator(image[None]) for image in images])
    torch.testing.assert_close(discriminator(images), alone)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"image_size": 30}, "got 30"),
        ({"widths": [128, 32]}, r"one width per resolution.*3 for image_size 28 \(at \[7, 14, 28\] px\), got 2"),
        ({"image_size": 32, "widths": [128, 32, 8]}, "4 for image_size 32"),
        ({"widths": [128, 36, 8]}, r"multiple of group_size \(16\).*widths \[36\]"),
        ({"widths": [128, 32, 8], "group_size": 32}, r"widths \[8\]"),
        ({"widths": [128, 0, 8]}, "positive multiple"),
        ({"blocks_per_stage": 0}, "blocks_per_stage=0"),
        ({"expansion": 0}, "expansion=0"),
        ({"channels": 0}, "channels"),
    ],
)
def test_r3gan_rejects_arguments_it_cannot_build(arguments: dict[str, object], message: str) -> None:
    for net in (R3GANGenerator, R3GANDiscriminator):
        with pytest.raises(ValueError, match=message):
            net(**arguments)  # type: ignore[arg-type]
