"""SRResNet and the SRGAN discriminator: Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution
Using a Generative Adversarial Network" (arXiv:1609.04802), figure 4.

SRResNet: a 9x9 convolution with PReLU, B residual blocks (conv3x3, batch norm, PReLU, conv3x3, batch norm,
plus the input), a conv3x3 and batch norm added to the first layer's output (the long skip), then one
sub-pixel convolution (conv3x3 to 4x channels, pixel shuffle x2, PReLU) per doubling, and a 9x9 convolution
to the image. The paper has B = 16 and 64 channels, and no output activation; a tanh here keeps images in
[-1, 1] like every model of this library.

The discriminator: eight 3x3 convolutions with LeakyReLU(0.2), 64 to 512 channels, stride 2 every second
layer, batch norm from the second on, then dense 1024, LeakyReLU and dense 1. The paper flattens a 96x96
crop's 6x6 map; a global average pool here makes any image size work.
"""

from __future__ import annotations

import math

from torch import Tensor, nn


class SRResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """Low-resolution image (N, channels, H, W) -> (N, channels, H * scale, W * scale) in [-1, 1].

    Args:
        channels: image channels (1 for Fashion-MNIST, 3 for photos).
        scale: upscaling factor, a power of two (the paper's is 4).
        width: feature channels (the paper's 64).
        n_blocks: residual blocks (the paper's 16).
    """

    def __init__(self, channels: int = 1, scale: int = 2, width: int = 64, n_blocks: int = 16) -> None:
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of two (2, 4, 8, ...), got {scale}")
        self.in_channels = self.out_channels = channels
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
        self.body = nn.Sequential(
            *[SRResidualBlock(width) for _ in range(n_blocks)],
            nn.Conv2d(width, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
        )
        upsampling: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            upsampling += [nn.Conv2d(width, width * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(width)]
        self.tail = nn.Sequential(*upsampling, nn.Conv2d(width, channels, 9, 1, 4), nn.Tanh())

    def forward(self, images: Tensor) -> Tensor:
        features = self.head(images)
        return self.tail(features + self.body(features))


class SRGANDiscriminator(nn.Module):
    """Images (N, channels, H, W) -> one logit per image (N,).

    Args:
        channels: image channels.
        width: channels of the first layer (the paper's 64); they double every second layer up to 8x.
    """

    def __init__(self, channels: int = 1, width: int = 64) -> None:
        super().__init__()
        self.channels = channels
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2)]
        previous = width
        for layer in range(1, 8):
            current = width * min(2 ** (layer // 2), 8)
            layers += [
                nn.Conv2d(previous, current, 3, 2 if layer % 2 else 1, 1, bias=False),
                nn.BatchNorm2d(current),
                nn.LeakyReLU(0.2),
            ]
            previous = current
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(previous, width * 16),
            nn.LeakyReLU(0.2),
            nn.Linear(width * 16, 1),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images)).squeeze(1)
