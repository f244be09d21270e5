"""Adversarial losses: pure functions on discriminator outputs and the registered classes that pair them."""

from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.energy import EnergyMarginLoss
from lightning_gans.losses.gan import (
    MinimaxLoss,
    NonSaturatingLoss,
    discriminator_bce,
    generator_minimax,
    generator_non_saturating,
)
from lightning_gans.losses.hinge import HingeLoss, discriminator_hinge, generator_hinge
from lightning_gans.losses.least_squares import (
    LeastSquaresLoss,
    discriminator_least_squares,
    generator_least_squares,
)
from lightning_gans.losses.relativistic import (
    RelativisticAverageLoss,
    RelativisticPairingLoss,
    discriminator_relativistic_average,
    discriminator_relativistic_pairing,
    generator_relativistic_average,
    generator_relativistic_pairing,
)
from lightning_gans.losses.wasserstein import (
    WassersteinDriftLoss,
    WassersteinLoss,
    critic_wasserstein,
    generator_wasserstein,
)

__all__ = [
    "AdversarialLoss",
    "EnergyMarginLoss",
    "HingeLoss",
    "LeastSquaresLoss",
    "MinimaxLoss",
    "NonSaturatingLoss",
    "RelativisticAverageLoss",
    "RelativisticPairingLoss",
    "WassersteinDriftLoss",
    "WassersteinLoss",
    "critic_wasserstein",
    "discriminator_bce",
    "discriminator_hinge",
    "discriminator_least_squares",
    "discriminator_relativistic_average",
    "discriminator_relativistic_pairing",
    "generator_hinge",
    "generator_least_squares",
    "generator_minimax",
    "generator_non_saturating",
    "generator_relativistic_average",
    "generator_relativistic_pairing",
    "generator_wasserstein",
]
