"""GAN: Goodfellow et al. 2014, "Generative Adversarial Nets" (arXiv:1406.2661), Algorithm 1. ::

    for each training iteration:
        for k steps:                                   # k = n_critic
            sample a noise minibatch z and a data minibatch x
            update D by ascending  log D(x) + log(1 - D(G(z)))
        sample a noise minibatch z
        update G by descending     log(1 - D(G(z)))    # minimax, or
                  or ascending     log D(G(z))         # non-saturating (section 3)

Each batch from the data module is one discriminator step with fresh data and fresh noise, exactly the
inner loop above; every ``n_critic``-th batch is also a generator step. When both happen in one batch the
fake batch is generated once: detached for D, reused with its graph for G.

Any registered loss plugs in, and so does any ``Regularisation`` (gradient penalty, R1, R2, weight clipping,
spectral norm, instance noise, DiffAugment with ADA's adaptive probability) and PacGAN packing (``pack``
samples per D input). The later variants of
the family (WGAN, WGAN-GP, LSGAN, SNGAN, PacGAN, unrolled) are this algorithm with their papers' choices.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lightning_gans.core.guards import call_checked, check_scores
from lightning_gans.core.module import GANModule, adam_2e4_beta05, evaluating, real_samples
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss, real_logits_if_relativistic
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lightning_gans.regularisers import Regularisation, apply_spectral_norm, clip_weights_, pack


class GAN(GANModule):
    """The original adversarial nets of Goodfellow et al. 2014.

    Args:
        generator: defaults to an MLP generator for 1x28x28 images.
        discriminator: defaults to an MLP discriminator for 1x28x28 images.
        loss: ``MinimaxLoss`` (the paper's eq. 1) or ``NonSaturatingLoss`` (default; what the paper
            recommends in practice), or any registered ``AdversarialLoss``.
        n_critic: k, the number of discriminator steps per generator step.
        regularisation: penalties and tricks applied to D (default: none).
        pack: PacGAN's packing degree m: D judges m samples at once (its input has m times the channels).
        g_optimizer, d_optimizer, ema_decay, n_grid_samples: see ``GANModule``.
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        n_critic: int = 1,
        regularisation: Regularisation | None = None,
        pack: int = 1,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            generator if generator is not None else MLPGenerator(),
            discriminator if discriminator is not None else MLPDiscriminator(),
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if n_critic < 1:
            raise ValueError(f"n_critic (k discriminator steps per generator step) must be >= 1, got {n_critic}")
        if pack < 1:
            raise ValueError(f"pack (samples per discriminator input) must be >= 1, got {pack}")
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.n_critic = n_critic
        self.regularisation = regularisation if regularisation is not None else Regularisation()
        self.pack = pack
        self.augment = self.regularisation.augmentation()
        if self.regularisation.spectral_norm:
            apply_spectral_norm(self.discriminator)

    def discriminator_input(self, samples: Tensor, training: bool = True) -> Tensor:
        """What D sees: while training, augmented samples plus (annealed) instance noise; packed in groups of
        ``pack``. The augmentation is differentiable, so G's gradient flows through it."""
        if training:
            samples = self.regularisation.perturb(samples, self.augment, self.generator_steps, self.noise_generator)
        return pack(samples, self.pack)

    def check_batch(self, batch: Any) -> None:
        """Besides the generator's sample shape: D must give one score per (packed) input of the data; a
        discriminator built with several ``outputs`` is refused (the losses here read one score per input)."""
        super().check_batch(batch)
        self.regularisation.check_data(real_samples(batch))
        real_in = self.discriminator_input(real_samples(batch)[: 2 * self.pack], training=False)
        with evaluating(self.discriminator) as discriminator:
            scores = call_checked(discriminator, real_in, "discriminator")
            check_scores(scores, real_in, self.discriminator, uses=1, variant=type(self).__name__)

    def fake_batch(self, n: int) -> Tensor:
        """G's samples for one training step (StyleGAN mixes styles here)."""
        return self.generator(self.sample_latent(n))

    def generator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """G's loss against the current D (unrolled GAN replaces this with an unrolled D). A relativistic loss
        also gets the current D's logits on the real batch, seen as D sees it (noise, packing)."""
        real_logits = real_logits_if_relativistic(self.loss, lambda: self.discriminator(self.discriminator_input(real)))
        return self.loss.g_loss(real_logits, self.discriminator(self.discriminator_input(fake)))

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = real_samples(batch)
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        generator_turn = (self.discriminator_steps + 1) % self.n_critic == 0

        # Generated once; its graph is only kept when the generator step below will use it.
        with torch.set_grad_enabled(generator_turn):
            fake = self.fake_batch(real.shape[0])

        # Discriminator step: minimise the negated value function on a real and a detached fake batch.
        with self.toggled_optimizer(d_opt):
            real_in, fake_in = self.discriminator_input(real), self.discriminator_input(fake.detach())
            real_logits, fake_logits = self.discriminator(real_in), self.discriminator(fake_in)
            d_loss = self.loss.d_loss(real_logits, fake_logits)
            penalty = self.regularisation.penalty(
                self.discriminator, real_in, fake_in, self.noise_generator, self.discriminator_steps
            )
            self.update_discriminator(d_opt, d_loss if penalty is None else d_loss + penalty)
            if self.regularisation.weight_clip is not None:
                clip_weights_(self.discriminator, self.regularisation.weight_clip)
        metrics = {
            "train/d_loss": d_loss,
            **self.loss.scores(real_logits, fake_logits),
        }
        if penalty is not None:
            metrics["train/d_penalty"] = penalty
        if self.augment is not None:
            # ADA's overfitting signal: how many reals D calls real (relative to the fakes for a relativistic loss)
            self.augment.observe(real_logits - fake_logits.mean() if self.loss.relativistic else real_logits)
            metrics["train/augment_p"] = self.augment.p
        if not generator_turn:
            self.log_train(metrics)
            return

        # Generator step, against the discriminator just updated.
        with self.toggled_optimizer(g_opt):
            g_loss = self.generator_loss(real, fake)
            self.update_generator(g_opt, g_loss)
        self.log_train({**metrics, "train/g_loss": g_loss})

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Both losses on held-out real data: a D that scores train data far above val data is memorising."""
        real = real_samples(batch)
        z = self.validation_latents(real.shape[0], batch_idx)
        fake = self.generate(z)
        real_in, fake_in = self.discriminator_input(real, training=False), self.discriminator_input(fake, False)
        real_logits, fake_logits = self.discriminator(real_in), self.discriminator(fake_in)
        values: dict[str, Tensor] = {
            "val/d_loss": self.loss.d_loss(real_logits, fake_logits),
            "val/g_loss": self.loss.g_loss(real_logits, fake_logits),
            **self.loss.scores(real_logits, fake_logits, "val"),
        }
        self.log_dict(values, sync_dist=True)
