"""WGAN: Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN" (arXiv:1701.07875), Algorithm 1. ::

    while theta has not converged:
        for t = 0, ..., n_critic:                              # n_critic = 5
            sample real x and noise z
            g_w <- grad_w [ mean f_w(x) - mean f_w(g_theta(z)) ]
            w   <- w + alpha * RMSProp(w, g_w)                 # alpha = 5e-5
            w   <- clip(w, -c, c)                              # c = 0.01
        sample noise z
        g_theta <- -grad_theta mean f_w(g_theta(z))
        theta   <- theta - alpha * RMSProp(theta, g_theta)

The GAN algorithm with the Wasserstein loss, weight clipping and the paper's optimiser as defaults.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lightning.pytorch.cli import OptimizerCallable
from torch.optim import Optimizer, RMSprop

from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.wasserstein import WassersteinLoss
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


def rmsprop_5e5(params: Iterable[Any]) -> Optimizer:
    """RMSProp(lr=5e-5), the paper's choice: momentum-based optimisers destabilised the clipped critic."""
    return RMSprop(params, lr=5e-5)


class WGAN(GAN):
    """Wasserstein GAN with weight clipping. Defaults: n_critic 5, clip 0.01, RMSProp 5e-5.

    The arguments are ``GAN``'s; here ``None`` means the paper's loss and clipping.

    Args:
        loss: ``None`` (the default) means ``WassersteinLoss()``.
        regularisation: ``None`` (the default) means ``Regularisation(weight_clip=0.01)``, the paper's clipping.
            A given one replaces it: keep ``weight_clip`` in it for the paper's critic.
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        n_critic: int = 5,
        regularisation: Regularisation | None = None,
        pack: int = 1,
        g_optimizer: OptimizerCallable = rmsprop_5e5,
        d_optimizer: OptimizerCallable = rmsprop_5e5,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            generator,
            discriminator,
            loss=loss if loss is not None else WassersteinLoss(),
            n_critic=n_critic,
            regularisation=regularisation if regularisation is not None else Regularisation(weight_clip=0.01),
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
