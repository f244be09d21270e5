"""The GPU check of issue 29: what one GPU gives through Lightning, each check recorded to JSON even when it fails.

    bash benchmarks/gpu_check.sh                       # on a machine with a CUDA GPU, under 10 minutes
    GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh       # the same checks, tiny, on the CPU: tries the script out

Protocol: synthetic RGB images in [-1, 1] (2,048 of them, kept on the host like a data set; what is measured is the
training step, not a decoder), batch 128, one process, one GPU. Checks:
* ``dcgan64_bf16``: DCGAN-64 (the paper's nets: width 64, latent 100, 3x64x64) under ``Trainer.fit`` with
  ``precision="bf16-mixed"`` against a raw PyTorch loop of the same nets, optimisers (Adam 2e-4, betas 0.5/0.999),
  loss (non-saturating) and step (D on a detached fake, G reusing it) under bf16 autocast, in the same process;
  images/s after a warm-up, and the ratio (goal >= 0.95);
* ``wgan_gp_16_mixed``: ``wgan_gp`` with ``precision="16-mixed"`` (the gradient penalty's double backward under the
  grad scaler): every weight finite after training, and a resume from its ``last.ckpt`` that trains on;
* ``no_sync_per_step``: the default DCGAN under ``torch.cuda.set_sync_debug_mode("warn")`` with the divergence watch
  on: the number of synchronising calls warned about per training step after the warm-up (goal: 0);
* ``compile_gain``: DCGAN-64 bf16 images/s with ``CompileNets`` against without;
* ``onnx_cuda``: the DCGAN generator's ONNX file on onnxruntime's CUDA provider, if installed, against PyTorch;
* ``stylegan``/``r3gan`` at 64 and 128 px: step time and peak GPU memory (``torch.cuda.max_memory_allocated``).
Written to ``benchmarks/results/gpu_check.json`` (``--out``), with the GPU's name and the torch version.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans import registry
from lightning_gans.callbacks import CompileNets
from lightning_gans.callbacks.checkpoint import LastCheckpoint
from lightning_gans.data.base import GANDataModule

DRY = os.environ.get("GPU_CHECK_DRY", "") not in ("", "0")
ACCELERATOR = "cpu" if DRY else "gpu"
DEVICE = torch.device("cpu" if DRY else "cuda")
BATCH = 8 if DRY else 128
STEPS, WARMUP = (6, 2) if DRY else (120, 30)
SIZES = (16,) if DRY else (64, 128)
DCGAN_SIZE = 16 if DRY else 64
REPO = Path(__file__).resolve().parents[1]


class RandomImages(GANDataModule):
    def __init__(self, size: int, n: int = 2048) -> None:
        super().__init__(BATCH, num_workers=0, seed=0)
        images = torch.rand(64 if DRY else n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.train_set = self.val_set = TensorDataset(images, torch.zeros(len(images), dtype=torch.long))


class StepTimer(Callback):
    """Wall seconds from the start of batch ``WARMUP`` to the end of training, synchronised."""

    def __init__(self) -> None:
        self.start = self.seconds = 0.0
        self.steps = 0

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step // 2 == WARMUP and not self.start:  # manual optimisation: 2 optimiser steps a batch
            synchronise()
            self.start, self.steps = time.perf_counter(), 0
        self.steps += 1

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        synchronise()
        self.seconds = time.perf_counter() - self.start


def synchronise() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


DISCRIMINATORS = {"stylegan": "progan"}  # the variant's own default discriminator, where it has none of its name


def nets(name: str, size: int) -> dict[str, Any]:
    return {"generator": registry.generators.create(name, image_size=size, channels=3),
            "discriminator": registry.discriminators.create(DISCRIMINATORS.get(name, name), image_size=size,
                                                            channels=3)}  # fmt: skip


def trainer(precision: str, callbacks: list[Callback], root: Path, steps: int = STEPS) -> Trainer:
    return Trainer(accelerator=ACCELERATOR, devices=1, precision=precision, max_steps=2 * steps, logger=False,  # type: ignore[arg-type]
                   enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                   num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=root, callbacks=callbacks)  # fmt: skip


def lightning_images_per_s(model: LightningModule, size: int, root: Path, extra: list[Callback] | None = None) -> float:
    timer = StepTimer()
    trainer("bf16-mixed", [timer, *(extra or [])], root).fit(model, RandomImages(size))
    return BATCH * (timer.steps - 1) / timer.seconds


def raw_images_per_s(generator: torch.nn.Module, discriminator: torch.nn.Module, size: int) -> float:
    """The same step in plain PyTorch: D on a detached fake, then G reusing the fake, under bf16 autocast."""
    generator, discriminator = generator.to(DEVICE), discriminator.to(DEVICE)
    g_opt = torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.5, 0.999))
    loader = DataLoader(RandomImages(size).train_set, batch_size=BATCH, shuffle=True, drop_last=True)  # type: ignore[arg-type]
    batches, done, start = iter(()), 0, 0.0
    while done < STEPS:
        try:
            real, _ = next(batches)
        except StopIteration:
            batches = iter(loader)
            continue
        if done == WARMUP:
            synchronise()
            start = time.perf_counter()
        real = real.to(DEVICE, non_blocking=True)
        with torch.autocast(DEVICE.type, dtype=torch.bfloat16):
            fake = generator(torch.randn(len(real), generator.latent_dim, device=DEVICE))
            d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake.detach())).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        with torch.autocast(DEVICE.type, dtype=torch.bfloat16):
            g_loss = F.softplus(-discriminator(fake)).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        done += 1
    synchronise()
    return BATCH * (STEPS - WARMUP) / (time.perf_counter() - start)


def check_dcgan64_bf16(root: Path) -> dict[str, Any]:
    seed_everything(0)
    parts = nets("dcgan", DCGAN_SIZE)
    raw = raw_images_per_s(copy.deepcopy(parts["generator"]), copy.deepcopy(parts["discriminator"]), DCGAN_SIZE)
    ours = lightning_images_per_s(registry.variants.create("dcgan", **parts), DCGAN_SIZE, root)
    return {"lightning_images_per_s": ours, "raw_images_per_s": raw, "ratio": ours / raw, "goal": 0.95}


def check_wgan_gp_16_mixed(root: Path) -> dict[str, Any]:
    if DRY:
        return {"skipped": "16-mixed needs a GPU"}
    seed_everything(0)
    last = LastCheckpoint(dirpath=str(root / "checkpoints"))
    model = registry.variants.create("wgan_gp", **nets("dcgan", DCGAN_SIZE))
    trainer("16-mixed", [last], root, steps=40).fit(model, RandomImages(DCGAN_SIZE))
    finite = all(torch.isfinite(p).all() for p in model.parameters())
    resumed = registry.variants.create("wgan_gp", **nets("dcgan", DCGAN_SIZE))
    again = trainer("16-mixed", [LastCheckpoint(dirpath=str(root / "checkpoints"))], root, steps=60)
    again.fit(resumed, RandomImages(DCGAN_SIZE), ckpt_path=str(last.path))
    return {"finite_after_training": bool(finite), "resumed_to_step": again.global_step,
            "finite_after_resume": bool(all(torch.isfinite(p).all() for p in resumed.parameters()))}  # fmt: skip


class SyncWarnings(Callback):
    """Counts the synchronising calls that ``set_sync_debug_mode("warn")`` reports in training steps after the
    warm-up."""

    def __init__(self) -> None:
        self.recorded: list[str] = []
        self.steps = 0
        self.catcher: Any = None

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        if batch_idx >= WARMUP and self.catcher is None:
            self.catcher = warnings.catch_warnings(record=True)
            self.log = self.catcher.__enter__()
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
        if self.catcher is not None:
            self.steps += 1

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.catcher is not None:
            torch.cuda.set_sync_debug_mode("default")
            self.recorded = [str(w.message).splitlines()[0] for w in self.log if "synchroniz" in str(w.message)]
            self.catcher.__exit__(None, None, None)


def check_no_sync_per_step(root: Path) -> dict[str, Any]:
    if DRY:
        return {"skipped": "sync debug mode needs a GPU"}
    seed_everything(0)
    watch = SyncWarnings()
    trainer("bf16-mixed", [watch], root).fit(registry.variants.create("dcgan"), RandomImages(28))
    calls = sorted(set(watch.recorded))
    return {"steps_watched": watch.steps, "sync_warnings": len(watch.recorded),
            "per_step": len(watch.recorded) / max(watch.steps, 1), "distinct": calls[:10], "goal": 0}  # fmt: skip


def check_compile_gain(root: Path) -> dict[str, Any]:
    seed_everything(0)
    parts = nets("dcgan", DCGAN_SIZE)
    eager = lightning_images_per_s(registry.variants.create("dcgan", **copy.deepcopy(parts)), DCGAN_SIZE, root)
    torch._dynamo.reset()
    compiled = lightning_images_per_s(registry.variants.create("dcgan", **parts), DCGAN_SIZE, root, [CompileNets()])
    return {"eager_images_per_s": eager, "compiled_images_per_s": compiled, "gain": compiled / eager}


def check_onnx_cuda(root: Path) -> dict[str, Any]:
    try:
        import onnxruntime
    except ImportError:
        return {"skipped": "onnxruntime is not installed (pip install 'lightning-gans[onnx]' or onnxruntime-gpu)"}
    providers = onnxruntime.get_available_providers()
    provider = "CPUExecutionProvider" if DRY else "CUDAExecutionProvider"
    if provider not in providers:
        return {"skipped": f"{provider} is not available (providers: {providers}): install onnxruntime-gpu"}
    from lightning_gans.onnx_export import example_inputs, export_onnx

    generator = registry.generators.create("dcgan", image_size=DCGAN_SIZE, channels=3).eval()
    path = export_onnx(generator, root / "dcgan.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=[provider])
    (z,) = example_inputs(generator, batch=BATCH)
    start = time.perf_counter()
    (images,) = session.run(["images"], {"z": z.numpy()})
    seconds = time.perf_counter() - start
    with torch.no_grad():
        expected = generator(z)
    return {"provider": provider, "max_abs_difference": float((torch.from_numpy(images) - expected).abs().max()),
            "batch_seconds": seconds}  # fmt: skip


def check_step_cost(name: str, size: int, root: Path) -> dict[str, Any]:
    seed_everything(0)
    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    timer = StepTimer()
    model = registry.variants.create(name, **nets(name, size))
    # bf16 on a GPU; the CPU trial runs in float32 (the CPU has no bf16 bilinear resampling, which R3GAN uses)
    trainer("32-true" if DRY else "bf16-mixed", [timer], root).fit(model, RandomImages(size))
    peak = torch.cuda.max_memory_allocated() / 2**30 if DEVICE.type == "cuda" else None
    return {"step_ms": 1000 * timer.seconds / max(timer.steps - 1, 1), "peak_gib": peak, "batch": BATCH}


def main() -> None:
    out = Path(os.environ.get("GPU_CHECK_OUT", REPO / "benchmarks/results/gpu_check.json"))
    checks: dict[str, Callable[[Path], dict[str, Any]]] = {
        "dcgan64_bf16": check_dcgan64_bf16,
        "wgan_gp_16_mixed": check_wgan_gp_16_mixed,
        "no_sync_per_step": check_no_sync_per_step,
        "compile_gain": check_compile_gain,
        "onnx_cuda": check_onnx_cuda,
        **{
            f"{name}_{size}": (lambda root, n=name, s=size: check_step_cost(n, s, root))
            for name in ("stylegan", "r3gan")
            for size in SIZES
        },  # fmt: skip
    }
    results: dict[str, Any] = {
        "protocol": __doc__.split("Protocol:")[1].strip(),
        "device": "cpu (GPU_CHECK_DRY)" if DRY else torch.cuda.get_device_name(),
        "torch": torch.__version__, "machine": platform.machine(), "checks": {},
    }  # fmt: skip
    for name, check in checks.items():
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            try:
                result = check(Path(folder))
            except Exception as error:  # a failed check is a result too: the others still run
                result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-2000:]}
        result["seconds"] = time.perf_counter() - start
        results["checks"][name] = result
        print(f"{name}: {json.dumps({k: v for k, v in result.items() if k != 'traceback'}, default=str)}", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")  # after every check: a timeout keeps them
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
