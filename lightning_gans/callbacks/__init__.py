"""Training callbacks."""

from lightning_gans.callbacks.budget import CPUBudget
from lightning_gans.callbacks.checkpoint import LastCheckpoint
from lightning_gans.callbacks.compile import CompileNets
from lightning_gans.callbacks.modes import ModeCoverageCallback
from lightning_gans.callbacks.probe import LinearProbe
from lightning_gans.callbacks.quality import SampleQualityCallback
from lightning_gans.callbacks.samples import SampleGrid, TranslationGrid
from lightning_gans.callbacks.translation import TranslatedClassAccuracy

__all__ = [
    "CPUBudget",
    "CompileNets",
    "LastCheckpoint",
    "LinearProbe",
    "ModeCoverageCallback",
    "SampleGrid",
    "SampleQualityCallback",
    "TranslatedClassAccuracy",
    "TranslationGrid",
]
