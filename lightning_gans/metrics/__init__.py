"""Metrics as torchmetrics objects: usable in validation, in callbacks and in benchmark scripts.

FID, KID and IS are torchmetrics' own, given one of our feature networks (``features``); the set-based
metrics below are written here because no maintained library offers them without Inception downloads.
"""

from lightning_gans.metrics.birthday import BirthdayParadox
from lightning_gans.metrics.classes import ClassCoverage
from lightning_gans.metrics.digits import DigitClassifier
from lightning_gans.metrics.evaluation import DATA_METRICS, METRICS, SampleQuality
from lightning_gans.metrics.features import FashionClassifier, FeatureNetwork, InceptionV3
from lightning_gans.metrics.memorisation import NearestNeighbourMemorisation
from lightning_gans.metrics.modes import ModeCoverage
from lightning_gans.metrics.prdc import PrecisionRecallDensityCoverage
from lightning_gans.metrics.stacked import StackedMNISTModes

__all__ = [
    "DATA_METRICS",
    "METRICS",
    "BirthdayParadox",
    "ClassCoverage",
    "DigitClassifier",
    "FashionClassifier",
    "FeatureNetwork",
    "InceptionV3",
    "ModeCoverage",
    "NearestNeighbourMemorisation",
    "PrecisionRecallDensityCoverage",
    "SampleQuality",
    "StackedMNISTModes",
]
