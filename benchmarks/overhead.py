"""Time per training iteration: our DCGAN module under ``Trainer.fit`` against a plain PyTorch loop.

Both sides use the same nets (the default recipe's DCGAN, width 64, latent 100, 28x28), the same data (the
shipped Fashion-MNIST, batch 64, same sampler), the same optimisers (Adam 2e-4, betas (0.5, 0.999)), the
same loss (non-saturating) and the same step: one D step on a detached fake, one G step reusing the fake.
Runs are interleaved (plain, lean Lightning, Lightning with progress bar + CSV logging, repeat) so that
machine noise hits all of them alike; the first ``--warmup`` iterations of each run are not timed.

    python benchmarks/overhead.py                      # 3 rounds x 150 timed iterations
    python benchmarks/overhead.py --rounds 5 --steps 300 --out benchmarks/results/overhead.json
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from jsonargparse import CLI
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
from lightning.pytorch.loggers import CSVLogger

from lightning_gans.core.module import adam_2e4_beta05
from lightning_gans.data.idx import FashionMNISTDataModule
from lightning_gans.losses import NonSaturatingLoss
from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator
from lightning_gans.variants.dcgan import DCGAN

BATCH_SIZE = 64


def nets() -> tuple[DCGANGenerator, DCGANDiscriminator]:
    return DCGANGenerator(latent_dim=100, width=64), DCGANDiscriminator(width=64)


def data() -> FashionMNISTDataModule:
    module = FashionMNISTDataModule(batch_size=BATCH_SIZE)
    module.setup("fit")
    return module


class IterationClock(Callback):
    """Wall time from the start of batch ``warmup`` to the start of batch ``warmup + steps``."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps = warmup, steps
        self.started = self.seconds = 0.0

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        if batch_idx == self.warmup:
            self.started = time.perf_counter()
        elif batch_idx == self.warmup + self.steps:
            self.seconds = time.perf_counter() - self.started
            trainer.should_stop = True


def lightning_run(warmup: int, steps: int, conveniences: bool) -> float:
    seed_everything(0)
    generator, discriminator = nets()
    model = DCGAN(generator, discriminator, NonSaturatingLoss())
    clock = IterationClock(warmup, steps)
    with tempfile.TemporaryDirectory() as root:
        trainer = Trainer(
            accelerator="cpu",
            max_steps=2 * (warmup + steps + 1),  # two optimiser steps per iteration
            logger=CSVLogger(root) if conveniences else False,
            enable_progress_bar=conveniences,
            enable_checkpointing=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
            callbacks=[clock],
            default_root_dir=root,
        )
        trainer.fit(model, data())
    return clock.seconds / steps


def plain_run(warmup: int, steps: int) -> float:
    """The same algorithm written as a plain PyTorch loop."""
    seed_everything(0)
    generator, discriminator = nets()
    g_opt, d_opt = adam_2e4_beta05(generator.parameters()), adam_2e4_beta05(discriminator.parameters())
    loss = NonSaturatingLoss()
    noise = torch.Generator().manual_seed(0)
    generator.train(), discriminator.train()
    started = 0.0
    for i, (real, _) in enumerate(data().train_dataloader()):
        if i == warmup:
            started = time.perf_counter()
        if i == warmup + steps:
            return (time.perf_counter() - started) / steps
        fake = generator(torch.randn(real.shape[0], 100, generator=noise))
        d_loss = loss.d_loss(discriminator(real), discriminator(fake.detach()))
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        for p in discriminator.parameters():  # what toggled_optimizer does, so both sides skip D's grads
            p.requires_grad_(False)
        g_loss = loss.g_loss(discriminator(fake))
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        for p in discriminator.parameters():
            p.requires_grad_(True)
    raise RuntimeError("the epoch ended before the timed iterations did; lower --warmup/--steps")


def main(rounds: int = 3, steps: int = 100, warmup: int = 10, out: str = "benchmarks/results/overhead.json") -> None:
    """Interleave the three runs ``rounds`` times; print a table and write JSON to ``out``."""
    if warmup + steps >= 9000 // BATCH_SIZE:
        raise ValueError(f"warmup + steps must stay inside one epoch ({9000 // BATCH_SIZE} batches)")
    runs: dict[str, list[float]] = {"plain PyTorch loop": [], "Lightning, lean": [], "Lightning, bar + CSV": []}
    for r in range(rounds):
        runs["plain PyTorch loop"].append(plain_run(warmup, steps))
        runs["Lightning, lean"].append(lightning_run(warmup, steps, conveniences=False))
        runs["Lightning, bar + CSV"].append(lightning_run(warmup, steps, conveniences=True))
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1] * 1e3:.1f} ms" for k, v in runs.items()))
    plain = statistics.median(runs["plain PyTorch loop"])
    protocol = {
        "what": "wall seconds per training iteration (1 D step + 1 G step), median over rounds",
        "nets": "DCGANGenerator(latent 100, width 64) / DCGANDiscriminator(width 64), 28x28x1",
        "data": "shipped Fashion-MNIST t10k (9k train split), batch 64",
        "optimisers": "Adam(2e-4, betas=(0.5, 0.999)) for both",
        "rounds": rounds,
        "timed_iterations_per_run": steps,
        "warmup_iterations": warmup,
        "torch_threads": torch.get_num_threads(),
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, no GPU",
        "versions": {"torch": torch.__version__, "lightning": __import__("lightning").__version__},
    }
    rows = []
    print("\n" + "\n".join(f"{k}: {v}" for k, v in protocol.items()))
    print(f"\n{'run':<24}{'ms/iter (median)':>18}{'min':>9}{'max':>9}{'ratio':>8}")
    for name, times in runs.items():
        median = statistics.median(times)
        rows.append({"run": name, "seconds_per_iter": times, "median": median, "ratio_to_plain": median / plain})
        print(f"{name:<24}{median * 1e3:>18.2f}{min(times) * 1e3:>9.2f}{max(times) * 1e3:>9.2f}{median / plain:>8.3f}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"protocol": protocol, "rows": rows, "target_ratio": 1.05}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    CLI(main)
