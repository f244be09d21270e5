"""VAE: Kingma & Welling 2014, "Auto-Encoding Variational Bayes" (arXiv:1312.6114), Algorithm 1 with the
Gaussian encoder of their appendix C.2 and the reparameterisation trick (section 2.4).

    for each minibatch x:
        (mu, log sigma^2) = E(x)                         q(z | x) = N(mu, diag sigma^2)
        z = mu + sigma * eps,  eps ~ N(0, I)             one sample per image (L = 1, eq. 10)
        ELBO = log p(x | z) - KL(q(z | x) || N(0, I))    KL = 1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2)
        maximise the ELBO by a gradient step on E and D together

``beta`` weighs the KL term (1 is the VAE; beta-VAE, Higgins et al. 2017, takes beta > 1). Logged: the
ELBO, its reconstruction and KL terms, in nats per image, on training and held-out data (``validate`` on
the test split reports the test ELBO). Samples decode z ~ N(0, I), the prior; ``encode`` gives the
posterior mean. Likelihood and nets are the autoencoder's (see ``autoencoder``): a Bernoulli decoder with
pixel intensities as targets, so the ELBO is comparable between runs evaluated the same way, not with
papers that binarise the images.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_gans.core.module import GenerativeModule, real_samples
from lightning_gans.nets.bernoulli import BernoulliDecoder
from lightning_gans.nets.dcgan import DCGANEncoder
from lightning_gans.variants.autoencoder import adam_1e3, bernoulli_nll, decoder_logits


class VAE(GenerativeModule):
    """Kingma & Welling 2014: a Gaussian encoder q(z | x), a Bernoulli decoder p(x | z), a N(0, I) prior.

    Args:
        latent_dim: size of z.
        encoder: images -> (N, 2 * latent_dim): the posterior's mean, then its log-variance; defaults to
            ``DCGANEncoder`` for 1x28x28 images.
        decoder: a ``BernoulliDecoder`` (z -> logits); defaults to one around ``DCGANGenerator``.
        beta: weight of the KL term.
        optimizer: builds the single optimiser over both nets (default Adam, lr 1e-3).
        n_grid_samples: see ``GenerativeModule``.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        encoder: nn.Module | None = None,
        decoder: BernoulliDecoder | None = None,
        beta: float = 1.0,
        optimizer: OptimizerCallable = adam_1e3,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            decoder if decoder is not None else BernoulliDecoder(latent_dim),
            encoder if encoder is not None else DCGANEncoder(2 * latent_dim),
            n_grid_samples=n_grid_samples,
        )
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.beta = beta
        self.optimizer = optimizer

    def configure_optimizers(self) -> Optimizer:
        return self.optimizer(self.generator_and_encoder_parameters())

    def posterior(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """q(z | x) as (mean, log-variance), each (N, latent_dim)."""
        assert self.encoder is not None
        out = self.encoder(images)
        if out.shape[1:] != (2 * self.latent_dim,):
            raise ValueError(
                f"a VAE encoder gives 2 * latent_dim = {2 * self.latent_dim} values per image, got {out.shape}"
            )
        mean, log_var = out.chunk(2, dim=1)
        return mean, log_var

    def elbo_terms(self, images: Tensor, noise: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Per image: -log p(x | z) for one reparameterised z ~ q(z | x), and KL(q(z | x) || N(0, I))."""
        mean, log_var = self.posterior(images)
        eps = torch.randn(mean.shape, device=mean.device, generator=noise)
        z = mean + torch.exp(0.5 * log_var) * eps
        recon = bernoulli_nll(decoder_logits(self.generator, z), images)
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(1)
        return recon, kl

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        recon, kl = self.elbo_terms(real_samples(batch), self.noise_generator)
        loss = (recon + self.beta * kl).mean()
        self.generator_steps += 1
        self.log_train(
            {"train/loss": loss, "train/elbo": -(recon + kl).mean(), "train/recon": recon.mean(), "train/kl": kl.mean()}
        )
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """The ELBO in nats per image on held-out data; eps seeded by batch, so evaluations are repeatable."""
        noise = torch.Generator(device=self.device).manual_seed(batch_idx)
        recon, kl = self.elbo_terms(real_samples(batch), noise)
        self.log_dict(
            {
                "val/elbo": -(recon + kl).mean(),
                "val/recon": recon.mean(),
                "val/kl": kl.mean(),
                "val/loss": (recon + self.beta * kl).mean(),
            },
            sync_dist=True,
        )

    def encode(self, x: Tensor) -> Tensor:
        """The posterior mean of z given x (the encoder's first ``latent_dim`` outputs)."""
        return super().encode(x)[:, : self.latent_dim]
