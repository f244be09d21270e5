"""A picture for every variant the results files have no picture of: each trained from its recipe (or its
benchmark row) at the budget its results were measured at, then a small PNG of its samples.

Protocol, per picture (each in a fresh spawned process, one thread; the documentation's captions are read
from ``benchmarks/results/variant_pictures.json``, which records every picture's recipe, budget and steps):

* ``fashion`` pictures: the row of ``benchmarks/fashion_quality.py`` (the recipe plus that row's options),
  trained on the 60k Fashion-MNIST train split (``--root``, Debian's ``dataset-fashion-mnist``) until the
  process has used the CPU seconds the row's results file states (``protocol.cpu_budget_s``, 600), seed 0;
  the picture is the EMA generator's fixed grid noise (``sample_fixed``), the first 64 samples;
* ``recipe`` pictures: the recipe exactly as written (its epochs, the shipped data), seed 0, as the
  ``labels_and_encoders.json`` rows were trained; a conditional generator's grid has a column per class;
* ``toy`` pictures: the ring row of ``benchmarks/toy_modes.py`` with the settings of its seed-0 run in the
  ``toy_modes*.json`` file that holds it (learning rate, EMA, batches); 2,500 samples (seed 10,000, as
  scored) as dots over the eight mode centres.

Pictures already on disk (and in the JSON) are skipped, so a stopped run resumes where it stopped.

    python benchmarks/variant_pictures.py                      # every missing picture, in the order below
    python benchmarks/variant_pictures.py --only wgan_ring lsgan_fashion_mnist
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RECORD = RESULTS / "variant_pictures.json"
FASHION_ROOT = "/usr/share/datasets/fashion-mnist"

# picture name -> (kind, variant, recipe or benchmark row, results file the budget comes from)
PICTURES: dict[str, tuple[str, str, str, str]] = {
    **{
        f"{variant}_ring": ("toy", variant, row, "")
        for variant, row in [
            ("gan", "gan"),
            ("wgan", "wgan"),
            ("wgan_gp", "wgan_gp"),
            ("lsgan", "lsgan"),
            ("hinge_sn", "hinge_sn"),
            ("pacgan", "pacgan4"),
            ("unrolled", "unrolled5"),
            ("r3gan", "r3gan"),
            ("ebgan", "ebgan_pt"),
        ]
    },  # fmt: skip
    # first the variants with no picture at all, then the Fashion-MNIST grids of those a 2-D scatter shows
    "acgan_fashion_mnist": ("recipe", "acgan", "acgan_fashion_mnist", "labels_and_encoders.json"),
    "sgan_fashion_mnist": ("recipe", "sgan", "sgan_fashion_mnist", "labels_and_encoders.json"),
    "bigan_fashion_mnist": ("recipe", "bigan", "bigan_fashion_mnist", "labels_and_encoders.json"),
    "autoencoder_fashion_mnist": ("recipe", "autoencoder", "autoencoder_fashion_mnist", "labels_and_encoders.json"),
    "progan_fashion_mnist": ("fashion", "progan", "progan", "fashion_quality_progan.json"),
    "wgan_fashion_mnist": ("fashion", "wgan", "wgan", "fashion_quality.json"),
    "lsgan_fashion_mnist": ("fashion", "lsgan", "lsgan", "fashion_quality.json"),
    "hinge_sn_fashion_mnist": ("fashion", "hinge_sn", "hinge_sn", "fashion_quality.json"),
    "r3gan_fashion_mnist": ("fashion", "r3gan", "r3gan", "fashion_quality_modern.json"),
    "ebgan_fashion_mnist": ("fashion", "ebgan", "ebgan", "fashion_quality_ebgan.json"),
    "wgan_gp_fashion_mnist": ("fashion", "wgan_gp", "wgan_gp", "fashion_quality.json"),
    "gan_fashion_mnist": ("fashion", "gan", "gan", "fashion_quality.json"),
}


def png_path(name: str) -> Path:
    return RESULTS / f"{name}_samples.png"


def quiet() -> None:
    import logging
    import warnings

    import torch

    torch.set_num_threads(1)
    os.environ["WANDB_MODE"] = "disabled"
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def save_grid(images: Any, path: Path, nrow: int) -> None:
    """Images in [-1, 1] as one PNG grid (uint8 at the edge)."""
    from PIL import Image
    from torchvision.utils import make_grid

    grid = make_grid(((images.detach().cpu().float() + 1) / 2).clamp(0, 1), nrow=nrow, padding=1, pad_value=1.0)
    array = (grid.mul(255).round().byte().permute(1, 2, 0).numpy()).squeeze()
    if array.ndim == 3 and array.shape[2] == 3 and (array[..., 0] == array[..., 1]).all():
        array = array[..., 0]  # grey images: one channel keeps the file small
    Image.fromarray(array).save(path, optimize=True)


def fit(recipe: str, options: list[str], seed: int, cpu_seconds: float | None) -> tuple[Any, Any]:
    """The recipe fitted on the CPU with validation, checkpoints, logger and progress bar off; stopped by a
    ``CPUBudget`` when ``cpu_seconds`` is given, else at the recipe's own epochs."""
    from lightning_gans.lightning_cli import run_lightning_cli

    extra = ["--seed_everything", str(seed), "--data.init_args.seed", str(seed)]
    # the recipe's callbacks (grids, checkpoints, metrics) are replaced: only the picture is kept
    callbacks: list[dict[str, Any]] = []
    if cpu_seconds is not None:
        callbacks = [{"class_path": "lightning_gans.callbacks.CPUBudget", "init_args": {"seconds": cpu_seconds}}]
        extra += ["--trainer.max_epochs", "10000"]
    extra += ["--trainer.callbacks", json.dumps(callbacks)]
    with tempfile.TemporaryDirectory() as run_dir:
        cli = run_lightning_cli(
            ["fit", "--config", str(REPO / "recipes" / f"{recipe}.yaml"), *options, *extra]
            + ["--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.logger", "false"]
            + ["--trainer.enable_checkpointing", "false", "--trainer.enable_progress_bar", "false"]
            + ["--trainer.enable_model_summary", "false", "--trainer.limit_val_batches", "0"]
            + ["--trainer.num_sanity_val_steps", "0", "--trainer.default_root_dir", run_dir]
        )
    return cli.model, cli.trainer


