"""ProGAN: Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation" (ICLR 2018, arXiv:1710.10196), sections 2-4 and appendix A.1. ::

    start G and D at the smallest resolution (4x4; 7x7 for 28 px images)
    for each resolution r = start, 2 start, ..., image_size:
        if r > start: fade in (fade_images real images shown):
            alpha goes linearly from 0 to 1;
            G's image  = (1 - alpha) * upsample(toRGB_{r/2}(h_{r/2})) + alpha * toRGB_r(block_r(h_{r/2}))
            D's input  = (1 - alpha) * upsample(downsample(x))        + alpha * x    (real images alike)
            D's first  = (1 - alpha) * fromRGB_{r/2}(downsample(x))   + alpha * block_r(fromRGB_r(x))
        stabilise (images_per_stage real images shown) at alpha = 1
        each step: WGAN-GP with the drift term, lambda = 10, epsilon_drift = 0.001 (one D step per G step);
                   Adam(1e-3, betas (0, 0.99)); an EMA of G's weights (decay 0.999) for sampling
    the nets (``lightning_gans.nets.progan``): equalised learning rate, pixelwise feature normalisation in G,
    minibatch standard deviation in D; every block of every resolution exists from the start

Everything here is ``GAN``'s algorithm; this class adds the schedule. The schedule is a function of the number
of real images the discriminator has been shown (``images_seen``, counted per process under DDP, a buffer
saved with every checkpoint), so a run resumed from a checkpoint taken in the middle of a fade-in continues
with exactly its resolution and alpha.
The nets always take and give full-size images (G upsamples its current output, D downsamples its input), so
sampling, metrics and checkpoints need not know about growing. When a resolution is done, a grid of its
samples is saved as ``samples/resolution=R_epoch=N.png`` (and logged to W&B as ``samples_by_resolution``).

Left out, as CPU-sized choices: the paper's per-resolution batch sizes and learning rates, and its 512-channel
nets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor
from torch.optim import Adam, Optimizer

from lightning_gans.callbacks.samples import publish
from lightning_gans.core.module import real_samples
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.images import sample_picture
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.wasserstein import WassersteinDriftLoss
from lightning_gans.nets.progan import ProGANDiscriminator, ProGANGenerator, growing_nets, set_growth
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


def adam_1e3_beta0(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=1e-3, betas=(0, 0.99)): ProGAN's setting (appendix A.1)."""
    return Adam(params, lr=1e-3, betas=(0.0, 0.99))


def growth_at(images_seen: int, max_level: int, images_per_stage: int, fade_images: int) -> tuple[int, float]:
    """(level, alpha) after ``images_seen`` real images: ``images_per_stage`` at the first resolution, then per
    further resolution ``fade_images`` fading in and ``images_per_stage`` stable; the last one stays."""
    if images_seen < images_per_stage:
        return 0, 1.0
    seen = images_seen - images_per_stage
    period = fade_images + images_per_stage
    level = min(max_level, 1 + seen // period)
    if level == max_level and seen >= max_level * period:
        return max_level, 1.0
    into = seen - (level - 1) * period
    return level, min(1.0, into / fade_images) if fade_images else 1.0


class ProGAN(GAN):
    """Progressive growing of Karras et al. 2018: the nets start small and grow, each new block fading in.

    The arguments are ``GAN``'s, then the schedule; here ``None`` means the paper's nets, loss and penalty.

    Args:
        generator: ``None`` (the default) means ``ProGANGenerator()``, for 1x28x28 images. A given generator
            must be a ``ProGANGenerator`` (or hold one): the schedule grows it.
        discriminator: ``None`` (the default) means ``ProGANDiscriminator()``, for 1x28x28 images.
        loss: ``None`` (the default) means ``WassersteinDriftLoss()``.
        regularisation: ``None`` (the default) means ``Regularisation(gradient_penalty=10.0)``.
        ema_decay: the generator EMA's decay (the paper samples from an EMA of G).
        images_per_stage: real images shown to D at each resolution once it is faded in (the paper's 800k).
        fade_images: real images shown to D while each new resolution fades in (the paper's 800k).
    """

    images_seen: Tensor

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        n_critic: int = 1,
        regularisation: Regularisation | None = None,
        pack: int = 1,
        g_optimizer: OptimizerCallable = adam_1e3_beta0,
        d_optimizer: OptimizerCallable = adam_1e3_beta0,
        ema_decay: float | None = 0.999,
        n_grid_samples: int = 64,
        images_per_stage: int = 60_000,
        fade_images: int = 60_000,
    ) -> None:
        super().__init__(
            generator if generator is not None else ProGANGenerator(),
            discriminator if discriminator is not None else ProGANDiscriminator(),
            loss=loss if loss is not None else WassersteinDriftLoss(),
            n_critic=n_critic,
            regularisation=regularisation if regularisation is not None else Regularisation(gradient_penalty=10.0),
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if images_per_stage < 1 or fade_images < 0:
            raise ValueError(
                f"images_per_stage must be >= 1 and fade_images >= 0, got {images_per_stage} and {fade_images}"
            )
        levels = {m.max_level for net in (self.generator, self.discriminator) for m in growing_nets(net)}
        if len(growing_nets(self.generator)) != 1 or len(growing_nets(self.discriminator)) != 1 or len(levels) != 1:
            raise TypeError(
                "progan grows its nets: the generator and the discriminator must each be (or hold) one ProGAN net of "
                f"the same image size, got {type(self.generator).__name__} and {type(self.discriminator).__name__}"
            )
        self.max_level = levels.pop()
        self.images_per_stage, self.fade_images = images_per_stage, fade_images
        self.register_buffer("images_seen", torch.zeros((), dtype=torch.long))
        self.apply_growth()

    def growth(self) -> tuple[int, float]:
        """(level, alpha) now: the resolution is start * 2^level, alpha how far its block has faded in."""
        return growth_at(int(self.images_seen), self.max_level, self.images_per_stage, self.fade_images)

    def apply_growth(self) -> tuple[int, float]:
        """Set the nets (the EMA copy too) to the growth now, and return it."""
        level, alpha = self.growth()
        nets = [self.generator, self.discriminator] + ([self.generator_ema] if self.generator_ema is not None else [])
        set_growth(level, alpha, *nets)
        return level, alpha

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Loading a checkpoint (to resume, or to sample) restores ``images_seen``, and with it the growth."""
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.apply_growth()
        return result

    def training_step(self, batch: Any, batch_idx: int) -> None:
        level, alpha = self.apply_growth()
        super().training_step(batch, batch_idx)
        self.images_seen += real_samples(batch).shape[0]
        side = growing_nets(self.generator)[0].start * 2**level
        self.log_train({"train/resolution": torch.tensor(float(side)), "train/fade_alpha": torch.tensor(alpha)})
        if self.growth()[0] > level:  # this resolution is done: keep a picture of it
            self.save_resolution_grid(side)

    def save_resolution_grid(self, side: int) -> None:
        trainer = self._trainer  # None outside Trainer.fit (a bare training_step in a test)
        if trainer is None or not trainer.is_global_zero:
            return
        picture = sample_picture(self.sample_fixed(), None, None)
        publish(trainer, self, "samples_by_resolution", picture, None, prefix=f"resolution={side}_")
