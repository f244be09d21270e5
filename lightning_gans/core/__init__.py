"""The shared base modules."""

from lightning_gans.core.guards import TrainingDiverged
from lightning_gans.core.module import GANModule, GenerativeModule, adam_2e4_beta05, real_samples
from lightning_gans.core.translation import TranslationModule

__all__ = [
    "GANModule",
    "GenerativeModule",
    "TrainingDiverged",
    "TranslationModule",
    "adam_2e4_beta05",
    "real_samples",
]
