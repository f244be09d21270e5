"""FID, KID, precision/recall, ... during fit: ``val/fid`` etc. every few epochs, for W&B and checkpoints."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from lightning_gans.core.module import GenerativeModule
from lightning_gans.metrics.evaluation import SampleQuality, dataset_images, parse_metric_names, scalars, shard_range


class SampleQualityCallback(Callback):
    """Score ``n_fake`` generated images against ``n_real`` images of the training split at the end of
    every validation run and log ``val/<metric>`` (``val/fid``, ``val/kid``, ``val/precision``, ...).

    How often is the trainer's ``check_val_every_n_epoch``: one schedule, so a
    ``ModelCheckpoint(monitor="val/fid", mode="min")`` always finds the value it ranks by (FID often gets
    worse late in training, so keep the best one). The generated images come from the EMA generator when
    the variant keeps one, from the same seeded latents every time, so epochs are compared on equal terms.
    The real images are embedded once.

    Args:
        metrics: names among ``fid, kid, is, prdc, classes, birthday, labels`` (``labels`` for conditional
            generators; ``knn`` needs a held-out split:
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
        self.last: dict[str, float] = {}

    def sizes(self, trainer: Trainer) -> tuple[int, int]:
        """(n_real, n_fake); a ``fast_dev_run`` smoke-tests the metrics on 500 images to stay fast."""
        if getattr(trainer, "fast_dev_run", False):  # set by Trainer(fast_dev_run=...), not in its type
            return min(self.n_real, 500), min(self.n_fake, 500)
        return self.n_real, self.n_fake

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Embed the real reference set now, so a data set the feature network cannot take (say 64x64 images
        for the 28x28 classifier) fails at once rather than at the first validation."""
        self.embed_reference(trainer, pl_module)

    def embed_reference(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not isinstance(pl_module, GenerativeModule):
            raise TypeError(f"SampleQualityCallback needs a GenerativeModule, got {type(pl_module).__name__}")
        if self.quality is not None:
            return
        train_set = getattr(getattr(trainer, "datamodule", None), "train_set", None)
        if train_set is None:
            raise RuntimeError("SampleQualityCallback needs a data module with a train_set (a GANDataModule)")
        shard = (trainer.global_rank, trainer.world_size)  # each process embeds its block; metrics gather
        real = dataset_images(train_set, self.sizes(trainer)[0], self.seed, shard)
        self.quality = SampleQuality(
            self.metrics,
            self.feature_network,
            real,
            None,
            self.batch_size,
            self.seed,
            num_labels=pl_module.num_classes,
            device=pl_module.device,
        )

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.embed_reference(trainer, pl_module)  # already done in fit; `lightning-gans validate` does it here
        assert self.quality is not None and isinstance(pl_module, GenerativeModule)
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            # Batch-norm statistics drift apart between processes (DDP broadcasts buffers only at the start
            # of each training forward), so every process samples with rank 0's, which the checkpoint keeps.
            for buffer in pl_module.sampling_generator.buffers():
                torch.distributed.broadcast(buffer, src=0)
        n_fake = self.sizes(trainer)[1]
        latents = torch.randn(n_fake, pl_module.latent_dim, generator=torch.Generator().manual_seed(self.seed))
        block = shard_range(n_fake, (trainer.global_rank, trainer.world_size))
        chunks = iter(latents[block.start : block.stop].split(self.batch_size))
        results = self.quality.evaluate(lambda n: pl_module.generate_labelled(next(chunks)), len(block))
        self.last = scalars(results)
        # every process computed the gathered (identical) value, so no further reduction is needed
        pl_module.log_dict({f"val/{k}": v for k, v in self.last.items()}, prog_bar=False, sync_dist=False)
