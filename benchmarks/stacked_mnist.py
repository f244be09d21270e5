"""Mode collapse on Stacked MNIST (1000 modes) at equal CPU budget: DCGAN, PacGAN4 and R3GAN recipes, the real
data as the classifier's floor, and the published figures beside them.

Protocol:
* data: the ``stacked_mnist`` data module as the recipes set it (by default 50,000 training stacks of the
  4,500 shipped MNIST digits not held out; ``--root`` with the MNIST IDX files uses the 60k train split);
* rows ``dcgan``, ``pacgan4``, ``r3gan`` train ``recipes/{dcgan,pacgan,r3gan}_stacked_mnist.yaml`` with the
  recipes' own nets, losses, optimisers, batch sizes and EMA;
* budget: each training process stops at ``--cpu_minutes`` of process CPU time counted from process start
  (imports and data loading included), one thread per process, two processes at a time on 2 cores;
  recipes run with validation, checkpoints, logger and progress bar off (``CPUBudget`` callback);
* evaluation: ``--n_samples`` (26,000, the count of VEEGAN and PacGAN) samples of the EMA generator from
  seeded N(0, I) latents; each colour channel labelled by the shipped ``digit_classifier``
  (``StackedMNISTModes``): modes with at least one sample (of 1000) and KL(p_generated || uniform), natural log;
* ``real``: the same count of stacked validation images (from the 500 held-out digits, which neither the
  generators nor the classifier were trained on): the floor that classifier errors and sampling noise set.

    python benchmarks/stacked_mnist.py                                       # every row, 20 CPU-minutes each
    python benchmarks/stacked_mnist.py --rows '[real, dcgan]' --cpu_minutes 0.3 --n_samples 2000 --out /tmp/s.json
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from cpu_budget import cpu_model, earlier_rows, fit_recipe, quiet, run_rows

REPO = Path(__file__).resolve().parents[1]
RECIPES = {"dcgan": "dcgan_stacked_mnist", "pacgan4": "pacgan_stacked_mnist", "r3gan": "r3gan_stacked_mnist"}
ROWS = ["real", *RECIPES]
N_SAMPLES = 26_000
BATCH = 1000
# Literature values (not measured here), each with its source; modes of 1000, KL to uniform.
PUBLISHED = [
    ("DCGAN (PacGAN, Lin et al. 2018, Stacked MNIST table, average)", 78.9, 4.50),
    ("PacDCGAN4 (PacGAN, Lin et al. 2018)", 1000.0, 0.07),
    ("VEEGAN (Srivastava et al. 2017)", 150.0, 2.95),
    ("R3GAN ablation RpGAN + R1 + R2 (Huang et al. 2024)", 1000.0, 0.078),
]
TARGET = {"row": "r3gan", "modes": 1000, "max_kl": 0.05}


def count_modes(generate: Any, n_samples: int) -> dict[str, Any]:
    """Modes and KL of ``n_samples`` images from ``generate(start, stop)`` (a slice of a seeded sequence)."""
    from lightning_gans.metrics.stacked import StackedMNISTModes

    metric = StackedMNISTModes()
    with torch.no_grad():
        for start in range(0, n_samples, BATCH):
            metric.update(generate(start, min(start + BATCH, n_samples)))
    result = metric.compute()
    return {"modes": int(result["modes"]), "kl": float(result["kl"]), "n_samples": n_samples}


def real_row(root: str | None, seed: int, n_samples: int) -> dict[str, Any]:
    from lightning_gans.data.stacked_mnist import StackedMNISTDataModule

    data = StackedMNISTDataModule(root=root, num_val=n_samples, seed=seed)
    data.setup("fit")
    val = data.val_set
    assert val is not None
    return {"metrics": count_modes(lambda a, b: val.images(torch.arange(a, b)), n_samples)}  # type: ignore[attr-defined]


def recipe_row(row: str, root: str | None, budget: float, seed: int, n_samples: int) -> dict[str, Any]:
    root_args = ["--data.init_args.root", root] if root is not None else []
    model, trainer = fit_recipe(REPO / "recipes" / f"{RECIPES[row]}.yaml", root_args, seed, budget)
    train_cpu = time.process_time()
    latents = torch.randn(n_samples, model.latent_dim, generator=torch.Generator().manual_seed(seed))  # type: ignore[attr-defined]
    metrics = count_modes(lambda a, b: model.generate(latents[a:b]), n_samples)  # type: ignore[attr-defined]
    return {
        "metrics": metrics,
        "train_cpu_s": round(train_cpu, 1),
        "generator_steps": model.generator_steps,  # type: ignore[attr-defined]
        "epochs": trainer.current_epoch + 1,
    }


def run_row(job: tuple[str, str | None, float, int, int]) -> dict[str, Any]:
    row, root, budget, seed, n_samples = job
    quiet()
    start = time.time()
    if row == "real":
        result = real_row(root, seed, n_samples)
    else:
        result = recipe_row(row, root, budget, seed, n_samples)
    result.update(row=row, seed=seed, wall_s=round(time.time() - start, 1), total_cpu_s=round(time.process_time(), 1))
    m = result["metrics"]
    print(f"done {row} seed {seed}: {m['modes']} modes, KL {m['kl']:.4f} ({result['wall_s']} s)", flush=True)
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| row | train CPU s | G steps | modes (of 1000) | KL |", "|---|---|---|---|---|"]
    for r in results:
        m = r["metrics"]
        lines.append(
            f"| {r['row']} (seed {r['seed']}) | {r.get('train_cpu_s', '-')} | {r.get('generator_steps', '-')} | "
            f"{m['modes']} | {m['kl']:.4f} |"
        )
    for name, modes, kl in PUBLISHED:
        lines.append(f"| published: {name} | - | - | {modes:g} | {kl:.3f} |")
    return "\n".join(lines)


def classifier_accuracy() -> float | None:
    path = REPO / "benchmarks" / "results" / "digit_classifier.json"
    return json.loads(path.read_text()).get("test_accuracy") if path.is_file() else None


def main(
    rows: list[str] | None = None,
    cpu_minutes: float = 20.0,
    seeds: int = 1,
    first_seed: int = 0,
    root: str | None = None,
    n_samples: int = N_SAMPLES,
    processes: int = 2,
    out: str = "benchmarks/results/stacked_mnist.json",
) -> None:
    """Train and score every row; print a table beside the published figures and write JSON (after every row)."""
    from lightning_gans.metrics.stacked import uniform_kl_floor

    chosen = rows or ROWS
    unknown = [r for r in chosen if r not in ROWS]
    if unknown:
        raise ValueError(f"unknown rows {unknown}; choose from {ROWS}")
    missing = [f"recipes/{RECIPES[r]}.yaml" for r in chosen if r in RECIPES and not (REPO / "recipes" /
               f"{RECIPES[r]}.yaml").is_file()]  # fmt: skip
    if missing:
        raise FileNotFoundError(f"rows {chosen} need {', '.join(missing)}, which is not there")
    if n_samples < 1 or cpu_minutes <= 0:
        raise ValueError(f"n_samples must be >= 1 and cpu_minutes > 0, got {n_samples} and {cpu_minutes}")
    budget = 60.0 * cpu_minutes
    jobs = [(row, root, budget, seed, n_samples) for seed in range(first_seed, first_seed + seeds) for row in chosen]
    data = (
        f"{root}: stacks of the 60k train split (t10k for the real row)"
        if root
        else "the 5,000 shipped MNIST digits: 50,000 training stacks of the 4,500 not held out; the real row stacks "
        "the 500 held-out digits"
    )
    protocol = {
        "cpu_budget_s": budget,
        "budget_counts": "process CPU seconds from process start, 1 thread per process",
        "train_data": data,
        "recipes": {row: f"recipes/{RECIPES[row]}.yaml" for row in chosen if row in RECIPES},
        "n_samples": n_samples,
        "sampling": "EMA generator, seeded N(0, I) latents (seed = the row's seed)",
        "classifier": f"digit_classifier per channel, held-out digit accuracy {classifier_accuracy()}",
        "metrics": "modes with >= 1 sample (of 1000); KL(p_generated || uniform) = sum p log(1000 p), natural log",
        "kl_sampling_noise_floor": round(uniform_kl_floor(n_samples), 4),
        "published": [{"source": name, "modes": modes, "kl": kl} for name, modes, kl in PUBLISHED],
        "target": TARGET,
        "hardware": f"{cpu_model()}, {os.cpu_count()} cores, {processes} processes",
        "torch": torch.__version__,
    }
    path = Path(out)
    # earlier rows stay, so each row can run in an invocation of its own (two at a time)
    earlier, rows = earlier_rows(path, protocol, {"recipes", "hardware", "commands", "torch"})
    rerun = {(job[0], job[3]) for job in jobs}
    kept = [r for r in rows if (r["row"], r["seed"]) not in rerun]
    protocol["recipes"] = {**earlier.get("recipes", {}), **protocol["recipes"]}

    def order(r: dict[str, Any]) -> Any:
        return (r["seed"], ROWS.index(r["row"]))

    results = run_rows(run_row, jobs, processes, path, protocol, order, kept=kept)
    print("\n" + table(results))
    floor = uniform_kl_floor(n_samples)
    print(f"KL of a perfect generator from sampling noise alone at {n_samples} samples: ~{floor:.4f}")
    for r in results:
        if r["row"] == TARGET["row"]:
            m = r["metrics"]
            met = m["modes"] >= TARGET["modes"] and m["kl"] <= TARGET["max_kl"]
            print(f"seed {r['seed']}: r3gan {m['modes']}/1000 modes, KL {m['kl']:.4f} (target 1000/1000 and KL <= "
                  f"{TARGET['max_kl']}): {'met' if met else 'NOT met'}")  # fmt: skip
    print(f"protocol: {json.dumps(protocol)}\nwrote {path}")


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(main)
