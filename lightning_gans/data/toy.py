"""The 2-D Gaussian mixtures used to measure mode collapse (Metz et al. 2017; Lin et al. 2018, PacGAN).

* ring: 8 modes on the unit circle at angles 2*pi*k/8, k = 0..7, std 0.01. (``linspace(0, 2*pi, 8)``
  would put the last mode on top of the first, leaving 7 distinct modes, a bug seen in published code.)
* grid: 25 modes at {-4, -2, 0, 2, 4}^2, std 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from lightning_gans.data.base import GANDataModule


@dataclass(frozen=True)
class GaussianMixture2D:
    """Equal-weight isotropic Gaussians in the plane."""

    means: Tensor  # (n_modes, 2)
    std: float

    @classmethod
    def ring(cls, n_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture2D:
        angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
        return cls(radius * torch.stack([angles.cos(), angles.sin()], dim=1).float(), std)

    @classmethod
    def grid(cls, side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture2D:
        axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
        xs, ys = torch.meshgrid(axis, axis, indexing="ij")
        return cls(torch.stack([xs.flatten(), ys.flatten()], dim=1), std)

    @classmethod
    def named(cls, name: Literal["ring", "grid"]) -> GaussianMixture2D:
        if name == "ring":
            return cls.ring()
        if name == "grid":
            return cls.grid()
        raise ValueError(f"unknown mixture {name!r}; choose 'ring' or 'grid'")

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` points and the index of the mode each was drawn from."""
        modes = torch.randint(len(self.means), (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator) * self.std
        return self.means[modes] + noise, modes


class GaussianMixtureDataModule(GANDataModule):
    """Samples from the ring-of-8 or 5x5-grid mixture, drawn once with a fixed seed.

    Batches are ``(points (B, 2), mode index (B,))``.
    """

    test_split: str = "num_val further points of the mixture, drawn after and apart from the validation ones"

    def __init__(
        self,
        mixture: Literal["ring", "grid"] = "ring",
        num_train: int = 100_000,
        num_val: int = 2_500,
        batch_size: int = 256,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.mixture = GaussianMixture2D.named(mixture)
        self.num_train = num_train
        self.num_val = num_val

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        rng = torch.Generator().manual_seed(self.seed)
        self.train_set = TensorDataset(*self.mixture.sample(self.num_train, rng))
        self.val_set = TensorDataset(*self.mixture.sample(self.num_val, rng))
        self.test_set = TensorDataset(*self.mixture.sample(self.num_val, rng))
