"""Semi-supervised GAN: Odena 2016, "Semi-Supervised Learning with Generative Adversarial Networks"
(arXiv:1606.01583), in the form of Salimans et al. 2016, "Improved Techniques for Training GANs"
(arXiv:1606.03498), section 5.

D is a classifier over K + 1 classes: the K real classes and "generated". Salimans et al. fix the logit of
the generated class at 0, so D's K outputs l_1..l_K are an ordinary K-way classifier and
D(x) = Z(x) / (Z(x) + 1) with Z(x) = sum_k exp(l_k(x)) is the probability that x is real: ::

    L_D = L_supervised + L_unsupervised
        L_supervised   = -E_{(x, y) labelled} log p(y | x, y <= K)             (cross-entropy on l)
        L_unsupervised = -E_{x unlabelled} log D(x) - E_z log(1 - D(G(z)))
    L_G = || E_x f(x) - E_z f(G(z)) ||^2                                       (feature matching, section 3.1)

where f is D's last hidden layer. Every step takes one unlabelled batch and one batch of the few labelled
images (the ``semi_supervised`` data module cycles them). The result is the classifier: ``val/accuracy``
on the validation split (the 10k test split with ``root`` set). ``supervised_only=True`` trains the same
classifier on the labelled batches alone, the baseline the GAN must beat.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lightning_gans.core.module import GANModule, adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator


def unsupervised_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_unsupervised = -E log D(x) - E log(1 - D(G(z))) from D's K real-class logits on unlabelled images and on
    generated ones, with the generated class's logit fixed at 0: D(x) = Z(x) / (Z(x) + 1), Z = sum_k exp(l_k)."""
    real_lse, fake_lse = torch.logsumexp(real_logits, dim=1), torch.logsumexp(fake_logits, dim=1)  # log Z
    # log D(x) = log Z - log(Z + 1) = lse - softplus(lse); log(1 - D(G(z))) = -softplus(lse)
    return (F.softplus(real_lse) - real_lse).mean() + F.softplus(fake_lse).mean()


class SemiSupervisedGAN(GANModule):
    """Odena 2016 / Salimans et al. 2016: a K+1-class discriminator trained on few labels, many unlabelled
    images and generated ones; G trained by feature matching.

    Args:
        num_classes: K (10 for Fashion-MNIST).
        generator: defaults to ``DCGANGenerator`` for 1x28x28 images.
        discriminator: K outputs per image (the real classes' logits) and a ``features(x)`` method giving its
            last hidden layer; defaults to ``DCGANDiscriminator(batch_norm=False, outputs=K)``.
        unsupervised_weight: weight of L_unsupervised in D's loss.
        supervised_only: train the classifier on the labelled batches alone (the baseline); G is not trained.
        g_optimizer, d_optimizer, ema_decay, n_grid_samples: see ``GANModule``.
    """

    def __init__(
        self,
        num_classes: int = 10,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        unsupervised_weight: float = 1.0,
        supervised_only: bool = False,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            generator if generator is not None else DCGANGenerator(),
            # no batch norm: its running statistics would mix labelled, unlabelled and generated batches
            discriminator if discriminator is not None else DCGANDiscriminator(batch_norm=False, outputs=num_classes),
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if not callable(getattr(self.discriminator, "features", None)):
            raise TypeError(f"{type(self.discriminator).__name__} has no features(x) method for feature matching")
        self.classes = num_classes
        self.unsupervised_weight = unsupervised_weight
        self.supervised_only = supervised_only

    def class_logits(self, images: Tensor) -> Tensor:
        logits = self.discriminator(images)
        if logits.dim() != 2 or logits.shape[1] != self.classes:
            raise ValueError(f"the discriminator must give {self.classes} class logits per image, got {logits.shape}")
        return logits

    def hidden_features(self, images: Tensor) -> Tensor:
        """f(x): D's last hidden layer, what feature matching compares."""
        return self.discriminator.features(images)  # type: ignore[operator]  # checked in __init__

    @staticmethod
    def require_semi_supervised(batch: Any) -> None:
        if not isinstance(batch, dict) or set(batch) != {"unlabelled", "labelled"}:
            raise TypeError("sgan trains on a semi_supervised data module (batches of unlabelled and labelled data)")

    def check_batch(self, batch: Any) -> None:
        self.require_semi_supervised(batch)
        super().check_batch(batch["unlabelled"])

    def training_step(self, batch: Any, batch_idx: int) -> None:
        self.require_semi_supervised(batch)
        unlabelled = batch["unlabelled"][0]  # its labels are never looked at
        labelled, labels = batch["labelled"]
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        fake = None if self.supervised_only else self.generator(self.sample_latent(unlabelled.shape[0]))

        # D step: classify the labelled batch; call unlabelled data real (log D) and fakes generated.
        with self.toggled_optimizer(d_opt):
            supervised = F.cross_entropy(self.class_logits(labelled), labels)
            d_loss = supervised
            if fake is not None:
                unsupervised = unsupervised_loss(self.class_logits(unlabelled), self.class_logits(fake.detach()))
                d_loss = supervised + self.unsupervised_weight * unsupervised
            self.update_discriminator(d_opt, d_loss)
        metrics = {"train/d_loss": d_loss, "train/supervised_loss": supervised}
        if fake is None:
            self.log_train(metrics)
            return

        # G step: feature matching, the mean of D's last hidden layer on fakes against unlabelled data.
        with self.toggled_optimizer(g_opt):
            real_features = self.hidden_features(unlabelled).detach().mean(0)
            g_loss = (self.hidden_features(fake).mean(0) - real_features).pow(2).mean()
            self.update_generator(g_opt, g_loss)
        self.log_train({**metrics, "train/g_loss": g_loss})

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """The classifier's accuracy and cross-entropy on the held-out split."""
        images, labels = batch
        logits = self.class_logits(images)
        values = {
            "val/accuracy": (logits.argmax(1) == labels).float().mean(),
            "val/classification_loss": F.cross_entropy(logits, labels),
        }
        self.log_dict(values, sync_dist=True)
