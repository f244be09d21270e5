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

# From the submodules: the package `torchmetrics.image` exports FID only when torch-fidelity is installed, which
# only the Inception network needs (the `inception` extra); FID on our own feature network needs nothing more.
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance
from torchmetrics.utilities import dim_zero_cat

from lightning_gans.core.guards import non_finite_samples
from lightning_gans.metrics.birthday import BirthdayParadox
from lightning_gans.metrics.classes import ClassCoverage
from lightning_gans.metrics.conditional import ConditionalAccuracy
from lightning_gans.metrics.features import FeatureNetwork, LogitsOf, build_feature_network
from lightning_gans.metrics.memorisation import NearestNeighbourMemorisation
from lightning_gans.metrics.prdc import PrecisionRecallDensityCoverage
from lightning_gans.metrics.stacked import StackedMNISTModes, stacked_input_problem

# name -> what it reports; `evaluate --metrics` and the validation callback take these names
METRICS: dict[str, str] = {
    "fid": "Frechet distance of feature statistics (Heusel et al. 2017)",
    "kid": "kernel distance, unbiased MMD with a cubic kernel (Binkowski et al. 2018)",
    "is": "Inception Score of the feature network's classifier (Salimans et al. 2016)",
    "prdc": "precision/recall (Kynkaanniemi et al. 2019), density/coverage (Naeem et al. 2020)",
    "classes": "classes covered and KL of the class histogram (needs a classifier)",
    "knn": "memorisation: nearest training image of each sample against held-out real images",
    "birthday": "birthday-paradox support size (Arora & Zhang 2017)",
    "labels": "conditional generators: share classified as the label asked for, also after matching labels",
}
# metrics of one kind of data, taken by name but left out of `evaluate`'s default "all of METRICS"; they run
# their own classifier, whatever the feature network
DATA_METRICS: dict[str, str] = {
    "stacked_modes": "Stacked MNIST: modes of 1000 covered and KL to uniform (digit_classifier per channel)",
}


# metric -> the scalar keys it reports (logged as ``val/<key>`` during fit); what a callback that watches a key
# (ModelCheckpoint(monitor="val/fid")) must know when the metric cannot apply to a run's data
LOGGED_KEYS: dict[str, tuple[str, ...]] = {
    "fid": ("fid",),
    "kid": ("kid", "kid_std"),
    "is": ("is", "is_std"),
    "prdc": ("precision", "recall", "density", "coverage"),
    "classes": ("classes_covered", "class_kl"),
    "knn": ("knn_fake_nn_median", "knn_holdout_nn_median", "knn_nn_ratio", "knn_memorised_fraction", "knn_threshold"),
    "birthday": (
        "birthday_threshold",
        "birthday_collision_fake",
        "birthday_collision_real",
        "birthday_support_fake",
        "birthday_support_real",
    ),
    "labels": ("label_accuracy", "label_accuracy_matched"),
    "stacked_modes": ("stacked_modes", "stacked_kl"),
}

# metrics that compare the classes of a labelled data set (the classifier's classes stand for the data's)
LABEL_METRICS = ("classes", "labels")


