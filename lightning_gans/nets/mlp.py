"""Fully connected generator and discriminator, the networks of Goodfellow et al. 2014.

The paper's D used maxout units and dropout; LeakyReLU(0.2) is the common modern substitute and trains
the same toy and MNIST-scale problems without the extra maxout pieces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from torch import Tensor, nn


def _mlp(sizes: list[int], activation: Callable[[], nn.Module], dropout: float = 0.0) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers


class MLPGenerator(nn.Module):
    """z ~ N(0, I) of size ``latent_dim`` -> a sample of shape ``out_shape``.

    ``output_activation="tanh"`` for images in [-1, 1]; ``"none"`` for unbounded data such as the 2-D
    mixtures.
    """

    def __init__(
        self,
        latent_dim: int = 64,
        out_shape: tuple[int, ...] = (1, 28, 28),
        hidden: tuple[int, ...] = (256, 512, 1024),
        output_activation: Literal["tanh", "none"] = "tanh",
    ) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        self.latent_dim = latent_dim
        self.out_shape = tuple(out_shape)
        body = _mlp([latent_dim, *hidden], nn.ReLU)
        head: list[nn.Module] = [nn.Linear(hidden[-1] if hidden else latent_dim, math.prod(self.out_shape))]
        if output_activation == "tanh":
            head.append(nn.Tanh())
        self.net = nn.Sequential(*body, *head)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """A sample of shape ``in_shape`` -> one logit per sample."""

    def __init__(
        self,
        in_shape: tuple[int, ...] = (1, 28, 28),
        hidden: tuple[int, ...] = (512, 256),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)
        body = _mlp([math.prod(self.in_shape), *hidden], lambda: nn.LeakyReLU(0.2), dropout)
        self.net = nn.Sequential(nn.Flatten(), *body, nn.Linear(hidden[-1] if hidden else math.prod(in_shape), 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)


__all__ = ["MLPDiscriminator", "MLPGenerator"]
