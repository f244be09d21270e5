"""Residual generator and discriminator of Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live
the GAN! A Modern GAN Baseline" (NeurIPS 2024, arXiv:2501.05441), the R3GAN baseline, sized for a CPU.

What the paper keeps of a modern ConvNet, each visible below: no normalisation layer anywhere, LeakyReLU(0.2),
residual blocks ``x + branch(x)`` whose branch is an inverted bottleneck with a grouped 3x3 convolution, bilinear
resampling plus a 1x1 convolution between resolutions, and a Fix-up-style initialisation that makes every block
the identity at the start so that the net trains without normalisation.

Sizes: 28x28 (MNIST/Fashion-MNIST) works at 7, 14 and 28 px; 8, 16, 32, 64... start from 4x4 (the plan of the
DCGAN nets). ``widths`` lists one width per resolution, coarse to fine, for both nets: the same list builds a
mirrored pair.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gans.nets.dcgan import _plan

NEGATIVE_SLOPE = 0.2
CONVS_PER_BRANCH = 3  # m in Fix-up's scale L^(-1/(2(m-1)))

# Default widths, coarse to fine, padded with the last one for larger images. A block costs about
# (4 C^2 + 288 C) multiply-adds per pixel (expansion 2, groups of 16), so a channel at 28 px costs 16 times one at
# 7 px: the nets are wide where the maps are small and thin at full resolution. Measured on one CPU thread, a
# recipe step at 28 px costs about 3.3 DCGAN steps (benchmarks/results/quality_curves.json, crossing), and most of
# G's parameters sit in its linear basis, not in convolutions.
_DEFAULT_WIDTHS = {7: (128, 32, 8), 4: (256, 128, 32, 8)}


def default_widths(image_size: int) -> list[int]:
    """One width per resolution, coarse to fine: 28 px -> [128, 32, 8] at 7/14/28 px, 32 px -> [256, 128, 32, 8]
    at 4/8/16/32 px, 64 px -> [256, 128, 32, 8, 8] at 4..64 px."""
    start, stages = _r3gan_plan(image_size)
    table = _DEFAULT_WIDTHS[start]
    return [table[min(i, len(table) - 1)] for i in range(stages + 1)]


def _r3gan_plan(image_size: int) -> tuple[int, int]:
    try:
        return _plan(image_size)
    except ValueError:
        raise ValueError(
            f"R3GAN nets support image_size 28, 56, ... (7*2^k) or 8, 16, 32, 64, ... (4*2^k); got {image_size}"
        ) from None


def _he_init(layer: nn.Conv2d | nn.Linear, nonlinearity: Literal["leaky_relu", "linear"], scale: float = 1.0) -> None:
    """He et al.'s fan-in normal init, times ``scale``; bias zero. The gain is that of what follows the layer
    (sqrt(2 / (1 + 0.2^2)) before LeakyReLU(0.2), 1 before a sum or an output), so the variance stays put."""
    nn.init.kaiming_normal_(layer.weight, a=NEGATIVE_SLOPE, mode="fan_in", nonlinearity=nonlinearity)
    with torch.no_grad():
        layer.weight.mul_(scale)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class R3GANBlock(nn.Module):
    """``x + branch(x)``, branch = 1x1 conv (C -> C*expansion), LeakyReLU, 3x3 grouped conv with ``group_size``
    channels per group, LeakyReLU, 1x1 conv (C*expansion -> C): the inverted bottleneck with a ResNeXt-style
    grouped convolution of R3GAN (Huang et al. 2024, arXiv:2501.05441), with no normalisation.

    ``total_blocks`` (L, every residual block of the net) sets the Fix-up init: the last conv starts at zero, so
    the block starts as the identity, and the other two use He init times L^(-1/4) (L^(-1/(2(m-1))) with m = 3
    convs per branch), so that the blocks' summed updates keep the residual stream's variance bounded as L grows.
    """

    def __init__(self, width: int, expansion: int, group_size: int, total_blocks: int) -> None:
        super().__init__()
        hidden = width * expansion
        self.expand = nn.Conv2d(width, hidden, 1)
        self.grouped = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden // group_size)
        # no bias: the paper's biases sit in front of activations, and this conv feeds the residual sum
        self.project = nn.Conv2d(hidden, width, 1, bias=False)
        scale = total_blocks ** (-1 / (2 * (CONVS_PER_BRANCH - 1)))
        _he_init(self.expand, "leaky_relu", scale)
        _he_init(self.grouped, "leaky_relu", scale)
        nn.init.zeros_(self.project.weight)

    def forward(self, x: Tensor) -> Tensor:
        h = F.leaky_relu(self.expand(x), NEGATIVE_SLOPE)
        h = F.leaky_relu(self.grouped(h), NEGATIVE_SLOPE)
        return x + self.project(h)


class _Resample(nn.Module):
    """A transition between resolutions: bilinear x2 (``up``) or x0.5 resampling, and a 1x1 conv when the width
    changes. Both are linear and commute (the bias-free conv mixes channels pixel by pixel, the resampling mixes
    pixels channel by channel), so the conv runs at the coarse side of the pair, where it is 4x cheaper."""

    def __init__(self, in_width: int, out_width: int, up: bool) -> None:
        super().__init__()
        self.up = up
        self.conv: nn.Conv2d | None = None
        if in_width != out_width:
            self.conv = nn.Conv2d(in_width, out_width, 1, bias=False)  # no activation follows: gain 1
            _he_init(self.conv, "linear")

    def _mix(self, x: Tensor) -> Tensor:
        return x if self.conv is None else self.conv(x)

    def forward(self, x: Tensor) -> Tensor:
        if self.up:
            return F.interpolate(self._mix(x), scale_factor=2.0, mode="bilinear", align_corners=False)
        # antialias widens the bilinear kernel to the [1, 3, 3, 1] / 8 low-pass filter at x0.5, the paper's
        # resampling filter; plain bilinear would average 2x2 pixels and alias
        return self._mix(F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False))


def _check(
    image_size: int, widths: list[int] | None, blocks_per_stage: int, expansion: int, group_size: int
) -> tuple[int, list[int]]:
    """(side of the coarsest map, widths coarse to fine), or a ValueError that names the bad argument."""
    start, stages = _r3gan_plan(image_size)
    if blocks_per_stage < 1 or expansion < 1 or group_size < 1:
        raise ValueError(
            "blocks_per_stage, expansion and group_size must be >= 1, got "
            f"blocks_per_stage={blocks_per_stage}, expansion={expansion}, group_size={group_size}"
        )
    widths = default_widths(image_size) if widths is None else list(widths)
    resolutions = [start * 2**i for i in range(stages + 1)]
    if len(widths) != len(resolutions):
        raise ValueError(
            f"widths needs one width per resolution, coarse to fine: {len(resolutions)} for image_size "
            f"{image_size} (at {resolutions} px), got {len(widths)}: {widths}"
        )
    bad = [w for w in widths if w < 1 or (w * expansion) % group_size]
    if bad:
        raise ValueError(
            f"every width times expansion ({expansion}) must be a positive multiple of group_size ({group_size}) "
            f"for the grouped 3x3 convolution; widths {bad} of {widths} are not"
        )
    return start, widths


class R3GANGenerator(nn.Module):
    """z (N, latent_dim) -> image (N, channels, image_size, image_size) in [-1, 1], the R3GAN generator
    (Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN!", arXiv:2501.05441).

    A linear "basis" layer maps z to a (widths[0], s, s) map (s = 7 for 28 px, 4 for 8/16/32/64 px); then at each
    resolution ``blocks_per_stage`` residual blocks (``R3GANBlock``) and a bilinear x2 transition to the next
    width; a 1x1 conv to ``channels`` and tanh at the end. No normalisation layers. ``widths`` gives one width per
    resolution, coarse to fine (None: ``default_widths``); each width times ``expansion`` must be a multiple of
    ``group_size``. ``blocks_per_stage`` residual blocks sit at every resolution.

    The paper's basis factorises the map as one amplitude per channel from z times a learned s x s pattern per
    channel; a full linear layer is used here instead: it can place z's ``latent_dim`` directions anywhere in the
    map, not only along fixed per-channel patterns, and on a CPU its weights are the cheapest of the net (one
    multiply-add each per sample, against s * s for a weight of a coarsest-resolution convolution).
    """

    def __init__(
        self,
        latent_dim: int = 64,
        channels: int = 1,
        image_size: int = 28,
        widths: list[int] | None = None,
        blocks_per_stage: int = 1,
        expansion: int = 2,
        group_size: int = 16,
    ) -> None:
        super().__init__()
        if latent_dim < 1 or channels < 1:
            raise ValueError(f"latent_dim and channels must be >= 1, got latent_dim={latent_dim}, channels={channels}")
        start, widths = _check(image_size, widths, blocks_per_stage, expansion, group_size)
        self.latent_dim = latent_dim
        self.widths = widths
        self.start = start
        self.basis = nn.Linear(latent_dim, widths[0] * start * start)  # gain 1: unit-variance map from N(0, I) z
        _he_init(self.basis, "linear")
        total_blocks = blocks_per_stage * len(widths)
        layers: list[nn.Module] = []
        for i, width in enumerate(widths):
            layers += [R3GANBlock(width, expansion, group_size, total_blocks) for _ in range(blocks_per_stage)]
            if i + 1 < len(widths):
                layers.append(_Resample(width, widths[i + 1], up=True))
        self.body = nn.Sequential(*layers)
        self.to_image = nn.Conv2d(widths[-1], channels, 1)
        _he_init(self.to_image, "linear")

    def forward(self, z: Tensor) -> Tensor:
        x = self.basis(z).view(len(z), -1, self.start, self.start)
        return torch.tanh(self.to_image(self.body(x)))


class R3GANDiscriminator(nn.Module):
    """image (N, channels, image_size, image_size) -> one logit per image (N,), the R3GAN discriminator
    (Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN!", arXiv:2501.05441).

    The generator's mirror: a 1x1 conv from ``channels`` to the finest width, then at each resolution
    ``blocks_per_stage`` residual blocks and an anti-aliased bilinear x0.5 transition to the next width; at the
    coarsest s x s map a depthwise s x s conv (valid) to 1x1, LeakyReLU, and a linear layer to the logit. No
    normalisation layers, so every sample's score depends on that sample alone (R1/R2 penalties need that).
    ``widths`` is ordered as the generator's, coarse to fine (``widths[-1]`` meets the image), so one list
    builds a mirrored pair (None: ``default_widths``).
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        widths: list[int] | None = None,
        blocks_per_stage: int = 1,
        expansion: int = 2,
        group_size: int = 16,
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        start, widths = _check(image_size, widths, blocks_per_stage, expansion, group_size)
        self.widths = widths
        self.from_image = nn.Conv2d(channels, widths[-1], 1)
        _he_init(self.from_image, "linear")
        total_blocks = blocks_per_stage * len(widths)
        layers: list[nn.Module] = []
        for i in reversed(range(len(widths))):
            layers += [R3GANBlock(widths[i], expansion, group_size, total_blocks) for _ in range(blocks_per_stage)]
            if i > 0:
                layers.append(_Resample(widths[i], widths[i - 1], up=False))
        self.body = nn.Sequential(*layers)
        self.basis = nn.Conv2d(widths[0], widths[0], start, groups=widths[0])  # depthwise, s x s -> 1 x 1
        _he_init(self.basis, "leaky_relu")
        self.head = nn.Linear(widths[0], 1)
        _he_init(self.head, "linear")

    def forward(self, x: Tensor) -> Tensor:
        h = F.leaky_relu(self.basis(self.body(self.from_image(x))), NEGATIVE_SLOPE)
        return self.head(h.flatten(1)).flatten()


__all__ = ["R3GANBlock", "R3GANDiscriminator", "R3GANGenerator", "default_widths"]
