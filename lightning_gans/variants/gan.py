"""GAN: Goodfellow et al. 2014, "Generative Adversarial Nets" (arXiv:1406.2661), Algorithm 1.

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
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lightning_gans.core.module import GANModule, adam_2e4_beta05, real_samples
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.mlp import MLPDiscriminator, MLPGenerator


class GAN(GANModule):
    """The original adversarial nets of Goodfellow et al. 2014.

    Args:
        generator: defaults to an MLP generator for 1x28x28 images.
        discriminator: defaults to an MLP discriminator for 1x28x28 images.
        loss: ``MinimaxLoss`` (the paper's eq. 1) or ``NonSaturatingLoss`` (default; what the paper
            recommends in practice), or any registered ``AdversarialLoss``.
        n_critic: k, the number of discriminator steps per generator step.
        g_optimizer, d_optimizer, ema_decay, n_grid_samples: see ``GANModule``.
    """

    def __init__(
        self,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        loss: AdversarialLoss | None = None,
        n_critic: int = 1,
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
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.n_critic = n_critic

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = real_samples(batch)
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        generator_turn = (self.discriminator_steps + 1) % self.n_critic == 0

        # Generated once; its graph is only kept when the generator step below will use it.
        with torch.set_grad_enabled(generator_turn):
            fake = self.generator(self.sample_latent(real.shape[0]))

        # Discriminator step: minimise the negated value function on a real and a detached fake batch.
        with self.toggled_optimizer(d_opt):
            real_logits = self.discriminator(real)
            fake_logits = self.discriminator(fake.detach())
            d_loss = self.loss.d_loss(real_logits, fake_logits)
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            d_opt.step()
        self.discriminator_steps += 1
        metrics = {
            "train/d_loss": d_loss,
            "train/d_real": self.loss.score(real_logits.detach()).mean(),
            "train/d_fake": self.loss.score(fake_logits.detach()).mean(),
        }
        if not generator_turn:
            self.log_train(metrics)
            return

        # Generator step, against the discriminator just updated.
        with self.toggled_optimizer(g_opt):
            g_loss = self.loss.g_loss(self.discriminator(fake))
            g_opt.zero_grad(set_to_none=True)
            self.manual_backward(g_loss)
            g_opt.step()
        self.generator_steps += 1
        self.update_generator_ema()
        self.log_train({**metrics, "train/g_loss": g_loss})

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Both losses on held-out real data: a D that scores train data far above val data is memorising."""
        real = real_samples(batch)
        # Seeded by batch index so validation never consumes (and so never shifts) the training noise.
        z = torch.randn(real.shape[0], self.latent_dim, generator=torch.Generator().manual_seed(batch_idx))
        fake = self.generate(z)
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        values: dict[str, Tensor] = {
            "val/d_loss": self.loss.d_loss(real_logits, fake_logits),
            "val/g_loss": self.loss.g_loss(fake_logits),
            "val/d_real": self.loss.score(real_logits).mean(),
            "val/d_fake": self.loss.score(fake_logits).mean(),
        }
        self.log_dict(values, sync_dist=True)
