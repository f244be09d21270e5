"""One evaluation protocol for every sample-quality metric, used by validation during fit and by
``lightning-gans evaluate``.

``SampleQuality`` embeds a fixed real reference set once (``reset_real_features=False`` everywhere), then
scores any number of generated sets against it. Every result carries its protocol: feature network, real
split and count, generated count, seed. Under DDP each process embeds a disjoint shard of the real and of
the generated images and torchmetrics gathers the states, so the numbers equal the single-process ones.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchmetrics import Metric
from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance

from lightning_gans.metrics.birthday import BirthdayParadox
from lightning_gans.metrics.classes import ClassCoverage
from lightning_gans.metrics.features import FeatureNetwork, LogitsOf, build_feature_network
from lightning_gans.metrics.memorisation import NearestNeighbourMemorisation
from lightning_gans.metrics.prdc import PrecisionRecallDensityCoverage

# name -> what it reports; `evaluate --metrics` and the validation callback take these names
METRICS: dict[str, str] = {
    "fid": "Frechet distance of feature statistics (Heusel et al. 2017)",
    "kid": "kernel distance, unbiased MMD with a cubic kernel (Binkowski et al. 2018)",
    "is": "Inception Score of the feature network's classifier (Salimans et al. 2016)",
    "prdc": "precision/recall (Kynkaanniemi et al. 2019), density/coverage (Naeem et al. 2020)",
    "classes": "classes covered and KL of the class histogram (needs a classifier)",
    "knn": "memorisation: nearest training image of each sample against held-out real images",
    "birthday": "birthday-paradox support size (Arora & Zhang 2017)",
}


@dataclass
class Protocol:
    """What every reported number depends on."""

    feature_network: str
    real_split: str
    n_real: int
    n_fake: int
    seed: int
    holdout_split: str | None = None
    n_holdout: int = 0
    kid_subset_size: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_metric_names(names: str | Sequence[str]) -> list[str]:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> checked list; unknown names list what exists."""
    items = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    unknown = [n for n in items if n not in METRICS]
    if unknown or not items:
        raise ValueError(f"unknown metric(s) {unknown or names!r}; choose from {', '.join(METRICS)}")
    return list(dict.fromkeys(items))


def dataset_images(dataset: Dataset, n: int | None, seed: int, shard: tuple[int, int] = (0, 1)) -> Tensor:
    """``n`` images (all when ``None`` or more than there are) of a dataset of ``(image, label)`` items, a
    seeded random choice; with ``shard=(rank, world)`` this process's share of them."""
    size = len(dataset)  # type: ignore[arg-type]
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed))[: min(n or size, size)]
    rank, world = shard
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:  # TensorDataset: index all at once
        return tensors[0][order[rank::world]]
    items = [dataset[int(i)] for i in order[rank::world]]
    return torch.stack([item[0] if isinstance(item, (tuple, list)) else item for item in items])


