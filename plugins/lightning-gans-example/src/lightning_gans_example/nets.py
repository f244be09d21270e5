"""Two networks for 28x28 (or any 7*2^k) greyscale or colour images."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class UpsampleConvGenerator(nn.Module):
    """Nearest-neighbour upsampling followed by a 3x3 convolution instead of a strided transposed
    convolution, which avoids checkerboard artefacts (Odena, Dumoulin & Olah 2016, "Deconvolution and
    Checkerboard Artifacts", Distill).

    lightning-gans asks two things of a generator: an integer ``latent_dim`` attribute, and
    ``forward(z)`` mapping ``(N, latent_dim)`` to samples in [-1, 1].
    """

    def __init__(self, latent_dim: int = 64, channels: int = 1, width: int = 64, stages: int = 2) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.width = width
        self.project = nn.Sequential(nn.Linear(latent_dim, width * 7 * 7), nn.BatchNorm1d(width * 7 * 7), nn.ReLU())
        blocks: list[nn.Module] = []
        for _ in range(stages):
            blocks += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(width, width // 2, 3, padding=1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(),
            ]
            width //= 2
        self.body = nn.Sequential(*blocks, nn.Conv2d(width, channels, 3, padding=1), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.project(z).view(z.shape[0], self.width, 7, 7))


class MinibatchStdDiscriminator(nn.Module):
    """A convolutional discriminator with a minibatch standard-deviation feature before its head
    (Karras et al. 2018, "Progressive Growing of GANs", section 3): a collapsed generator produces batches
    with low spread, which this extra channel lets D see.

    lightning-gans asks one thing of a discriminator: ``forward(x)`` returning one raw score per sample.
    """

    def __init__(self, channels: int = 1, width: int = 32, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),  # 28 -> 14
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width * 2, 4, 2, 1),  # 14 -> 7
            nn.LeakyReLU(0.2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear((width * 2 + 1) * 7 * 7, 1))

    def minibatch_std(self, h: Tensor) -> Tensor:
        """Append the average standard deviation across a group of samples as one more channel."""
        n, c, height, width = h.shape
        group = min(self.group_size, n)
        if n % group:
            group = 1
        grouped = h.view(group, n // group, c, height, width)
        std = grouped.var(dim=0, unbiased=False).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # (n // group,)
        feature = std.view(1, -1, 1, 1, 1).expand(group, -1, 1, height, width).reshape(n, 1, height, width)
        return torch.cat([h, feature], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.minibatch_std(self.features(x))).squeeze(1)
