"""BiGAN: Donahue, Krähenbühl & Darrell 2017, "Adversarial Feature Learning" (arXiv:1605.09782); the same
model is ALI: Dumoulin et al. 2017, "Adversarially Learned Inference" (arXiv:1606.00704).

An encoder E: x -> z joins the generator G: z -> x, and D judges *pairs*: real (x, E(x)) against generated
(G(z), z) (eq. 3 of Donahue et al.):

    min_{G,E} max_D  E_x[log D(x, E(x))] + E_z[log(1 - D(G(z), z))]

    for each training iteration:
        take data x; draw z ~ N(0, I)
        update D on (x, E(x)) as real and (G(z), z) as fake
        update G and E with the labels swapped: (G(z), z) as real and (x, E(x)) as fake

At the optimum E and G invert each other, so E(x) is a feature of x learnt without labels. Swapping the
labels (rather than minimising D's objective) is the non-saturating form the paper trains with (section
3.4); it is written as ``loss.d_loss(fake, real)``, so any registered loss plugs in. Logged: sample grids,
reconstructions G(E(x)) (the ``SampleGrid`` callback draws them for any model with an encoder) and, with
the ``LinearProbe`` callback, the accuracy of a linear classifier on E(x).
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lightning_gans.core.module import GANModule, adam_2e4_beta05, real_samples
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANEncoder, DCGANGenerator


class JointDiscriminator(nn.Module):
    """(x, z) -> one logit: convolutional features of x and a linear map of z, joined by a two-layer MLP with
    dropout (the D(x, z) of Dumoulin et al. 2017, appendix A, at DCGAN scale).

    Args:
        latent_dim: size of z.
        channels, image_size, width: of the DCGAN convolutions over x (no batch norm: it would mix real
            and generated pairs).
        hidden: width of the joint layers.
        dropout: dropout before each joint layer (ALI uses 0.2).
    """

    def __init__(
        self,
        latent_dim: int = 64,
        channels: int = 1,
        image_size: int = 28,
        width: int = 64,
        hidden: int = 512,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.x_path = DCGANDiscriminator(channels, image_size, width, batch_norm=False, outputs=hidden)
        self.z_path = nn.Linear(latent_dim, hidden)
        self.joint = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(2 * hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.joint(torch.cat([self.x_path(x), self.z_path(z)], dim=1)).flatten()


class BiGAN(GANModule):
    """Donahue et al. 2017 / Dumoulin et al. 2017: G, an encoder E, and a D on (x, z) pairs.

    Args:
        latent_dim: size of z.
        generator: defaults to ``DCGANGenerator(latent_dim)`` for 1x28x28 images.
        encoder: images -> (N, latent_dim); defaults to ``DCGANEncoder(latent_dim)``.
        discriminator: called as ``discriminator(x, z)``; defaults to ``JointDiscriminator(latent_dim)``.
        loss: any registered ``AdversarialLoss`` (default non-saturating).
        g_optimizer: over G's and E's parameters together. d_optimizer, ema_decay, n_grid_samples: see
            ``GANModule``.
    """

    def __init__(
        self,
        latent_dim: int = 64,
        generator: Generator | None = None,
        encoder: nn.Module | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            generator if generator is not None else DCGANGenerator(latent_dim),
            discriminator if discriminator is not None else JointDiscriminator(latent_dim),
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            encoder=encoder if encoder is not None else DCGANEncoder(latent_dim),
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if self.latent_dim != latent_dim:
            raise ValueError(f"the generator takes {self.latent_dim} latents but latent_dim is {latent_dim}")
        self.loss = loss if loss is not None else NonSaturatingLoss()

    def training_step(self, batch: Any, batch_idx: int) -> None:
        assert self.encoder is not None
        real = real_samples(batch)
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        z = self.sample_latent(real.shape[0])
        fake, codes = self.generator(z), self.encoder(real)  # each made once, detached for D

        # D step: (x, E(x)) is real, (G(z), z) is generated.
        with self.toggled_optimizer(d_opt):
            real_logits = self.discriminator(real, codes.detach())
            fake_logits = self.discriminator(fake.detach(), z)
            d_loss = self.loss.d_loss(real_logits, fake_logits)
            self.update_discriminator(d_opt, d_loss)

        # G and E step: the same game with the labels swapped.
        with self.toggled_optimizer(g_opt):
            ge_loss = self.loss.d_loss(self.discriminator(fake, z), self.discriminator(real, codes))
            self.update_generator(g_opt, ge_loss)
        self.log_train(
            {
                "train/d_loss": d_loss,
                "train/g_loss": ge_loss,
                **self.loss.scores(real_logits, fake_logits),
            }
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Held-out D loss, and how far G(E(x)) is from x (mean absolute error in [-1, 1] pixels)."""
        real = real_samples(batch)
        z = self.validation_latents(real.shape[0], batch_idx)
        codes = self.encode(real)
        d_loss = self.loss.d_loss(
            self.discriminator(real, codes), self.discriminator(self.generate(z), z.to(self.device))
        )
        self.log_dict(
            {"val/d_loss": d_loss, "val/reconstruction_l1": (self.generate(codes) - real).abs().mean()}, sync_dist=True
        )
