"""ACGAN: Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs"
(arXiv:1610.09585).

G(z, c) makes an image of class c; D does not see the class but predicts it, next to real/fake (section 3):

    L_S = E[log P(S = real | x_real)] + E[log P(S = fake | x_fake)]      (the source)
    L_C = E[log P(C = c | x_real)]    + E[log P(C = c | x_fake)]         (the class)

    D is trained to maximise L_S + L_C, G to maximise L_C - L_S.

So the auxiliary classifier learns from real images and from fakes alike, and G is rewarded for fakes
that the classifier recognises as the class asked for. Here L_S is any registered adversarial loss (the
non-saturating one by default: G minimises -log D(G(z, c)) instead of log(1 - D)), and L_C is cross-entropy
weighted by ``class_weight``. D is one network whose head gives 1 + num_classes outputs: the source logit
and the class logits. Any ``Regularisation`` applies to D as in ``GAN``; DiffAugment transforms every D input,
so the class head learns from augmented images too, and the gradient penalties act on the source logit.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lightning_gans.core.module import GANModule, adam_2e4_beta05, real_samples
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss, real_logits_if_relativistic
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lightning_gans.regularisers import Regularisation, apply_spectral_norm, clip_weights_


class ACGAN(GANModule):
    """Odena et al. 2017: conditional G, and a D that classifies as well as discriminates.

    Args:
        num_classes: how many classes (10 for Fashion-MNIST).
        generator: a conditional generator (``num_classes`` set, called as ``generator(z, labels)``);
            defaults to ``DCGANGenerator(num_classes=num_classes)`` for 1x28x28 images.
        discriminator: gives ``1 + num_classes`` outputs per image (source logit, then class logits);
            defaults to ``DCGANDiscriminator(outputs=1 + num_classes)``.
        loss: the source loss, any registered ``AdversarialLoss`` (default non-saturating).
        class_weight: weight of the class term L_C in both players' losses.
        regularisation: penalties and tricks applied to D (default: none); see ``GAN``.
        g_optimizer, d_optimizer, ema_decay, n_grid_samples: see ``GANModule``.
    """

    def __init__(
        self,
        num_classes: int = 10,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        class_weight: float = 1.0,
        regularisation: Regularisation | None = None,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        ema_decay: float | None = None,
        n_grid_samples: int = 100,
    ) -> None:
        super().__init__(
            generator if generator is not None else DCGANGenerator(num_classes=num_classes),
            discriminator if discriminator is not None else DCGANDiscriminator(outputs=1 + num_classes),
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if self.num_classes != num_classes:
            raise ValueError(f"the generator takes {self.num_classes} classes but num_classes is {num_classes}")
        if class_weight < 0:
            raise ValueError(f"class_weight must be >= 0, got {class_weight}")
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.class_weight = class_weight
        self.regularisation = regularisation if regularisation is not None else Regularisation()
        self.augment = self.regularisation.augmentation()
        if self.regularisation.spectral_norm:
            apply_spectral_norm(self.discriminator)

    def check_batch(self, batch: Any) -> None:
        super().check_batch(batch)
        self.regularisation.check_data(real_samples(batch))

    def discriminator_input(self, images: Tensor) -> Tensor:
        """What D sees while training: augmented images plus (annealed) instance noise, as in ``GAN``."""
        return self.regularisation.perturb(images, self.augment, self.generator_steps, self.noise_generator)

    def source_logit(self, images: Tensor) -> Tensor:
        """The source head alone: what the gradient penalties differentiate."""
        return self.source_and_class(images)[0]

    def source_and_class(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """D's two heads: the real/fake logit (N,) and the class logits (N, num_classes)."""
        out = self.discriminator(images)
        if out.dim() != 2 or out.shape[1] != 1 + self.num_classes:
            raise ValueError(f"an ACGAN discriminator gives 1 + {self.num_classes} outputs per image, got {out.shape}")
        return out[:, 0], out[:, 1:]

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, real_labels = batch
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        fake_labels = self.sample_labels(real.shape[0])
        fake = self.generator(self.sample_latent(real.shape[0]), fake_labels)  # made once, detached for D

        # Discriminator step: maximise L_S + L_C, i.e. minimise the source loss plus both cross-entropies.
        with self.toggled_optimizer(d_opt):
            real_in, fake_in = self.discriminator_input(real), self.discriminator_input(fake.detach())
            real_source, real_class = self.source_and_class(real_in)
            fake_source, fake_class = self.source_and_class(fake_in)
            class_loss = F.cross_entropy(real_class, real_labels) + F.cross_entropy(fake_class, fake_labels)
            d_loss = self.loss.d_loss(real_source, fake_source) + self.class_weight * class_loss
            penalty = self.regularisation.penalty(
                self.source_logit, real_in, fake_in, self.noise_generator, self.discriminator_steps
            )
            self.update_discriminator(d_opt, d_loss if penalty is None else d_loss + penalty)
            if self.regularisation.weight_clip is not None:
                clip_weights_(self.discriminator, self.regularisation.weight_clip)
        if self.augment is not None:  # ADA's overfitting signal, as in GAN
            self.augment.observe(real_source - fake_source.mean() if self.loss.relativistic else real_source)

        # Generator step: maximise L_C - L_S, i.e. fool the source head and satisfy the class head.
        with self.toggled_optimizer(g_opt):
            source, classes = self.source_and_class(self.discriminator_input(fake))
            g_class = F.cross_entropy(classes, fake_labels)
            fresh_real_logits = real_logits_if_relativistic(
                self.loss, lambda: self.source_logit(self.discriminator_input(real))
            )
            g_loss = self.loss.g_loss(fresh_real_logits, source) + self.class_weight * g_class
            self.update_generator(g_opt, g_loss)
        self.log_train(
            {
                "train/d_loss": d_loss,
                "train/g_loss": g_loss,
                **self.loss.scores(real_source, fake_source),
                "train/real_class_accuracy": (real_class.argmax(1) == real_labels).float().mean(),
                "train/fake_class_accuracy": (classes.detach().argmax(1) == fake_labels).float().mean(),
                **({"train/d_penalty": penalty} if penalty is not None else {}),
                **({"train/augment_p": self.augment.p} if self.augment is not None else {}),
            }
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """The auxiliary classifier's accuracy on held-out real images, and on fakes made for their labels."""
        real, labels = batch
        z = self.validation_latents(real.shape[0], batch_idx)
        real_source, real_class = self.source_and_class(real)
        fake_source, fake_class = self.source_and_class(self.generate(z, labels))
        values = {
            "val/d_loss": self.loss.d_loss(real_source, fake_source),
            "val/g_loss": self.loss.g_loss(real_source, fake_source),
            "val/real_class_accuracy": (real_class.argmax(1) == labels).float().mean(),
            "val/fake_class_accuracy": (fake_class.argmax(1) == labels).float().mean(),
        }
        self.log_dict(values, sync_dist=True)
