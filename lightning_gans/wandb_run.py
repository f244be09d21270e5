"""The W&B side of a run: the whole resolved config where runs are compared, and no run left by a failed start.

Lightning's ``WandbLogger`` records the model's hyper-parameters only. Users compare runs by everything that
made them (data, trainer, seed, recipe, version), so ``describe_run`` adds the resolved config exactly as
``config.yaml`` holds it, the recipe's name and the library version to the run's config, and attaches
``config.yaml`` to the run's files as ``lightning_gans/config.yaml`` (W&B keeps a ``config.yaml`` of its own
at the top of them).
"""

from __future__ import annotations

import contextlib
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger

ATTACHED_CONFIG = "lightning_gans/config.yaml"  # in the run's files


def wandb_loggers(trainer: Trainer) -> list[WandbLogger]:
    return [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]


def without_anonymous_setting(logger: WandbLogger) -> None:
    """Lightning passes ``anonymous=None`` to ``wandb.init`` whether or not it was set, and W&B then warns on every
    run that the (deprecated) setting has no effect. Left out when unset, the warning goes with it."""
    init = getattr(logger, "_wandb_init", None)  # Lightning keeps wandb.init's arguments here until the run starts
    if isinstance(init, dict) and init.get("anonymous") is None:
        init.pop("anonymous", None)


def describe_run(trainer: Trainer, config: dict[str, Any], config_file: Path, recipe: str | None) -> None:
    """Add the resolved ``config`` (``config.yaml``'s content), ``recipe`` and the library version to every W&B
    run of ``trainer``, and attach ``config_file`` to it. Called on rank 0 once ``config.yaml`` is written."""
    described = {**config, "recipe": recipe, "lightning_gans_version": version("lightning-gans")}
    for logger in wandb_loggers(trainer):
        run = logger.experiment
        run.config.update(described, allow_val_change=True)
        # a copy in the run's files folder, which W&B uploads when the run ends (wandb.save would link the file,
        # warn about the link, and name it config.yaml beside W&B's own)
        attached = Path(run.dir) / ATTACHED_CONFIG
        attached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config_file, attached)


class DiscardFailedStart(Callback):
    """A fit that fails before its first optimiser step leaves no W&B run behind: the run is closed as failed
    and its local folder removed (with the ``wandb`` folder, when it held nothing else). A run that trained
    keeps its folder: its logged steps are what a user needs to see why it stopped."""

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if trainer.global_step > 0:
            return
        for logger in wandb_loggers(trainer):
            run = logger._experiment  # not `experiment`: that would start a run just to delete it
            if run is None:
                continue
            folder = Path(run.dir).parent  # .../wandb/<offline->run-<id>/files
            with contextlib.suppress(Exception):  # W&B's footer would say how to sync the folder removed below
                run._settings.silent = True
            run.finish(exit_code=1)
            logger._experiment = None
            shutil.rmtree(folder, ignore_errors=True)
            parent = folder.parent
            if parent.name == "wandb" and not any(p.is_dir() and not p.is_symlink() for p in parent.iterdir()):
                shutil.rmtree(parent, ignore_errors=True)  # only its latest-run link and debug logs were left
        with contextlib.suppress(OSError):  # the run folder, made for W&B just before, when nothing else is in it
            Path(trainer.default_root_dir).rmdir()
