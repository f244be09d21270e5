"""R3GAN: Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN! A Modern GAN
Baseline" (NeurIPS 2024, arXiv:2501.05441), sections 2-3. ::

    f(t) = softplus(t) = -log sigmoid(-t)                          # the relativistic pairing loss (RpGAN)
    for each iteration:
        sample a data minibatch x and a noise minibatch z
        D step: minimise  E[f(D(G(z)) - D(x))]                     # D ranks each real above its paired fake
                        + gamma/2 E||grad_x D(x)||^2                # R1 on real data
                        + gamma/2 E||grad_x D(G(z))||^2             # R2 on generated data
        G step: minimise  E[f(D(x) - D(G(z)))]                     # G ranks its fakes above the reals
    nets: a ResNet with grouped-convolution inverted bottlenecks, no normalisation, fix-up initialisation and
          bilinear resampling (``lightning_gans.nets.r3gan``); Adam with beta1 = 0; EMA of G for sampling.

The paper's point is that this loss with *both* R1 and R2 converges locally (R1 alone lets RpGAN oscillate),
and mode-drops far less than the saturating loss, so none of StyleGAN's tricks are needed. Everything here is
``GAN``'s algorithm with these choices; DiffAugment (``regularisation.augment``) is the paper's option for
small data sets. The paper's schedules (cosine decay of gamma and the learning rate, Adam beta2 rising from
0.9 to 0.99 over training) are left out: a CPU run covers a few percent of them, and a learning-rate
scheduler is an option of its own. The learning rate is held at its schedule's start; beta2 at its end
(0.99), not measured against 0.9 here; the recipes' gamma (0.1) is their own, twice where the paper's CIFAR-10
schedule starts (0.05).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lightning.pytorch.cli import OptimizerCallable
from torch.optim import Adam, Optimizer

from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.relativistic import RelativisticPairingLoss
from lightning_gans.nets.r3gan import R3GANDiscriminator, R3GANGenerator
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


def adam_2e4_beta0(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=2e-4, betas=(0, 0.99)): R3GAN's setting; without momentum the alternating updates stay stable."""
    return Adam(params, lr=2e-4, betas=(0.0, 0.99))


class R3GAN(GAN):
    """RpGAN + R1 + R2 on modern residual nets, the R3GAN baseline of Huang et al. 2024.

    The arguments are ``GAN``'s; here ``None`` means the paper's nets, loss and penalties.

    Args:
        generator: ``None`` (the default) means ``R3GANGenerator()``, for 1x28x28 images.
        discriminator: ``None`` (the default) means ``R3GANDiscriminator()``, for 1x28x28 images.
        loss: ``None`` (the default) means ``RelativisticPairingLoss()``.
        regularisation: ``None`` (the default) means ``Regularisation(r1_gamma=0.1, r2_gamma=0.1)``. A given one
            replaces it: keep both gammas in it, equal, as the paper does.
        ema_decay: the generator EMA's decay (the paper samples from an EMA of G).
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        n_critic: int = 1,
        regularisation: Regularisation | None = None,
        pack: int = 1,
        g_optimizer: OptimizerCallable = adam_2e4_beta0,
        d_optimizer: OptimizerCallable = adam_2e4_beta0,
        ema_decay: float | None = 0.999,
        n_grid_samples: int = 64,
    ) -> None:
        super().__init__(
            generator if generator is not None else R3GANGenerator(),
            discriminator if discriminator is not None else R3GANDiscriminator(),
            loss=loss if loss is not None else RelativisticPairingLoss(),
            n_critic=n_critic,
            regularisation=regularisation if regularisation is not None else Regularisation(r1_gamma=0.1, r2_gamma=0.1),
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
