"""InfoGAN: Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets" (arXiv:1606.03657).

G takes noise z and a latent code c; the game adds a lower bound on the mutual information I(c; G(z, c)),
estimated with an auxiliary distribution Q(c | x) that shares all convolutional layers with D (eq. 6):

    min_{G,Q} max_D  V(D, G) - lambda * L_I(G, Q),   L_I = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c)

    for each training iteration:
        draw z, a categorical code c_cat ~ Cat(K) and continuous codes c_cont
        update D (and Q) on real data and the detached fake G(z, c), Q recovering c from the fake
        update G to fool D and to make c recoverable by Q

Q's categorical head gives K logits (log Q(c_cat | x) is a cross-entropy); its continuous head gives the
mean of a unit-variance factored Gaussian (log Q(c_cont | x) is -1/2 squared error up to a constant). With
no labels at all, the categorical code tends to capture the classes: ``lightning-gans evaluate --metrics
labels`` reports how often, after the best matching of codes to classes.

Two choices differ from the paper, to keep InfoGAN inside the common sampling tools:

* the categorical code is the generator's *label* (``num_classes = categorical``), so ``sample --label k``
  fixes c_cat = k and sample grids have a column per code;
* the continuous codes are the last ``continuous`` coordinates of the latent and drawn from N(0, 1) like the
  noise (the paper: U(-1, 1)), so truncation and interpolation apply to them unchanged. ``code_dims`` gives
  their latent indices: ``sample --vary_latent I`` sweeps one from -2 to 2 (the paper's Figure 2 range).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor
from torch.optim import Adam, Optimizer

from lightning_gans.core.module import GANModule, adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.inference import evaluating
from lightning_gans.losses.base import AdversarialLoss, real_logits_if_relativistic
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator


def adam_1e3_beta05(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=1e-3, betas=(0.5, 0.999)): the paper's generator learning rate on MNIST (D keeps 2e-4). Measured
    here, it gave the categorical code far more of the class than 2e-4 did (see README)."""
    return Adam(params, lr=1e-3, betas=(0.5, 0.999))


