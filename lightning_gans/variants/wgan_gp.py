"""WGAN-GP: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (arXiv:1704.00028), Algorithm 1. ::

    while theta has not converged:
        for t = 1, ..., n_critic:                                          # n_critic = 5
            sample real x, noise z, eps ~ U[0, 1]
            x_fake <- G(z);  x_hat <- eps x + (1 - eps) x_fake
            L <- D(x_fake) - D(x) + lambda (||grad_x_hat D(x_hat)||_2 - 1)^2   # lambda = 10
            w <- Adam(grad_w mean L, w, alpha, beta1, beta2)               # 1e-4, 0, 0.9
        sample noise z
        theta <- Adam(grad_theta mean -D(G(z)), theta, alpha, beta1, beta2)

The GAN algorithm with the Wasserstein loss, the gradient penalty (computed in float32, so it is safe under
mixed precision) and the paper's optimiser as defaults. The paper drops batch norm from the critic because
the penalty is per sample; the MLP default critic has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lightning.pytorch.cli import OptimizerCallable
from torch.optim import Adam, Optimizer

from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.wasserstein import WassersteinLoss
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


def adam_1e4_beta0_09(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=1e-4, betas=(0, 0.9)): the WGAN-GP paper's default."""
    return Adam(params, lr=1e-4, betas=(0.0, 0.9))


class WGANGP(GAN):
    """Wasserstein GAN with gradient penalty. Defaults: n_critic 5, lambda 10, Adam(1e-4, (0, 0.9)).

    The arguments are ``GAN``'s; here ``None`` means the paper's loss and penalty.

    Args:
        loss: ``None`` (the default) means ``WassersteinLoss()``.
        regularisation: ``None`` (the default) means ``Regularisation(gradient_penalty=10.0)``, the paper's
            lambda. A given one replaces it.
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        n_critic: int = 5,
        regularisation: Regularisation | None = None,
        pack: int = 1,
        g_optimizer: OptimizerCallable = adam_1e4_beta0_09,
        d_optimizer: OptimizerCallable = adam_1e4_beta0_09,
        ema_decay: float | None = None,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            generator,
            discriminator,
            loss=loss if loss is not None else WassersteinLoss(),
            n_critic=n_critic,
            regularisation=regularisation if regularisation is not None else Regularisation(gradient_penalty=10.0),
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
