"""Stacked MNIST on one GPU at equal wall-clock time: r3gan against dcgan, in float32 or bf16-mixed.

The CPU benchmark (``benchmarks/stacked_mnist.py``) gives each row 15 CPU-minutes, a few thousand steps at
most; this one shows what the same models reach with the steps a GPU affords, and that the R1/R2 penalties
and differentiable augmentation stay finite under bf16 autocast on CUDA.

Protocol:
* models: the ``r3gan_stacked_mnist`` and ``dcgan_stacked_mnist`` recipes' models, built in Python (the same
  nets, losses, penalties, optimisers and EMA; ``--augment`` adds DiffAugment with ADA to r3gan);
* data: ``stacked_mnist`` (50,000 stacks of the 4,500 shipped training digits), batch 64;
* budget: ``--minutes`` of wall time of ``Trainer.fit`` per row (Lightning's ``max_time``), one GPU, no
  validation, checkpoints or logger;
* evaluation: 26,000 samples of the EMA generator from seeded latents, ``StackedMNISTModes``.

    python benchmarks/stacked_mnist_gpu.py --minutes 4 --precision bf16-mixed
"""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from jsonargparse import CLI
from lightning import Trainer, seed_everything

from lightning_gans.variants.gan import GAN

N_SAMPLES = 26_000


def build(row: str, augment: bool) -> GAN:
    from lightning_gans.augment import TRANSFORMS
    from lightning_gans.losses import NonSaturatingLoss
    from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator, R3GANDiscriminator, R3GANGenerator
    from lightning_gans.regularisers import Regularisation
    from lightning_gans.variants.dcgan import DCGAN
    from lightning_gans.variants.r3gan import R3GAN

    if row == "dcgan":
        generator = DCGANGenerator(latent_dim=100, channels=3, image_size=28, width=64)
        return DCGAN(generator, DCGANDiscriminator(channels=3, image_size=28, width=64), NonSaturatingLoss(),
                     ema_decay=0.999)  # fmt: skip
    # with augment: DiffAugment's transforms, their probability driven by ADA from 0
    augmentation: dict[str, Any] = {"augment": list(TRANSFORMS), "augment_p": 0.0, "ada_target": 0.6} if augment else {}
    regularisation = Regularisation(r1_gamma=0.1, r2_gamma=0.1, lazy_interval=4, **augmentation)
    return R3GAN(R3GANGenerator(latent_dim=64, channels=3), R3GANDiscriminator(channels=3),
                 regularisation=regularisation, ema_decay=0.999)  # fmt: skip


def run(row: str, minutes: float, precision: str, augment: bool, seed: int) -> dict[str, Any]:
    from lightning_gans.data.stacked_mnist import StackedMNISTDataModule
    from lightning_gans.metrics.stacked import StackedMNISTModes

    seed_everything(seed, verbose=False)
    model = build(row, augment)
    data = StackedMNISTDataModule(batch_size=64, seed=seed, num_workers=4)
    trainer = Trainer(accelerator="gpu", devices=1, precision=precision, max_epochs=-1,  # type: ignore[arg-type]
                      max_time=timedelta(minutes=minutes), logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                      num_sanity_val_steps=0)  # fmt: skip
    started = time.perf_counter()
    trainer.fit(model, data)
    seconds = time.perf_counter() - started
    metric = StackedMNISTModes().to(model.device)
    noise = torch.Generator().manual_seed(10_000 + seed)
    with torch.no_grad():
        for start in range(0, N_SAMPLES, 1000):
            z = torch.randn(min(1000, N_SAMPLES - start), model.latent_dim, generator=noise).to(model.device)
            metric.update(model.generate(z).float())
    scores = {k: float(v) for k, v in metric.compute().items()}
    weights_finite = all(torch.isfinite(p).all() for p in model.parameters())
    augment_p = None if model.augment is None else float(model.augment.p)
    return {"row": row + ("_ada" if augment and row == "r3gan" else ""), "precision": precision, "seed": seed,
            "fit_seconds": round(seconds, 1), "generator_steps": model.generator_steps,
            "steps_per_second": round(model.generator_steps / seconds, 2), "weights_finite": weights_finite,
            "augment_p": augment_p, **scores}  # fmt: skip


def main(
    rows: list[str] | None = None,
    minutes: float = 4.0,
    precision: str = "32-true",
    augment: bool = False,
    seed: int = 0,
    out: str = "benchmarks/results/stacked_mnist_gpu.json",
) -> None:
    """Train each row for ``minutes`` on the GPU, score 26k samples, print a table and write JSON."""
    if not torch.cuda.is_available():
        raise SystemExit(
            "no CUDA GPU: this benchmark measures GPU training (benchmarks/stacked_mnist.py is the CPU one)"
        )
    results = []
    for row in rows or ["r3gan", "dcgan"]:
        results.append(run(row, minutes, precision, augment, seed))
        print(json.dumps(results[-1]), flush=True)
    protocol = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "minutes": minutes,
        "precision": precision,
        "batch_size": 64,
        "n_samples": N_SAMPLES,
        "data": "stacked_mnist (shipped digits)",
    }
    print("\n| row | precision | fit s | G steps | steps/s | modes (of 1000) | KL | finite | augment p |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        p = "-" if r["augment_p"] is None else f"{r['augment_p']:.2f}"
        kl = r["kl"] if math.isfinite(r["kl"]) else float("inf")
        print(f"| {r['row']} | {r['precision']} | {r['fit_seconds']} | {r['generator_steps']} | "
              f"{r['steps_per_second']} | {r['modes']:.0f} | {kl:.3f} | {r['weights_finite']} | {p} |")  # fmt: skip
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"protocol": protocol, "results": results}, indent=2) + "\n")
    print(f"protocol: {json.dumps(protocol)}\nwrote {out}")


if __name__ == "__main__":
    CLI(main)
