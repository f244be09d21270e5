"""What a ``kill -9`` costs: the default recipe is killed at random moments and resumed with ``--ckpt_path last``.

    python benchmarks/crash_resume.py --trials 3 --every_minutes 0.1

Protocol: the default recipe (DCGAN on the shipped Fashion-MNIST, width 64, batch 64), capped to 2 epochs of 60
batches with one validation (5000-sample metrics) per epoch, ``LastCheckpoint(every_minutes=...)``, seed 0, one
training process at a time with OMP_NUM_THREADS=1. One uninterrupted run is the reference. Each trial starts the
same run, sends SIGKILL at a uniformly random moment between 30 % and 90 % of the reference's wall time, and
reads ``last.ckpt`` at that instant: "lost" is the wall time since it was written (the training the crash cost,
plus any validation pass in between, which writes nothing) and "step_in_last" its global step. Then
``--ckpt_path last`` finishes the run, and every tensor of its final checkpoint (weights, EMA, batch-norm
buffers, optimiser states, step counters) is compared with the reference's.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from run_folders import report

from lightning_gans.checkpoints import read_checkpoint, state_tensors

REPO = Path(__file__).resolve().parents[1]
CAP = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "60", "--trainer.limit_val_batches", "2",
       "--trainer.check_val_every_n_epoch", "1"]  # fmt: skip
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}


def command(root: Path, minutes: float, *extra: str) -> list[str]:
    recipe = REPO / "recipes/dcgan_fashion_mnist.yaml"
    # the recipe's callbacks, with LastCheckpoint's interval replaced
    callbacks = (
        (REPO / "recipes/_shared/callbacks.yaml").read_text().replace("every_minutes: 2.0", f"every_minutes: {minutes}")
    )
    (root.parent / "_shared").mkdir(exist_ok=True)
    (root.parent / "_shared/callbacks.yaml").write_text(callbacks)
    (root.parent / "_shared/wandb.yaml").write_text((REPO / "recipes/_shared/wandb.yaml").read_text())
    (root.parent / "recipe.yaml").write_text(recipe.read_text())
    return [sys.executable, "-m", "lightning_gans", "fit", "--config", str(root.parent / "recipe.yaml"), *CAP,
            "--trainer.default_root_dir", str(root), *extra]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--every_minutes", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0, help="of the kill moments")
    parser.add_argument("--out", default="benchmarks/results/crash_resume.json")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "reference" / "run"
        reference.parent.mkdir()
        start = time.monotonic()
        subprocess.run(command(reference, args.every_minutes), env=ENV, check=True, capture_output=True)
        wall = time.monotonic() - start
        expected = state_tensors(read_checkpoint(reference / "checkpoints/last.ckpt"))
        rows["uninterrupted"] = {"wall_s": round(wall, 1)}
        for trial in range(args.trials):
            root = Path(tmp) / f"trial{trial}" / "run"
            root.parent.mkdir()
            kill_after = rng.uniform(0.3, 0.9) * wall
            process = subprocess.Popen(command(root, args.every_minutes), env=ENV, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(kill_after)
            os.kill(process.pid, signal.SIGKILL)
            killed_at = time.time()
            process.wait()
            last = root / "checkpoints/last.ckpt"
            row: dict[str, Any] = {"killed_after_s": round(kill_after, 1)}
            if not last.is_file():
                row["result"] = "no last.ckpt yet (killed before the first write)"
                rows[f"trial {trial}"] = row
                continue
            row["lost_s"] = round(killed_at - last.stat().st_mtime, 1)
            row["step_in_last"] = torch.load(last, weights_only=True)["global_step"]
            subprocess.run(command(root, args.every_minutes, "--ckpt_path", "last"), env=ENV, check=True,
                           capture_output=True)  # fmt: skip
            resumed = state_tensors(read_checkpoint(last))
            different = [k for k in expected if not torch.equal(expected[k], resumed[k])]
            row["equal_tensors"] = f"{len(expected) - len(different)}/{len(expected)}"
            row["max_abs_diff"] = max((float((expected[k] - resumed[k]).abs().max()) for k in different), default=0.0)
            rows[f"trial {trial}"] = row
    report(__doc__, Path("(temporary)"), rows, Path(args.out), every_minutes=args.every_minutes)


if __name__ == "__main__":
    main()
