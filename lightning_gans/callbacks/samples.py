"""Sample grids from fixed noise: a PNG in the run directory and an image in W&B, every few epochs."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from torch import Tensor

from lightning_gans.core.module import GANModule, real_samples
from lightning_gans.images import sample_picture, save_picture


class SampleGrid(Callback):
    """Draw the fixed-noise samples (EMA generator when enabled) every ``every_n_epochs`` epochs.

    PNGs go to ``dirpath`` (default ``<trainer.default_root_dir>/samples``) as ``epoch=NNN.png`` and
    ``last.png``; each W&B logger gets the same picture under ``samples``. For 2-D data the picture is a
    scatter plot of the samples (red) under one validation batch of real points (blue).
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

    def draw(self, trainer: Trainer, module: GANModule) -> None:
        samples = module.sample_fixed()
        reference = self._reference(trainer) if samples.dim() == 2 else None
        picture = sample_picture(samples, self.nrow, reference)
        folder = Path(self.dirpath or Path(trainer.default_root_dir) / "samples")
        save_picture(picture, folder / f"epoch={trainer.current_epoch:03d}.png")
        self.last_path = save_picture(picture, folder / "last.png")
        caption = f"epoch {trainer.current_epoch}, generator step {module.generator_steps}"
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(
                    "samples", [picture.permute(1, 2, 0).numpy()], step=trainer.global_step, caption=[caption]
                )

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not isinstance(pl_module, GANModule):
            raise TypeError(f"SampleGrid needs a GANModule, got {type(pl_module).__name__}")
        last_epoch = trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs
        due = (trainer.current_epoch + 1) % self.every_n_epochs == 0 or last_epoch or trainer.should_stop
        if due and trainer.is_global_zero:
            self.draw(trainer, pl_module)
