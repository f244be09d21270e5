"""SNGAN: Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks"
(arXiv:1802.05957), with the hinge loss (Lim & Ye 2017).

    W_SN = W / sigma(W)          for every layer of D; sigma by one power iteration per forward
    D: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]      G: -E[D(G(z))]

Dividing each layer by its spectral norm bounds D's Lipschitz constant by 1 with no penalty term and no
extra backward pass. The training loop is GAN's. The defaults are the paper's setting C: Adam(2e-4,
betas (0.5, 0.999)) and n_dis = 1.
"""

from __future__ import annotations

from lightning.pytorch.cli import OptimizerCallable

from lightning_gans.core.module import adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.hinge import HingeLoss
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


class HingeSNGAN(GAN):
    """Hinge loss with a spectrally normalised D.

    The arguments are ``GAN``'s; here ``None`` means the hinge loss and spectral normalisation.

    Args:
        loss: ``None`` (the default) means ``HingeLoss()``.
        regularisation: ``None`` (the default) means ``Regularisation(spectral_norm=True)``. A given one
            replaces it: keep ``spectral_norm=True`` in it for SNGAN's discriminator.
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
            loss=loss if loss is not None else HingeLoss(),
            n_critic=n_critic,
            regularisation=regularisation if regularisation is not None else Regularisation(spectral_norm=True),
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
