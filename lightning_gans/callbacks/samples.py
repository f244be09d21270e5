"""Sample grids from fixed noise (and reconstructions, for models with an encoder): PNGs in the run
directory and images in W&B, every few epochs."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from torch import Tensor

from lightning_gans.core.module import GenerativeModule, real_samples
from lightning_gans.images import sample_picture, save_picture


class SampleGrid(Callback):
    """Draw the fixed-noise samples (EMA generator when enabled) every ``every_n_epochs`` epochs.

    PNGs go to ``dirpath`` (default ``<trainer.default_root_dir>/samples``) as ``epoch=NNN.png`` and
    ``last.png``; each W&B logger gets the same picture under ``samples``. For 2-D data the picture is a
    scatter plot of the samples (red) under one validation batch of real points (blue). A conditional model's
    grid has a column per class. A model with an encoder also gets ``reconstructions``: rows of validation
    images alternating with their reconstructions ``generate(encode(x))`` (``recon_epoch=NNN.png``).
    """

    def __init__(self, every_n_epochs: int = 1, dirpath: str | None = None, nrow: int | None = None) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs
        self.dirpath = dirpath
        self.nrow = nrow
        self.last_path: Path | None = None

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
        nrow = self.nrow or module.num_classes or None
        picture = sample_picture(samples, nrow, reference if samples.dim() == 2 else None)
        self.last_path = self.publish(trainer, module, "samples", "", picture)
        if module.encoder is not None and reference is not None and reference.dim() == 4:
            self.publish(trainer, module, "reconstructions", "recon_", reconstruction_picture(module, reference))

    def publish(self, trainer: Trainer, module: GenerativeModule, key: str, prefix: str, picture: Tensor) -> Path:
        """``picture`` as ``<prefix>epoch=NNN.png`` and ``<prefix>last.png``, and to each W&B logger as ``key``."""
        folder = Path(self.dirpath or Path(trainer.default_root_dir) / "samples")
        save_picture(picture, folder / f"{prefix}epoch={trainer.current_epoch:03d}.png")
        caption = f"epoch {trainer.current_epoch}, generator step {module.generator_steps}"
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key, [picture.permute(1, 2, 0).numpy()], step=trainer.global_step, caption=[caption])
        return save_picture(picture, folder / f"{prefix}last.png")

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not isinstance(pl_module, GenerativeModule):
            raise TypeError(f"SampleGrid needs a GenerativeModule, got {type(pl_module).__name__}")
        last_epoch = trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs
        due = (trainer.current_epoch + 1) % self.every_n_epochs == 0 or last_epoch or trainer.should_stop
        if due and trainer.is_global_zero:
            self.draw(trainer, pl_module)


def reconstruction_picture(module: GenerativeModule, images: Tensor, columns: int = 8, rows: int = 4) -> Tensor:
    """Up to ``rows`` rows of ``columns`` real images, each followed by a row of their reconstructions."""
    real = images[: columns * rows].to(module.device)
    recon = module.reconstruct(real)
    pairs = torch.cat([torch.cat([r, c]) for r, c in zip(real.split(columns), recon.split(columns))])
    return sample_picture(pairs, columns)
