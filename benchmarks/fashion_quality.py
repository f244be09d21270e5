"""Sample quality on Fashion-MNIST at equal CPU budget: every image recipe, a plain PyTorch DCGAN loop, and
the real-data floor.

Protocol:
* training data: the full Fashion-MNIST train split (60k; Debian's ``dataset-fashion-mnist`` files), the
  recipes' own nets, losses, optimisers, batch sizes and EMA, with ``--data.root`` pointed at it;
* budget: each training process stops at ``--cpu_minutes`` of process CPU time counted from process start
  (imports and data loading included), one thread per process, two processes at a time on 2 cores;
  recipes run with validation, checkpoints, logger and progress bar off (``CPUBudget`` callback);
* plain loop: the default recipe (``dcgan_fashion_mnist``) written as a plain PyTorch loop: the same nets,
  data module and batches, Adam 2e-4 (0.5, 0.999), non-saturating loss, fake made once per iteration, and
  the same EMA (0.999 with warm-up) for sampling;
* evaluation: 10k generated images (EMA generator, seeded latents) against the 10k test images, features of
  the shipped ``fashion_classifier``: FID, KID (100 subsets of 1000), precision/recall/density/coverage
  (k = 5), classes covered and class KL; the floor row scores 10k train images (a seeded choice) instead.

    python benchmarks/fashion_quality.py                                   # all rows, 10 CPU-minutes each
    python benchmarks/fashion_quality.py --rows '[plain_dcgan, dcgan]' --cpu_minutes 2
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
RECIPES = ["dcgan", "gan", "wgan", "wgan_gp", "lsgan", "hinge_sn"]
ROWS = ["real_floor", "plain_dcgan", *RECIPES]
METRICS = ["fid", "kid", "prdc", "classes"]
N_EVAL = 10_000


def quiet() -> None:
    torch.set_num_threads(1)
    os.environ["WANDB_MODE"] = "disabled"
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def reference(root: str) -> tuple[Any, Any]:
    from lightning_gans.data.idx import FashionMNISTDataModule

    data = FashionMNISTDataModule(root=root, batch_size=64)
    data.setup("fit")
    return data.train_set, data.val_set  # val_set is the 10k test split when root is given


def score(generate: Any, root: str, seed: int) -> dict[str, Any]:
    from lightning_gans.metrics.evaluation import SampleQuality, dataset_images

    _, test_set = reference(root)
    quality = SampleQuality(METRICS, "fashion_classifier", dataset_images(test_set, N_EVAL, seed), seed=seed)
    return quality.evaluate(generate, N_EVAL)


def batches_of(images: torch.Tensor) -> Any:
    """``take(n)``: the next ``n`` rows of ``images`` at each call (what ``SampleQuality.evaluate`` asks)."""
    position = 0

    def take(n: int) -> torch.Tensor:
        nonlocal position
        position += n
        return images[position - n : position]

    return take


def latent_batches(latent_dim: int, seed: int) -> Any:
    return batches_of(torch.randn(N_EVAL, latent_dim, generator=torch.Generator().manual_seed(seed)))


def real_floor(root: str, budget: float, seed: int) -> dict[str, Any]:
    from lightning_gans.metrics.evaluation import dataset_images

    train_set, _ = reference(root)
    return {"metrics": score(batches_of(dataset_images(train_set, N_EVAL, seed)), root, seed)}


def plain_dcgan(root: str, budget: float, seed: int) -> dict[str, Any]:
    """The default recipe as a plain PyTorch loop (no Lightning)."""
    from torch.optim.swa_utils import AveragedModel

    from lightning_gans.core.module import adam_2e4_beta05, ema_with_warmup
    from lightning_gans.data.idx import FashionMNISTDataModule
    from lightning_gans.losses import NonSaturatingLoss
    from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(seed)
    generator = DCGANGenerator(latent_dim=100, channels=1, image_size=28, width=64)
    discriminator = DCGANDiscriminator(channels=1, image_size=28, width=64)
    ema = AveragedModel(generator, multi_avg_fn=ema_with_warmup(0.999), use_buffers=True)
    g_opt, d_opt = adam_2e4_beta05(generator.parameters()), adam_2e4_beta05(discriminator.parameters())
    loss = NonSaturatingLoss()
    noise = torch.Generator().manual_seed(seed + 1)
    data = FashionMNISTDataModule(root=root, batch_size=64, seed=seed)
    data.setup("fit")
    loader = data.train_dataloader()
    steps, epoch = 0, 0
    while time.process_time() < budget:
        loader.sampler.set_epoch(epoch)  # type: ignore[union-attr]
        for real, _ in loader:
            fake = generator(torch.randn(real.shape[0], 100, generator=noise))
            d_loss = loss.d_loss(discriminator(real), discriminator(fake.detach()))
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            discriminator.requires_grad_(False)
            g_loss = loss.g_loss(None, discriminator(fake))  # non-saturating: no real logits needed
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            discriminator.requires_grad_(True)
            ema.update_parameters(generator)
            steps += 1
            if time.process_time() >= budget:
                break
        epoch += 1
    train_cpu = time.process_time()
    net = ema.module.eval()
    take = latent_batches(100, seed)
    with torch.no_grad():
        metrics = score(lambda n: net(take(n)), root, seed)
    return {"metrics": metrics, "train_cpu_s": round(train_cpu, 1), "generator_steps": steps, "epochs": epoch}


def recipe_row(name: str, root: str, budget: float, seed: int) -> dict[str, Any]:
    from lightning_gans.lightning_cli import run_lightning_cli

    with tempfile.TemporaryDirectory() as run_dir:
        cli = run_lightning_cli(
            [
                "fit",
                "--config",
                str(REPO / "recipes" / f"{name}_fashion_mnist.yaml"),
                "--seed_everything",
                str(seed),
                "--data.init_args.root",
                root,
                "--data.init_args.seed",
                str(seed),
                "--trainer.accelerator",
                "cpu",  # the budget is CPU time: the recipe must not run on a GPU the plain loop does not use
                "--trainer.devices",
                "1",
                "--trainer.logger",
                "false",
                "--trainer.callbacks",
                json.dumps([{"class_path": "lightning_gans.callbacks.CPUBudget", "init_args": {"seconds": budget}}]),
                "--trainer.enable_checkpointing",
                "false",
                "--trainer.enable_progress_bar",
                "false",
                "--trainer.enable_model_summary",
                "false",
                "--trainer.limit_val_batches",
                "0",
                "--trainer.num_sanity_val_steps",
                "0",
                "--trainer.max_epochs",
                "10000",
                "--trainer.default_root_dir",
                run_dir,
            ]
        )
    train_cpu = time.process_time()
    model = cli.model
    take = latent_batches(model.latent_dim, seed)  # type: ignore[attr-defined]
    metrics = score(lambda n: model.generate(take(n)), root, seed)  # type: ignore[attr-defined]
    return {
        "metrics": metrics,
        "train_cpu_s": round(train_cpu, 1),
        "generator_steps": model.generator_steps,  # type: ignore[attr-defined]
        "epochs": cli.trainer.current_epoch + 1,
    }


def run_row(job: tuple[str, str, float, int]) -> dict[str, Any]:
    row, root, budget, seed = job
    quiet()
    start = time.time()
    if row == "real_floor":
        result = real_floor(root, budget, seed)
    elif row == "plain_dcgan":
        result = plain_dcgan(root, budget, seed)
    else:
        result = recipe_row(row, root, budget, seed)
    result.update(row=row, seed=seed, wall_s=round(time.time() - start, 1), total_cpu_s=round(time.process_time(), 1))
    print(f"done {row} seed {seed}: FID {result['metrics']['fid']:.3f} ({result['wall_s']} s)", flush=True)
    return result


def table(results: list[dict[str, Any]]) -> str:
    columns = ["row", "train CPU s", "G steps", "FID", "KID x1e3", "precision", "recall", "density", "coverage",
               "classes", "class KL"]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in results:
        m = r["metrics"]
        lines.append(
            f"| {r['row']} (seed {r['seed']}) | {r.get('train_cpu_s', '-')} | {r.get('generator_steps', '-')} | "
            f"{m['fid']:.3f} | {1e3 * m['kid']:.2f} ± {1e3 * m['kid_std']:.2f} | {m['precision']:.3f} | "
            f"{m['recall']:.3f} | {m['density']:.3f} | {m['coverage']:.3f} | {m['classes_covered']:.0f} | "
            f"{m['class_kl']:.4f} |"
        )
    return "\n".join(lines)


def main(
    rows: list[str] | None = None,
    cpu_minutes: float = 10.0,
    seeds: int = 1,
    first_seed: int = 0,
    root: str = "/usr/share/datasets/fashion-mnist",
    processes: int = 2,
    out: str = "benchmarks/results/fashion_quality.json",
) -> None:
    """Train and score every row; print a table and write JSON (partial results after every row)."""
    chosen = rows or ROWS
    unknown = [r for r in chosen if r not in ROWS]
    if unknown:
        raise ValueError(f"unknown rows {unknown}; choose from {ROWS}")
    if not (Path(root) / "train-images-idx3-ubyte.gz").is_file():
        raise FileNotFoundError(f"no Fashion-MNIST train split in {root}: apt-get install dataset-fashion-mnist")
    budget = 60.0 * cpu_minutes
    # plain_dcgan and dcgan of a seed are queued back to back, so with 2 processes they run side by side:
    # CPU seconds per step depend on what shares the machine, and the pair must share it alike
    order = sorted(chosen, key=lambda r: (r not in ("plain_dcgan", "dcgan"), ROWS.index(r)))
    jobs = [(row, root, budget, seed) for seed in range(first_seed, first_seed + seeds) for row in order]
    protocol = {
        "cpu_budget_s": budget,
        "budget_counts": "process CPU seconds from process start, 1 thread per process",
        "train_data": f"{root} train split (60k)",
        "reference": f"{root} t10k split, {N_EVAL} images",
        "n_fake": N_EVAL,
        "feature_network": "fashion_classifier",
        "metrics": "FID; KID 100 subsets of 1000; precision/recall/density/coverage k=5; classes (min share 0.1)",
        "sampling": "EMA generator, seeded N(0, I) latents",
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {processes} processes",
        "torch": torch.__version__,
    }
    results: list[dict[str, Any]] = []
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with mp.get_context("spawn").Pool(processes, maxtasksperchild=1) as pool:
        for result in pool.imap_unordered(run_row, jobs):
            results.append(result)
            results.sort(key=lambda r: (r["seed"], ROWS.index(r["row"])))
            path.write_text(json.dumps({"protocol": protocol, "results": results}, indent=2) + "\n")  # so far
    print("\n" + table(results))
    for seed in range(first_seed, first_seed + seeds):
        fid = {r["row"]: r["metrics"]["fid"] for r in results if r["seed"] == seed}
        if "plain_dcgan" in fid and "dcgan" in fid:
            ratio = fid["dcgan"] / fid["plain_dcgan"]
            print(f"seed {seed}: dcgan recipe / plain loop FID ratio {ratio:.3f} (target <= 1)")
        variants = {k: v for k, v in fid.items() if k in RECIPES and math.isfinite(v)}
        if "plain_dcgan" in fid and variants:
            best = min(variants, key=variants.__getitem__)
            ratio = variants[best] / fid["plain_dcgan"]
            print(f"seed {seed}: best variant {best}, FID {variants[best]:.3f} = {ratio:.3f} x plain (target <= 0.5)")
    print(f"protocol: {json.dumps(protocol)}\nwrote {path}")


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(main)
