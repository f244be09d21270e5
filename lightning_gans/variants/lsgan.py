"""LSGAN: Mao et al. 2017, "Least Squares Generative Adversarial Networks" (arXiv:1611.04076).

    min_D 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]
    min_G 1/2 E[(D(G(z)) - c)^2]                 with a = 0, b = c = 1 (the 0-1 coding)

Least squares penalise fakes by their distance to the decision boundary even when they are classified as
real, which gives G gradients where the sigmoid cross-entropy saturates. The training loop is GAN's, with
Adam(2e-4, beta1 0.5) as in the paper.
"""

from __future__ import annotations

from lightning.pytorch.cli import OptimizerCallable

from lightning_gans.core.module import adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.least_squares import LeastSquaresLoss
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


class LSGAN(GAN):
    """GAN training with the least-squares loss.

    The arguments are ``GAN``'s; here ``loss=None`` means the paper's loss.

    Args:
        loss: ``None`` (the default) means ``LeastSquaresLoss()``, the 0-1 coding a=0, b=c=1.
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
            generator,
            discriminator,
            loss=loss if loss is not None else LeastSquaresLoss(),
            n_critic=n_critic,
            regularisation=regularisation,
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
