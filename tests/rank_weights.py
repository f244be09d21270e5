"""A callback the DDP test adds from the command line: each rank saves its weights and logged metrics when fit
ends."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class SaveRankWeights(Callback):
    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        path = Path(trainer.default_root_dir) / f"rank{trainer.global_rank}.pt"
        torch.save({k: v.detach().cpu() for k, v in pl_module.state_dict().items()}, path)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        torch.save(metrics, path.with_name(f"rank{trainer.global_rank}_metrics.pt"))
