"""Pictures of training progress, as PNGs in the run directory and images in W&B every few epochs: sample
grids from fixed noise (and reconstructions, for models with an encoder), and the input/output/target rows
of image-to-image variants."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from lightning_gans.core.module import GenerativeModule, TrainingModule, real_samples
from lightning_gans.core.translation import TranslationModule
from lightning_gans.images import sample_picture, save_picture


class SampleGrid(Callback):
    """Draw the fixed-noise samples (EMA generator when enabled) every ``every_n_epochs`` epochs.

    PNGs go to ``dirpath`` (default ``<trainer.default_root_dir>/samples``) as ``epoch=NNN.png`` and
    ``last.png``; each W&B logger gets the same picture under ``samples``. The picture follows the data:
    for 2-D points (``gaussian_mixture``) it is a scatter plot of the samples (red) under one validation
    batch of real points (blue); for images of any size it is a grid, grey or RGB as the images are (an RGBA
    image is drawn without its alpha channel; other channel counts are drawn one grey tile per channel).
    Samples it cannot picture (vectors of more than two values) are not drawn, with one warning. A
    conditional model's grid has a column per class. A model with an encoder also gets ``reconstructions``:
    rows of validation images alternating with their reconstructions ``generate(encode(x))``
    (``recon_epoch=NNN.png``).
    """

    def __init__(self, every_n_epochs: int = 1, dirpath: str | None = None, nrow: int | None = None) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs
        self.dirpath = dirpath
        self.nrow = nrow
        self.last_path: Path | None = None
        self.warned = False

    def _reference(self, trainer: Trainer) -> Tensor | None:
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "val_dataloader"):
            return None
        try:
            return real_samples(next(iter(datamodule.val_dataloader())))
        except (RuntimeError, StopIteration, NotImplementedError):
            return None

    def draw(self, trainer: Trainer, module: GenerativeModule) -> None:
        samples = module.sample_fixed()
        # a real validation batch: under 2-D scatter plots, and to reconstruct (an encoder's grid)
        reference = self._reference(trainer) if samples.dim() == 2 or module.encoder is not None else None
        try:
            picture = sample_picture(samples, self.nrow or module.num_classes or None, reference)
        except ValueError as error:  # samples that are neither images nor 2-D points
            if not self.warned:
                rank_zero_warn(f"SampleGrid: {error}: no sample pictures in this run")
                self.warned = True
            return
        self.last_path = publish(trainer, module, "samples", picture, self.dirpath)
        if module.encoder is not None and reference is not None and reference.dim() == 4:
            publish(
                trainer, module, "reconstructions", reconstruction_picture(module, reference), self.dirpath, "recon_"
            )

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not isinstance(pl_module, GenerativeModule):
            raise TypeError(
                f"SampleGrid needs a GenerativeModule, got {type(pl_module).__name__} (image-to-image variants use "
                "TranslationGrid)"
            )
        if due(trainer, self.every_n_epochs):
            self.draw(trainer, pl_module)


def due(trainer: Trainer, every_n_epochs: int) -> bool:
    """Whether a grid is due at the end of this epoch: every n-th, the last, and on rank zero only."""
    last_epoch = trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs
    return trainer.is_global_zero and (
        (trainer.current_epoch + 1) % every_n_epochs == 0 or last_epoch or trainer.should_stop
    )


def publish(
    trainer: Trainer, module: TrainingModule, key: str, picture: Tensor, dirpath: str | None, prefix: str = ""
) -> Path:
    """``picture`` as ``<dirpath>/<prefix>epoch=NNN.png`` and ``<prefix>last.png`` (``dirpath`` defaults to
    ``<default_root_dir>/samples``), and to each W&B logger under ``key``."""
    folder = Path(dirpath or Path(trainer.default_root_dir) / "samples")
    save_picture(picture, folder / f"{prefix}epoch={trainer.current_epoch:03d}.png")
    caption = f"epoch {trainer.current_epoch}, generator step {module.generator_steps}"
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key, [picture.permute(1, 2, 0).numpy()], step=trainer.global_step, caption=[caption])
    return save_picture(picture, folder / f"{prefix}last.png")


def reconstruction_picture(module: GenerativeModule, images: Tensor, columns: int = 8, rows: int = 4) -> Tensor:
    """Up to ``rows`` rows of ``columns`` real images, each followed by a row of their reconstructions."""
    real = images[: columns * rows].to(module.device)
    recon = module.reconstruct(real)
    pairs = torch.cat([torch.cat([r, c]) for r, c in zip(real.split(columns), recon.split(columns))])
    return sample_picture(pairs, columns)


class TranslationGrid(Callback):
    """Image-to-image results on fixed validation images every ``every_n_epochs`` epochs: one column per
    image, one row per stage (``picture_rows``: input, output, target for paired data; a, G(a), F(G(a)), b,
    F(b), G(F(b)) for CycleGAN; low resolution, bicubic, output, original for SRGAN).

    PNGs go to ``dirpath`` (default ``<trainer.default_root_dir>/samples``) as ``epoch=NNN.png`` and
    ``last.png``; each W&B logger gets the picture under ``translations``.

    Args:
        every_n_epochs: how often to draw (and always after the last epoch).
        n_images: validation images (columns) shown, the first of the first validation batches.
        dirpath: where the PNGs go.
    """

    def __init__(self, every_n_epochs: int = 1, n_images: int = 8, dirpath: str | None = None) -> None:
        if every_n_epochs < 1 or n_images < 1:
            raise ValueError(f"every_n_epochs and n_images must be >= 1, got {every_n_epochs} and {n_images}")
        self.every_n_epochs = every_n_epochs
        self.n_images = n_images
        self.dirpath = dirpath
        self.last_path: Path | None = None

    def fixed_pairs(self, trainer: Trainer) -> tuple[Tensor, Tensor]:
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is None:
            raise RuntimeError("TranslationGrid needs a data module with a val_dataloader")
        a_parts, b_parts = [], []
        for a, b in datamodule.val_dataloader():
            a_parts.append(a)
            b_parts.append(b)
            if sum(len(x) for x in a_parts) >= self.n_images:
                break
        return torch.cat(a_parts)[: self.n_images], torch.cat(b_parts)[: self.n_images]

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not isinstance(pl_module, TranslationModule):
            raise TypeError(f"TranslationGrid needs a TranslationModule, got {type(pl_module).__name__}")
        if due(trainer, self.every_n_epochs):
            rows = pl_module.picture_rows(*self.fixed_pairs(trainer))
            channels = max(row.shape[1] for row in rows)  # grey and colour domains side by side
            picture = sample_picture(torch.cat([row.expand(-1, channels, -1, -1) for row in rows]), len(rows[0]))
            self.last_path = publish(trainer, pl_module, "translations", picture, self.dirpath)
