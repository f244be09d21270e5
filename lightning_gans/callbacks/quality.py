"""FID, KID, precision/recall, ... during fit: ``val/fid`` etc. every few epochs, for W&B and checkpoints; and on
``lightning-gans test`` against the test split as ``test/fid`` etc."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from torch.utils.data import Dataset

from lightning_gans.core.module import GenerativeModule
from lightning_gans.data.base import held_out_split, labels_of
from lightning_gans.metrics.evaluation import (
    LOGGED_KEYS,
    SampleQuality,
    dataset_images,
    describe_samples,
    inapplicable_metrics,
    parse_metric_names,
    scalars,
    shard_range,
)
from lightning_gans.metrics.features import FeatureNetwork, build_feature_network


class MetricSkipped(UserWarning):
    """A requested sample-quality metric cannot apply to the run's data and is skipped; the message says why."""


class SampleQualityCallback(Callback):
    """Score ``n_fake`` generated images against ``n_real`` images of the training split at the end of
    every validation run and log ``val/<metric>`` (``val/fid``, ``val/kid``, ``val/precision``, ...).

    How often is the trainer's ``check_val_every_n_epoch``: one schedule, so a
    ``ModelCheckpoint(monitor="val/fid", mode="min")`` always finds the value it ranks by (FID often gets
    worse late in training, so keep the best one). The generated images come from the EMA generator when
    the variant keeps one, from the same seeded latents every time, so epochs are compared on equal terms.
    The real images are embedded once.

    On ``lightning-gans test`` the reference set is the data module's test split instead (``test_split`` says
    what that is; ``n_real`` of its images), with the same generated images, logged as ``test/<metric>``.

    What the data allows is checked at the start of fit, on real samples of the training split: the feature
    network must take them (``fashion_classifier`` takes grey images, resizing other sizes to its 28x28;
    ``inception`` takes grey or RGB images of any size; neither takes 2-D points), ``is``/``classes``/
    ``labels`` need a classifier, ``classes``/``labels`` a data module with class labels (more than one
    distinct label), and ``labels`` a conditional generator. A metric that cannot apply is skipped, with one
    ``MetricSkipped`` warning naming each skipped metric, the data and the reason, and the others are
    computed as usual. A ``ModelCheckpoint`` watching a key that will never be logged (``val/fid`` on 2-D
    points) then keeps no checkpoint (its ``save_top_k`` is set to 0) and an ``EarlyStopping`` on such a key
    stops nothing (``strict=False``), instead of failing the run at the end of the first validation; the
    warning says so. On data every metric applies to (Fashion-MNIST with the default recipe) nothing changes.

    Args:
        metrics: names among ``fid, kid, is, prdc, classes, birthday, labels, stacked_modes`` (``labels`` for
            conditional generators; ``stacked_modes`` for Stacked MNIST; ``knn`` needs a held-out split:
            run it with ``lightning-gans evaluate``).
        feature_network: registry name or import path of a ``FeatureNetwork``.
        n_real: training images in the reference set (all of them when fewer).
        n_fake: generated images per evaluation.
        seed: seed of the real subset, the latents and KID's subsets.
        batch_size: images per generator and feature-network call.
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("fid", "kid", "is", "prdc", "classes"),
        feature_network: str = "fashion_classifier",
        n_real: int = 5000,
        n_fake: int = 5000,
        seed: int = 0,
        batch_size: int = 500,
    ) -> None:
        if n_real < 2 or n_fake < 2:
            raise ValueError(f"n_real and n_fake must be >= 2, got {n_real} and {n_fake}")
        self.metrics = parse_metric_names(metrics)
        if "knn" in self.metrics:
            raise ValueError("'knn' needs a held-out split; run it with `lightning-gans evaluate` after training")
        self.feature_network = feature_network
        self.n_real = n_real
        self.n_fake = n_fake
        self.seed = seed
        self.batch_size = batch_size
        self.quality: SampleQuality | None = None
        self.test_quality: SampleQuality | None = None  # against the test split, built on the first test
        self.skipped: dict[str, str] = {}  # metric -> why it cannot apply to this run's data
        self.applicable: list[str] = []  # the others
        self.network: FeatureNetwork | None = None
        self.checked = False  # the data has been looked at (and the reference set embedded, if any metric applies)
        self.last: dict[str, float] = {}

    def sizes(self, trainer: Trainer) -> tuple[int, int]:
        """(n_real, n_fake); a ``fast_dev_run`` smoke-tests the metrics on 500 images to stay fast."""
        if getattr(trainer, "fast_dev_run", False):  # set by Trainer(fast_dev_run=...), not in its type
            return min(self.n_real, 500), min(self.n_fake, 500)
        return self.n_real, self.n_fake

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Check the data against the metrics and embed the real reference set now, before the first step:
        metrics the data cannot take are skipped with a reason at once, not found failing at the first
        validation."""
        self.embed_reference(trainer, pl_module)

    def embed_reference(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Embed the reference set on first use: ``n_real`` images of the training split (fit, validate) or, on
        ``test``, of the test split; the first one seen decides which metrics the data allow."""
        if not isinstance(pl_module, GenerativeModule):
            raise TypeError(f"SampleQualityCallback needs a GenerativeModule, got {type(pl_module).__name__}")
        testing = bool(trainer.testing)
        if (self.test_quality if testing else self.quality) is not None or (self.checked and not self.applicable):
            return
        datamodule = getattr(trainer, "datamodule", None)
        split = held_out_split(datamodule, testing=True) if testing else getattr(datamodule, "train_set", None)
        if split is None:
            needed = "a test split (or a val_set)" if testing else "a train_set (a GANDataModule)"
            raise RuntimeError(f"SampleQualityCallback needs a data module with {needed}")
        shard = (trainer.global_rank, trainer.world_size)  # each process embeds its block; metrics gather
        real = dataset_images(split, self.sizes(trainer)[0], self.seed, shard)
        if not self.checked:
            self.network = build_feature_network(self.feature_network).to(pl_module.device)
            self.skipped = inapplicable_metrics(
                self.metrics,
                self.network,
                real[:2].to(pl_module.device),
                num_labels=pl_module.num_classes,
                labelled=has_labels(split),
            )
            if self.skipped:
                self.report_skipped(trainer, describe_samples(real), tuple(real.shape[1:]))
            self.applicable = [name for name in self.metrics if name not in self.skipped]
            self.checked = True
        if not self.applicable:
            return
        assert self.network is not None
        quality = SampleQuality(
            self.applicable,
            self.network,
            real,
            None,
            self.batch_size,
            self.seed,
            num_labels=pl_module.num_classes,
            device=pl_module.device,
        )
        if testing:
            self.test_quality = quality
        else:
            self.quality = quality

    def report_skipped(self, trainer: Trainer, data: str, shape: tuple[int, ...]) -> None:
        """One warning for all skipped metrics; watchers of their keys stand down (see the class docstring)."""
        keys = {f"val/{key}" for name in self.skipped for key in LOGGED_KEYS[name]}
        keys -= {f"val/{key}" for name in self.metrics if name not in self.skipped for key in LOGGED_KEYS[name]}
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.skipped.items():
            by_reason.setdefault(reason, []).append(name)
        lines = [
            f"SampleQualityCallback skips {', '.join(self.skipped)}: the data module gives {data} (each sample "
            f"{shape}), and with feature network {self.feature_network}:"
        ]
        lines += [f"  - {', '.join(names)}: {reason}" for reason, names in by_reason.items()]
        if shape == (2,):
            lines.append(
                "  For 2-D data use `trainer.callbacks: _shared/callbacks_2d.yaml` (scatter plots and mode coverage: "
                "val/modes, val/high_quality, val/reverse_kl)."
            )
        lines += [f"  {note}" for note in stand_down_watchers(trainer, keys)]
        rank_zero_warn("\n".join(lines), category=MetricSkipped)

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.on_validation_epoch_end(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.embed_reference(trainer, pl_module)  # already done in fit; `validate` and `test` do it here
        quality = self.test_quality if trainer.testing else self.quality
        if quality is None:  # no requested metric applies to this data (said at the start)
            return
        assert isinstance(pl_module, GenerativeModule)
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            # Batch-norm statistics drift apart between processes (DDP broadcasts buffers only at the start
            # of each training forward), so every process samples with rank 0's, which the checkpoint keeps.
            for buffer in pl_module.sampling_generator.buffers():
                torch.distributed.broadcast(buffer, src=0)
        n_fake = self.sizes(trainer)[1]
        latents = torch.randn(n_fake, pl_module.latent_dim, generator=torch.Generator().manual_seed(self.seed))
        block = shard_range(n_fake, (trainer.global_rank, trainer.world_size))
        chunks = iter(latents[block.start : block.stop].split(self.batch_size))
        results = quality.evaluate(lambda n: pl_module.generate_labelled(next(chunks)), len(block))
        self.last = scalars(results)
        # every process computed the gathered (identical) value, so no further reduction is needed; test/* while
        # testing (TrainingModule.log)
        pl_module.log_dict({f"val/{k}": v for k, v in self.last.items()}, prog_bar=False, sync_dist=False)


def has_labels(dataset: Dataset) -> bool:
    """Whether a data set gives class labels: a label tensor (``labels_of``) with more than one distinct value
    (a constant placeholder such as ``sample_photos``' 0 is no labelling), or else ``(sample, label)`` items."""
    labels: Tensor | None = labels_of(dataset)
    if labels is not None:
        return labels.numel() > 0 and labels.unique().numel() > 1
    item = dataset[0]
    if not (isinstance(item, (tuple, list)) and len(item) > 1):
        return False
    label = item[1]  # an int or a 0-dim tensor; image pairs (a, b) have an image there
    return isinstance(label, int) or (isinstance(label, Tensor) and label.dim() == 0)


def stand_down_watchers(trainer: Trainer, keys: set[str]) -> list[str]:
    """Make the trainer's checkpoint and early-stopping callbacks that watch one of ``keys`` (keys that will
    never be logged) harmless, and say what changed. Lightning raises at the end of the first validation when a
    ``ModelCheckpoint``'s or a strict ``EarlyStopping``'s monitored key is missing."""
    notes = []
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.monitor in keys and callback.save_top_k != 0:
            callback.save_top_k = 0
            notes.append(
                f"ModelCheckpoint(monitor={callback.monitor!r}) keeps no checkpoint in this run (save_top_k set to "
                f"0): {callback.monitor} is never logged. last.ckpt and the other checkpoints are written as usual."
            )
    for stopper in trainer.early_stopping_callbacks:
        if isinstance(stopper, EarlyStopping) and stopper.monitor in keys and stopper.strict:
            stopper.strict = False
            notes.append(f"EarlyStopping(monitor={stopper.monitor!r}) never stops this run: the key is never logged.")
    return notes
