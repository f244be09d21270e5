"""Text-conditional DCGAN nets of Reed et al. 2016, "Generative Adversarial Text to Image Synthesis"
(arXiv:1605.05396), section 4 and figure 2.

    G: phi(t) -> fully connected -> leaky ReLU -> ``projected_dim`` values, concatenated to z, then DCGAN's
       generator
    D: DCGAN's discriminator convolutions down to the smallest map; phi(t) compressed the same way,
       replicated spatially and concatenated depth-wise; a 1x1 convolution with leaky ReLU; the score

Both take the caption *embedding* (N, ``text_dim``) from a text encoder (``lightning_gans.text``), not the text.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init


def _compress(text_dim: int, projected_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(text_dim, projected_dim), nn.LeakyReLU(0.2, True))


class TextDCGANGenerator(nn.Module):
    """(z (N, latent_dim), text embedding (N, text_dim)) -> image (N, channels, image_size, image_size) in [-1, 1]."""

    def __init__(
        self,
        latent_dim: int = 100,
        text_dim: int = 128,
        projected_dim: int = 128,
        channels: int = 1,
        image_size: int = 28,
        width: int = 64,
    ) -> None:
        super().__init__()
        if min(latent_dim, text_dim, projected_dim) < 1:
            raise ValueError("latent_dim, text_dim and projected_dim must be >= 1")
        self.latent_dim, self.text_dim = latent_dim, text_dim
        self.compress = _compress(text_dim, projected_dim)
        self.net = DCGANGenerator(latent_dim + projected_dim, channels, image_size, width)
        self.compress.apply(dcgan_init)

    def forward(self, z: Tensor, text: Tensor) -> Tensor:
        return self.net(torch.cat([z, self.compress(text)], dim=1))  # type: ignore[no-any-return]


class TextDCGANDiscriminator(nn.Module):
    """(image, text embedding (N, text_dim)) -> one logit per pair: does the image look real *and* match the text?"""

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        width: int = 64,
        text_dim: int = 128,
        projected_dim: int = 128,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if min(text_dim, projected_dim) < 1:
            raise ValueError("text_dim and projected_dim must be >= 1")
        self.text_dim = text_dim
        body = DCGANDiscriminator(channels, image_size, width, batch_norm)
        self.net, features, side = body.net, body.head.in_channels, body.head.kernel_size[0]
        self.compress = _compress(text_dim, projected_dim)
        self.joint = nn.Sequential(nn.Conv2d(features + projected_dim, features, 1), nn.LeakyReLU(0.2, True))
        self.head = nn.Conv2d(features, 1, side)
        for module in (self.compress, self.joint, self.head):
            module.apply(dcgan_init)

    def forward(self, x: Tensor, text: Tensor) -> Tensor:
        image = self.net(x)
        words = self.compress(text)[:, :, None, None].expand(-1, -1, *image.shape[2:])
        return self.head(self.joint(torch.cat([image, words], dim=1))).flatten()  # type: ignore[no-any-return]


__all__ = ["TextDCGANDiscriminator", "TextDCGANGenerator"]
