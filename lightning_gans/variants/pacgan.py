"""PacGAN: Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in generative adversarial
networks" (arXiv:1712.04086).

    D_pack(x_1, ..., x_m)    judges m samples concatenated, all real or all fake
    the rest is the unmodified GAN (any loss, any regulariser)

A generator that collapses onto few modes produces packs with too little variety, which a packed D sees at
once. Only D's input changes: it has m times the channels (or features) of one sample. The paper uses
m = 2..4; its tables report "PacGAN4". The batch is packed in consecutive groups of m.
"""

from __future__ import annotations

from lightning.pytorch.cli import OptimizerCallable

from lightning_gans.core.module import adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.nets.mlp import MLPDiscriminator
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


class PacGAN(GAN):
    """GAN whose discriminator judges packs of ``pack`` samples (default 4).

    The arguments are ``GAN``'s; here ``discriminator=None`` means one for packs.

    Args:
        discriminator: ``None`` (the default) means ``MLPDiscriminator(in_shape=(pack, 28, 28))``, an MLP for
            packs of 1x28x28 images. A given discriminator must accept ``pack`` times the channels of one sample.
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        n_critic: int = 1,
        regularisation: Regularisation | None = None,
        pack: int = 4,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            generator,
            discriminator if discriminator is not None else MLPDiscriminator(in_shape=(pack, 28, 28)),
            loss=loss,
            n_critic=n_critic,
            regularisation=regularisation,
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
