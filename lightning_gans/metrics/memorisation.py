"""Memorisation check: are generated samples closer to the training images than unseen real images are?

The check used in GAN papers as "nearest neighbours in feature space": embed the training set, the generated
samples and a held-out real set (e.g. the test split) with the same feature network, and find for every
generated sample and every held-out image its nearest training image (Euclidean distance in feature space).
A model that generalises puts its samples about as far from the training data as unseen real data is; a model
that copies puts them much closer. Following Meehan et al. 2020 ("A non-parametric test to detect
data-copying in generative models") and the StudioGAN-style checks, the generated distances are compared with
the holdout-to-train distances rather than read on their own, since "close" only means something relative to
how densely the data covers feature space:

* ``fake_nn_median`` / ``holdout_nn_median``: the medians of the two sets of nearest-neighbour distances;
* ``nn_ratio`` = fake / holdout median: about 1 without copying, much below 1 when the model copies;
* ``threshold``: the ``quantile``-quantile of the holdout-to-train distances;
* ``memorised_fraction``: the fraction of generated samples nearer to a training image than ``threshold``,
  about ``quantile`` without copying and near 1 when every sample is a copy.

The images of the training and generated sets are kept too (as uint8, a quarter of float32's memory), so
that the closest pairs can be looked at (``closest_pairs``, ``closest_pairs_picture``): a low ratio may be
copying or just samples in a dense, simple part of the data, and only the pictures tell.

Written here because no maintained library offers it. Distances are computed in float64 and in chunks of
rows, so 10k x 60k sets never allocate the full distance matrix.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torchvision.utils import make_grid

from lightning_gans.images import to_uint8
from lightning_gans.metrics.base import FeatureSetMetric


def nearest_neighbours(
    queries: Tensor, references: Tensor, exclude_self: bool = False, chunk_size: int = 1024
) -> tuple[Tensor, Tensor]:
    """Euclidean distance (float64) from each query to its nearest reference, and that reference's index.

    Args:
        queries: (N, d) features.
        references: (M, d) features.
        exclude_self: the queries are the references (row i of both is one sample): each query's nearest
            *other* reference is found, so this needs M >= 2.
        chunk_size: rows of ``queries`` per ``torch.cdist`` call; memory is ``chunk_size * M`` float64.
    """
    if queries.dim() != 2 or references.dim() != 2 or queries.shape[1] != references.shape[1]:
        raise ValueError(f"need (N, d) and (M, d) features, got {tuple(queries.shape)} and {tuple(references.shape)}")
    if len(references) == 0 or (exclude_self and len(references) < 2):
        raise ValueError(f"too few reference features to find nearest neighbours: {len(references)}")
    if exclude_self and len(queries) != len(references):
        raise ValueError("exclude_self needs the queries to be the references")
    references = references.to(torch.float64)
    distances, indices = [], []
    for start in range(0, len(queries), chunk_size):
        block = torch.cdist(queries[start : start + chunk_size].to(torch.float64), references)
        if exclude_self:
            rows = torch.arange(len(block), device=block.device)
            block[rows, rows + start] = math.inf
        distance, index = block.min(dim=1)
        distances.append(distance)
        indices.append(index)
    if not distances:
        return queries.new_zeros(0, dtype=torch.float64), queries.new_zeros(0, dtype=torch.long)
    return torch.cat(distances), torch.cat(indices)


class NearestNeighbourMemorisation(FeatureSetMetric):
    """Nearest-training-neighbour distances of generated samples, against those of held-out real images.

    Feed the training images with ``update(imgs, real=True)``, generated images with ``update(imgs,
    real=False)`` and held-out real images with ``update_holdout(imgs)``; images in [-1, 1]. ``compute()``
    returns ``fake_nn_median``, ``holdout_nn_median``, ``nn_ratio``, ``memorised_fraction`` and ``threshold``
    (see the module docstring).

    ``nearest_distances``, ``closest_pairs`` and ``closest_pairs_picture`` read the local states; under DDP
    call them inside ``with metric.sync_context():`` to see every process's samples.

    Args:
        feature: maps images to (N, d) features, e.g. a ``FeatureNetwork``.
        quantile: which quantile of the holdout-to-train distances is the "memorised" threshold, in (0, 1).
        reset_real_features: ``False`` keeps the training and held-out sets (features and images) across
            ``reset()``, so they are embedded once and reused at every validation.
    """

    higher_is_better = None
    real_states = ("real_features", "holdout_features", "real_images")

    holdout_features: list[Tensor]
    real_images: list[Tensor]
    fake_images: list[Tensor]

    def __init__(self, feature: nn.Module, quantile: float = 0.01, reset_real_features: bool = True) -> None:
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        super().__init__(feature, reset_real_features)
        self.quantile = quantile
        self.add_state("holdout_features", default=[], dist_reduce_fx="cat")
        self.add_state("real_images", default=[], dist_reduce_fx="cat")
        self.add_state("fake_images", default=[], dist_reduce_fx="cat")

    def update(self, imgs: Tensor, real: bool) -> None:
        """Add training images (``real=True``) or generated ones (``real=False``)."""
        super().update(imgs, real)
        (self.real_images if real else self.fake_images).append(to_uint8(imgs))

    def update_holdout(self, imgs: Tensor) -> None:
        """Add held-out real images, which the model never trained on."""
        self.holdout_features.append(self.embed(imgs))
        self._computed = None  # torchmetrics caches compute(); only its wrapped update() clears the cache

    def holdout(self) -> Tensor:
        """All held-out features seen so far, as one (N, d) tensor."""
        return self.concatenated("holdout_features", "held-out images")

    def images(self, real: bool) -> Tensor:
        """All training (or generated) images seen so far, as uint8."""
        if real:
            return self.concatenated("real_images", "training images")
        return self.concatenated("fake_images", "generated images")

    def nearest_distances(self, real_holdout: bool) -> Tensor:
        """float64 distance from each held-out (``True``) or generated (``False``) sample to its nearest
        training image, in feature space; e.g. for a histogram of both."""
        queries = self.holdout() if real_holdout else self.features(real=False)
        return nearest_neighbours(queries, self.features(real=True))[0]

    def compute(self) -> dict[str, Tensor]:
        fake = self.nearest_distances(real_holdout=False)
        holdout = self.nearest_distances(real_holdout=True)
        fake_median = torch.quantile(fake, 0.5)
        holdout_median = torch.quantile(holdout, 0.5)
        threshold = torch.quantile(holdout, self.quantile)
        return {
            "fake_nn_median": fake_median,
            "holdout_nn_median": holdout_median,
            "nn_ratio": fake_median / holdout_median,
            "memorised_fraction": (fake < threshold).to(torch.float64).mean(),
            "threshold": threshold,
        }

    def closest_pairs(self, k: int) -> tuple[Tensor, Tensor, Tensor]:
        """The ``k`` generated images nearest to a training image, those training images, and the distances.

        Sorted by distance, nearest first; the images are uint8 as stored, the distances float64.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        distance, index = nearest_neighbours(self.features(real=False), self.features(real=True))
        fake_images, real_images = self.images(real=False), self.images(real=True)
        if len(fake_images) != len(distance) or len(real_images) != len(self.features(real=True)):
            raise RuntimeError("the stored images and features disagree in number")
        order = distance.argsort()[:k]
        nearest = index[order]
        return fake_images[order.to(fake_images.device)], real_images[nearest.to(real_images.device)], distance[order]

    def closest_pairs_picture(self, k: int = 16, per_row: int = 8) -> Tensor:
        """(3, H, W) uint8 picture of the ``k`` closest pairs: rows of generated images, each with a row of
        their nearest training images below it, ``per_row`` pairs to a row."""
        if per_row < 1:
            raise ValueError(f"per_row must be at least 1, got {per_row}")
        fake, real, _ = self.closest_pairs(k)
        if fake.dim() != 4:
            raise ValueError(f"closest_pairs_picture needs (N, C, H, W) images, got {tuple(fake.shape)}")
        fake, real = fake.cpu(), real.cpu()
        per_row = min(per_row, len(fake))
        blank = -len(fake) % per_row
        if blank:  # fill the last row so every training neighbour stays under its generated image
            filler = torch.full((blank, *fake.shape[1:]), 255, dtype=torch.uint8)
            fake, real = torch.cat([fake, filler]), torch.cat([real, filler])
        tiles = torch.cat(
            [torch.cat([fake[s : s + per_row], real[s : s + per_row]]) for s in range(0, len(fake), per_row)]
        )
        grid = make_grid(tiles, nrow=per_row, padding=2, pad_value=255)
        return grid if grid.shape[0] == 3 else grid.expand(3, -1, -1).contiguous()
