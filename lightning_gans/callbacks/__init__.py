"""Training callbacks."""

from lightning_gans.callbacks.samples import SampleGrid

__all__ = ["SampleGrid"]
