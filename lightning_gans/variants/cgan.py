"""Conditional GAN: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets" (arXiv:1411.1784).

GAN's two-player game with the class label y given to both players (the paper's eq. 2):

    min_G max_D  E_x[log D(x | y)] + E_z[log(1 - D(G(z | y) | y))]

    for each training iteration:
        take a data minibatch (x, y); draw z ~ N(0, I) and labels y' uniformly over the classes
        update D on (x, y) as real and (G(z | y'), y') as fake
        update G so that D takes (G(z | y'), y') for real

The paper concatenates y with the input of each net. Here G appends the one-hot label to z (any generator
with ``num_classes`` does). D takes the label in one of two ways (``conditioning``):

* ``concat``, the paper's: ``num_classes`` extra input channels, one-hot planes over the image;
* ``projection`` (Miyato & Koyama 2018, "cGANs with Projection Discriminator", arXiv:1802.05637): D's
  logit plus the inner product of a learnt class embedding with D's sum-pooled last feature map,
  D(x, y) = psi(phi(x)) + embed(y) . phi(x), which they found conditions far more strongly. A discriminator
  with its own ``num_classes`` (BigGAN's) does the projection itself and is called as D(x, y).

Either way D judges whether the image is a real *example of that class*. ``lightning-gans sample --label k``
draws class k.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_gans.core.module import GANModule, adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss, real_logits_if_relativistic
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator


def with_label_planes(images: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """(N, C, H, W) images -> (N, C + num_classes, H, W): the one-hot label broadcast over the image."""
    planes = F.one_hot(labels, num_classes).to(images.dtype)[:, :, None, None]
    return torch.cat([images, planes.expand(-1, -1, *images.shape[2:])], dim=1)


class ConditionalGAN(GANModule):
    """Mirza & Osindero 2014: G(z, y) and D(x, y), trained as GAN's Algorithm 1.

    Args:
        num_classes: how many labels (10 for Fashion-MNIST).
        generator: a conditional generator, ``generator(z, labels)`` with ``num_classes`` set; defaults to
            ``DCGANGenerator(num_classes=num_classes)`` for 1x28x28 images.
        discriminator: with ``concat``, takes images with ``num_classes`` extra channels (the label planes);
            defaults to ``DCGANDiscriminator(channels=1 + num_classes)``. With ``projection``, a
            ``DCGANDiscriminator`` over the images alone (its ``net`` gives phi, its ``head`` psi), or a
            discriminator that takes the labels itself (``num_classes`` set, ``discriminator(x, labels)``).
        conditioning: ``concat`` (the paper) or ``projection`` (Miyato & Koyama 2018).
        loss: any registered ``AdversarialLoss`` (default non-saturating).
        g_optimizer, d_optimizer, ema_decay, n_grid_samples: see ``GANModule``.
    """

    def __init__(
        self,
        num_classes: int = 10,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        conditioning: Literal["concat", "projection"] = "concat",
        loss: AdversarialLoss | None = None,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        ema_decay: float | None = None,
        n_grid_samples: int = 100,
    ) -> None:
        if conditioning not in ("concat", "projection"):
            raise ValueError(f"conditioning must be 'concat' or 'projection', got {conditioning!r}")
        if discriminator is None:
            discriminator = DCGANDiscriminator(channels=1 + num_classes if conditioning == "concat" else 1)
        super().__init__(
            generator if generator is not None else DCGANGenerator(num_classes=num_classes),
            discriminator,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if self.num_classes != num_classes:
            raise ValueError(f"the generator takes {self.num_classes} classes but num_classes is {num_classes}")
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.conditioning = conditioning
        self.label_embedding: nn.Embedding | None = None
        self.discriminator_takes_labels = conditioning == "projection" and getattr(discriminator, "num_classes", 0) > 0
        if self.discriminator_takes_labels:
            if discriminator.num_classes != num_classes:
                raise ValueError(
                    f"the discriminator takes {discriminator.num_classes} classes but num_classes is {num_classes}"
                )
        elif conditioning == "projection":
            if not isinstance(discriminator, DCGANDiscriminator) or discriminator.outputs != 1:
                raise TypeError(
                    "projection conditioning needs a one-output DCGANDiscriminator (phi = net, psi = head) or a "
                    "discriminator with num_classes that takes the labels itself (biggan)"
                )
            channels = discriminator.head.in_channels
            self.label_embedding = nn.Embedding(num_classes, channels)
            nn.init.normal_(self.label_embedding.weight, 0.0, 0.02)

    def configure_optimizers(self) -> tuple[Optimizer, Optimizer]:
        g_opt, d_opt = super().configure_optimizers()
        if self.label_embedding is not None:  # the class embedding is part of D
            d_opt.add_param_group({"params": list(self.label_embedding.parameters())})
        return g_opt, d_opt

    def judge(self, images: Tensor, labels: Tensor) -> Tensor:
        """D(x | y): one logit per image."""
        if self.discriminator_takes_labels:
            return self.discriminator(images, labels)
        if self.label_embedding is None:
            return self.discriminator(with_label_planes(images, labels, self.num_classes))
        assert isinstance(self.discriminator, DCGANDiscriminator)
        phi = self.discriminator.net(images)
        projection = (self.label_embedding(labels) * phi.sum(dim=(2, 3))).sum(1)
        return self.discriminator.head(phi).flatten() + projection

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, real_labels = batch
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        fake_labels = self.sample_labels(real.shape[0])
        fake = self.generator(self.sample_latent(real.shape[0]), fake_labels)  # made once, detached for D

        # Discriminator step: real images with their labels against generated images with theirs.
        with self.toggled_optimizer(d_opt):
            real_logits = self.judge(real, real_labels)
            fake_logits = self.judge(fake.detach(), fake_labels)
            d_loss = self.loss.d_loss(real_logits, fake_logits)
            self.update_discriminator(d_opt, d_loss)

        # Generator step: make D take (G(z | y'), y') for a real pair.
        with self.toggled_optimizer(g_opt):
            fresh_real_logits = real_logits_if_relativistic(self.loss, lambda: self.judge(real, real_labels))
            g_loss = self.loss.g_loss(fresh_real_logits, self.judge(fake, fake_labels))
            self.update_generator(g_opt, g_loss)
        self.log_train(
            {
                "train/d_loss": d_loss,
                "train/g_loss": g_loss,
                **self.loss.scores(real_logits, fake_logits),
            }
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Both losses on held-out pairs, with fakes made for the held-out labels (noise seeded by batch)."""
        real, labels = batch
        z = self.validation_latents(real.shape[0], batch_idx)
        real_logits, fake_logits = self.judge(real, labels), self.judge(self.generate(z, labels), labels)
        values = {
            "val/d_loss": self.loss.d_loss(real_logits, fake_logits),
            "val/g_loss": self.loss.g_loss(real_logits, fake_logits),
            **self.loss.scores(real_logits, fake_logits, "val"),
        }
        self.log_dict(values, sync_dist=True)