class SampleQuality:
    """The chosen metrics on one feature network against a real reference set embedded once.

    Args:
        metrics: names from ``METRICS``.
        feature_network: a ``FeatureNetwork`` or its registry name / import path.
        real: the real reference images in [-1, 1] (this process's shard under DDP).
        holdout: held-out real images, needed by ``knn`` (nearest training images are judged against
            the nearest-training-image distances of real images the model never saw).
        batch_size: images per feature-network call.
        kid_subset_size: KID subset size (capped by the number of images).
        prdc_k: the k of the k-NN balls of precision/recall/density/coverage.
        device: where the feature network runs.
    """

    def __init__(
        self,
        metrics: str | Sequence[str],
        feature_network: FeatureNetwork | str,
        real: Tensor,
        holdout: Tensor | None = None,
        batch_size: int = 500,
        kid_subset_size: int = 1000,
        prdc_k: int = 5,
        device: torch.device | str = "cpu",
    ) -> None:
        self.names = parse_metric_names(metrics)
        net = build_feature_network(feature_network) if isinstance(feature_network, str) else feature_network
        self.network = net.to(device).eval()
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.kid_subset_size = kid_subset_size
        if "knn" in self.names and holdout is None:
            raise ValueError("metric 'knn' needs held-out real images (holdout=...)")
        self.metrics: dict[str, Metric] = {}
        with warnings.catch_warnings():  # torchmetrics warns that KID/IS keep every feature: we know
            warnings.filterwarnings("ignore", message=".*will save all extracted features")
            for name in self.names:
                self.metrics[name] = self._build(name, prdc_k).to(self.device)
        self.n_real = self._feed(real, real=True)
        self.n_holdout = 0
        if holdout is not None and "knn" in self.metrics:
            memorisation = self.metrics["knn"]
            assert isinstance(memorisation, NearestNeighbourMemorisation)
            for chunk in holdout.split(batch_size):
                memorisation.update_holdout(chunk.to(self.device))
            self.n_holdout = len(holdout)

    def _build(self, name: str, prdc_k: int) -> Metric:
        net = self.network
        if name == "fid":
            return FrechetInceptionDistance(feature=net, reset_real_features=False)
        if name == "kid":
            # the subset size is set per evaluation, once the numbers of images are known
            return KernelInceptionDistance(feature=net, reset_real_features=False, subset_size=self.kid_subset_size)
        if name == "is":
            return InceptionScore(feature=LogitsOf(net), normalize=False)  # normalize=True would cast to uint8
        if name == "prdc":
            return PrecisionRecallDensityCoverage(net, k=prdc_k, reset_real_features=False)
        if name == "classes":
            return ClassCoverage(net, reset_real_features=False)
        if name == "knn":
            return NearestNeighbourMemorisation(net, reset_real_features=False)
        return BirthdayParadox(net, reset_real_features=False)

    def _feed(self, images: Tensor, real: bool) -> int:
        for chunk in images.split(self.batch_size):
            chunk = chunk.to(self.device)
            for name, metric in self.metrics.items():
                if name == "is":
                    if not real:
                        metric.update(chunk)
                else:
                    metric.update(chunk, real=real)
        return len(images)

    @torch.no_grad()
    def evaluate(
        self, generate: Callable[[int], Tensor], n_fake: int, seed: int = 0, reset: bool = True
    ) -> dict[str, Any]:
        """Score ``n_fake`` images from ``generate(batch_size)`` (called repeatedly), then forget them
        unless ``reset=False`` (e.g. to draw the memorisation pairs afterwards). Returns flat results:
        ``fid``, ``kid``/``kid_std``, ``is``/``is_std``, ``precision``, ...

        KID and IS draw random subsets from torch's global RNG; ``seed`` fixes them without disturbing
        anything else.
        """
        made = 0
        while made < n_fake:
            batch = generate(min(self.batch_size, n_fake - made))
            made += self._feed(batch, real=False)
        results: dict[str, Any] = {}
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            for name, metric in self.metrics.items():
                if isinstance(metric, KernelInceptionDistance):
                    metric.subset_size = min(self.kid_subset_size, self.n_real, n_fake)
                value = metric.compute()
                results.update(flatten(name, value))
                if reset:
                    metric.reset()
        return results


def flatten(name: str, value: Tensor | tuple[Tensor, ...] | dict[str, Tensor]) -> dict[str, Any]:
    """Metric outputs -> ``{key: float or list}``; torchmetrics' (mean, std) pairs -> ``name``, ``name_std``."""
    if isinstance(value, Tensor):
        return {name: value.item()}
    if isinstance(value, tuple):
        mean, std = value
        return {name: mean.item(), f"{name}_std": std.item()}
    prefix = "" if name in ("prdc", "classes") else f"{name}_"
    return {prefix + key: (v.item() if v.numel() == 1 else v.tolist()) for key, v in value.items()}


def scalars(results: dict[str, Any]) -> dict[str, float]:
    """The finite-or-infinite scalar entries (what gets logged)."""
    return {k: float(v) for k, v in results.items() if isinstance(v, (int, float)) and not math.isnan(v)}
