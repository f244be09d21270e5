"""Training callbacks."""

from lightning_gans.callbacks.modes import ModeCoverageCallback
from lightning_gans.callbacks.samples import SampleGrid

__all__ = ["ModeCoverageCallback", "SampleGrid"]
