"""Stop training when the process has used a given number of CPU seconds."""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class CPUBudget(Callback):
    """Stop ``fit`` once ``time.process_time()`` (CPU seconds of this process, all threads, counted from
    process start) reaches ``seconds``: compares methods at equal compute rather than equal steps.

    Lightning's ``Timer`` callback measures wall time, which depends on everything else the machine runs.
    """

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        self.seconds = seconds

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if time.process_time() >= self.seconds:
            trainer.should_stop = True
