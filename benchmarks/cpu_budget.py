"""What the equal-CPU benchmarks (``fashion_quality.py``, ``stacked_mnist.py``) share: one thread and quiet
logs per process, and a recipe trained by ``lightning-gans fit`` until its process has used a CPU budget."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def quiet() -> None:
    """One thread, no W&B, no warnings or Lightning info lines: the process only trains and prints results."""
    torch.set_num_threads(1)
    os.environ["WANDB_MODE"] = "disabled"
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def fit_recipe(config: Path, options: list[str], seed: int, cpu_seconds: float) -> tuple[Any, Any]:
    """``(model, trainer)`` after fitting the recipe ``config`` (plus command-line ``options``) on the CPU until
    this process has used ``cpu_seconds`` of CPU time, counted from process start (``CPUBudget``).

    The recipe runs as written except: seed ``seed`` for the run and its data, the CPU (the budget is CPU
    time), no validation, checkpoints, logger, progress bar or model summary, and a run folder that is deleted.
    """
    from lightning_gans.lightning_cli import run_lightning_cli

    budget = [{"class_path": "lightning_gans.callbacks.CPUBudget", "init_args": {"seconds": cpu_seconds}}]
    with tempfile.TemporaryDirectory() as run_dir:
        cli = run_lightning_cli(
            ["fit", "--config", str(config), *options]
            + ["--seed_everything", str(seed), "--data.init_args.seed", str(seed)]
            + ["--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.logger", "false"]
            + ["--trainer.callbacks", json.dumps(budget), "--trainer.enable_checkpointing", "false"]
            + ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
            + ["--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0"]
            + ["--trainer.max_epochs", "10000", "--trainer.default_root_dir", run_dir]
        )
    return cli.model, cli.trainer


def earlier_rows(
    path: Path, protocol: dict[str, Any], varying: set[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(protocol, rows) of the results file at ``path`` (empty when there is none), so a benchmark run row by
    row keeps what it measured before; refused when the file's protocol differs from ``protocol`` in a key
    outside ``varying`` (the machine and the like), rather than mixing rows of two protocols or overwriting."""
    if not path.is_file():
        return {}, []
    earlier = json.loads(path.read_text())
    differ = sorted(k for k in {*earlier["protocol"], *protocol} - varying
                    if earlier["protocol"].get(k) != protocol.get(k))  # fmt: skip
    if differ:
        raise SystemExit(f"{path} holds rows measured under another protocol ({', '.join(differ)} differ): "
                         "pass the options they were measured with, or another --out")  # fmt: skip
    return earlier["protocol"], earlier["results"]


def run_rows(
    run_row: Callable[[Any], dict[str, Any]],
    jobs: list[Any],
    processes: int,
    path: Path,
    protocol: dict[str, Any],
    order: Callable[[dict[str, Any]], Any],
    kept: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Each job in a fresh spawned process (``processes`` at a time); the results so far (after ``kept``, the
    earlier rows of the same protocol), sorted by ``order``, are written to ``path`` with the protocol after
    every row, so a stopped benchmark keeps what it measured."""
    results: list[dict[str, Any]] = list(kept or [])
    path.parent.mkdir(parents=True, exist_ok=True)
    with mp.get_context("spawn").Pool(processes, maxtasksperchild=1) as pool:
        for result in pool.imap_unordered(run_row, jobs):
            results.append(result)
            results.sort(key=order)
            path.write_text(json.dumps({"protocol": protocol, "results": results}, indent=2) + "\n")
    return results
