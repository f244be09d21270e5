"""The growing generator and discriminator of Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs
for Improved Quality, Stability, and Variation" (ICLR 2018, arXiv:1710.10196), table 2, sized for a CPU.

G: the latent, pixel-normalised, through a dense layer to 4x4 and a 3x3 convolution; then per resolution a
nearest-neighbour x2 upsampling and two 3x3 convolutions; a 1x1 "toRGB" convolution at every resolution. D
mirrors it: a 1x1 "fromRGB" at every resolution, per resolution two 3x3 convolutions and a 2x2 average pool,
and at 4x4 the minibatch standard deviation (section 3), a 3x3 and a 4x4 convolution and a dense output.
Every activation is LeakyReLU(0.2); in G every convolution is followed by pixelwise feature normalisation
(section 4.2). Every layer has an equalised learning rate (section 4.1): weights drawn from N(0, 1) and
multiplied at run time by He's constant, so that Adam's step is alike for every layer whatever its fan-in.

Sizes: the paper grows from 4x4 (8, 16, 32, 64, ... px); 28 px images (MNIST, Fashion-MNIST) grow from 7x7
(7, 14, 28), with a 7x7 instead of a 4x4 last convolution in D.

Growing: both nets hold ``level`` (the current side is start * 2^level) and ``alpha`` (how far the newest
block has faded in, 0 to 1), which the ``progan`` variant sets from the number of images seen. Both always
speak full-size images: G upsamples its current output to ``image_size`` (nearest neighbour), D average-pools
its input down to the current resolution. So samples, metrics, checkpoints and the training loop need not know
that the nets grow. The paper's output layer is linear; here a tanh keeps images in [-1, 1] like every model of
this library.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gans.nets.dcgan import _plan

NEGATIVE_SLOPE = 0.2


def default_widths(image_size: int) -> list[int]:
    """One width per resolution, smallest first: 128 channels, halved at each doubling, at least 16 (28 px:
    [128, 64, 32] at 7/14/28 px; 32 px: [128, 64, 32, 16]). The paper keeps 512 up to 32x32 for its 1024 px
    nets; at 28 px on a CPU, [128, 128, 64] made a training step about 10 times as costly as this."""
    return [max(16, 128 >> level) for level in range(growth_plan(image_size)[1] + 1)]


def growth_plan(image_size: int) -> tuple[int, int]:
    """(the side the nets start from, how many doublings reach ``image_size``): 32 -> (4, 3), 28 -> (7, 2)."""
    try:
        return _plan(image_size)
    except ValueError:
        raise ValueError(
            "ProGAN nets grow by doubling from 4x4 (8, 16, 32, 64, ... px) or 7x7 (14, 28, 56, ... px); "
            f"got {image_size}"
        ) from None


def resolution_widths(image_size: int, widths: list[int] | None) -> list[int]:
    """One width per resolution, smallest first: ``widths`` checked against ``image_size``, or the defaults."""
    needed = growth_plan(image_size)[1] + 1
    widths = list(widths) if widths is not None else default_widths(image_size)
    if len(widths) != needed:
        raise ValueError(f"{image_size} px needs {needed} widths (one per resolution), got {len(widths)}")
    return widths


class EqualizedConv2d(nn.Module):
    """A convolution with an equalised learning rate: weight ~ N(0, 1), scaled by sqrt(2 / fan_in) at run time."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, gain: float = 2**0.5):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """A dense layer with an equalised learning rate (see ``EqualizedConv2d``). ``lr_multiplier`` scales its
    effective learning rate (StyleGAN's mapping network: 0.01); ``bias_init`` is the bias's starting value."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        gain: float = 2**0.5,
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_multiplier))
        self.scale = gain / math.sqrt(in_features) * lr_multiplier
        self.lr_multiplier = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_multiplier)


