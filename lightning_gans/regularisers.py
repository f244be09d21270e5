"""Regularisers and stabilising tricks that compose with any adversarial loss.

* gradient penalty: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (arXiv:1704.00028);
* R1 (on real data) and R2 (on generated data): Mescheder, Geiger & Nowozin 2018, "Which Training Methods
  for GANs do actually Converge?" (arXiv:1801.04406); R3GAN (Huang et al. 2024) uses both;
* lazy regularisation: Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"
  (arXiv:1912.04958), section 4: the penalties every k-th D step, weighted by k;
* differentiable augmentation with ADA's adaptive probability: see ``lightning_gans.augment``;
* weight clipping: Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN";
* spectral normalisation of D: Miyato et al. 2018 (torch's ``parametrizations.spectral_norm``);
* instance noise: Sønderby et al. 2017 (arXiv:1610.04490), Arjovsky & Bottou 2017;
* packing: Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial networks".

The gradient penalties take their input gradient in float32 with autocast switched off. Under bf16/fp16 autocast,
the squared gradient norm overflows or rounds to garbage: StudioGAN #175 went NaN around step 1500, and
PyTorch #25081 covers the same problem. The float32 island avoids the scale-then-unscale dance. The penalty's
own parameter gradients then flow through ``manual_backward``, which the grad scaler scales like any loss.

The gradient penalties differentiate D twice (``create_graph=True``), which a ``torch.compile``d forward does not
support ("torch.compile with aot_autograd does not currently support double backward"). They therefore call D
through ``uncompiled``: with ``CompileNets`` the ordinary D steps run compiled, the penalties eagerly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from lightning_gans.augment import DiffAugment, Transform


def _float32_island(x: Tensor) -> torch.autocast:
    return torch.autocast(device_type=x.device.type, enabled=False)


Critic = Callable[[Tensor], Tensor]  # D, or one head of it: what the gradient penalties differentiate


def uncompiled(critic: Critic) -> Critic:
    """``critic`` run eagerly even where it, or a net it calls, was compiled (``nn.Module.compile``, as
    ``CompileNets`` does, or ``torch.compile``): for double backward, which compiled graphs do not support.

    A critic may be D itself or a function that calls D (ACGAN's source head, a lambda adding labels), so
    bypassing D's ``_compiled_call_impl`` would not reach every case: torch's ``force_eager`` stance does, for
    the duration of the call (the compiled code and its caches stay for the next compiled call).
    ``torch.compiler.disable`` would not do: a compiled module called inside a disabled function still runs its
    compiled graph. Without any compiled net this only costs setting the stance twice.
    """

    if not hasattr(torch.compiler, "set_stance"):  # torch < 2.6, where CompileNets refuses to run: nothing compiled
        return critic

    def eager(x: Tensor) -> Tensor:
        with torch.compiler.set_stance("force_eager"):
            return critic(x)

    return eager


def gradient_penalty(
    discriminator: Critic, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """E[(||grad D(x_hat)||_2 - 1)^2], where x_hat is drawn uniformly on lines between real and fake samples."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, device=real.device, generator=generator)
    with _float32_island(real):
        x_hat = (alpha * real.detach().float() + (1 - alpha) * fake.detach().float()).requires_grad_(True)
        # uncompiled: a compiled D cannot be differentiated twice (see the module docstring)
        scores = uncompiled(discriminator)(x_hat)
        (grad,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)
        return (grad.flatten(1).norm(2, dim=1) - 1.0).square().mean()


def squared_gradient_norm(discriminator: Critic, samples: Tensor) -> Tensor:
    """E[||grad_x D(x)||^2] over ``samples``; differentiable in D's parameters."""
    with _float32_island(samples):
        x = samples.detach().float().requires_grad_(True)
        scores = uncompiled(discriminator)(x)  # a compiled D cannot be differentiated twice
        (grad,) = torch.autograd.grad(scores.float().sum(), x, create_graph=True)
        return grad.flatten(1).square().sum(dim=1).mean()


def r1_penalty(discriminator: Critic, real: Tensor) -> Tensor:
    """R1: E[||grad D(x)||^2] on real data. The caller weights it by gamma / 2."""
    return squared_gradient_norm(discriminator, real)


def r2_penalty(discriminator: Critic, fake: Tensor) -> Tensor:
    """R2: E[||grad D(x)||^2] on generated data. The caller weights it by gamma / 2."""
    return squared_gradient_norm(discriminator, fake)


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
        r1_gamma: gamma of the R1 penalty, applied as gamma / 2 * E||grad D(x)||^2 on real data.
        r2_gamma: gamma of the R2 penalty, the same on generated data (R3GAN: r1_gamma = r2_gamma).
        lazy_interval: compute the gradient penalties (GP, R1, R2) every k-th D step only, weighted by k
            (StyleGAN2's lazy regularisation: about k times less of their double backward).
        weight_clip: clamp D's parameters to [-c, c] after every D step (WGAN: 0.01).
        spectral_norm: spectrally normalise every conv/linear layer of D.
        instance_noise: std of Gaussian noise added to every D input (real and fake)...
        instance_noise_steps: ...annealed linearly to 0 over this many generator steps (0 = constant).
        augment: DiffAugment's transforms for every D input, real and generated (``[color, translation,
            cutout]`` is the paper's policy; empty: none). Images only.
        augment_p: the probability of each transform per sample (fixed, or the start for ADA).
        ada_target: adapt ``augment_p`` with ADA's heuristic towards E[sign(D(real))] = target (the paper: 0.6).
        ada_speed_images: real images over which ADA may move the probability from 0 to 1.
    """

    gradient_penalty: float = 0.0
    r1_gamma: float = 0.0
    r2_gamma: float = 0.0
    lazy_interval: int = 1
    weight_clip: float | None = None
    spectral_norm: bool = False
    instance_noise: float = 0.0
    instance_noise_steps: int = 0
    augment: list[Transform] = field(default_factory=list)
    augment_p: float = 1.0
    ada_target: float | None = None
    ada_speed_images: int = 100_000

    def __post_init__(self) -> None:
        for name in ("gradient_penalty", "r1_gamma", "r2_gamma", "instance_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"regularisation.{name} must be >= 0, got {getattr(self, name)}")
        if self.weight_clip is not None and self.weight_clip <= 0:
            raise ValueError(f"regularisation.weight_clip must be > 0, got {self.weight_clip}")
        if self.lazy_interval < 1:
            raise ValueError(f"regularisation.lazy_interval must be >= 1 (1: every D step), got {self.lazy_interval}")
        if (self.augment_p != 1.0 or self.ada_target is not None) and not self.augment:
            raise ValueError("regularisation.augment_p and ada_target need regularisation.augment: [color, ...]")
        self.augmentation()  # the augmentation's own checks, before training starts

    def augmentation(self) -> DiffAugment | None:
        """The module that augments D's inputs (it holds ADA's state, so the variant owns it), or None."""
        if not self.augment:
            return None
        return DiffAugment(self.augment, self.augment_p, self.ada_target, ada_speed_images=self.ada_speed_images)

    def penalty(
        self,
        discriminator: Critic,
        real: Tensor,
        fake: Tensor,
        generator: torch.Generator | None,
        discriminator_step: int = 0,
    ) -> Tensor | None:
        """The weighted penalties to add to D's loss at this D step, or None when there are none."""
        if discriminator_step % self.lazy_interval:
            return None
        terms = []
        if self.gradient_penalty:
            terms.append(self.gradient_penalty * gradient_penalty(discriminator, real, fake, generator))
        if self.r1_gamma:
            terms.append(0.5 * self.r1_gamma * r1_penalty(discriminator, real))
        if self.r2_gamma:
            terms.append(0.5 * self.r2_gamma * r2_penalty(discriminator, fake))
        return self.lazy_interval * torch.stack(terms).sum() if terms else None

    def perturb(
        self, samples: Tensor, augment: DiffAugment | None, generator_steps: int, generator: torch.Generator | None
    ) -> Tensor:
        """What D sees of ``samples`` while training: ``augment``'s transforms (the module ``augmentation()`` made,
        which the variant owns), then instance noise at this step's std. Differentiable, so G's gradient flows
        through it."""
        if augment is not None:
            samples = augment(samples, generator)
        std = self.noise_std(generator_steps)
        if std > 0:
            samples = samples + std * torch.randn(samples.shape, device=samples.device, generator=generator)
        return samples

    def check_data(self, samples: Tensor) -> None:
        """Refuse augmentation for data that are not images (a batch ``(N, C, H, W)``)."""
        if self.augment and samples.dim() != 4:
            raise ValueError(
                f"regularisation.augment transforms images (N, C, H, W), but the data's samples have shape "
                f"{tuple(samples.shape[1:])}; leave augment empty for this data"
            )

    def noise_std(self, generator_steps: int) -> float:
        if not self.instance_noise:
            return 0.0
        if not self.instance_noise_steps:
            return self.instance_noise
        return self.instance_noise * max(0.0, 1.0 - generator_steps / self.instance_noise_steps)
