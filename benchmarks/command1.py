"""How long README command 1's training takes: the default recipe, as written, in a fresh run folder.

    python benchmarks/command1.py            # about 5 minutes on 2 CPU cores

Protocol: `lightning-gans fit --config recipes/dcgan_fashion_mnist.yaml` exactly as README command 1 runs it (the
recipe's 30 epochs, the shipped Fashion-MNIST, W&B offline), in a fresh temporary run folder, once. Recorded: wall
seconds of the command, the CPU seconds it used (user + system of the child, from `os.wait4`), the machine (CPU
model, cores, memory), the 1-minute load average just before the start (what else ran: about 0 means nothing),
and the run's best val/fid. The install half of command 1 is not timed (it depends on the network and pip's cache).
README's figure is this file's, with the machine beside it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from cpu_budget import cpu_model
from run_folders import report

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/command1.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "run"
        command = [str(Path(sys.executable).parent / "lightning-gans"), "fit", "--config",
                   str(REPO / "recipes/dcgan_fashion_mnist.yaml"), "--trainer.default_root_dir", str(root)]  # fmt: skip
        load = os.getloadavg()[0]
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, env={**os.environ, "WANDB_MODE": "offline"},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"command 1 failed: {child.stderr.read().decode()[-2000:] if child.stderr else ''}")
        state = torch.load(root / "checkpoints/last.ckpt", weights_only=True)
        scores = [s["best_model_score"] for k, s in state["callbacks"].items() if "val/fid" in k]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    row = {"wall_s": wall, "wall_min": wall / 60, "cpu_s": usage.ru_utime + usage.ru_stime,
           "best_val_fid": float(scores[0]) if scores else None, "epochs": state["epoch"] + 1}  # fmt: skip
    machine = f"{cpu_model()}, {os.cpu_count()} cores, {memory:.0f} GiB"
    report(__doc__, root, {"command 1 (fit)": row}, Path(args.out), machine=machine, load_before=load,
           command=" ".join(["lightning-gans", *command[1:3], "recipes/dcgan_fashion_mnist.yaml"]))  # fmt: skip


if __name__ == "__main__":
    main()
