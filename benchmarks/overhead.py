"""Time per training iteration: our DCGAN module under ``Trainer.fit`` against a plain PyTorch loop.

Both sides use the same nets (the default recipe's DCGAN, width 64, latent 100, 28x28), the same data (the
shipped Fashion-MNIST, batch 64, same sampler), the same optimisers (Adam 2e-4, betas (0.5, 0.999)), the
same loss (non-saturating) and the same step: one D step on a detached fake, one G step reusing the fake.
Runs are interleaved (plain, lean Lightning, Lightning with progress bar + CSV logging, lean Lightning with
G and D compiled by ``CompileNets``; the order rotates each round) so that machine noise hits all of them alike;
the first ``--warmup`` iterations of each run are not timed. The headline is the paired ratio: the median over
rounds of (Lightning / plain in that round).

The compiled run starts each round from an empty dynamo cache (``torch._dynamo.reset()``), so every round
compiles within its warm-up (inductor's on-disk cache makes later rounds' compilations faster). Compilation
must finish inside the warm-up: the script counts the frames dynamo compiles inside the timed window and
refuses a compiled run that compiled there (raise ``--warmup``). The warm-up seconds, compilation included, are
reported for every run.

    python benchmarks/overhead.py                      # 3 rounds x 100 timed iterations
    python benchmarks/overhead.py --rounds 11 --steps 120 --out benchmarks/results/overhead.json
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from jsonargparse import CLI
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
from lightning.pytorch.loggers import CSVLogger

from lightning_gans.callbacks import CompileNets
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


def compiled_frames() -> int:
    """Frames torch.compile (dynamo) has compiled in this process so far (0 if it was never imported)."""
    dynamo_utils = sys.modules.get("torch._dynamo.utils")
    return int(dynamo_utils.counters["frames"]["ok"]) if dynamo_utils is not None else 0


class IterationClock(Callback):
    """Times from the start of batch ``warmup`` to the start of batch ``warmup + steps``; also the warm-up's wall
    seconds (from the first batch) and the frames dynamo compiled during the warm-up and the timed window."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.watch = warmup, Stopwatch(steps)
        self.result = (0.0, 0.0)
        self.warmup_seconds = 0.0
        self.frames = [0, 0, 0]  # compiled frames at the first batch, the start and the end of the timed window

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        if batch_idx == 0:
            self.frames[0], self.warmup_seconds = compiled_frames(), time.perf_counter()
        if batch_idx == self.warmup:
            self.frames[1], self.warmup_seconds = compiled_frames(), time.perf_counter() - self.warmup_seconds
            self.watch.start()
        elif batch_idx == self.warmup + self.watch.steps:
            self.result = self.watch.stop()
            self.frames[2] = compiled_frames()
            trainer.should_stop = True

    @property
    def frames_in_warmup(self) -> int:
        return self.frames[1] - self.frames[0]

    @property
    def frames_timed(self) -> int:
        return self.frames[2] - self.frames[1]


def lightning_run(warmup: int, steps: int, conveniences: bool, compiled: bool = False) -> IterationClock:
    """The lean (or, with ``conveniences``, progress bar + CSV) Lightning run; with ``compiled``, G and D are
    compiled by ``CompileNets`` (inductor) from an empty dynamo cache."""
    seed_everything(0)
    generator, discriminator = nets()
    model = DCGAN(generator, discriminator, NonSaturatingLoss())
    clock = IterationClock(warmup, steps)
    callbacks: list[Callback] = [clock]
    if compiled:
        callbacks.insert(0, CompileNets())
        torch._dynamo.reset()  # each round compiles within its own warm-up
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
            callbacks=callbacks,
            default_root_dir=root,
        )
        trainer.fit(model, data())
    if compiled and clock.frames_timed:
        raise RuntimeError(
            f"torch.compile compiled {clock.frames_timed} frame(s) inside the timed window: the warm-up of "
            f"{warmup} iterations did not cover compilation; raise --warmup"
        )
    return clock


Timing = tuple[tuple[float, float], float, int]  # (wall, CPU) seconds per iteration, warm-up seconds, frames compiled


