"""The truncation curves: fidelity against diversity as psi shrinks, for the three kinds of truncation.

Train first, then measure every run folder under ``--runs`` whose model is one of these variants::

    lightning-gans fit --config recipes/stylegan_fashion_mnist.yaml    # truncation in W
    lightning-gans fit --config recipes/biggan_fashion_mnist.yaml      # truncated normal (resample |z_i| > psi)
    lightning-gans fit --config recipes/dcgan_fashion_mnist.yaml       # the same resampling, in a DCGAN's z
    python benchmarks/truncation.py --runs runs    # pip install matplotlib for the plot

Protocol, per run and psi: ``n_fake`` samples of ``last.ckpt``'s EMA generator (seeded latents, seed 0; a
conditional model draws every label equally often) against ``n_real`` images of the run's train split, in the
shipped Fashion-MNIST classifier's features: FID, IS, precision, recall, density and coverage (PRDC, k = 5),
and for a class-conditional model the share the classifier assigns to the label asked for. StyleGAN
truncates in W (w_avg + psi (w - w_avg), psi 1 = none); BigGAN and DCGAN redraw every coordinate of z with
|z_i| > psi (the truncated normal; "none" = plain N(0, I)). The plot (``truncation.png``) draws precision and
recall against psi for every run.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import torch
from run_folders import report, runs_of

from lightning_gans.checkpoints import load_variant
from lightning_gans.evaluate import datamodule_from, evaluate_checkpoint

REPO = Path(__file__).resolve().parents[1]
# variant -> (truncation mode, the psis measured; None = no truncation)
CURVES: dict[str, tuple[str, list[float | None]]] = {
    "StyleGAN": ("w", [1.0, 0.9, 0.8, 0.7, 0.5, 0.3]),
    "BigGAN": ("resample", [None, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3]),
    "DCGAN": ("resample", [None, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3]),
}
KEEP = ["fid", "is", "precision", "recall", "density", "coverage", "label_accuracy"]


def curve(run: Path, kind: str, n_real: int, n_fake: int) -> list[dict[str, Any]]:
    model = load_variant(run / "checkpoints/last.ckpt")
    data = datamodule_from(run / "config.yaml", None, None)
    mode, psis = CURVES[kind]
    metrics = "fid,is,prdc" + (",labels" if model.num_classes else "")
    points = []
    for psi in psis:
        results = evaluate_checkpoint(model, data, metrics, n_real=n_real, n_fake=n_fake, truncation=psi,
                                      truncation_mode=mode)["results"]  # fmt: skip
        points.append({"psi": "none" if psi is None else psi, **{k: results[k] for k in KEEP if k in results}})
        print(f"{run.name} psi={psi}: " + ", ".join(f"{k}={v:.4g}" for k, v in points[-1].items() if k != "psi"))
    return points


def plot(rows: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return
    figure, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.4), squeeze=False)
    for axis, (name, row) in zip(axes[0], rows.items()):
        points = [p for p in row["curve"] if p["psi"] != "none"]
        psis = [p["psi"] for p in points]
        for metric, style in (("precision", "o-"), ("recall", "s-"), ("coverage", "^--")):
            axis.plot(psis, [p[metric] for p in points], style, label=metric)
        axis.set_xlabel("psi (" + ("W" if row["mode"] == "w" else "truncated normal") + ")")
        axis.set_title(f"{name} ({row['variant']})", fontsize=9)
        axis.invert_xaxis()  # stronger truncation to the right
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(
    runs: Path = REPO / "runs",
    out: Path = REPO / "benchmarks/results/truncation.json",
    n_real: int = 10_000,
    n_fake: int = 10_000,
) -> None:
    """Measure a curve per run under ``runs``; print a table, write JSON and the plot beside it."""
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    rows: dict[str, Any] = {}
    for run, kind in runs_of(runs, list(CURVES)).items():
        start = time.time()
        points = curve(run, kind, n_real, n_fake)
        steps = load_variant(run / "checkpoints/last.ckpt").generator_steps
        rows[run.name] = {"variant": kind, "mode": CURVES[kind][0], "generator_steps": steps, "curve": points,
                          "seconds": round(time.time() - start, 1)}  # fmt: skip
    report(__doc__, runs, rows, out, n_real=n_real, n_fake=n_fake)
    plot(rows, out.with_suffix(".png"))


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(main)
