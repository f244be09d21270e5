"""The ResNet generator of CycleGAN: Zhu et al. 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks" (arXiv:1703.10593), after Johnson et al. 2016's style-transfer net.

c7s1-w, d2w, d4w, R4w x n_blocks, u2w, uw, c7s1-out: a 7x7 convolution, two stride-2 downsamplings, residual
blocks at the lowest resolution, two stride-2 transposed convolutions, a 7x7 convolution and tanh.
Instance norm and ReLU throughout, reflection padding against border artefacts, weights from N(0, 0.02).
"""

from __future__ import annotations

from torch import Tensor, nn

from lightning_gans.nets.dcgan import dcgan_init


class ResidualBlock(nn.Module):
    """x + (reflection-pad, conv3x3, instance norm, ReLU, reflection-pad, conv3x3, instance norm)(x)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """Image (N, in_channels, H, W) -> image (N, out_channels, H, W) in [-1, 1]; H and W divisible by 4.

    Args:
        in_channels: channels of the input images.
        out_channels: channels of the output images.
        width: channels of the first layer (the paper's 64).
        n_blocks: residual blocks; the paper uses 6 at 128x128 and 9 at 256x256.
    """

    scale = 1

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 64, n_blocks: int = 6) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7, bias=False),
            nn.InstanceNorm2d(width),
            nn.ReLU(),
        ]
        for factor in (1, 2):  # d2w, d4w
            layers += [
                nn.Conv2d(width * factor, width * factor * 2, 3, 2, 1, bias=False),
                nn.InstanceNorm2d(width * factor * 2),
                nn.ReLU(),
            ]
        layers += [ResidualBlock(width * 4) for _ in range(n_blocks)]
        for factor in (4, 2):  # u2w, uw
            layers += [
                nn.ConvTranspose2d(width * factor, width * factor // 2, 3, 2, 1, output_padding=1, bias=False),
                nn.InstanceNorm2d(width * factor // 2),
                nn.ReLU(),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[-1] % 4 or images.shape[-2] % 4:
            raise ValueError(f"the ResNet generator needs image sides divisible by 4, got {tuple(images.shape[-2:])}")
        return self.net(images)
