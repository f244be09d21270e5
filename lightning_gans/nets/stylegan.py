"""The style-based generator of Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks" (CVPR 2019, arXiv:1812.04948), in the revised form of Karras et al. 2020, "Analyzing and
Improving the Image Quality of StyleGAN" (StyleGAN2, CVPR 2020, arXiv:1912.04958), sized for a CPU ("lite").

    z ~ N(0, I) --pixel norm, mapping MLP (lr x 0.01)--> w  (the intermediate latent space W)
    w broadcast to one style per layer: ws = (w_0, ..., w_{num_ws - 1})     (style mixing swaps a tail of them)
    x = a learnt constant (start x start)
    per layer i: x = lrelu(modulated_conv(x, A_i(w_i)) + noise_strength_i * per-pixel noise + bias)
    per resolution: image = upsample(image) + toRGB(x, w)       (StyleGAN2's skip generator)

Modulated convolution (StyleGAN2, eqs. 1-3): the affine map A turns w into one scale per input channel, the
weights are scaled by it per sample, then demodulated (each output's weights rescaled to unit norm), which does
what StyleGAN 1's AdaIN did without its droplet artefacts.
Per-pixel noise: drawn from a given random generator in training (the variant passes its seeded one), from
torch's global one when none is given in train mode, and in eval mode each layer's fixed noise map (the official
``noise_mode="const"``), so a latent always gives the same image.

W-space truncation (StyleGAN, section 2.3 / appendix B): ``w_avg`` follows the mean of the mapped w during
training (an exponential moving average, decay ``w_avg_beta``); with ``truncation_psi`` < 1 every w is drawn
towards it, w' = w_avg + psi (w - w_avg), which trades diversity for fidelity. ``lightning_gans.sampling.
truncation_in_w`` sets ``truncation_psi`` for sampling and evaluation.

Left out, as CPU-sized choices: the 512-wide, 8-layer mapping network (here 128 wide, 4 layers), the FIR blur
around up-sampling (here bilinear up-sampling), the truncation cut-off to the coarse layers. Sizes grow from
4x4 (8, 16, 32, 64 px) or 7x7 (14, 28, 56 px) as ProGAN's do; widths halve per doubling. A tanh keeps images
in [-1, 1] like every model of this library.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gans.nets.progan import EqualizedLinear, act, growth_plan, pixel_norm, resolution_widths

ACTIVATION_GAIN = 2**0.5  # the official bias_act gain for leaky ReLU: keeps the activations' variance


def upsample(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class MappingNetwork(nn.Module):
    """z -> w: pixel norm, then ``layers`` dense layers with leaky ReLU, at a 100x lower learning rate."""

    def __init__(self, latent_dim: int, w_dim: int, layers: int, lr_multiplier: float = 0.01) -> None:
        super().__init__()
        sizes = [latent_dim] + [w_dim] * layers
        # weight gain 1 / sqrt(fan_in), and the leaky ReLU's sqrt(2) after the activation, as the official
        # FullyConnectedLayer and bias_act do: a sqrt(2) in both doubled w's second moment at every layer
        self.layers = nn.ModuleList(
            EqualizedLinear(a, b, gain=1.0, lr_multiplier=lr_multiplier) for a, b in zip(sizes, sizes[1:])
        )

    def forward(self, z: Tensor) -> Tensor:
        x = pixel_norm(z)
        for layer in self.layers:
            x = act(layer(x)) * ACTIVATION_GAIN
        return x


class ModulatedConv2d(nn.Module):
    """StyleGAN2's weight (de)modulation: per-sample weights w'_ijk = s_i w_ijk, demodulated to unit norm per
    output channel j. Computed as StyleGAN2's non-fused form, which gives the same result: scale the input's
    channels by s, convolve with the shared weights, scale the outputs by the demodulation factors (on a CPU
    about 1.6x faster than a grouped convolution with a group per sample)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate = demodulate

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w)  # (N, in)
        weight = self.weight * self.scale
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=self.weight.shape[-1] // 2)
        if not self.demodulate:
            return out
        # sigma_j = sqrt(sum_{i,k} (s_i w_ijk)^2) = sqrt(s^2 . sum_k w_ijk^2)
        sigma = (styles.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8).sqrt()  # (N, out)
        return out / sigma[:, :, None, None]


class StyleLayer(nn.Module):
    """(x2 bilinear up-sampling), a modulated, demodulated 3x3 convolution, scaled per-pixel noise, bias, lrelu."""

    fixed_noise: Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, side: int, up: bool, noise_seed: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))  # the paper's learnt per-layer scale B, from 0
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer(
            "fixed_noise", torch.randn(1, 1, side, side, generator=torch.Generator().manual_seed(noise_seed))
        )
        self.up = up

    def forward(self, x: Tensor, w: Tensor, noise: torch.Generator | None) -> Tensor:
        x = self.conv(upsample(x) if self.up else x, w)
        if noise is not None:
            per_pixel = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype, generator=noise)
        elif self.training:
            per_pixel = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        else:
            per_pixel = self.fixed_noise
        return act(x + self.noise_strength * per_pixel + self.bias[None, :, None, None]) * ACTIVATION_GAIN


