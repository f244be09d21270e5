"""The class-conditional generator and projection discriminator of Brock, Donahue & Simonyan 2019, "Large Scale
GAN Training for High Fidelity Natural Image Synthesis" (BigGAN, ICLR 2019, arXiv:1809.11096), figure 15 and
appendix B, sized for a CPU ("lite").

G: z is split into one chunk per resolution (hierarchical latents). The first chunk goes through a dense layer to
a start x start map; each residual block up-samples and takes the next chunk concatenated with the shared class
embedding, from which every batch norm of the block gets its gain and bias (class-conditional batch norm):

    block(x, c) = conv3(relu(cbn(conv3(up(relu(cbn(x, c)))), c))) + conv1(up(x))
    image = tanh(conv3(relu(bn(x))))

D: residual blocks with 2x2 average pooling, ReLU, a sum over space, and the projection discriminator of
Miyato & Koyama 2018 (arXiv:1802.05637): D(x, y) = psi(phi(x)) + embed(y) . phi(x).

Spectral norm in every conv, dense and embedding layer of both nets (section 3 and 4). Left out, as CPU-sized
choices: the self-attention block, the 2 D steps per G step, and BigGAN's widths (here 128 channels halved per
doubling of the side, as ProGAN's nets here). Sizes: 8, 16, 32, 64 px (from 4x4) or 14, 28, 56 px (from 7x7).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from lightning_gans.nets.progan import growth_plan, resolution_widths


def sn_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2))


def sn_linear(in_features: int, out_features: int, bias: bool = True) -> nn.Module:
    return spectral_norm(nn.Linear(in_features, out_features, bias=bias))


def orthogonal_init(net: nn.Module) -> None:
    """The paper's orthogonal initialisation of every (spectrally normalised) weight of ``net``."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
            parametrizations: Any = module.parametrizations
            nn.init.orthogonal_(parametrizations.weight.original)


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine parameters; gain (1 + ...) and bias are linear in the condition."""

    def __init__(self, channels: int, condition_dim: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = sn_linear(condition_dim, channels, bias=False)
        self.bias = sn_linear(condition_dim, channels, bias=False)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        gain, bias = 1 + self.gain(condition), self.bias(condition)
        return self.norm(x) * gain[:, :, None, None] + bias[:, :, None, None]


class GeneratorBlock(nn.Module):
    """BigGAN's up-sampling residual block with class-conditional batch norm."""

    def __init__(self, in_channels: int, out_channels: int, condition_dim: int) -> None:
        super().__init__()
        self.norm1 = ConditionalBatchNorm2d(in_channels, condition_dim)
        self.conv1 = sn_conv(in_channels, out_channels, 3)
        self.norm2 = ConditionalBatchNorm2d(out_channels, condition_dim)
        self.conv2 = sn_conv(out_channels, out_channels, 3)
        self.skip = sn_conv(in_channels, out_channels, 1)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, condition)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), condition)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DiscriminatorBlock(nn.Module):
    """BigGAN's residual block for D: (ReLU,) 3x3 conv, ReLU, 3x3 conv, (2x2 average pool); 1x1 conv shortcut.
    The first block takes the image itself, so it has no ReLU before its first convolution."""

    def __init__(self, in_channels: int, out_channels: int, down: bool, first: bool) -> None:
        super().__init__()
        self.conv1 = sn_conv(in_channels, out_channels, 3)
        self.conv2 = sn_conv(out_channels, out_channels, 3)
        self.skip = sn_conv(in_channels, out_channels, 1)
        self.down, self.first = down, first

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        skip = self.skip(x)
        if self.down:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class BigGANGenerator(nn.Module):
    """(latent (N, latent_dim), labels (N,)) -> images (N, channels, image_size, image_size) in [-1, 1].

    Args:
        latent_dim: size of z; split into equal chunks, one for the dense layer and one per block, so it must
            be a multiple of the number of resolutions (120, the paper's, fits 28 and 32 px: 40 or 30 each).
        num_classes: class labels the generator takes.
        embedding_dim: size of the shared class embedding (the paper's 128).
        channels: image channels.
        image_size: 8, 16, 32, 64 px (from 4x4) or 14, 28, 56 px (from 7x7).
        widths: one width per resolution, smallest first (default: ProGAN's ``default_widths(image_size)``).
    """

    def __init__(
        self,
        latent_dim: int = 120,
        num_classes: int = 10,
        embedding_dim: int = 128,
        channels: int = 1,
        image_size: int = 28,
        widths: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.start, levels = growth_plan(image_size)
        widths = resolution_widths(image_size, widths)
        if num_classes < 1:
            raise ValueError(f"BigGAN's generator is class-conditional: num_classes must be >= 1, got {num_classes}")
        if latent_dim % (levels + 1):
            raise ValueError(
                f"latent_dim {latent_dim} does not split into {levels + 1} equal chunks (one per resolution at "
                f"{image_size} px): use a multiple of {levels + 1}"
            )
        self.latent_dim, self.num_classes, self.channels, self.image_size = (
            latent_dim,
            num_classes,
            channels,
            image_size,
        )
        self.chunk = latent_dim // (levels + 1)
        self.embedding = spectral_norm(nn.Embedding(num_classes, embedding_dim))
        self.dense = sn_linear(self.chunk, widths[0] * self.start**2)
        self.blocks = nn.ModuleList(
            GeneratorBlock(a, b, self.chunk + embedding_dim) for a, b in zip(widths, widths[1:])
        )
        self.out_norm = nn.BatchNorm2d(widths[-1])
        self.out_conv = sn_conv(widths[-1], channels, 3)
        orthogonal_init(self)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        first, *rest = z.split(self.chunk, dim=1)
        embedded = self.embedding(labels)
        x = self.dense(first).view(len(z), -1, self.start, self.start)
        for block, chunk in zip(self.blocks, rest):
            x = block(x, torch.cat([embedded, chunk], dim=1))
        return torch.tanh(self.out_conv(F.relu(self.out_norm(x))))


class BigGANDiscriminator(nn.Module):
    """(images, labels) -> one score per image: psi(phi(x)) + embed(y) . phi(x); without labels, psi(phi(x)).

    Args:
        channels: image channels.
        image_size: as for the generator.
        num_classes: class labels of the projection (0: an unconditional discriminator).
        widths: one width per resolution, smallest first (the generator's list builds the mirrored net).
    """

    outputs = 1

    def __init__(
        self, channels: int = 1, image_size: int = 28, num_classes: int = 10, widths: list[int] | None = None
    ) -> None:
        super().__init__()
        _, levels = growth_plan(image_size)
        widths = resolution_widths(image_size, widths)
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes
        sizes = [channels, *reversed(widths)]  # down to the start resolution, then one block that keeps it
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(a, b, down=i < levels, first=i == 0) for i, (a, b) in enumerate(zip(sizes, sizes[1:]))
        )
        self.head = sn_linear(widths[0], 1)
        self.embedding = spectral_norm(nn.Embedding(num_classes, widths[0])) if num_classes else None
        self.conditioned = False
        orthogonal_init(self)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        h = x
        for block in self.blocks:
            h = block(h)
        phi = F.relu(h).sum(dim=(2, 3))
        score = self.head(phi).flatten()
        self.conditioned = labels is not None
        if labels is None:
            return score
        if self.embedding is None:
            raise ValueError("this BigGANDiscriminator is unconditional (num_classes=0): call it without labels")
        return score + (self.embedding(labels) * phi).sum(dim=1)

    def unused_parameters(self) -> list[str]:
        """The class embedding, when the last call had no labels (the unconditional use)."""
        return [] if self.conditioned else [n for n, _ in self.named_parameters() if n.startswith("embedding.")]


__all__ = ["BigGANDiscriminator", "BigGANGenerator", "ConditionalBatchNorm2d"]
