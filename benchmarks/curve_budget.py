"""The callback of ``quality_curves.py``: a checkpoint at each CPU budget, the CPU spent carried across resumes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class CurveCheckpoints(Callback):
    """Writes ``<run>/checkpoints/cpu-<m>min.ckpt`` once the CPU seconds of training (this process's since fit
    started, plus what earlier processes of the run spent, kept in the checkpoints) pass each of ``minutes``;
    stops fit after the last. ``lightning_gans.callbacks.CPUBudget`` counts one process from its start, which a
    resumed run cannot continue."""

    def __init__(self, minutes: list[float]) -> None:
        if not minutes or min(minutes) <= 0:
            raise ValueError(f"minutes must be positive budgets, got {minutes}")
        self.minutes = sorted(minutes)
        self.spent_before = 0.0
        self.started = time.process_time()

    def spent(self) -> float:
        return self.spent_before + time.process_time() - self.started

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.started = time.process_time()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        folder = Path(trainer.default_root_dir) / "checkpoints"
        for minutes in self.minutes:
            path = folder / f"cpu-{minutes:g}min.ckpt"
            if self.spent() >= 60 * minutes and not path.is_file():
                trainer.save_checkpoint(path, weights_only=False)  # the full state, as last.ckpt
        if self.spent() >= 60 * self.minutes[-1]:
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"spent": self.spent()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.spent_before = float(state_dict["spent"])
