"""Is bulk generation bounded by the generator or by writing? `lightning-gans predict` against the forward pass.

    python benchmarks/predict_throughput.py                    # 50k samples, about 3 minutes on 2 CPU cores
    python benchmarks/predict_throughput.py --num_samples 5000

Protocol: the default recipe's DCGAN (latent 100, width 64, 28x28; a checkpoint of a one-batch fit: the cost of a
forward pass does not depend on what the weights learnt). Rows: the EMA generator's forward pass alone on
`--num_samples` seeded latents in batches of 500 (eval mode, no_grad, this process, the default torch threads);
`lightning-gans predict --num_samples N --out DIR` (numbered PNGs), with `--npz true`, and with `--npz true --png
false` (the npz alone), each timed as
a whole command minus the same command for one sample (start-up, checkpoint loading), so that the row is the
generation and writing of N samples. images/s for each, and the ratio of the predict rows to the forward pass
(1.0: writing costs nothing on top). One process at a time on this machine's cores, nothing else running.
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
from run_folders import report

REPO = Path(__file__).resolve().parents[1]
RECIPE = str(REPO / "recipes/dcgan_fashion_mnist.yaml")


def cli(*args: str) -> float:
    """Wall seconds of `lightning-gans ARGS` in a child process."""
    start = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).parent / "lightning-gans"), *args], cwd=REPO,
                            env={**os.environ, "WANDB_MODE": "offline"}, capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"lightning-gans {' '.join(args)} failed: {result.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num_samples", type=int, default=50_000)
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/predict_throughput.json"))
    args = parser.parse_args()
    from lightning_gans.checkpoints import load_variant
    from lightning_gans.predict import SeededLatents

    n = args.num_samples
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "run"
        cli(
            "fit",
            "--config",
            RECIPE,
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "1",
            "--trainer.limit_val_batches",
            "0",
            "--trainer.logger",
            "false",
            "--trainer.default_root_dir",
            str(root),
        )
        model = load_variant(root / "checkpoints/last.ckpt")
        latents = SeededLatents(n, model.latent_dim)
        z = torch.stack([latents[i]["z"] for i in range(n)])
        start = time.perf_counter()
        for chunk in z.split(500):
            model.generate(chunk)
        forward = time.perf_counter() - start
        base = ["predict", "--config", RECIPE, "--ckpt_path", "last", "--trainer.default_root_dir", str(root)]
        startup = cli(*base, "--num_samples", "1", "--out", f"{folder}/one")
        pngs = cli(*base, "--num_samples", str(n), "--out", f"{folder}/pngs") - startup
        npz = cli(*base, "--num_samples", str(n), "--out", f"{folder}/npz", "--npz", "true") - startup
        npz_only = cli(*base, "--num_samples", str(n), "--out", f"{folder}/npz_only", "--npz", "true",
                       "--png", "false") - startup  # fmt: skip
    rows = {
        "generator forward pass alone": {"seconds": forward, "images_per_s": n / forward, "vs_forward": 1.0},
        "predict, PNGs": {"seconds": pngs, "images_per_s": n / pngs, "vs_forward": pngs / forward},
        "predict, PNGs + npz": {"seconds": npz, "images_per_s": n / npz, "vs_forward": npz / forward},
        "predict, npz only": {"seconds": npz_only, "images_per_s": n / npz_only, "vs_forward": npz_only / forward},
    }
    report(__doc__, Path("(temporary)"), rows, Path(args.out), num_samples=n, startup_s=startup,
           machine=f"{os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
