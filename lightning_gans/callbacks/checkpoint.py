"""``last.ckpt`` that a crash cannot take away: the checkpoint ``--ckpt_path last`` resumes from."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Checkpoint

from lightning_gans.core.module import from_every_rank

LAST_NAME = "last.ckpt"


def rng_states() -> dict[str, Any]:
    """The global random states (torch CPU and CUDA, Python, NumPy), as tensors and plain values only, so a
    checkpoint holding them still loads with ``weights_only=True``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(np.asarray(keys).astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached), "kind": str(kind)},
    }  # fmt: skip


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))


def replace_atomically(source: Path, target: Path) -> None:
    """``source`` becomes ``target`` in one step, after its bytes are on disk: a reader (or a crash) sees the
    old file or the new one, never half of one."""
    with open(source, "rb") as file:
        os.fsync(file.fileno())
    os.replace(source, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class LastCheckpoint(Checkpoint):
    """Writes ``<dirpath>/last.ckpt`` at the end of every training epoch and every ``every_minutes`` of
    training in between, atomically (a temporary file, then a rename), so a ``kill -9`` at any moment loses
    at most one interval and never leaves a half-written ``last.ckpt``.

    Lightning's ``ModelCheckpoint(save_last=True, save_top_k=0)`` writes ``last`` only when another checkpoint
    is saved (with ``save_top_k=0``: when fit ends), and versions the name (``last-v1.ckpt``) rather than
    replacing it; hence this callback. A checkpoint taken mid-epoch resumes exactly: the data loaders save
    their position (``ResumableDataLoader``), the module its noise, and this callback the global random
    states, which it restores when the resumed training starts. No checkpoint of non-finite weights is ever
    written: the module refuses it (``TrainingDiverged``) and the previous ``last.ckpt`` stays. After each write,
    every callback with an ``on_last_checkpoint_written(trainer, path)`` method is told.

    Args:
        dirpath: the folder (default ``<trainer.default_root_dir>/checkpoints``).
        every_minutes: the longest stretch of training between two writes; 0 writes after every batch.
    """

    def __init__(self, dirpath: str | None = None, every_minutes: float = 2.0) -> None:
        if every_minutes < 0:
            raise ValueError(f"every_minutes must be >= 0, got {every_minutes}")
        self.dirpath = dirpath
        self.every_minutes = every_minutes
        self._last_write = time.monotonic()
        self._states_to_restore: list[dict[str, Any]] | None = None  # by rank

    @property
    def path(self) -> Path:
        if self.dirpath is None:
            raise RuntimeError("LastCheckpoint.dirpath is set when training starts")
        return Path(self.dirpath) / LAST_NAME

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.dirpath is None:
            self.dirpath = str(Path(trainer.default_root_dir) / "checkpoints")
        # Last of all callbacks, so that at an epoch's end the other checkpoint callbacks have updated their state
        # (the best val/fid so far, ...) before it goes into last.ckpt. A new list, not an edit of the one
        # Lightning is iterating over to call this hook.
        trainer.callbacks = [c for c in trainer.callbacks if c is not self] + [self]  # type: ignore[attr-defined]

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._last_write = time.monotonic()
        states, self._states_to_restore = self._states_to_restore, None
        if states is not None and trainer.global_rank < len(states):
            set_rng_states(states[trainer.global_rank])  # a resumed run: this rank's states when it was saved

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        due = time.monotonic() - self._last_write >= 60.0 * self.every_minutes
        if trainer.world_size > 1:
            due = trainer.strategy.broadcast(due)  # every process must take part in the save
        if due:
            self.write(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.write(trainer)

    def write(self, trainer: Trainer) -> None:
        if getattr(trainer, "fast_dev_run", False):  # a smoke test leaves no checkpoint, like ModelCheckpoint
            return
        path = self.path
        partial = path.with_name(f".{path.name}.partial")
        # the module raises TrainingDiverged here, before anything non-finite is written
        trainer.save_checkpoint(partial, weights_only=False)
        if trainer.is_global_zero:
            replace_atomically(partial, path)
        trainer.strategy.barrier("last_checkpoint")
        self._last_write = time.monotonic()
        for callback in trainer.callbacks:  # type: ignore[attr-defined]
            # e.g. the run's config.yaml, which a resumed run replaces only once it has a checkpoint to match it
            written = getattr(callback, "on_last_checkpoint_written", None)
            if callable(written):
                written(trainer, path)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": from_every_rank(rng_states())}  # by rank: each process resumes with its own

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        states = state_dict.get("rng")
        self._states_to_restore = [states] if isinstance(states, dict) else states  # a dict: one process's