@dataclass
class Protocol:
    """What every reported number depends on."""

    feature_network: str
    real_split: str
    n_real: int
    n_fake: int
    seed: int
    kid_subset_size: int | None = None
    is_splits: int | None = None
    prdc_k: int | None = None
    knn_train: str | None = None
    knn_holdout: str | None = None
    knn_quantile: float | None = None
    birthday: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def parse_metric_names(names: str | Sequence[str]) -> list[str]:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> checked list; unknown names list what exists."""
    items = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    unknown = [n for n in items if n not in METRICS and n not in DATA_METRICS]
    if unknown or not items:
        raise ValueError(f"unknown metric(s) {unknown or names!r}; choose from {', '.join([*METRICS, *DATA_METRICS])}")
    return list(dict.fromkeys(items))


def describe_samples(samples: Tensor) -> str:
    """What a batch of data is, in words: ``2-D points``, ``grey 28x28 images``, ``RGB 64x64 images``, ..."""
    shape = tuple(samples.shape[1:])
    if len(shape) == 1:
        return "2-D points" if shape[0] == 2 else f"vectors of {shape[0]} values"
    if len(shape) == 3:
        channels, height, width = shape
        kind = {1: "grey", 3: "RGB"}.get(channels, f"{channels}-channel")
        return f"{kind} {height}x{width} images"
    return f"samples of shape {shape}"


def inapplicable_metrics(
    names: Sequence[str],
    network: FeatureNetwork,
    real: Tensor,
    num_labels: int | None = None,
    labelled: bool = True,
) -> dict[str, str]:
    """Why each of ``names`` cannot be computed here, for those that cannot (the others are absent).

    Args:
        names: metric names (``parse_metric_names``).
        network: the feature network every metric runs on.
        real: a few real samples (what the data module gives), to try the network on.
        num_labels: the labels a conditional generator takes (``None`` or 0: unconditional).
        labelled: whether the data module gives class labels (``labels_of``: more than one distinct label).
    """
    problem = network.input_problem(real)
    reasons: dict[str, str] = {}
    for name in names:
        if name == "stacked_modes":  # its own digit classifier judges the data, not `network`
            stacked_problem = stacked_input_problem(real)
            if stacked_problem is not None:
                reasons[name] = stacked_problem
        elif problem is not None:
            reasons[name] = problem
        elif name in ("is", *LABEL_METRICS) and network.num_classes is None:
            reasons[name] = f"it needs a classifier and {network.name} gives features only"
        elif name in LABEL_METRICS and not labelled:
            reasons[name] = (
                f"it compares the classes of a labelled data set ({network.name}'s classes), and this data module "
                "gives no class labels"
            )
        elif name == "labels" and not num_labels:
            reasons[name] = "it needs a conditional generator (cgan, acgan, infogan): this one takes no class labels"
        elif name == "labels" and network.num_classes is not None and (num_labels or 0) > network.num_classes:
            reasons[name] = (
                f"the generator's {num_labels} labels cannot map one-to-one onto {network.name}'s "
                f"{network.num_classes} classes"
            )
    return reasons


def shard_range(n: int, shard: tuple[int, int]) -> range:
    """Process ``rank``'s contiguous block of ``range(n)``. Contiguous, so that gathering the blocks in rank
    order (what torchmetrics does) restores the single-process order exactly."""
    rank, world = shard
    return range(rank * n // world, (rank + 1) * n // world)


def dataset_images(dataset: Dataset, n: int | None, seed: int, shard: tuple[int, int] = (0, 1)) -> Tensor:
    """``n`` images (all when ``None`` or more than there are) of a dataset of ``(image, label)`` items, a
    seeded random choice; with ``shard=(rank, world)`` this process's contiguous block of them."""
    size = len(dataset)  # type: ignore[arg-type]
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed))[: min(n or size, size)]
    block = shard_range(len(order), shard)
    mine = order[block.start : block.stop]
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:  # TensorDataset: index all at once
        return tensors[0][mine]
    items = [dataset[int(i)] for i in mine]
    return torch.stack([item[0] if isinstance(item, (tuple, list)) else item for item in items])