def image_picture(name: str, kind: str, variant: str, target: str, source: str) -> dict[str, Any]:
    import torch

    if kind == "fashion":
        sys.path.insert(0, str(REPO / "benchmarks"))
        from fashion_quality import RECIPES

        protocol = json.loads((RESULTS / source).read_text())["protocol"]
        budget = float(protocol["cpu_budget_s"])
        recipe, options = RECIPES[target]
        recipe = f"{recipe}_fashion_mnist"
        options = [*options, "--data.init_args.root", FASHION_ROOT]
        model, trainer = fit(recipe, options, 0, budget)
        budget_text = f"{budget:.0f} CPU-s (process time, 1 thread), Fashion-MNIST train split (60k)"
    else:
        recipe, budget_text = target, "the recipe as written (its epochs, the shipped Fashion-MNIST data)"
        model, trainer = fit(recipe, [], 0, None)
    train_cpu = time.process_time()
    model.eval()
    with torch.no_grad():
        images = model.sample_fixed()
    classes = int(getattr(model, "num_classes", 0) or 0)
    nrow = classes if classes else 8
    images = images[: nrow * (8 if not classes else max(1, min(len(images) // nrow, 8)))]
    save_grid(images, png_path(name), nrow)
    return {
        "picture": png_path(name).name,
        "kind": kind,
        "variant": variant,
        "recipe": f"recipes/{recipe}.yaml",
        "options": options if kind == "fashion" else [],
        "budget": budget_text,
        "results_file": f"benchmarks/results/{source}",
        "seed": 0,
        "generator_steps": int(model.generator_steps),
        "epochs": int(trainer.current_epoch),
        "train_cpu_s": round(train_cpu, 1),
        "shows": "EMA generator, fixed grid noise"
        + (", a column per class" if classes else "")
        + f" ({len(images)} samples)",
    }


def toy_settings(row: str) -> tuple[str, dict[str, Any]]:
    """The results file and seed-0 ring run of ``row`` (the first toy_modes file that holds one)."""
    files = ["toy_modes.json", "toy_modes_unrolled.json", "toy_modes_ebgan.json", "toy_modes_r3gan_sn.json"]
    for file in files:
        for run in json.loads((RESULTS / file).read_text())["runs"]:
            if run["row"] == row and run["mixture"] == "ring" and run["seed"] == 0:
                return file, run
    raise KeyError(f"no seed-0 ring run of {row!r} in {files}")


def toy_picture(name: str, kind: str, variant: str, row: str, source: str) -> dict[str, Any]:
    from PIL import Image, ImageDraw

    sys.path.insert(0, str(REPO / "benchmarks"))
    from toy_modes import BATCH_SIZE, train_row

    source, run = toy_settings(row)
    batches = int(run["batches"])
    gamma = run.get("r3gan_gamma") or 0.1
    model, data, trainer = train_row(row, "ring", 0, batches, run["lr"], run["ema_decay"], gamma)
    train_cpu = time.process_time()
    samples = model.sample(2500, seed=10_000).detach().cpu()
    means = data.mixture.means.cpu()
    size, span = 240, float(means.abs().max()) * 1.4

    def pixel(x: float, y: float) -> tuple[float, float]:
        return (x / span + 1) / 2 * size, (1 - y / span) / 2 * size

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for x, y in samples.tolist():
        px, py = pixel(x, y)
        draw.rectangle((px, py, px + 1, py + 1), fill=(40, 70, 160))
    for x, y in means.tolist():
        px, py = pixel(x, y)
        draw.ellipse((px - 4, py - 4, px + 4, py + 4), outline=(200, 30, 30), width=2)
    image.save(png_path(name), optimize=True)
    return {
        "picture": png_path(name).name,
        "kind": kind,
        "variant": variant,
        "recipe": f"benchmarks/toy_modes.py row {row!r} (recipe alike: recipes/{variant}_ring.yaml)",
        "options": [],
        "budget": f"{batches} training batches of {BATCH_SIZE}, lr {run['lr']}, G-EMA {run['ema_decay']}",
        "results_file": f"benchmarks/results/{source}",
        "seed": 0,
        "generator_steps": int(model.generator_steps),
        "epochs": int(trainer.current_epoch),
        "train_cpu_s": round(train_cpu, 1),
        "shows": "2,500 samples (blue) of the ring of eight Gaussians; red circles: the mode centres",
    }


def one_picture(job: tuple[str, tuple[str, str, str, str]]) -> dict[str, Any]:
    name, (kind, variant, target, source) = job
    quiet()
    start = time.time()
    make = toy_picture if kind == "toy" else image_picture
    record = make(name, kind, variant, target, source)
    record.update(name=name, wall_s=round(time.time() - start, 1), total_cpu_s=round(time.process_time(), 1))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(PICTURES), help="these pictures (default: every one)")
    args = parser.parse_args()
    record: dict[str, Any] = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    record.setdefault("protocol", __doc__.split("\n\n")[1])
    record.setdefault("pictures", {})
    names = args.only or list(PICTURES)
    jobs = [(n, PICTURES[n]) for n in names if not (png_path(n).exists() and n in record["pictures"])]
    print(f"{len(jobs)} pictures to make: {[n for n, _ in jobs]}", flush=True)
    with mp.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        for result in pool.imap(one_picture, jobs):
            result.update(
                date=datetime.date.today().isoformat(),
                hardware=f"{platform.machine()}, {os.cpu_count()} cores, 1 thread, one picture at a time",
            )
            import torch

            result["torch"] = torch.__version__
            record["pictures"][result["name"]] = result
            RECORD.write_text(json.dumps(record, indent=2) + "\n")
            size = png_path(result["name"]).stat().st_size // 1024
            steps, wall = result["generator_steps"], result["wall_s"]
            print(f"done {result['name']}: {steps} G steps, {wall} s, {size} KB", flush=True)


if __name__ == "__main__":
    main()