class InfoGAN(GANModule):
    """Chen et al. 2016: a GAN whose code c stays recoverable from G(z, c) by Q, which shares D's layers.

    Args:
        noise_dim: size of the incompressible noise z (62 in the paper's MNIST model).
        categorical: K, the size of the categorical code (10).
        continuous: how many continuous codes (2: on MNIST they took width and rotation).
        generator: takes ``noise_dim + continuous`` latents and ``categorical`` labels; defaults to
            ``DCGANGenerator`` for 1x28x28 images.
        discriminator: gives ``1 + categorical + continuous`` outputs per image (D's logit, then Q's);
            defaults to ``DCGANDiscriminator``.
        loss: the adversarial loss (default non-saturating).
        info_weight: lambda for the categorical code (1 in the paper).
        continuous_weight: lambda for the continuous codes (smaller, as the paper advises).
        g_optimizer: G's optimiser (default Adam, lr 1e-3, the paper's); D and Q share ``d_optimizer``.
        d_optimizer, ema_decay, n_grid_samples: see ``GANModule``.
    """

    def __init__(
        self,
        noise_dim: int = 62,
        categorical: int = 10,
        continuous: int = 2,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        info_weight: float = 1.0,
        continuous_weight: float = 0.1,
        g_optimizer: OptimizerCallable = adam_1e3_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        ema_decay: float | None = None,
        n_grid_samples: int = 100,
    ) -> None:
        if categorical < 2 or continuous < 0 or noise_dim < 1:
            raise ValueError(
                f"need categorical >= 2, continuous >= 0, noise_dim >= 1; got {categorical}, {continuous}, {noise_dim}"
            )
        super().__init__(
            generator if generator is not None else DCGANGenerator(noise_dim + continuous, num_classes=categorical),
            discriminator if discriminator is not None else DCGANDiscriminator(outputs=1 + categorical + continuous),
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if (self.latent_dim, self.num_classes) != (noise_dim + continuous, categorical):
            raise ValueError(
                f"the generator takes {self.latent_dim} latents and {self.num_classes} labels; InfoGAN needs "
                f"noise_dim + continuous = {noise_dim + continuous} and categorical = {categorical}"
            )
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.continuous = continuous
        self.info_weight = info_weight
        self.continuous_weight = continuous_weight

    @property
    def code_dims(self) -> list[int]:
        """Latent indices of the continuous codes (for ``sample --vary_latent``)."""
        return list(range(self.latent_dim - self.continuous, self.latent_dim))

    def discriminate(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """D's logit (N,), Q's categorical logits (N, K) and Q's continuous means (N, continuous)."""
        out = self.discriminator(images)
        expected = 1 + self.num_classes + self.continuous
        if out.dim() != 2 or out.shape[1] != expected:
            raise ValueError(f"an InfoGAN discriminator gives {expected} outputs per image, got {tuple(out.shape)}")
        return out[:, 0], out[:, 1 : 1 + self.num_classes], out[:, 1 + self.num_classes :]

    @torch.no_grad()
    def infer_codes(self, images: Tensor) -> Tensor:
        """Q's most likely categorical code of each image, in eval mode: the cluster InfoGAN puts a real image in
        (``lightning_gans.metrics.conditional.code_clustering`` scores it against the classes)."""
        with evaluating(self.discriminator):
            return self.discriminate(images.to(self.device))[1].argmax(1)

    def information_loss(self, cat_logits: Tensor, cont_means: Tensor, codes: Tensor, z: Tensor) -> Tensor:
        """-lambda * (lower bound of I(c; G(z, c)) - H(c)): the codes' negative log-likelihood under Q."""
        loss = self.info_weight * F.cross_entropy(cat_logits, codes)
        if self.continuous:
            loss = loss + self.continuous_weight * 0.5 * (cont_means - z[:, self.code_dims]).pow(2).sum(1).mean()
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = batch[0]
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        z, codes = self.sample_latent(real.shape[0]), self.sample_labels(real.shape[0])
        fake = self.generator(z, codes)  # made once, detached for D

        # D and Q step: tell real from fake, and recover the code from the (detached) fake.
        with self.toggled_optimizer(d_opt):
            real_logits = self.discriminate(real)[0]
            fake_logits, cat_logits, cont_means = self.discriminate(fake.detach())
            d_loss = self.loss.d_loss(real_logits, fake_logits)
            info_loss = self.information_loss(cat_logits, cont_means, codes, z)
            self.update_discriminator(d_opt, d_loss + info_loss)

        # G step: fool D, and keep the code recoverable (the same information term, now through G).
        with self.toggled_optimizer(g_opt):
            logits, cat_logits, cont_means = self.discriminate(fake)
            fresh_real_logits = real_logits_if_relativistic(self.loss, lambda: self.discriminate(real)[0])
            info_loss_g = self.information_loss(cat_logits, cont_means, codes, z)
            g_loss = self.loss.g_loss(fresh_real_logits, logits) + info_loss_g
            self.update_generator(g_opt, g_loss)
        self.log_train(
            {
                "train/d_loss": d_loss,
                "train/g_loss": g_loss,
                "train/info_loss": info_loss,
                **self.loss.scores(real_logits, fake_logits),
                "train/code_accuracy": (cat_logits.detach().argmax(1) == codes).float().mean(),
            }
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Held-out D losses, and how well Q recovers the codes of fresh samples (seeded by batch)."""
        real = batch[0]
        rng = torch.Generator().manual_seed(batch_idx)
        z = torch.randn(real.shape[0], self.latent_dim, generator=rng).to(self.device)
        codes = torch.randint(0, self.num_classes, (real.shape[0],), generator=rng).to(self.device)
        real_logits = self.discriminate(real)[0]
        fake_logits, cat_logits, cont_means = self.discriminate(self.generate(z, codes))
        values = {
            "val/d_loss": self.loss.d_loss(real_logits, fake_logits),
            "val/g_loss": self.loss.g_loss(real_logits, fake_logits),
            "val/info_loss": self.information_loss(cat_logits, cont_means, codes, z),
            "val/code_accuracy": (cat_logits.argmax(1) == codes).float().mean(),
        }
        self.log_dict(values, sync_dist=True)
