"""The birthday-paradox test of a generator's support size (Arora & Zhang 2017, "Do GANs actually learn the
distribution? An empirical study"; Arora, Risteski & Zhang, ICLR 2018).

If a distribution has N equally likely "distinguishable" outcomes, a sample of s of them holds a pair of
near-duplicates with probability p ≈ 1 - exp(-s(s-1) / (2N)); so the sample size at which duplicates become
likely tells the support size, N̂ = s(s-1) / (2 · (-ln(1 - p))). A generator that has collapsed onto a few
thousand images shows duplicates in batches of a few hundred, where real data of a much larger support does
not.

The paper looks for duplicates by eye; here "near-duplicate" is made automatic in feature space and calibrated
on real data: the threshold tau is the ``quantile``-quantile of the real set's within-set nearest-neighbour
distances (each real feature's distance to its nearest *other* real feature), i.e. real images are near
duplicates about as rarely as ``quantile`` of them have such a close neighbour. Then for each sample size s,
``trials`` random subsets of s features are drawn without replacement (a ``torch.Generator`` seeded with
``seed``, so the test is deterministic) and a subset collides when its closest pair is closer than tau. The
subsets are nested: trial t draws one random permutation and the subset of size s is its first s entries, so
each p_s is still the collision probability at size s, the curve cannot decrease with s, and one pairwise
distance matrix per trial serves every size. The same is done on the real set as a reference: its estimate
is what "no collapse" looks like at this threshold (it need not equal the real set's size).

The estimate is reported at the sample size whose collision probability is nearest 0.5 among those with
0 < p < 1, where the formula is most accurate. With no collision at any size the support is ``inf`` (larger
than the test can see: use larger sample sizes). With no size in (0, 1) but some at p = 1, the smallest size
with p = 1 is used with p clamped to 1 - 1/(2 · trials): the estimate is then about an upper bound
(collisions are already certain: use smaller sample sizes).

Written here because no maintained library offers it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lightning_gans.metrics.base import FeatureSetMetric
from lightning_gans.metrics.memorisation import nearest_neighbours


def birthday_support_size(probabilities: Sequence[float], sample_sizes: Sequence[int], trials: int) -> float:
    """N̂ = s(s-1) / (2 · (-ln(1 - p))) at the size chosen as in the module docstring.

    Args:
        probabilities: collision probability p_s at each sample size.
        sample_sizes: the sizes s, in the same order.
        trials: how many subsets each p_s was estimated from (for the clamp of p = 1).
    """
    if len(probabilities) != len(sample_sizes) or not sample_sizes:
        raise ValueError("need one collision probability per sample size")
    inside = [(abs(p - 0.5), i) for i, p in enumerate(probabilities) if 0 < p < 1]
    if inside:
        index = min(inside)[1]  # ties go to the first size given
        p = probabilities[index]
    else:
        certain = [i for i, p in enumerate(probabilities) if p >= 1]
        if not certain:
            return math.inf
        index = min(certain, key=lambda i: sample_sizes[i])
        p = 1 - 1 / (2 * trials)
    s = sample_sizes[index]
    return s * (s - 1) / (2 * -math.log1p(-p))


class BirthdayParadox(FeatureSetMetric):
    """Collision probabilities and support-size estimates of the generated and the real set.

    Feed real images with ``update(imgs, real=True)`` and generated ones with ``update(imgs, real=False)``;
    each set needs at least ``max(sample_sizes)`` samples. ``compute()`` returns ``threshold`` (tau),
    ``collision_fake`` and ``collision_real`` (p per sample size), ``support_fake`` and ``support_real``
    (N̂) and ``sample_sizes``.

    Args:
        feature: maps images to (N, d) features, e.g. a ``FeatureNetwork``.
        sample_sizes: the subset sizes s, each at least 2.
        trials: random subsets per size.
        quantile: the quantile of the real within-set nearest-neighbour distances used as tau, in (0, 1).
        seed: seeds the subsets.
        reset_real_features: ``False`` keeps the real features across ``reset()``.
    """

    higher_is_better = None

    def __init__(
        self,
        feature: nn.Module,
        sample_sizes: Sequence[int] = (25, 50, 100, 200, 400),
        trials: int = 100,
        quantile: float = 0.01,
        seed: int = 0,
        reset_real_features: bool = True,
    ) -> None:
        sizes = [int(s) for s in sample_sizes]
        if not sizes or min(sizes) < 2:
            raise ValueError(f"sample_sizes must be a non-empty list of sizes >= 2, got {list(sample_sizes)}")
        if trials < 1:
            raise ValueError(f"trials must be at least 1, got {trials}")
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        super().__init__(feature, reset_real_features)
        self.sample_sizes = sizes
        self.trials = trials
        self.quantile = quantile
        self.seed = seed

    def draw_subsets(self, n: int) -> Tensor:
        """(trials, max(sample_sizes)) indices into a set of ``n`` samples: row t is trial t's subset, and its
        first s entries are the subset of size s. The same for every call with the same ``n``."""
        size = max(self.sample_sizes)
        if n < size:
            raise ValueError(f"BirthdayParadox needs at least max(sample_sizes) = {size} samples per set, got {n}")
        generator = torch.Generator().manual_seed(self.seed)
        return torch.stack([torch.randperm(n, generator=generator)[:size] for _ in range(self.trials)])

    def threshold(self) -> Tensor:
        """tau: the ``quantile``-quantile of the real features' distances to their nearest other real feature."""
        real = self.features(real=True)
        if len(real) < 2:
            raise ValueError(f"BirthdayParadox needs at least 2 real samples to calibrate tau, got {len(real)}")
        return torch.quantile(nearest_neighbours(real, real, exclude_self=True)[0], self.quantile)

    def closest_pair_distances(self, features: Tensor) -> Tensor:
        """float64 (trials, len(sample_sizes)): the closest pair's distance in each trial's subset of each size."""
        subsets = self.draw_subsets(len(features)).to(features.device)
        size = subsets.shape[1]
        later = torch.ones(size, size, dtype=torch.bool, device=features.device).triu(diagonal=1)
        chunk = max(1, 2**22 // (size * size))  # trials at a time: about 32 MB of float64 distances
        closest = []
        for start in range(0, self.trials, chunk):
            chosen = features[subsets[start : start + chunk]].to(torch.float64)
            distances = torch.cdist(chosen, chosen).masked_fill(~later, math.inf)  # keep pairs i < j only
            # nearest earlier sample of each j, then the closest pair among the first s samples
            closest.append(distances.min(dim=1).values.cummin(dim=1).values)
        at_size = torch.tensor([s - 1 for s in self.sample_sizes], device=features.device)
        return torch.cat(closest)[:, at_size]

    def collision_probabilities(self, real: bool, threshold: Tensor | None = None) -> Tensor:
        """float64 p_s for each sample size: the fraction of trials whose subset has a pair closer than tau."""
        tau = self.threshold() if threshold is None else threshold
        return (self.closest_pair_distances(self.features(real)) < tau).to(torch.float64).mean(dim=0)

    def compute(self) -> dict[str, Tensor]:
        tau = self.threshold()
        fake = self.collision_probabilities(real=False, threshold=tau)
        real = self.collision_probabilities(real=True, threshold=tau)
        support = [birthday_support_size(p.tolist(), self.sample_sizes, self.trials) for p in (fake, real)]
        return {
            "threshold": tau,
            "collision_fake": fake,
            "collision_real": real,
            "support_fake": torch.tensor(support[0], dtype=torch.float64),
            "support_real": torch.tensor(support[1], dtype=torch.float64),
            "sample_sizes": torch.tensor(self.sample_sizes),
        }
