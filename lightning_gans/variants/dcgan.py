"""DCGAN: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks" (arXiv:1511.06434).

The training algorithm is GAN's (Algorithm 1 with k = 1 and the non-saturating generator loss); what the
paper contributes is the architecture guidelines (see ``lightning_gans.nets.dcgan``) and the training
settings it found stable, which are this variant's defaults:

    nets       DCGANGenerator / DCGANDiscriminator, weights from N(0, 0.02)
    optimiser  Adam, lr = 2e-4, beta1 = 0.5 for both nets
    loss       non-saturating, one discriminator step per generator step
    batch      128, images scaled to [-1, 1] (set in the recipe's data module)
"""

from __future__ import annotations

from lightning.pytorch.cli import OptimizerCallable

from lightning_gans.core.module import adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


class DCGAN(GAN):
    """GAN training with the DCGAN paper's networks and settings as defaults (1x28x28 unless given).

    The arguments are ``GAN``'s; here ``None`` nets mean the DCGAN ones.

    Args:
        generator: ``None`` (the default) means ``DCGANGenerator()``, for 1x28x28 images: a recipe only names
            one to change the size (28, 32, 64, ...), the channels or the width.
        discriminator: ``None`` (the default) means ``DCGANDiscriminator()``, for 1x28x28 images.
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
            generator if generator is not None else DCGANGenerator(),
            discriminator if discriminator is not None else DCGANDiscriminator(),
            loss=loss,
            n_critic=n_critic,
            regularisation=regularisation,
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
