"""Quality per compute on Fashion-MNIST: each row trained once and scored at 2, 5, 10, 20, 40 and 80 CPU-minutes.

Protocol:
* training: the full 60k train split (Debian's ``dataset-fashion-mnist``, ``--root``), the row's recipe as
  written (its nets, loss, optimisers, batch size, EMA), seed 0, one thread per process, ``--processes`` rows
  at a time (one per core), validation and logger off;
* budget: CPU seconds of the training processes, counted from the start of fit (imports and data loading left
  out, so that a run resumed in another process counts the same), summed over every process of the row;
  ``CurveCheckpoints`` writes ``cpu-<m>min.ckpt`` when the sum passes each budget and stops after the last;
* resumable: each row trains in ``<runs>/<row>``; the recipe's ``last.ckpt`` (every 2 minutes) carries the CPU
  spent, so a stopped benchmark continues with ``--ckpt_path last`` when run again, and rows already scored
  are kept;
* plain loop: ``plain_dcgan`` is the default recipe written as a plain PyTorch loop (``fashion_quality.py``'s,
  given the same budget checkpoints and resume);
* evaluation, after training: 10k EMA samples (seeded latents; every class in turn for the conditional rows)
  against the 10k test images, ``fashion_classifier`` features: FID, KID, precision, recall, density, coverage;
  ``label_accuracy`` for ``cgan`` and ``biggan``;
* crossing: each row against ``dcgan``: the first budget where its FID is below dcgan's, its FID over dcgan's
  at their last common budget (the goal: at most 0.5 at 80), its CPU-ms per generator step, and its FID over
  dcgan's at equal generator steps (a slow step told apart from a poor one); each row records the CPU it ran
  on (``cpu``), as the crossing does for both rows, because a CPU-second buys different steps on another
  machine;
* output: ``benchmarks/results/quality_curves.json`` (after every score: ``results`` and ``crossing``) and,
  where matplotlib is installed, ``quality_curves.png`` (FID against CPU-minutes and against generator steps,
  log x).

    python benchmarks/quality_curves.py                                  # every row, up to 80 CPU-minutes
    python benchmarks/quality_curves.py --rows '[plain_dcgan, dcgan]' --minutes '[2, 5]'
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from cpu_budget import cpu_model

REPO = Path(__file__).resolve().parents[1]
DIFFAUGMENT = ["--model.init_args.regularisation.augment", "[color, translation, cutout]"]
RECIPES: dict[str, tuple[str, list[str]]] = {
    "dcgan": ("dcgan", []),
    "r3gan": ("r3gan", []),
    "r3gan_diffaugment": ("r3gan", DIFFAUGMENT),
    "stylegan": ("stylegan", []),
    # StyleGAN2-ADA's CIFAR-10 settings: R1 gamma 0.01 (the recipe's is 0.05) and no style mixing
    "stylegan_cifar10_settings": (
        "stylegan",
        ["--model.init_args.regularisation.r1_gamma", "0.01", "--model.init_args.style_mixing", "0"],
    ),
    "progan": ("progan", []),
    "cgan": ("cgan", []),
    "biggan": ("biggan", []),
}
ROWS = ["plain_dcgan", *RECIPES]
CONDITIONAL = {"cgan", "biggan"}
N_EVAL = 10_000


def budget_name(minutes: float) -> str:
    return f"cpu-{minutes:g}min"


def train_recipe(row: str, folder: Path, root: str, minutes: list[float]) -> None:
    """``lightning-gans fit`` of the row's recipe until the last budget, resumed from ``last.ckpt`` if there."""
    recipe, options = RECIPES[row]
    callback = {"class_path": "curve_budget.CurveCheckpoints", "init_args": {"minutes": minutes}}
    command = [
        sys.executable, "-m", "lightning_gans", "fit", "--config", str(REPO / f"recipes/{recipe}_fashion_mnist.yaml"),
        *options, "--data.init_args.root", root, "--seed_everything", "0", "--trainer.accelerator", "cpu",
        "--trainer.devices", "1", "--trainer.logger", "false",
        "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0", "--trainer.max_epochs", "100000",
        "--trainer.default_root_dir", str(folder), f"--trainer.callbacks+={json.dumps(callback)}",
    ]  # fmt: skip
    if (folder / "checkpoints/last.ckpt").is_file():
        command += ["--ckpt_path", "last"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join([str(REPO / "benchmarks"), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    with open(folder.parent / f"{row}.log", "a") as log:
        subprocess.run(command, env=env, check=True, stdout=log, stderr=subprocess.STDOUT)


def train_plain_dcgan(folder: Path, root: str, minutes: list[float]) -> None:
    """``fashion_quality.py``'s plain loop, with the budget checkpoints and a resumable ``last.pt``."""
    from fashion_quality import plain_step
    from torch.optim.swa_utils import AveragedModel

    from lightning_gans.core.module import adam_2e4_beta05, ema_with_warmup
    from lightning_gans.data.idx import FashionMNISTDataModule
    from lightning_gans.losses import NonSaturatingLoss
    from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator

    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = DCGANGenerator(latent_dim=100, channels=1, image_size=28, width=64)
    discriminator = DCGANDiscriminator(channels=1, image_size=28, width=64)
    ema = AveragedModel(generator, multi_avg_fn=ema_with_warmup(0.999), use_buffers=True)
    g_opt, d_opt = adam_2e4_beta05(generator.parameters()), adam_2e4_beta05(discriminator.parameters())
    loss, noise = NonSaturatingLoss(), torch.Generator().manual_seed(1)
    data = FashionMNISTDataModule(root=root, batch_size=64, seed=0)
    data.setup("fit")
    loader = data.train_dataloader()
    parts = {"generator": generator, "discriminator": discriminator, "ema": ema, "g_opt": g_opt, "d_opt": d_opt}
    last = folder / "last.pt"
    spent, epoch, served = 0.0, 0, 0
    if last.is_file():
        state = torch.load(last, weights_only=True)
        for name, part in parts.items():
            part.load_state_dict(state[name])
        noise.set_state(state["noise"])
        spent, epoch, served = state["spent"], state["epoch"], state["served"]
    pending = [m for m in minutes if not (folder / f"{budget_name(m)}.pt").is_file()]
    started, saved = time.process_time(), time.process_time()

    def save(path: Path) -> None:
        state = {name: part.state_dict() for name, part in parts.items()}
        state.update(noise=noise.get_state(), spent=spent + time.process_time() - started, epoch=epoch, served=served)
        torch.save(state, path.with_suffix(".partial"))
        os.replace(path.with_suffix(".partial"), path)

    while pending:
        loader.sampler.set_epoch(epoch)  # type: ignore[union-attr]
        loader.sampler.resume_at(epoch, served)  # type: ignore[union-attr]
        for real, _ in loader:
            plain_step(real, generator, discriminator, ema, g_opt, d_opt, loss, noise)
            served += real.shape[0]
            now = spent + time.process_time() - started
            if now >= 60 * pending[0]:
                save(folder / f"{budget_name(pending.pop(0))}.pt")
                if not pending:
                    break
            if time.process_time() - saved >= 120:  # a crash loses at most 2 CPU-minutes
                save(last)
                saved = time.process_time()
        else:
            epoch, served = epoch + 1, 0
    save(last)


def generator_of(row: str, path: Path) -> tuple[Any, int, int]:
    """(EMA generator as a module with ``generate``-like call, latent size, generator steps) of a checkpoint."""
    if row == "plain_dcgan":
        from torch.optim.swa_utils import AveragedModel

        from lightning_gans.nets import DCGANGenerator

        ema = AveragedModel(DCGANGenerator(latent_dim=100, channels=1, image_size=28, width=64), use_buffers=True)
        state = torch.load(path, weights_only=True)
        ema.load_state_dict(state["ema"])
        net = ema.module.eval()
        return (lambda z, labels=None: net(z)), 100, int(state["ema"]["n_averaged"])
    from lightning_gans.checkpoints import load_variant

    model = load_variant(path).eval()
    return model.generate, model.latent_dim, int(model.generator_steps)


@torch.no_grad()
def score(row: str, path: Path, root: str) -> dict[str, Any]:
    from lightning_gans.data.idx import FashionMNISTDataModule
    from lightning_gans.metrics.conditional import ConditionalAccuracy
    from lightning_gans.metrics.evaluation import SampleQuality, dataset_images
    from lightning_gans.metrics.features import FashionClassifier

    torch.set_num_threads(1)
    data = FashionMNISTDataModule(root=root, batch_size=64)
    data.setup("fit")
    quality = SampleQuality(["fid", "kid", "prdc"], "fashion_classifier", dataset_images(data.val_set, N_EVAL, 0))
    generate, latent_dim, steps = generator_of(row, path)
    latents = torch.randn(N_EVAL, latent_dim, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(N_EVAL) % 10
    accuracy = ConditionalAccuracy(FashionClassifier().eval()) if row in CONDITIONAL else None
    position = 0

    def take(n: int) -> torch.Tensor:
        nonlocal position
        z, y = latents[position : position + n], labels[position : position + n]
        position += n
        images = generate(z, y) if row in CONDITIONAL else generate(z)
        if accuracy is not None:
            accuracy.update(images, y)
        return images

    result = {k: v for k, v in quality.evaluate(take, N_EVAL).items() if not isinstance(v, list)}
    if accuracy is not None:
        result["label_accuracy"] = float(accuracy.compute()["label_accuracy"])
    return {"generator_steps": steps, **result}


def run_row(job: tuple[str, str, str, list[float]]) -> list[dict[str, Any]]:
    row, runs, root, minutes = job
    folder = Path(runs) / row
    folder.mkdir(parents=True, exist_ok=True)
    if row == "plain_dcgan":
        train_plain_dcgan(folder, root, minutes)
        paths = {m: folder / f"{budget_name(m)}.pt" for m in minutes}
    else:
        train_recipe(row, folder, root, minutes)
        paths = {m: folder / f"checkpoints/{budget_name(m)}.ckpt" for m in minutes}
    # steps per CPU-second differ between machines: each row names the CPU it trained on
    return [{"row": row, "cpu_minutes": m, "cpu": cpu_model(), **score(row, path, root)} for m, path in paths.items()]


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| row | CPU | CPU-min | G steps | FID | KID x1e3 | precision | recall | coverage | label acc |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        label = f"{r['label_accuracy']:.3f}" if "label_accuracy" in r else "-"
        lines.append(f"| {r['row']} | {r.get('cpu', '?')} | {r['cpu_minutes']:g} | {r['generator_steps']} | "
                     f"{r['fid']:.3f} | {1e3 * r['kid']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['coverage']:.3f} | {label} |")  # fmt: skip
    return "\n".join(lines)


def crossing(results: list[dict[str, Any]], baseline: str = "dcgan") -> dict[str, dict[str, Any]]:
    """Each other row against ``baseline``: where its FID first falls below the baseline's at the same budget,
    its FID over the baseline's at their last common budget (the issue's goal: at most 0.5 at 80), its CPU cost
    of a generator step, and its FID over the baseline's at the same generator steps (the baseline's FID
    interpolated in log steps), which separates a slow step from a poor one. Both CPUs are named: the CPU-time
    comparisons hold only where they are the same. Keyed by row, so that the docs read ``crossing.<row>.<field>``
    whichever rows have been run."""
    base = {r["cpu_minutes"]: r for r in results if r["row"] == baseline}
    if not base:
        return {}
    by_steps = sorted((r["generator_steps"], r["fid"]) for r in base.values())
    log_steps, log_fid = np.log([s for s, _ in by_steps]), np.log([f for _, f in by_steps])
    rows = {}
    for row in ROWS:
        points = sorted((r["cpu_minutes"], r) for r in results if r["row"] == row)
        if row == baseline or not points:
            continue
        common = [(m, r) for m, r in points if m in base]
        last_minutes, last = points[-1]
        inside = by_steps[0][0] <= last["generator_steps"] <= by_steps[-1][0]
        at_steps = float(np.exp(np.interp(np.log(last["generator_steps"]), log_steps, log_fid))) if inside else None
        rows[row] = {
            "row": row,
            "cpu": last.get("cpu"),
            "baseline_cpu": base[max(base)].get("cpu"),
            "overtakes_at_cpu_minutes": next((m for m, r in common if r["fid"] < base[m]["fid"]), None),
            "last_common_cpu_minutes": common[-1][0] if common else None,
            "fid_ratio_at_last_common": common[-1][1]["fid"] / base[common[-1][0]]["fid"] if common else None,
            "cpu_ms_per_generator_step": 60_000 * last_minutes / last["generator_steps"],
            "baseline_cpu_ms_per_generator_step": 60_000 * max(base) / base[max(base)]["generator_steps"],
            "fid_ratio_at_equal_generator_steps": last["fid"] / at_steps if at_steps else None,
        }  # fmt: skip
    return rows


def plot(results: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter, ScalarFormatter
    except ImportError:
        print('matplotlib is not installed: no plot (pip install -e ".[bench]")')
        return
    figure, (by_cpu, by_steps) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for row in ROWS:
        points = sorted((r["cpu_minutes"], r["generator_steps"], r["fid"]) for r in results if r["row"] == row)
        if points:
            minutes, steps, fid = zip(*points)
            cpus = sorted({r.get("cpu", "?").split()[0].removesuffix("(R)") for r in results if r["row"] == row})
            by_cpu.plot(minutes, fid, marker="o", label=f"{row} ({', '.join(cpus)})")
            by_steps.plot(steps, fid, marker="o", label=row)
    by_cpu.set(xscale="log", yscale="log", xlabel="CPU-minutes of training (1 thread)",
               ylabel="FID (fashion_classifier features)")  # fmt: skip
    by_steps.set(xscale="log", xlabel="generator steps")
    budgets = sorted({r["cpu_minutes"] for r in results})
    by_cpu.set_xticks(budgets, [f"{m:g}" for m in budgets])
    by_cpu.xaxis.set_minor_formatter(NullFormatter())
    by_cpu.yaxis.set_major_formatter(ScalarFormatter())
    by_cpu.yaxis.set_minor_formatter(ScalarFormatter())
    by_cpu.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f"wrote {path}")


def main(
    rows: list[str] | None = None,
    minutes: list[float] | None = None,
    root: str = "/usr/share/datasets/fashion-mnist",
    runs: str = "runs/quality_curves",
    processes: int = 2,
    out: str = "benchmarks/results/quality_curves.json",
) -> None:
    chosen, budgets = rows or ROWS, sorted(minutes or [2, 5, 10, 20, 40, 80])
    unknown = [r for r in chosen if r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; choose from {ROWS}")
    if not (Path(root) / "train-images-idx3-ubyte.gz").is_file():
        raise SystemExit(f"no Fashion-MNIST train split in {root}: apt-get install dataset-fashion-mnist")
    protocol = {
        "description": __doc__.split("\n\n")[0],
        "train_data": f"{root} train split (60k)",
        "reference": f"{root} t10k split, {N_EVAL} images",
        "metrics": "FID; KID 100 subsets of 1000; precision/recall/density/coverage k=5; label_accuracy",
        "machine": f"{os.cpu_count()} cores, {processes} rows at a time, one thread each; each row's CPU is its cpu",
        "torch": torch.__version__,
    }
    path = Path(out)
    kept = json.loads(path.read_text())["results"] if path.is_file() else []
    done = {(r["row"], r["cpu_minutes"]) for r in kept}
    jobs = [(row, runs, root, budgets) for row in chosen if any((row, m) not in done for m in budgets)]

    def order(r: dict[str, Any]) -> Any:
        return (ROWS.index(r["row"]), r["cpu_minutes"])

    results = [r for r in kept if r["row"] not in {job[0] for job in jobs}]  # a row is scored whole

    def save() -> None:
        # a row may stop at fewer budgets than another (``--minutes``): the protocol lists every budget scored
        protocol["budgets_cpu_minutes"] = sorted({r["cpu_minutes"] for r in results})
        summary = {"protocol": protocol, "results": results, "crossing": crossing(results)}
        path.write_text(json.dumps(summary, indent=2) + "\n")

    with mp.get_context("spawn").Pool(processes, maxtasksperchild=1) as pool:
        for scored in pool.imap_unordered(run_row, jobs):
            results = sorted(results + scored, key=order)
            save()
            print(f"scored {scored[0]['row']}", flush=True)
    results.sort(key=order)
    save()
    print(table(results))
    for c in crossing(results).values():
        print(
            f"{c['row']} ({c['cpu']}; dcgan's: {c['baseline_cpu']}): overtakes dcgan at "
            f"{c['overtakes_at_cpu_minutes']} CPU-min; FID / dcgan's "
            f"{c['fid_ratio_at_last_common']} at {c['last_common_cpu_minutes']} CPU-min (goal <= 0.5); "
            f"{c['cpu_ms_per_generator_step']:.0f} CPU-ms per G step (dcgan "
            f"{c['baseline_cpu_ms_per_generator_step']:.0f}); FID / dcgan's at equal G steps "
            f"{c['fid_ratio_at_equal_generator_steps']}"
        )
    plot(results, path.with_suffix(".png"))
    print(f"wrote {path}")


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(main)