def plain_run(warmup: int, steps: int) -> Timing:
    """The same algorithm written as a plain PyTorch loop."""
    seed_everything(0)
    generator, discriminator = nets()
    g_opt, d_opt = adam_2e4_beta05(generator.parameters()), adam_2e4_beta05(discriminator.parameters())
    loss = NonSaturatingLoss()
    noise = torch.Generator().manual_seed(0)
    generator.train(), discriminator.train()
    watch = Stopwatch(steps)
    warmup_start = warmup_seconds = 0.0
    for i, (real, _) in enumerate(data().train_dataloader()):
        if i == 0:
            warmup_start = time.perf_counter()
        if i == warmup:
            warmup_seconds = time.perf_counter() - warmup_start
            watch.start()
        if i == warmup + steps:
            return watch.stop(), warmup_seconds, 0
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


def from_clock(clock: IterationClock) -> Timing:
    return clock.result, clock.warmup_seconds, clock.frames_in_warmup


COMPILED = "Lightning, lean, compiled G+D"


def main(rounds: int = 3, steps: int = 100, warmup: int = 10, out: str = "benchmarks/results/overhead.json") -> None:
    """Interleave the four runs ``rounds`` times; print a table and write JSON to ``out``."""
    if warmup + steps >= 9000 // BATCH_SIZE:
        raise ValueError(f"warmup + steps must stay inside one epoch ({9000 // BATCH_SIZE} batches)")
    runners = {
        "plain PyTorch loop": lambda: plain_run(warmup, steps),
        "Lightning, lean": lambda: from_clock(lightning_run(warmup, steps, conveniences=False)),
        "Lightning, bar + CSV": lambda: from_clock(lightning_run(warmup, steps, conveniences=True)),
        COMPILED: lambda: from_clock(lightning_run(warmup, steps, conveniences=False, compiled=True)),
    }
    wall: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    warmups: dict[str, list[float]] = {name: [] for name in runners}
    frames: dict[str, list[int]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order against drift
            (seconds, cpu_seconds), warmup_seconds, compiled_in_warmup = runners[name]()
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
            warmups[name].append(warmup_seconds)
            frames[name].append(compiled_in_warmup)
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
        "compiled": f"{COMPILED}: CompileNets() (torch.compile, inductor, default mode) on G and D, compiled in "
        "the warm-up from an empty dynamo cache; no frame compiled inside the timed window (checked)",
        "torch_threads": torch.get_num_threads(),
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, no GPU",
        "versions": {"torch": torch.__version__, "lightning": __import__("lightning").__version__},
    }
    print("\n" + "\n".join(f"{k}: {v}" for k, v in protocol.items()))
    plain = "plain PyTorch loop"
    print(
        f"\n{'run':<31}{'wall ms/iter':>13}{'min':>7}{'max':>7}{'paired ratio':>14}{'CPU ms/iter':>13}{'CPU ratio':>11}"
        f"{'warm-up s':>11}"
    )
    rows = []
    for name in names:
        paired = statistics.median(t / p for t, p in zip(wall[name], wall[plain]))
        cpu_paired = statistics.median(t / p for t, p in zip(cpu[name], cpu[plain]))
        median, cpu_median = statistics.median(wall[name]), statistics.median(cpu[name])
        rows.append(
            {"run": name, "wall_seconds_per_iter": wall[name], "cpu_seconds_per_iter": cpu[name],
             "wall_median": median, "cpu_median": cpu_median, "paired_wall_ratio": paired,
             "paired_cpu_ratio": cpu_paired, "warmup_seconds": warmups[name],
             "frames_compiled_in_warmup": frames[name]}
        )  # fmt: skip
        print(
            f"{name:<31}{median * 1e3:>13.2f}{min(wall[name]) * 1e3:>7.1f}{max(wall[name]) * 1e3:>7.1f}"
            f"{paired:>14.3f}{cpu_median * 1e3:>13.2f}{cpu_paired:>11.3f}{statistics.median(warmups[name]):>11.1f}"
        )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"protocol": protocol, "rows": rows, "target_ratio": 1.05}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    CLI(main)
