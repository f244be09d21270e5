"""The PatchGAN discriminator of pix2pix and CycleGAN: Isola et al. 2017 (arXiv:1611.07004), section 3.2.2.

A fully convolutional net that scores every overlapping patch of the image as real or fake, so that it
models only high frequencies (the L1 term of pix2pix, or the cycle term of CycleGAN, takes care of the
low ones). Its output is a map of per-patch logits; the adversarial losses average over it. The paper's
70x70 net is ``n_layers=3`` at 256x256. On 28x28 images the default ``n_layers=2`` gives a 5x5 map of
scores for 34x34-pixel fields (they reach into the zero padding); ``n_layers=1`` gives 12x12 scores of
16x16-pixel patches.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from lightning_gans.nets.dcgan import dcgan_init


def receptive_field(n_layers: int) -> int:
    """Side in pixels of the patch each output of ``PatchGANDiscriminator(n_layers)`` sees."""
    field = 1
    for _ in range(2):  # the two stride-1 4x4 convolutions at the end, walked backwards
        field += 3
    for _ in range(n_layers):  # the stride-2 4x4 convolutions
        field = 2 * field + 2
    return field


class PatchGANDiscriminator(nn.Module):
    """Images (N, channels, H, W) -> per-patch logits (N, H', W').

    pix2pix's discriminator is conditional: it sees the input and the (real or generated) output
    concatenated along channels, so ``channels`` is their sum; CycleGAN's sees one image.

    Args:
        channels: input channels.
        width: channels of the first layer; they double per layer up to 8x ``width``.
        n_layers: stride-2 layers; the patch side is ``receptive_field(n_layers)`` (70 for 3).
        norm: ``batch`` (pix2pix) or ``instance`` (CycleGAN); never on the first layer.
    """

    score_map = True  # a map of per-patch scores, not one score per image (the shape checks accept it)

    def __init__(
        self, channels: int = 1, width: int = 64, n_layers: int = 2, norm: Literal["batch", "instance"] = "batch"
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        self.channels = channels
        self.patch_size = receptive_field(n_layers)
        norm_layer = nn.BatchNorm2d if norm == "batch" else nn.InstanceNorm2d
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        previous = width
        for layer in range(1, n_layers + 1):
            current = width * min(2**layer, 8)
            stride = 2 if layer < n_layers else 1
            layers += [nn.Conv2d(previous, current, 4, stride, 1, bias=False), norm_layer(current), nn.LeakyReLU(0.2)]
            previous = current
        layers.append(nn.Conv2d(previous, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images).squeeze(1)
