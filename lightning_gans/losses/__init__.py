"""Adversarial losses: pure functions on discriminator outputs and the registered classes that pair them."""

from lightning_gans.losses.base import AdversarialLoss
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
from lightning_gans.losses.wasserstein import WassersteinLoss, critic_wasserstein, generator_wasserstein

__all__ = [
    "AdversarialLoss",
    "HingeLoss",
    "LeastSquaresLoss",
    "MinimaxLoss",
    "NonSaturatingLoss",
    "WassersteinLoss",
    "critic_wasserstein",
    "discriminator_bce",
    "discriminator_hinge",
    "discriminator_least_squares",
    "generator_hinge",
    "generator_least_squares",
    "generator_minimax",
    "generator_non_saturating",
    "generator_wasserstein",
]
