"""Regularisers and stabilising tricks that compose with any adversarial loss.

* gradient penalty: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (arXiv:1704.00028);
* R1: Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?"
  (arXiv:1801.04406);
* weight clipping: Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN";
* spectral normalisation of D: Miyato et al. 2018 (torch's ``parametrizations.spectral_norm``);
* instance noise: Sønderby et al. 2017 (arXiv:1610.04490), Arjovsky & Bottou 2017;
* packing: Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial networks".

Both penalties take their input gradient in float32 with autocast switched off. Under bf16/fp16 autocast,
the squared gradient norm overflows or rounds to garbage: StudioGAN #175 went NaN around step 1500, and
PyTorch #25081 covers the same problem. The float32 island avoids the scale-then-unscale dance. The penalty's
own parameter gradients then flow through ``manual_backward``, which the grad scaler scales like any loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm


def _float32_island(x: Tensor) -> torch.autocast:
    return torch.autocast(device_type=x.device.type, enabled=False)


def gradient_penalty(
    discriminator: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """E[(||grad D(x_hat)||_2 - 1)^2], where x_hat is drawn uniformly on lines between real and fake samples."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, device=real.device, generator=generator)
    with _float32_island(real):
        x_hat = (alpha * real.detach().float() + (1 - alpha) * fake.detach().float()).requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(x_hat).float().sum(), x_hat, create_graph=True)
        return (grad.flatten(1).norm(2, dim=1) - 1.0).square().mean()


def r1_penalty(discriminator: nn.Module, real: Tensor) -> Tensor:
    """E[||grad D(x)||^2] on real data. The caller weights it by gamma / 2."""
    with _float32_island(real):
        x = real.detach().float().requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(x).float().sum(), x, create_graph=True)
        return grad.flatten(1).square().sum(dim=1).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip: float) -> None:
    """WGAN's crude Lipschitz constraint: clamp every parameter to [-clip, clip] after each critic step."""
    for parameter in module.parameters():
        parameter.clamp_(-clip, clip)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation on every convolution and linear layer of ``module``, in place."""
    for child in list(module.modules()):
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and not hasattr(child, "parametrizations"):
            spectral_norm(child)
    return module


def pack(samples: Tensor, degree: int) -> Tensor:
    """PacGAN: concatenate groups of ``degree`` consecutive samples along dim 1.

    (B, C, ...) becomes (B // degree, degree * C, ...). A last incomplete group is dropped.
    """
    if degree == 1:
        return samples
    groups = samples.shape[0] // degree
    if groups == 0:
        raise ValueError(f"cannot pack a batch of {samples.shape[0]} samples in groups of {degree}")
    kept = samples[: groups * degree]
    return kept.reshape(groups, degree * samples.shape[1], *samples.shape[2:])


@dataclass
class Regularisation:
    """Which regularisers a variant applies to its discriminator. All of them are off by default.

    Args:
        gradient_penalty: lambda of the WGAN-GP penalty (10 in the paper).
        r1_gamma: gamma of the R1 penalty, applied as gamma / 2 * E||grad D(x)||^2.
        weight_clip: clamp D's parameters to [-c, c] after every D step (WGAN: 0.01).
        spectral_norm: spectrally normalise every conv/linear layer of D.
        instance_noise: std of Gaussian noise added to every D input (real and fake)...
        instance_noise_steps: ...annealed linearly to 0 over this many generator steps (0 = constant).
    """

    gradient_penalty: float = 0.0
    r1_gamma: float = 0.0
    weight_clip: float | None = None
    spectral_norm: bool = False
    instance_noise: float = 0.0
    instance_noise_steps: int = 0

    def __post_init__(self) -> None:
        for name in ("gradient_penalty", "r1_gamma", "instance_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"regularisation.{name} must be >= 0, got {getattr(self, name)}")
        if self.weight_clip is not None and self.weight_clip <= 0:
            raise ValueError(f"regularisation.weight_clip must be > 0, got {self.weight_clip}")

    def penalty(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None
    ) -> Tensor | None:
        """The weighted penalties to add to D's loss, or None when there are none."""
        terms = []
        if self.gradient_penalty:
            terms.append(self.gradient_penalty * gradient_penalty(discriminator, real, fake, generator))
        if self.r1_gamma:
            terms.append(0.5 * self.r1_gamma * r1_penalty(discriminator, real))
        return torch.stack(terms).sum() if terms else None

    def noise_std(self, generator_steps: int) -> float:
        if not self.instance_noise:
            return 0.0
        if not self.instance_noise_steps:
            return self.instance_noise
        return self.instance_noise * max(0.0, 1.0 - generator_steps / self.instance_noise_steps)
