"""Auto-encoder discriminators of Zhao, Mathieu & LeCun 2017, "Energy-based Generative Adversarial Network"
(arXiv:1609.03126), section 2.3: D is an auto-encoder and its reconstruction error is the energy,

    D(x) = || Dec(Enc(x)) - x ||^2 / size(x)

low on the data manifold, high elsewhere. The paper writes the plain L2 norm; the error here is squared and
averaged over the sample's elements so that one margin suits 2-D points and 64x64 images alike.

Both nets return the energy from ``forward`` (a score where *lower* means real: train them with the
``energy_margin`` loss, ``lightning_gans.losses.energy``), and ``codes_and_energy`` also gives the encoder's
codes, which the pulling-away term needs.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from lightning_gans.nets.dcgan import DCGANEncoder, DCGANGenerator
from lightning_gans.nets.mlp import _mlp


class AutoencoderDiscriminator(nn.Module):
    """The shared half: ``encoder`` and ``decoder`` set by a subclass, energy = mean squared reconstruction error."""

    encoder: nn.Module
    decoder: nn.Module

    def codes_and_energy(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(codes (N, code_dim), energies (N,)) of a batch."""
        codes = self.encoder(x)
        reconstruction = self.decoder(codes)
        return codes, (reconstruction - x).square().flatten(1).mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.codes_and_energy(x)[1]


class ConvAutoencoderDiscriminator(AutoencoderDiscriminator):
    """image (N, channels, image_size, image_size) -> energy (N,): DCGAN's discriminator convolutions encode to
    ``code_dim`` values, DCGAN's generator decodes them (linear output, so any image can be reconstructed), as in
    the paper's image experiments (conv encoder, deconv decoder, batch norm).
    """

    def __init__(
        self, channels: int = 1, image_size: int = 28, width: int = 64, code_dim: int = 64, batch_norm: bool = True
    ) -> None:
        super().__init__()
        if code_dim < 1:
            raise ValueError(f"code_dim must be >= 1, got {code_dim}")
        self.code_dim = code_dim
        self.encoder = DCGANEncoder(code_dim, channels, image_size, width, batch_norm)
        self.decoder = DCGANGenerator(code_dim, channels, image_size, width, output_activation="none")


class MLPAutoencoderDiscriminator(AutoencoderDiscriminator):
    """sample of shape ``in_shape`` -> energy (N,): fully connected encoder ``hidden`` -> ``code_dim`` and the mirror
    decoder, for the 2-D mixtures and small images."""

    def __init__(
        self, in_shape: tuple[int, ...] = (1, 28, 28), hidden: tuple[int, ...] = (512, 256), code_dim: int = 32
    ) -> None:
        super().__init__()
        if code_dim < 1 or not hidden:
            raise ValueError(f"code_dim must be >= 1 and hidden non-empty, got {code_dim} and {hidden}")
        self.in_shape, self.code_dim = tuple(in_shape), code_dim
        size = math.prod(self.in_shape)
        self.encoder = nn.Sequential(nn.Flatten(), *_mlp([size, *hidden], nn.ReLU), nn.Linear(hidden[-1], code_dim))
        self.decoder = nn.Sequential(
            *_mlp([code_dim, *reversed(hidden)], nn.ReLU), nn.Linear(hidden[0], size), nn.Unflatten(1, self.in_shape)
        )


__all__ = ["AutoencoderDiscriminator", "ConvAutoencoderDiscriminator", "MLPAutoencoderDiscriminator"]
