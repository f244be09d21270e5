"""Time per training iteration: our DCGAN module under ``Trainer.fit`` against a plain PyTorch loop.

Both sides use the same nets (the default recipe's DCGAN, width 64, latent 100, 28x28), the same data (the
shipped Fashion-MNIST, batch 64, same sampler), the same optimisers (Adam 2e-4, betas (0.5, 0.999)), the
same loss (non-saturating) and the same step: one D step on a detached fake, one G step reusing the fake.
Runs are interleaved (plain, lean Lightning, Lightning with progress bar + CSV logging; the order rotates
each round) so that machine noise hits all of them alike; the first ``--warmup`` iterations of each run are
not timed. The headline is the paired ratio: the median over rounds of (Lightning / plain in that round).

    python benchmarks/overhead.py                      # 3 rounds x 100 timed iterations
    python benchmarks/overhead.py --rounds 11 --steps 120 --out benchmarks/results/overhead.json
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


class Stopwatch:
    """Wall and process-CPU seconds per iteration between ``start()`` and ``stop()``."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.wall = self.cpu = 0.0

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return (time.perf_counter() - self.wall) / self.steps, (time.process_time() - self.cpu) / self.steps


class IterationClock(Callback):
    """Times from the start of batch ``warmup`` to the start of batch ``warmup + steps``."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.watch = warmup, Stopwatch(steps)
        self.result = (0.0, 0.0)

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        if batch_idx == self.warmup:
            self.watch.start()
        elif batch_idx == self.warmup + self.watch.steps:
            self.result = self.watch.stop()
            trainer.should_stop = True


def lightning_run(warmup: int, steps: int, conveniences: bool) -> tuple[float, float]:
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
    return clock.result


def plain_run(warmup: int, steps: int) -> tuple[float, float]:
    """The same algorithm written as a plain PyTorch loop."""
    seed_everything(0)
    generator, discriminator = nets()
    g_opt, d_opt = adam_2e4_beta05(generator.parameters()), adam_2e4_beta05(discriminator.parameters())
    loss = NonSaturatingLoss()
    noise = torch.Generator().manual_seed(0)
    generator.train(), discriminator.train()
    watch = Stopwatch(steps)
    for i, (real, _) in enumerate(data().train_dataloader()):
        if i == warmup:
            watch.start()
        if i == warmup + steps:
            return watch.stop()
        fake = generator(torch.randn(real.shape[0], 100, generator=noise))
        d_loss = loss.d_loss(discriminator(real), discriminator(fake.detach()))
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        for p in discriminator.parameters():  # what toggled_optimizer does, so both sides skip D's grads
            p.requires_grad_(False)
        g_loss = loss.g_loss(None, discriminator(fake))  # non-saturating: no real logits needed
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
    runners = {
        "plain PyTorch loop": lambda: plain_run(warmup, steps),
        "Lightning, lean": lambda: lightning_run(warmup, steps, conveniences=False),
        "Lightning, bar + CSV": lambda: lightning_run(warmup, steps, conveniences=True),
    }
    wall: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order against drift
            seconds, cpu_seconds = runners[name]()
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1] * 1e3:.1f} ms" for k, v in wall.items()))
    protocol = {
        "what": "seconds per training iteration (1 D step + 1 G step): wall and process CPU, over rounds",
        "headline": "paired ratio = median over rounds of (run / plain loop in the same round), wall time",
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
    print("\n" + "\n".join(f"{k}: {v}" for k, v in protocol.items()))
    plain = "plain PyTorch loop"
    print(
        f"\n{'run':<22}{'wall ms/iter':>13}{'min':>7}{'max':>7}{'paired ratio':>14}{'CPU ms/iter':>13}{'CPU ratio':>11}"
    )
    rows = []
    for name in names:
        paired = statistics.median(t / p for t, p in zip(wall[name], wall[plain]))
        cpu_paired = statistics.median(t / p for t, p in zip(cpu[name], cpu[plain]))
        median, cpu_median = statistics.median(wall[name]), statistics.median(cpu[name])
        rows.append(
            {"run": name, "wall_seconds_per_iter": wall[name], "cpu_seconds_per_iter": cpu[name],
             "wall_median": median, "cpu_median": cpu_median, "paired_wall_ratio": paired,
             "paired_cpu_ratio": cpu_paired}
        )  # fmt: skip
        print(
            f"{name:<22}{median * 1e3:>13.2f}{min(wall[name]) * 1e3:>7.1f}{max(wall[name]) * 1e3:>7.1f}"
            f"{paired:>14.3f}{cpu_median * 1e3:>13.2f}{cpu_paired:>11.3f}"
        )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"protocol": protocol, "rows": rows, "target_ratio": 1.05}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    CLI(main)
