"""The U-Net generator of pix2pix: Isola et al. 2017, "Image-to-Image Translation with Conditional
Adversarial Networks" (arXiv:1611.07004), after Ronneberger et al. 2015.

An encoder-decoder whose decoder layer at each resolution also sees the encoder's layer at that resolution
(a skip connection): the input's low-level structure, such as the position of edges, passes straight to
the output instead of through the bottleneck. The paper's layers: encoder convolutions 4x4 stride 2 with
LeakyReLU(0.2) and batch norm (none on the first and the innermost), decoder transposed convolutions 4x4
stride 2 with ReLU and batch norm, dropout 0.5 in the innermost decoder layers (the generator's only
noise), tanh output, weights from N(0, 0.02). Widths double per level up to 8x ``width``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_gans.nets.dcgan import dcgan_init


class UNetGenerator(nn.Module):
    """Image (N, in_channels, H, W) -> image (N, out_channels, H, W) in [-1, 1]; H and W divisible by
    ``2 ** depth``.

    Args:
        in_channels: channels of the input (domain A) images.
        out_channels: channels of the output (domain B) images.
        width: channels of the outermost encoder layer.
        depth: number of stride-2 levels; the paper's 256x256 net has 8, the default 2 suits 28x28
            (28 -> 14 -> 7, then a 3x3 convolution at 7x7).
        dropout: dropout probability of the decoder layers nearest the bottleneck (at most three, never
            the output layer), as in the paper.
    """

    scale = 1

    def __init__(
        self, in_channels: int = 1, out_channels: int = 1, width: int = 64, depth: int = 2, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.in_channels, self.out_channels, self.depth = in_channels, out_channels, depth
        widths = [width * min(2**level, 8) for level in range(depth)]
        self.downs = nn.ModuleList()
        for level, channels in enumerate(widths):
            if level == 0:
                self.downs.append(nn.Conv2d(in_channels, channels, 4, 2, 1))
            elif level == depth - 1:  # the innermost has no batch norm, as in the paper (a 1x1 map at 256x256)
                self.downs.append(nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(widths[level - 1], channels, 4, 2, 1)))
            else:
                self.downs.append(
                    nn.Sequential(
                        nn.LeakyReLU(0.2),
                        nn.Conv2d(widths[level - 1], channels, 4, 2, 1, bias=False),
                        nn.BatchNorm2d(channels),
                    )
                )
        # a 3x3 convolution at the lowest resolution, also without batch norm
        self.bottleneck = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(widths[-1], widths[-1], 3, 1, 1))
        self.ups = nn.ModuleList()
        for level in reversed(range(depth)):
            inner = widths[level] * 2  # the layer below, concatenated with the skip at this level
            if level == 0:
                self.ups.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(inner, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers: list[nn.Module] = [
                nn.ReLU(),
                nn.ConvTranspose2d(inner, widths[level - 1], 4, 2, 1, bias=False),
                nn.BatchNorm2d(widths[level - 1]),
            ]
            if dropout > 0 and depth - 1 - level < 3:
                layers.append(nn.Dropout(dropout))
            self.ups.append(nn.Sequential(*layers))
        self.apply(dcgan_init)

    def forward(self, images: Tensor) -> Tensor:
        side = 2**self.depth
        if images.shape[-1] % side or images.shape[-2] % side:
            raise ValueError(
                f"a U-Net of depth {self.depth} needs image sides divisible by {side}, got {tuple(images.shape[-2:])}"
            )
        skips = []
        h = images
        for down in self.downs:
            h = down(h)
            skips.append(h)
        h = self.bottleneck(h)
        for up, skip in zip(self.ups, reversed(skips)):
            h = up(torch.cat([h, skip], dim=1))
        return h
