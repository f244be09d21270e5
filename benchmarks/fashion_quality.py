"""Sample quality on Fashion-MNIST at equal CPU budget: every image recipe, DiffAugment on dcgan and r3gan, a
plain PyTorch DCGAN loop, and the real-data floor.

Protocol:
* training data (``--split``): ``full``, the Fashion-MNIST train split (60k; Debian's ``dataset-fashion-mnist``
  files), with ``--data.root`` pointed at it; or ``shipped``, the 9k training images shipped in the package
  (the small-data case DiffAugment is for). The recipes' own nets, losses, optimisers, batch sizes and EMA;
  the ``*_diffaugment`` rows add ``regularisation.augment: [color, translation, cutout]`` to the recipe;
  ``r3gan_dcgan_nets`` is the r3gan recipe with the dcgan recipe's nets (D without batch norm);
  ``progan_short_schedule`` is the progan recipe grown faster (5k images per stage and per fade-in);
* budget: each training process stops at ``--cpu_minutes`` of process CPU time counted from process start
  (imports and data loading included), one thread per process, two processes at a time on 2 cores;
  recipes run with validation, checkpoints, logger and progress bar off (``CPUBudget`` callback);
* plain loop: the default recipe (``dcgan_fashion_mnist``) written as a plain PyTorch loop: the same nets,
  data module and batches, Adam 2e-4 (0.5, 0.999), non-saturating loss, fake made once per iteration, and
  the same EMA (0.999 with warm-up) for sampling;
* evaluation: 10k generated images (EMA generator, seeded latents) against 10k real images the run did not
  train on, features of the shipped ``fashion_classifier``: FID, KID (100 subsets of 1000),
  precision/recall/density/coverage (k = 5), classes covered and class KL. The reference is the 10k test
  split for ``full``; for ``shipped`` (whose 9k come from the test split) a seeded 10k of the 60k train
  split. The floor row scores another 10k real images (a seeded choice from the train split, disjoint from
  the shipped split's reference) instead of generated ones.

    python benchmarks/fashion_quality.py                                   # all rows, 10 CPU-minutes each
    python benchmarks/fashion_quality.py --rows '[plain_dcgan, dcgan]' --cpu_minutes 2
    python benchmarks/fashion_quality.py --split shipped --rows '[plain_dcgan, r3gan, r3gan_diffaugment]'
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any, Literal

import torch
from cpu_budget import fit_recipe, quiet, run_rows

REPO = Path(__file__).resolve().parents[1]
DIFFAUGMENT = ["--model.init_args.regularisation.augment", "[color, translation, cutout]"]
# R3GAN's objective (RpGAN + R1 + R2, Adam betas (0, 0.99)) on the default recipe's DCGAN nets, D without batch
# norm (batch statistics would couple the samples a gradient penalty differentiates): the objective without
# the residual nets, which cost about 3x DCGAN's per step on this CPU
DCGAN_NETS = [
    "--model.init_args.generator",
    json.dumps({"class_path": "dcgan", "init_args": {"latent_dim": 64, "channels": 1, "image_size": 28, "width": 64}}),
    "--model.init_args.discriminator",
    json.dumps(
        {"class_path": "dcgan", "init_args": {"channels": 1, "image_size": 28, "width": 64, "batch_norm": False}}
    ),
]
# row -> (recipe, extra command-line options)
RECIPES: dict[str, tuple[str, list[str]]] = {
    **{
        name: (name, [])
        for name in ("dcgan", "gan", "wgan", "wgan_gp", "lsgan", "hinge_sn", "r3gan", "progan", "ebgan")
    },
    "dcgan_diffaugment": ("dcgan", DIFFAUGMENT),
    "r3gan_diffaugment": ("r3gan", DIFFAUGMENT),
    "r3gan_dcgan_nets": ("r3gan", DCGAN_NETS),
    "r3gan_dcgan_nets_diffaugment": ("r3gan", DCGAN_NETS + DIFFAUGMENT),
    # fully grown after 25k images instead of the recipe's 75k, which 600 CPU-s do not reach
    "progan_short_schedule": (
        "progan",
        ["--model.init_args.images_per_stage", "5000", "--model.init_args.fade_images", "5000"],
    ),
}
ROWS = ["real_floor", "plain_dcgan", *RECIPES]
Split = Literal["full", "shipped"]
METRICS = ["fid", "kid", "prdc", "classes"]
N_EVAL = 10_000


def real_images(root: str, split: Split, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(reference, floor): 10k real images to score against and 10k others for the floor row, none of
    which the split trains on."""
    from lightning_gans.data.idx import FashionMNISTDataModule
    from lightning_gans.metrics.evaluation import dataset_images

    data = FashionMNISTDataModule(root=root, batch_size=64)
    data.setup("fit")
    # train_set is the 60k train split and val_set the 10k test split when root is given
    train = dataset_images(data.train_set, 2 * N_EVAL, seed)
    if split == "full":
        return dataset_images(data.val_set, N_EVAL, seed), train[:N_EVAL]
    return train[:N_EVAL], train[N_EVAL:]


