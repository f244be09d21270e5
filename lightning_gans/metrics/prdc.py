"""Improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020).

All four compare the set of real features with the set of generated features through k-nearest-neighbour
balls. Each feature's ball is centred on it with radius the Euclidean distance to its k-th nearest
neighbour in its own set (itself excluded).

- Precision ("Improved Precision and Recall Metric for Assessing Generative Models", Kynkäänniemi et al.
  2019): the fraction of generated features inside at least one real ball.
- Recall (same paper): the fraction of real features inside at least one generated ball.
- Density ("Reliable Fidelity and Diversity Metrics for Generative Models", Naeem et al. 2020):
  ``1 / (k M)`` times the number of (real ball, generated feature) pairs with the feature inside the ball,
  for ``M`` generated features. About 1 when the two sets come from one distribution; it can exceed 1.
- Coverage (same paper): the fraction of real balls that contain at least one generated feature.

Written here because no maintained library offers these without downloading Inception weights; here the
feature network is whatever the caller gives. Distances are computed in float64, ``CHUNK_SIZE`` rows at a
time, so 10k x 10k sets never hold a full 10k x 10k distance matrix at once.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_gans.metrics.base import FeatureSetMetric

CHUNK_SIZE = 1024
"""Rows of a distance matrix computed at once (a 1024 x 10k float64 block is 80 MB)."""


def kth_neighbour_radii(x: Tensor, k: int, chunk_size: int | None = None) -> Tensor:
    """The distance from each row of ``x`` (N, d) to its k-th nearest other row: (N,) radii.

    Each row itself is left out (its own distance is set to infinity), so duplicates count as neighbours.
    ``chunk_size`` rows are done at once (``CHUNK_SIZE`` when ``None``).
    """
    chunk_size = CHUNK_SIZE if chunk_size is None else chunk_size
    if len(x) <= k:
        raise ValueError(f"the k-th nearest neighbour needs more than k = {k} samples, got {len(x)}")
    radii = []
    for start in range(0, len(x), chunk_size):
        rows = x[start : start + chunk_size]
        distance = torch.cdist(rows, x)
        own = torch.arange(len(rows), device=x.device)
        distance[own, own + start] = torch.inf
        radii.append(distance.topk(k, dim=1, largest=False).values[:, -1])
    return torch.cat(radii)


def precision_recall_density_coverage(
    real: Tensor, fake: Tensor, k: int = 5, chunk_size: int | None = None
) -> dict[str, Tensor]:
    """The four metrics of real (N, d) and generated (M, d) features, in float64; see the module docstring.

    A feature inside a ball means its distance to the centre is at most the radius. ``chunk_size`` rows of
    a distance matrix are computed at once (``CHUNK_SIZE`` when ``None``).
    """
    chunk_size = CHUNK_SIZE if chunk_size is None else chunk_size
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (N, d) and (M, d), got {tuple(real.shape)} and {tuple(fake.shape)}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    for name, features in (("real", real), ("generated", fake)):
        if len(features) <= k:
            raise ValueError(
                f"the {name} set needs more than k = {k} samples for k-nearest neighbours, got {len(features)}"
            )
    real, fake = real.double(), fake.double()
    real_radii = kth_neighbour_radii(real, k, chunk_size)
    fake_radii = kth_neighbour_radii(fake, k, chunk_size)

    in_real_balls = torch.zeros(len(fake), dtype=torch.long, device=fake.device)  # per fake: real balls it is in
    in_fake_ball = torch.zeros(len(real), dtype=torch.bool, device=real.device)  # per real: in any fake ball
    covered = torch.zeros(len(real), dtype=torch.bool, device=real.device)  # per real: its ball has a fake
    for start in range(0, len(real), chunk_size):
        rows = slice(start, start + chunk_size)
        distance = torch.cdist(real[rows], fake)  # (chunk, M)
        inside = distance <= real_radii[rows, None]
        in_real_balls += inside.sum(dim=0)
        covered[rows] = inside.any(dim=1)
        in_fake_ball[rows] = (distance <= fake_radii[None, :]).any(dim=1)

    return {
        "precision": (in_real_balls > 0).double().mean(),
        "recall": in_fake_ball.double().mean(),
        "density": in_real_balls.double().sum() / (k * len(fake)),
        "coverage": covered.double().mean(),
    }


class PrecisionRecallDensityCoverage(FeatureSetMetric):
    """Improved precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

    Precision and density measure fidelity (generated samples lie where real ones do); recall and coverage
    measure diversity (real samples are reached by generated ones). Written here because no maintained
    library offers these without Inception downloads. ``compute()`` returns a dict with keys
    ``precision``, ``recall``, ``density`` and ``coverage``: float32 scalars, all higher is better.

    Args:
        feature: maps images to (N, d) features, e.g. a ``FeatureNetwork``; ``nn.Identity()`` when the
            inputs already are features.
        k: the neighbour whose distance is a ball's radius (Naeem et al. use 5, Kynkäänniemi et al. 3). Each
            set needs more than ``k`` samples.
        reset_real_features: ``False`` keeps the real features across ``reset()``, as in torchmetrics' FID.
    """

    higher_is_better = True

    def __init__(self, feature: nn.Module, k: int = 5, reset_real_features: bool = True) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        super().__init__(feature, reset_real_features=reset_real_features)
        self.k = k

    def compute(self) -> dict[str, Tensor]:
        result = precision_recall_density_coverage(self.features(real=True), self.features(real=False), self.k)
        return {name: value.float() for name, value in result.items()}
