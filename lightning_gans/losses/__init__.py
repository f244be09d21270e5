"""Adversarial losses: pure functions on logits and the registered classes that pair them."""

from lightning_gans.losses.base import AdversarialLoss
from lightning_gans.losses.gan import (
    MinimaxLoss,
    NonSaturatingLoss,
    discriminator_bce,
    generator_minimax,
    generator_non_saturating,
)

__all__ = [
    "AdversarialLoss",
    "MinimaxLoss",
    "NonSaturatingLoss",
    "discriminator_bce",
    "generator_minimax",
    "generator_non_saturating",
]
