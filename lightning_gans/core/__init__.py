"""The shared base module."""

from lightning_gans.core.module import GANModule, adam_2e4_beta05, real_samples

__all__ = ["GANModule", "adam_2e4_beta05", "real_samples"]