def score(generate: Any, root: str, split: Split, seed: int) -> dict[str, Any]:
    from lightning_gans.metrics.evaluation import SampleQuality

    quality = SampleQuality(METRICS, "fashion_classifier", real_images(root, split, seed)[0], seed=seed)
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


def real_floor(root: str, split: Split, budget: float, seed: int) -> dict[str, Any]:
    return {"metrics": score(batches_of(real_images(root, split, seed)[1]), root, split, seed)}


def plain_step(real: Any, generator: Any, discriminator: Any, ema: Any, g_opt: Any, d_opt: Any, loss: Any,
               noise: torch.Generator) -> None:  # fmt: skip
    """One iteration of the plain PyTorch DCGAN loop: D on real and the detached fake, then G, then the EMA."""
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


def plain_dcgan(root: str, split: Split, budget: float, seed: int) -> dict[str, Any]:
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
    data = FashionMNISTDataModule(root=root if split == "full" else None, batch_size=64, seed=seed)
    data.setup("fit")
    loader = data.train_dataloader()
    steps, epoch = 0, 0
    while time.process_time() < budget:
        loader.sampler.set_epoch(epoch)  # type: ignore[union-attr]
        for real, _ in loader:
            plain_step(real, generator, discriminator, ema, g_opt, d_opt, loss, noise)
            steps += 1
            if time.process_time() >= budget:
                break
        epoch += 1
    train_cpu = time.process_time()
    net = ema.module.eval()
    take = latent_batches(100, seed)
    with torch.no_grad():
        metrics = score(lambda n: net(take(n)), root, split, seed)
    return {"metrics": metrics, "train_cpu_s": round(train_cpu, 1), "generator_steps": steps, "epochs": epoch}


def recipe_row(row: str, root: str, split: Split, budget: float, seed: int) -> dict[str, Any]:
    recipe, options = RECIPES[row]
    root_args = ["--data.init_args.root", root] if split == "full" else []
    model, trainer = fit_recipe(REPO / "recipes" / f"{recipe}_fashion_mnist.yaml", options + root_args, seed, budget)
    train_cpu = time.process_time()
    take = latent_batches(model.latent_dim, seed)  # type: ignore[attr-defined]
    metrics = score(lambda n: model.generate(take(n)), root, split, seed)  # type: ignore[attr-defined]
    return {
        "metrics": metrics,
        "train_cpu_s": round(train_cpu, 1),
        "generator_steps": model.generator_steps,  # type: ignore[attr-defined]
        "epochs": trainer.current_epoch + 1,
    }


def run_row(job: tuple[str, str, Split, float, int]) -> dict[str, Any]:
    row, root, split, budget, seed = job
    quiet()
    start = time.time()
    if row == "real_floor":
        result = real_floor(root, split, budget, seed)
    elif row == "plain_dcgan":
        result = plain_dcgan(root, split, budget, seed)
    else:
        result = recipe_row(row, root, split, budget, seed)
    result.update(
        row=row, split=split, seed=seed, wall_s=round(time.time() - start, 1), total_cpu_s=round(time.process_time(), 1)
    )
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
    split: Split = "full",
    processes: int = 2,
    out: str | None = None,
) -> None:
    """Train and score every row; print a table and write JSON (partial results after every row) to ``out``
    (default ``benchmarks/results/fashion_quality.json``, ``fashion_quality_shipped.json`` for the shipped split).

    ``root`` holds the full Fashion-MNIST: the training data for ``split=full`` and the real images scored
    against for both splits."""
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
    jobs = [(row, root, split, budget, seed) for seed in range(first_seed, first_seed + seeds) for row in order]
    protocol = {
        "cpu_budget_s": budget,
        "budget_counts": "process CPU seconds from process start, 1 thread per process",
        "split": split,
        "train_data": f"{root} train split (60k)" if split == "full" else "the 9k images shipped in the package",
        "reference": f"{root} t10k split, {N_EVAL} images"
        if split == "full"
        else f"a seeded {N_EVAL} of {root} train split (60k)",
        "n_fake": N_EVAL,
        "feature_network": "fashion_classifier",
        "metrics": "FID; KID 100 subsets of 1000; precision/recall/density/coverage k=5; classes (min share 0.1)",
        "sampling": "EMA generator, seeded N(0, I) latents",
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {processes} processes",
        "torch": torch.__version__,
    }
    path = Path(out or f"benchmarks/results/fashion_quality{'' if split == 'full' else '_shipped'}.json")
    results = run_rows(run_row, jobs, processes, path, protocol, lambda r: (r["seed"], ROWS.index(r["row"])))
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