def global_count(n: int, device: torch.device) -> int:
    """``n`` summed over DDP processes (``n`` itself in a single process)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return n
    total = torch.tensor(n, device=device)
    torch.distributed.all_reduce(total)
    return int(total)


class OncePerBatch(FeatureNetwork):
    """Shares one pass of a feature network among the metrics fed the same batch.

    Each torchmetrics metric runs its ``feature`` module on the images it is given; fed the same batch,
    seven metrics would run the network seven times. This runs ``features_and_logits`` once per batch
    object and serves both outputs until ``forget()``, which ``SampleQuality`` calls after every batch.
    """

    def __init__(self, network: FeatureNetwork) -> None:
        super().__init__()
        self.network = network
        self.name, self.num_features, self.num_classes = network.name, network.num_features, network.num_classes
        self._batch: Tensor | None = None
        self._outputs: tuple[Tensor, Tensor | None] | None = None

    def forget(self) -> None:
        self._batch = self._outputs = None

    def check_input(self, images: Tensor) -> None:
        self.network.check_input(images)

    def _both(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        if images is not self._batch or self._outputs is None:
            self._batch, self._outputs = images, self.network.features_and_logits(images)
        return self._outputs

    def features(self, images: Tensor) -> Tensor:
        return self._both(images)[0]

    def logits(self, images: Tensor) -> Tensor:
        logits = self._both(images)[1]
        if logits is None:
            raise NotImplementedError(f"{self.name} has no classifier head: it gives features only")
        return logits


class SampleQuality:
    """The chosen metrics on one feature network against a real reference set embedded once.

    Args:
        metrics: names from ``METRICS``.
        feature_network: a ``FeatureNetwork`` or its registry name / import path.
        real: the real reference images in [-1, 1] (this process's shard under DDP).
        memorisation: for ``knn``: (the training images, held-out real images). Each generated image's
            nearest training image is judged against the held-out images' nearest training images.
        batch_size: images per feature-network call.
        seed: seeds KID's and IS's random subsets and the birthday test's.
        kid_subset_size: KID subset size (capped by the numbers of images).
        prdc_k: the k of the k-NN balls of precision/recall/density/coverage.
        num_labels: for ``labels``: how many labels the conditional generator takes.
        device: where the feature network runs.
    """

    def __init__(
        self,
        metrics: str | Sequence[str],
        feature_network: FeatureNetwork | str,
        real: Tensor,
        memorisation: tuple[Tensor, Tensor] | None = None,
        batch_size: int = 500,
        seed: int = 0,
        kid_subset_size: int = 1000,
        prdc_k: int = 5,
        num_labels: int | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.names = parse_metric_names(metrics)
        if "labels" in self.names and not num_labels:
            raise ValueError("metric 'labels' needs a conditional generator (cgan, acgan, infogan): num_labels=...")
        self.num_labels = num_labels
        net = build_feature_network(feature_network) if isinstance(feature_network, str) else feature_network
        self.network = net.to(device).eval()
        self.shared = OncePerBatch(self.network)  # what the metrics run: one network pass per batch
        self.batch_size = batch_size
        self.seed = seed
        self.device = torch.device(device)
        self.kid_subset_size = kid_subset_size
        self.prdc_k = prdc_k
        if "stacked_modes" in self.names and stacked_input_problem(real) is not None:
            raise ValueError(f"the real images are not Stacked MNIST: {stacked_input_problem(real)}")
        if "knn" in self.names and memorisation is None:
            raise ValueError("metric 'knn' needs the training and held-out real images (memorisation=...)")
        if {"is", "classes", "labels"} & set(self.names) and net.num_classes is None:
            raise ValueError(f"metrics 'is', 'classes' and 'labels' need a classifier; {net.name} gives features only")
        self.metrics: dict[str, Metric] = {}
        with warnings.catch_warnings():  # torchmetrics warns that KID/IS keep every feature: we know
            warnings.filterwarnings("ignore", message=".*will save all extracted features")
            for name in self.names:
                self.metrics[name] = self._build(name).to(self.device)
        self.n_real = global_count(self._feed(real, real=True), self.device)
        self.n_knn_train = self.n_knn_holdout = 0
        if memorisation is not None and "knn" in self.metrics:
            knn = self.metrics["knn"]
            assert isinstance(knn, NearestNeighbourMemorisation)
            train, holdout = memorisation
            for chunk in train.split(batch_size):
                knn.update(chunk.to(self.device), real=True)
                self.shared.forget()
            for chunk in holdout.split(batch_size):
                knn.update_holdout(chunk.to(self.device))
                self.shared.forget()
            self.n_knn_train, self.n_knn_holdout = len(train), len(holdout)

    def _build(self, name: str) -> Metric:
        net = self.shared
        if name == "fid":
            return FrechetInceptionDistance(feature=net, reset_real_features=False)
        if name == "kid":
            # the subset size is set per evaluation, once the numbers of images are known
            return KernelInceptionDistance(feature=net, reset_real_features=False, subset_size=self.kid_subset_size)
        if name == "is":
            return InceptionScore(feature=LogitsOf(net), normalize=False)  # normalize=True would cast to uint8
        if name == "prdc":
            return PrecisionRecallDensityCoverage(net, k=self.prdc_k, reset_real_features=False)
        if name == "classes":
            return ClassCoverage(net, reset_real_features=False)
        if name == "knn":
            return NearestNeighbourMemorisation(net, reset_real_features=False)
        if name == "labels":
            return ConditionalAccuracy(net, self.num_labels)
        if name == "stacked_modes":
            return StackedMNISTModes()
        return BirthdayParadox(net, seed=self.seed, reset_real_features=False)

    def _feed(self, images: Tensor, real: bool, labels: Tensor | None = None) -> int:
        # Non-finite inputs would reach FID's matrix square root, which crashes in LAPACK on them.
        bad = non_finite_samples(images)
        if bad:
            kind = "real images" if real else "generated samples"
            cause = "" if real else " (the generator has diverged)"
            raise ValueError(f"{bad} of {len(images)} {kind} hold NaN or infinite values{cause}: no metric computed")
        label_chunks = labels.split(self.batch_size) if labels is not None else None
        for i, chunk in enumerate(images.split(self.batch_size)):
            chunk = chunk.to(self.device)
            for name, metric in self.metrics.items():
                if name == "labels":
                    if not real:
                        if label_chunks is None:
                            raise ValueError("metric 'labels' needs the labels the images were generated for")
                        metric.update(chunk, label_chunks[i].to(self.device))
                elif name in ("is", "stacked_modes"):
                    if not real:
                        metric.update(chunk)
                elif name == "knn":
                    if not real:  # its real side is the training set given as `memorisation`
                        metric.update(chunk, real=False)
                else:
                    metric.update(chunk, real=real)
            self.shared.forget()
        return len(images)

    def protocol(self, real_split: str, n_fake: int) -> Protocol:
        """The protocol of ``evaluate(..., n_fake)`` against ``real_split`` (a description of the real set)."""
        birthday = self.metrics.get("birthday")
        return Protocol(
            feature_network=self.network.name,
            real_split=real_split,
            n_real=self.n_real,
            n_fake=n_fake,
            seed=self.seed,
            kid_subset_size=min(self.kid_subset_size, self.n_real, n_fake) if "kid" in self.names else None,
            is_splits=10 if "is" in self.names else None,
            prdc_k=self.prdc_k if "prdc" in self.names else None,
            knn_train=f"{self.n_knn_train} training images" if "knn" in self.names else None,
            knn_holdout=f"{self.n_knn_holdout} held-out images" if "knn" in self.names else None,
            knn_quantile=0.01 if "knn" in self.names else None,
            birthday=(
                {"sample_sizes": birthday.sample_sizes, "trials": birthday.trials, "quantile": birthday.quantile}
                if isinstance(birthday, BirthdayParadox)
                else None
            ),
        )

    @torch.no_grad()
    def evaluate(
        self, generate: Callable[[int], Tensor | tuple[Tensor, Tensor | None]], n_fake: int, reset: bool = True
    ) -> dict[str, Any]:
        """Score ``n_fake`` images from ``generate(batch_size)`` (called repeatedly; it may return
        ``(images, labels)``, the labels a conditional generator was given), then forget them
        unless ``reset=False`` (e.g. to draw the memorisation pairs afterwards). Returns flat results:
        ``fid``, ``kid``/``kid_std``, ``is``/``is_std``, ``precision``, ...

        Under DDP, ``n_fake`` is this process's share; every process must call this.
        """
        made = 0
        while made < n_fake:
            batch = generate(min(self.batch_size, n_fake - made))
            images, labels = batch if isinstance(batch, tuple) else (batch, None)
            made += self._feed(images, real=False, labels=labels)
        total_fake = global_count(n_fake, self.device)
        results: dict[str, Any] = {}
        for name, metric in self.metrics.items():
            if isinstance(metric, KernelInceptionDistance):
                metric.subset_size = min(self.kid_subset_size, self.n_real, total_fake)
            concatenate_list_states(metric)
            # KID and IS draw random subsets from torch's global CPU generator: seed it for each metric,
            # so a metric's value does not depend on which others ran before it, and restore it after.
            with torch.random.fork_rng(devices=[]):
                torch.random.manual_seed(self.seed)
                value = metric.compute()
            results.update(flatten(name, value))
            if reset:
                metric.reset()
        return results


def concatenate_list_states(metric: Metric) -> None:
    """One tensor per list state before ``compute``: torchmetrics gathers a list state with no reduction
    (KID's, IS's) one element at a time, which interleaves the processes' batches (changing KID and IS) and
    deadlocks when processes hold different numbers of batches."""
    for name, value in metric.metric_state.items():
        if isinstance(value, list) and len(value) > 1:
            setattr(metric, name, [dim_zero_cat(value)])


# the prefix of a dict-valued metric's keys where it is not "<name>_"
KEY_PREFIXES = {"prdc": "", "classes": "", "labels": "", "stacked_modes": "stacked_"}


def flatten(name: str, value: Tensor | tuple[Tensor, ...] | dict[str, Tensor]) -> dict[str, Any]:
    """Metric outputs -> ``{key: float or list}``; torchmetrics' (mean, std) pairs -> ``name``, ``name_std``."""
    if isinstance(value, Tensor):
        return {name: value.item()}
    if isinstance(value, tuple):
        mean, std = value
        return {name: mean.item(), f"{name}_std": std.item()}
    prefix = KEY_PREFIXES.get(name, f"{name}_")
    return {prefix + key: (v.item() if v.numel() == 1 else v.tolist()) for key, v in value.items()}


def scalars(results: dict[str, Any]) -> dict[str, float]:
    """The scalar entries, finite or infinite (what gets logged)."""
    return {k: float(v) for k, v in results.items() if isinstance(v, (int, float)) and not math.isnan(v)}


def minimum_images(metrics: Sequence[str]) -> int:
    """The fewest real and generated images the chosen metrics can work with."""
    needs = {"fid": 2, "kid": 2, "is": 2, "prdc": 6, "classes": 1, "knn": 1, "birthday": 400, "labels": 1,
             "stacked_modes": 1}  # fmt: skip
    return max(needs[m] for m in metrics)
