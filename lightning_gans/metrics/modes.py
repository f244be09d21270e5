"""Mode coverage on a known Gaussian mixture: the metric of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin
et al. 2018).

Each generated sample is assigned to its nearest mode by Mahalanobis distance. It is "high quality" if it
lies within ``threshold`` (3) standard deviations of that mode. A mode is captured if at least one
high-quality sample is nearest to it. The reverse KL compares the histogram of high-quality samples over
the modes with the uniform distribution the data has: KL(p_gen || uniform).

Written here because no maintained library offers it. It is a torchmetrics ``Metric``, so it accumulates
over batches and syncs across DDP processes like any other.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric


class ModeCoverage(Metric):
    """Modes captured, fraction of high-quality samples, and reverse KL of the mode histogram.

    Args:
        means: (n_modes, d) mode centres.
        std: the modes' isotropic standard deviation (the Mahalanobis distance is ||x - mu|| / std).
        threshold: how many standard deviations count as high quality (3 in both papers).
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    means: Tensor
    hits: Tensor
    high_quality: Tensor
    total: Tensor

    def __init__(self, means: Tensor, std: float, threshold: float = 3.0) -> None:
        super().__init__()
        if means.dim() != 2 or std <= 0:
            raise ValueError("means must be (n_modes, d) and std > 0")
        self.register_buffer("means", means.float().clone(), persistent=False)
        self.std = std
        self.threshold = threshold
        self.add_state("hits", default=torch.zeros(len(means), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("high_quality", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, samples: Tensor) -> None:
        samples = samples.detach().float().flatten(1)
        distance, nearest = (torch.cdist(samples, self.means) / self.std).min(dim=1)
        good = distance <= self.threshold
        self.hits += torch.bincount(nearest[good], minlength=len(self.means))
        self.high_quality += good.sum()
        self.total += samples.shape[0]

    def compute(self) -> dict[str, Tensor]:
        n_modes = len(self.means)
        captured = (self.hits > 0).sum()
        high_quality = self.high_quality.float() / self.total.clamp(min=1)
        if self.high_quality == 0:
            reverse_kl = torch.tensor(math.inf)  # no sample near any mode: the histogram is undefined
        else:
            p = self.hits.float() / self.high_quality
            nonzero = p > 0
            reverse_kl = (p[nonzero] * (p[nonzero] * n_modes).log()).sum()
        return {"modes": captured.float(), "high_quality": high_quality, "reverse_kl": reverse_kl}
