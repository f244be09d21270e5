"""Metrics as torchmetrics objects: usable in validation, in callbacks and in benchmark scripts."""

from lightning_gans.metrics.modes import ModeCoverage

__all__ = ["ModeCoverage"]
