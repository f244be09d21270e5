"""Contract tests over every registered generator and discriminator, plus the DCGAN guidelines."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_gans import registry
from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator, MLPGenerator

# Registry convention: a part built with its defaults works on the default data, 1x28x28 images.
DEFAULT_SHAPE = (1, 28, 28)


def assert_every_parameter_gets_a_gradient(module: nn.Module, loss: torch.Tensor) -> None:
    loss.backward()
    missing = [n for n, p in module.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not missing, f"no gradient reached {missing}"


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
    out = generator(inputs)
    assert out.shape == (4, *DEFAULT_SHAPE)
    assert torch.isfinite(out).all()
    assert out.min() >= -1 and out.max() <= 1, "images live in [-1, 1] inside models"
    assert_every_parameter_gets_a_gradient(generator, out.square().mean())


@pytest.mark.parametrize("name", registry.discriminators.names())
def test_registered_discriminator_contract(name: str) -> None:
    """One logit per sample (N,), or a map of per-patch logits (N, H', W') for PatchGAN-style nets."""
    torch.manual_seed(0)
    discriminator = registry.discriminators.create(name)
    logits = discriminator(torch.rand(4, *DEFAULT_SHAPE) * 2 - 1)
    assert logits.shape[0] == 4 and logits.dim() in (1, 3)
    assert torch.isfinite(logits).all()
    assert_every_parameter_gets_a_gradient(discriminator, logits.square().mean())


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
