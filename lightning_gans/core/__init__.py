"""The shared base module."""

from lightning_gans.core.module import GANModule, GenerativeModule, adam_2e4_beta05, real_samples

__all__ = ["GANModule", "GenerativeModule", "adam_2e4_beta05", "real_samples"]