class ToImage(nn.Module):
    """toRGB: a modulated 1x1 convolution without demodulation, plus bias."""

    def __init__(self, in_channels: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class StyleGANGenerator(nn.Module):
    """latent (N, latent_dim) -> image (N, channels, image_size, image_size) in [-1, 1], through W.

    ``forward(z)`` is ``synthesis(styles(z, truncation_psi))``; the ``stylegan`` variant calls the two halves
    itself to mix styles and to regularise path lengths.

    Args:
        latent_dim: size of z (the paper's 512).
        w_dim: size of w (the paper's 512).
        mapping_layers: dense layers of the mapping network (the paper's 8).
        channels: image channels.
        image_size: 8, 16, 32, 64, ... (from a 4x4 constant) or 14, 28, 56, ... (from 7x7).
        widths: one width per resolution, smallest first (default: ProGAN's ``default_widths(image_size)``).
        w_avg_beta: decay of the moving average of w that truncation draws towards (the paper's 0.995).
    """

    w_avg: Tensor

    def __init__(
        self,
        latent_dim: int = 128,
        w_dim: int = 128,
        mapping_layers: int = 4,
        channels: int = 1,
        image_size: int = 28,
        widths: list[int] | None = None,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        if mapping_layers < 1:
            raise ValueError(f"mapping_layers must be >= 1, got {mapping_layers}")
        if not 0.0 <= w_avg_beta < 1.0:
            raise ValueError(f"w_avg_beta must lie in [0, 1), got {w_avg_beta}")
        self.latent_dim, self.w_dim, self.channels, self.image_size = latent_dim, w_dim, channels, image_size
        self.start, levels = growth_plan(image_size)
        widths = resolution_widths(image_size, widths)
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers)
        self.const = nn.Parameter(torch.randn(widths[0], self.start, self.start))
        sides = [self.start * 2**level for level in range(levels + 1)]
        layers = [StyleLayer(widths[0], widths[0], w_dim, sides[0], up=False, noise_seed=0)]
        for level in range(1, levels + 1):
            layers.append(StyleLayer(widths[level - 1], widths[level], w_dim, sides[level], True, 2 * level - 1))
            layers.append(StyleLayer(widths[level], widths[level], w_dim, sides[level], False, 2 * level))
        self.layers = nn.ModuleList(layers)
        self.to_image = nn.ModuleList(ToImage(width, channels, w_dim) for width in widths)
        # layer i takes w_i; the toRGB of a resolution takes the w of the next resolution's first layer
        self.num_ws = len(self.layers) + 1
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.truncation_psi = 1.0  # set by lightning_gans.sampling.truncation_in_w; 1 = no truncation

    def styles(self, z: Tensor, psi: float = 1.0) -> Tensor:
        """(N, num_ws, w_dim): z mapped to w, broadcast to every layer, drawn towards ``w_avg`` by ``psi``. In
        train mode the mapped batch also updates ``w_avg``."""
        w = self.mapping(z)
        if self.training:
            self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if psi != 1.0:
            w = self.w_avg.lerp(w, psi)
        return w[:, None, :].expand(-1, self.num_ws, -1)

    def synthesis(self, ws: Tensor, noise: torch.Generator | None = None) -> Tensor:
        """Images from per-layer styles ``ws`` (N, num_ws, w_dim); ``noise`` draws the per-pixel noise."""
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        x = self.const[None].expand(len(ws), -1, -1, -1)
        x = self.layers[0](x, ws[:, 0], noise)
        image = self.to_image[0](x, ws[:, 1])
        for level in range(1, len(self.to_image)):
            x = self.layers[2 * level - 1](x, ws[:, 2 * level - 1], noise)
            x = self.layers[2 * level](x, ws[:, 2 * level], noise)
            image = upsample(image) + self.to_image[level](x, ws[:, 2 * level + 1])
        return torch.tanh(image)

    def forward(self, z: Tensor) -> Tensor:
        return self.synthesis(self.styles(z, self.truncation_psi))


def mix_styles(first: Tensor, second: Tensor, crossover: int | Tensor) -> Tensor:
    """Style mixing: layers before ``crossover`` take ``first``'s styles (coarse: pose, shape), the rest
    ``second``'s (fine: texture, colour)."""
    layer = torch.arange(first.shape[1], device=first.device)[None, :, None]
    return torch.where(layer < crossover, first, second)


__all__ = ["MappingNetwork", "ModulatedConv2d", "StyleGANGenerator", "mix_styles"]