def pixel_norm(x: Tensor) -> Tensor:
    """Each pixel's feature vector scaled to unit mean square (section 4.2): keeps G's signals from escalating."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


def minibatch_stddev(x: Tensor, group_size: int) -> Tensor:
    """Section 3: the standard deviation of each feature at each pixel over a group of samples, averaged into one
    number per group and appended as a constant feature map. D can then see a batch's lack of variation."""
    group = min(group_size, x.shape[0])
    if x.shape[0] % group:
        group = 1  # an odd last batch: compare each sample with itself (std 0) rather than fail
    grouped = x.reshape(group, -1, *x.shape[1:])  # (G, N/G, C, H, W): sample i is in group i % (N/G)
    std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (N/G,)
    return torch.cat([x, std.repeat(group)[:, None, None, None].expand(-1, 1, *x.shape[2:])], dim=1)


def act(x: Tensor) -> Tensor:
    return F.leaky_relu(x, NEGATIVE_SLOPE)


class GeneratorBlock(nn.Module):
    """x2 nearest-neighbour upsampling, then two 3x3 convolutions, each with LeakyReLU and pixel norm."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.first = EqualizedConv2d(in_channels, out_channels, 3, padding=1)
        self.second = EqualizedConv2d(out_channels, out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return pixel_norm(act(self.second(pixel_norm(act(self.first(x))))))


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convolutions with LeakyReLU, then 2x2 average pooling."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.first = EqualizedConv2d(in_channels, in_channels, 3, padding=1)
        self.second = EqualizedConv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(act(self.second(act(self.first(x)))), 2)


class ProGANGenerator(nn.Module):
    """latent (N, latent_dim) -> image (N, channels, image_size, image_size) in [-1, 1], grown to ``level``.

    Args:
        latent_dim: size of the latent (the paper's 512).
        channels: image channels.
        image_size: the final side: 8, 16, 32, 64, ... (grown from 4x4) or 14, 28, 56, ... (from 7x7).
        widths: one width per resolution, smallest first (default: ``default_widths(image_size)``).
    """

    def __init__(
        self, latent_dim: int = 128, channels: int = 1, image_size: int = 28, widths: list[int] | None = None
    ) -> None:
        super().__init__()
        self.latent_dim, self.channels, self.image_size = latent_dim, channels, image_size
        self.start, self.max_level = growth_plan(image_size)
        widths = resolution_widths(image_size, widths)
        # the dense layer is a start x start "convolution" of a 1x1 latent: the paper's gain sqrt(2) / 4 at 4x4
        self.dense = EqualizedLinear(latent_dim, widths[0] * self.start**2, gain=2**0.5 / self.start)
        self.base = EqualizedConv2d(widths[0], widths[0], 3, padding=1)
        self.blocks = nn.ModuleList(GeneratorBlock(w_in, w_out) for w_in, w_out in zip(widths, widths[1:]))
        self.to_image = nn.ModuleList(EqualizedConv2d(w, channels, 1, gain=1.0) for w in widths)
        self.level, self.alpha = self.max_level, 1.0  # fully grown until the variant says otherwise

    def forward(self, z: Tensor) -> Tensor:
        x = self.dense(pixel_norm(z)).view(len(z), -1, self.start, self.start)
        x = pixel_norm(act(self.base(pixel_norm(act(x)))))
        previous = x
        for block in self.blocks[: self.level]:
            previous, x = x, block(x)
        image = self.to_image[self.level](x)
        if self.alpha < 1.0 and self.level > 0:  # fade in: the previous resolution's image, upsampled
            coarse = F.interpolate(self.to_image[self.level - 1](previous), scale_factor=2.0, mode="nearest")
            image = torch.lerp(coarse, image, self.alpha)
        scale = 2 ** (self.max_level - self.level)
        image = F.interpolate(image, scale_factor=float(scale), mode="nearest") if scale > 1 else image
        return torch.tanh(image)

    def unused_parameters(self) -> list[str]:
        """The parameters that the current growth does not use: the blocks above ``level`` and the toRGB layers
        of other resolutions than ``level`` (and ``level - 1`` while fading)."""
        return unused_at(self, "blocks", "to_image", self.level, self.alpha)


class ProGANDiscriminator(nn.Module):
    """image (N, channels, image_size, image_size) -> one score per image (N,), judged at resolution ``level``.

    Args:
        channels: image channels.
        image_size: the final side: 8, 16, 32, 64, ... or 14, 28, 56, ...
        widths: one width per resolution, smallest first (the generator's list builds the mirrored net).
        group_size: samples per minibatch-standard-deviation group (the paper's 4).
    """

    def __init__(
        self, channels: int = 1, image_size: int = 28, widths: list[int] | None = None, group_size: int = 4
    ) -> None:
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.channels, self.image_size, self.group_size = channels, image_size, group_size
        self.start, self.max_level = growth_plan(image_size)
        widths = resolution_widths(image_size, widths)
        self.from_image = nn.ModuleList(EqualizedConv2d(channels, w, 1) for w in widths)
        # blocks[k] takes resolution k + 1 down to resolution k
        self.blocks = nn.ModuleList(DiscriminatorBlock(w_out, w_in) for w_in, w_out in zip(widths, widths[1:]))
        self.final_conv = EqualizedConv2d(widths[0] + 1, widths[0], 3, padding=1)
        self.final_dense = EqualizedConv2d(widths[0], widths[0], self.start)  # start x start -> 1x1
        self.head = EqualizedLinear(widths[0], 1, gain=1.0)
        self.level, self.alpha = self.max_level, 1.0

    def forward(self, x: Tensor) -> Tensor:
        scale = 2 ** (self.max_level - self.level)
        x = F.avg_pool2d(x, scale) if scale > 1 else x
        fading = self.alpha < 1.0 and self.level > 0
        if fading:  # the paper blends real images between resolutions the way G blends its output
            x = torch.lerp(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2.0, mode="nearest"), x, self.alpha)
        h = act(self.from_image[self.level](x))
        for level in range(self.level, 0, -1):
            h = self.blocks[level - 1](h)
            if fading and level == self.level:  # fade in: the previous resolution's fromRGB on the pooled image
                h = torch.lerp(act(self.from_image[level - 1](F.avg_pool2d(x, 2))), h, self.alpha)
        h = act(self.final_conv(minibatch_stddev(h, self.group_size)))
        return self.head(act(self.final_dense(h)).flatten(1)).flatten()

    def unused_parameters(self) -> list[str]:
        """As for the generator: the blocks above ``level``, the fromRGB layers of other resolutions."""
        return unused_at(self, "blocks", "from_image", self.level, self.alpha)


def unused_at(net: nn.Module, blocks: str, image_layers: str, level: int, alpha: float) -> list[str]:
    """Names of ``net``'s parameters in ``blocks[level:]`` and in ``image_layers`` other than the used ones."""
    used_image_layers = {level, level - 1} if alpha < 1.0 and level > 0 else {level}
    names = []
    for name, _ in net.named_parameters():
        kind, index = name.split(".")[:2] if "." in name else (name, "")
        if (kind == blocks and int(index) >= level) or (kind == image_layers and int(index) not in used_image_layers):
            names.append(name)
    return names


def growing_nets(net: nn.Module) -> list[ProGANGenerator | ProGANDiscriminator]:
    """The ProGAN nets in ``net`` (itself, or inside it, e.g. an EMA copy)."""
    return [m for m in net.modules() if isinstance(m, (ProGANGenerator, ProGANDiscriminator))]


def set_growth(level: int, alpha: float, *nets: nn.Module) -> None:
    """Grow every ProGAN net among ``nets`` (and inside them, e.g. an EMA copy) to ``level`` with fade ``alpha``."""
    for net in nets:
        for module in growing_nets(net):
            if not 0 <= level <= module.max_level:
                raise ValueError(f"level must lie in 0..{module.max_level} for {module.image_size} px, got {level}")
            module.level, module.alpha = level, float(alpha)


__all__ = ["ProGANDiscriminator", "ProGANGenerator", "default_widths", "growing_nets", "set_growth"]
