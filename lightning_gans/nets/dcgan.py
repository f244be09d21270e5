"""Deep convolutional generator and discriminator of Radford, Metz & Chintala 2015, "Unsupervised
Representation Learning with Deep Convolutional Generative Adversarial Networks" (arXiv:1511.06434).

The paper's guidelines, each visible below: strided (transposed) convolutions instead of pooling, batch
norm in both nets except G's output and D's input layers, no fully connected hidden layers, ReLU in G with
tanh at the output, LeakyReLU(0.2) in D, weights drawn from N(0, 0.02).

Sizes: 28x28 (MNIST/Fashion-MNIST) starts from a 7x7 map; 8, 16, 32, 64, 128... start from 4x4.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _plan(image_size: int) -> tuple[int, int]:
    """(side of the smallest feature map, number of x2 up/down-sampling stages) for an image side."""
    for start in (7, 4):
        stages = math.log2(image_size / start) if image_size % start == 0 else -1.0
        if stages >= 1 and stages.is_integer():
            return start, int(stages)
    raise ValueError(
        f"DCGAN nets support image_size 28, 56, ... (7*2^k) or 8, 16, 32, 64, ... (4*2^k); got {image_size}"
    )


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: all weights from N(0, 0.02); batch-norm scales from N(1, 0.02), shifts zero."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> image (N, channels, image_size, image_size) in [-1, 1].

    ``num_classes > 0`` makes it class-conditional (Mirza & Osindero 2014): ``forward(z, labels)`` appends
    the one-hot label to z. ``output_activation="none"`` returns the pre-tanh map, e.g. Bernoulli logits
    for a VAE decoder.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        image_size: int = 28,
        width: int = 64,
        num_classes: int = 0,
        output_activation: Literal["tanh", "none"] = "tanh",
    ) -> None:
        super().__init__()
        if output_activation not in ("tanh", "none"):
            raise ValueError(f"output_activation must be 'tanh' or 'none', got {output_activation!r}")
        if latent_dim < 1 or width < 1:
            raise ValueError(f"latent_dim and width must be >= 1, got latent_dim={latent_dim}, width={width}")
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        start, stages = _plan(image_size)
        features = width * 2 ** (stages - 1)
        layers: list[nn.Module] = [
            # project z to a start x start map: a transposed conv over a 1x1 input, as in the paper's figure 1
            nn.ConvTranspose2d(latent_dim + num_classes, features, start, 1, 0, bias=False),
            nn.BatchNorm2d(features),
            nn.ReLU(True),
        ]
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(features, features // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(features // 2),
                nn.ReLU(True),
            ]
            features //= 2
        layers += [
            nn.ConvTranspose2d(features, channels, 4, 2, 1),
            nn.Tanh() if output_activation == "tanh" else nn.Identity(),
        ]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.num_classes:
            if labels is None:
                raise ValueError("this generator is class-conditional: call it as generator(z, labels)")
            z = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """image (N, channels, image_size, image_size) -> one logit per image, or ``outputs`` values per image.

    ``batch_norm=False`` drops D's batch norm, as WGAN-GP requires (its penalty is per sample, and batch norm
    mixes samples) and as spectrally normalised discriminators usually do. ``outputs > 1`` gives heads that
    share the convolutions (ACGAN's class logits, InfoGAN's Q, the semi-supervised GAN's K classes);
    ``features(x)`` is the last hidden layer, flattened (feature matching, linear probes).
    """

    def __init__(
        self, channels: int = 1, image_size: int = 28, width: int = 64, batch_norm: bool = True, outputs: int = 1
    ) -> None:
        super().__init__()
        if outputs < 1:
            raise ValueError(f"outputs must be >= 1, got {outputs}")
        self.outputs = outputs
        start, stages = _plan(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        features = width
        for _ in range(stages - 1):
            layers += [
                nn.Conv2d(features, features * 2, 4, 2, 1, bias=not batch_norm),
                nn.BatchNorm2d(features * 2) if batch_norm else nn.Identity(),
                nn.LeakyReLU(0.2, True),
            ]
            features *= 2
        self.net = nn.Sequential(*layers)
        self.head = nn.Conv2d(features, outputs, start, 1, 0)  # start x start map -> the outputs
        self.apply(dcgan_init)

    def features(self, x: Tensor) -> Tensor:
        return self.net(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.head(self.net(x)).flatten(1)
        return out.flatten() if self.outputs == 1 else out


class DCGANEncoder(DCGANDiscriminator):
    """image -> latent (N, latent_dim): the DCGAN discriminator's convolutions with a ``latent_dim`` head,
    the encoder of BiGAN (Donahue et al. 2017) and of the autoencoders."""

    def __init__(
        self, latent_dim: int = 100, channels: int = 1, image_size: int = 28, width: int = 64, batch_norm: bool = True
    ) -> None:
        super().__init__(channels, image_size, width, batch_norm, outputs=latent_dim)
        self.latent_dim = latent_dim


__all__ = ["DCGANDiscriminator", "DCGANEncoder", "DCGANGenerator", "dcgan_init"]
