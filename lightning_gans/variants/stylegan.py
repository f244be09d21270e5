"""StyleGAN (lite): Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for Generative Adversarial
Networks" (arXiv:1812.04948), with the generator and regularisers of Karras et al. 2020, "Analyzing and Improving
the Image Quality of StyleGAN" (StyleGAN2, arXiv:1912.04958), sections 2-3 and appendix B. ::

    G = synthesis o mapping: z -> w -> per-layer styles -> modulated convolutions from a constant input, with
        per-pixel noise (``lightning_gans.nets.stylegan``)
    for each training iteration:
        D step (GAN's Algorithm 1, non-saturating logistic loss):
            fake = synthesis(ws), where with probability ``style_mixing`` the styles of two latents are mixed:
                   ws = w(z1) for layers < c, w(z2) for layers >= c, c uniform in 1 .. num_ws - 1
            R1 on real images, lazily: every 16th D step, weighted by 16 (``regularisation``)
        G step on the same fake batch; every ``path_length_interval``-th G step also
            path-length regularisation: a = || J_w^T y ||_2 for y ~ N(0, I) / sqrt(H W) (J: d image / d w),
            penalty = weight * interval * (a - a_bar)^2, a_bar an exponential moving average of a (decay 0.99)
        update the EMA of G; w_avg (in G) follows the mean of w

Style mixing regularisation keeps neighbouring layers' styles from being correlated, so that coarse and fine
styles can be swapped at sampling time (``lightning-gans sample --style_mixing``). Truncation draws w towards
w_avg (``lightning-gans sample --truncation PSI --truncation_mode w``).

The discriminator defaults to ProGAN's, with minibatch standard deviation, as StyleGAN 1 used (StyleGAN2's
residual D is left out). Everything else is ``GAN``'s algorithm: any loss, penalty or augmentation plugs in.
Also simplified: the path-length penalty is added to the G step's loss rather than taken as a separate
optimiser step, on the same batch size, and Adam's betas are not corrected for lazy regularisation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor
from torch.optim import Adam, Optimizer

from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.nets.progan import ProGANDiscriminator
from lightning_gans.nets.stylegan import StyleGANGenerator, mix_styles
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


def adam_25e4_beta0(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=0.0025, betas=(0, 0.99)): StyleGAN2's setting."""
    return Adam(params, lr=0.0025, betas=(0.0, 0.99))


class StyleGAN(GAN):
    """Style-based generation of Karras et al. 2019/2020, lite: style mixing, lazy R1 and path-length
    regularisation on ``GAN``'s algorithm.

    The arguments are ``GAN``'s, then StyleGAN's own; here ``None`` means the paper's choices.

    Args:
        generator: ``None`` (the default) means ``StyleGANGenerator()``, for 1x28x28 images. A given generator
            must be a ``StyleGANGenerator``: style mixing and path lengths need its mapping and synthesis halves.
        discriminator: ``None`` (the default) means ``ProGANDiscriminator()``, for 1x28x28 images.
        loss: any registered loss (default: the non-saturating logistic loss, as in the paper).
        regularisation: ``None`` (the default) means ``Regularisation(r1_gamma=0.05, lazy_interval=16)``.
        ema_decay: the generator EMA's decay (the paper samples from an EMA of G).
        style_mixing: the probability that a training batch mixes two latents' styles (the paper's 0.9).
        path_length_weight: the path-length penalty's weight (StyleGAN2's 2; 0, the default, turns it off).
        path_length_interval: apply it every k-th G step, weighted by k (StyleGAN2's lazy 4).
    """

    path_length_mean: Tensor

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        n_critic: int = 1,
        regularisation: Regularisation | None = None,
        pack: int = 1,
        g_optimizer: OptimizerCallable = adam_25e4_beta0,
        d_optimizer: OptimizerCallable = adam_25e4_beta0,
        ema_decay: float | None = 0.999,
        n_grid_samples: int = 64,
        style_mixing: float = 0.9,
        path_length_weight: float = 0.0,
        path_length_interval: int = 4,
    ) -> None:
        super().__init__(
            generator if generator is not None else StyleGANGenerator(),
            discriminator if discriminator is not None else ProGANDiscriminator(),
            loss=loss,
            n_critic=n_critic,
            regularisation=regularisation
            if regularisation is not None
            else Regularisation(r1_gamma=0.05, lazy_interval=16),
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if not isinstance(self.generator, StyleGANGenerator):
            raise TypeError(
                "stylegan mixes styles and regularises path lengths through the mapping and synthesis networks: "
                f"its generator must be a StyleGANGenerator (generator: stylegan), got {type(self.generator).__name__}"
            )
        if not 0.0 <= style_mixing <= 1.0:
            raise ValueError(f"style_mixing is a probability in [0, 1], got {style_mixing}")
        if path_length_weight < 0 or path_length_interval < 1:
            raise ValueError(
                f"path_length_weight must be >= 0 and path_length_interval >= 1, got {path_length_weight} and "
                f"{path_length_interval}"
            )
        self.style_mixing = style_mixing
        self.path_length_weight, self.path_length_interval = path_length_weight, path_length_interval
        self.register_buffer("path_length_mean", torch.zeros(()))

    @property
    def style_generator(self) -> StyleGANGenerator:
        assert isinstance(self.generator, StyleGANGenerator)
        return self.generator

    def mixed_styles(self, n: int) -> Tensor:
        """Per-layer styles for ``n`` samples: with probability ``style_mixing``, two latents' styles crossed
        over at a random layer."""
        generator, rng = self.style_generator, self.noise_generator
        ws = generator.styles(self.sample_latent(n))
        if torch.rand((), device=self.device, generator=rng) < self.style_mixing:
            crossover = torch.randint(1, generator.num_ws, (), device=self.device, generator=rng)
            ws = mix_styles(ws, generator.styles(self.sample_latent(n)), crossover)
        return ws

    def fake_batch(self, n: int) -> Tensor:
        return self.style_generator.synthesis(self.mixed_styles(n), self.noise_generator)

    def path_length_penalty(self, n: int) -> Tensor:
        """StyleGAN2's eq. 4: ``(|J_w^T y| - a)^2``, with ``a`` the running mean of the path lengths."""
        ws = self.mixed_styles(n)
        # double backward: ``synthesis`` is a plain method, so it runs eagerly even where CompileNets compiled the
        # generator's __call__ (compiled graphs do not support double backward)
        images = self.style_generator.synthesis(ws, self.noise_generator)
        y = torch.randn(images.shape, device=self.device, generator=self.noise_generator)
        y = y / math.sqrt(images.shape[2] * images.shape[3])
        (gradient,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
        lengths = gradient.square().sum(dim=2).mean(dim=1).sqrt()
        self.path_length_mean.copy_(self.path_length_mean.lerp(lengths.mean().detach(), 0.01))
        return (lengths - self.path_length_mean).square().mean()

    def generator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        loss = super().generator_loss(real, fake)
        if self.path_length_weight == 0 or self.generator_steps % self.path_length_interval:
            return loss
        penalty = self.path_length_penalty(real.shape[0])
        self.log_train({"train/g_path_length_penalty": penalty, "train/path_length_mean": self.path_length_mean})
        return loss + self.path_length_weight * self.path_length_interval * penalty
