"""EBGAN: Zhao, Mathieu & LeCun 2017, "Energy-based Generative Adversarial Network" (arXiv:1609.03126).

"Can the discriminator generate?" EBGAN answers by making D an energy function rather than a classifier: an
auto-encoder whose reconstruction error is the energy, low near the data and high elsewhere. G then
generates into the low-energy regions, and D's decoder can itself map any input towards the data manifold. ::

    for each training iteration:
        sample a noise minibatch z and a data minibatch x
        D step:  minimise  E(x) + max(0, m - E(G(z)))                   (margin loss, eq. 1)
        G step:  minimise  E(G(z)) + lambda_PT * PT(S)                  (eq. 2, section 2.4)
                 where S = Enc(G(z)) are the encoder's codes of the generated batch and
                 PT(S) = 1 / (N (N - 1)) sum_{i != j} (s_i . s_j / (|s_i| |s_j|))^2

The pulling-away term PT pushes the codes of one batch towards orthogonality: a G that puts many samples at
one low-energy point (mode collapse) pays for it, without the cost of minibatch discrimination.

Everything else is ``GAN``'s algorithm (fake made once, D first), so penalties, augmentation and EMA plug in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lightning_gans.core.module import adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.losses.base import AdversarialLoss, real_logits_if_relativistic
from lightning_gans.losses.energy import EnergyMarginLoss
from lightning_gans.nets.dcgan import DCGANGenerator
from lightning_gans.nets.ebgan import ConvAutoencoderDiscriminator
from lightning_gans.regularisers import Regularisation
from lightning_gans.variants.gan import GAN


def pulling_away(codes: Tensor) -> Tensor:
    """PT(S): the mean squared cosine similarity over the ordered pairs of distinct rows of ``codes`` (N >= 2)."""
    n = codes.shape[0]
    if n < 2:
        raise ValueError(f"the pulling-away term needs a batch of at least 2 samples, got {n}")
    unit = codes.flatten(1)
    unit = unit / unit.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cosines = unit @ unit.T
    return (cosines.square().sum() - cosines.diagonal().square().sum()) / (n * (n - 1))


class EBGAN(GAN):
    """Energy-based GAN of Zhao et al. 2017 with the pulling-away term (EBGAN-PT).

    The arguments are ``GAN``'s, then EBGAN's own; here ``None`` means the paper's choices.

    Args:
        generator: ``None`` (the default) means ``DCGANGenerator()``, for 1x28x28 images.
        discriminator: ``None`` (the default) means ``ConvAutoencoderDiscriminator()``, for 1x28x28 images. With
            ``pulling_away_weight > 0`` it must have ``codes_and_energy(x)`` (both nets of
            ``lightning_gans.nets.ebgan`` do).
        loss: ``None`` (the default) means ``EnergyMarginLoss()``, the margin loss with m = 1.
        pulling_away_weight: lambda_PT (the paper's 0.1); 0 trains plain EBGAN.
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
        pulling_away_weight: float = 0.1,
    ) -> None:
        super().__init__(
            generator if generator is not None else DCGANGenerator(),
            discriminator if discriminator is not None else ConvAutoencoderDiscriminator(),
            loss=loss if loss is not None else EnergyMarginLoss(),
            n_critic=n_critic,
            regularisation=regularisation,
            pack=pack,
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            ema_decay=ema_decay,
            n_grid_samples=n_grid_samples,
        )
        if pulling_away_weight < 0:
            raise ValueError(f"pulling_away_weight must be >= 0, got {pulling_away_weight}")
        if pulling_away_weight and not callable(getattr(self.discriminator, "codes_and_energy", None)):
            raise ValueError(
                f"the pulling-away term needs the encoder's codes, but {type(self.discriminator).__name__} has no "
                "codes_and_energy(x); use an auto-encoder discriminator ('autoencoder', 'mlp_autoencoder') or set "
                "pulling_away_weight: 0"
            )
        self.pulling_away_weight = pulling_away_weight

    def generator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """E(G(z)) through the loss, plus lambda_PT * PT of the codes from the same forward pass of D."""
        if not self.pulling_away_weight:
            return super().generator_loss(real, fake)
        codes_and_energy = cast(Callable[[Tensor], tuple[Tensor, Tensor]], self.discriminator.codes_and_energy)
        codes, energies = codes_and_energy(self.discriminator_input(fake))
        pt = pulling_away(codes)
        self.log_train({"train/g_pulling_away": pt})
        real_logits = real_logits_if_relativistic(self.loss, lambda: self.discriminator(self.discriminator_input(real)))
        return self.loss.g_loss(real_logits, energies) + self.pulling_away_weight * pt
