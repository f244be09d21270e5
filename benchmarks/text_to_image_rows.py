"""Text to image at equal CPU: the ``gan_cls`` recipe as shipped against the same recipe with StackGAN's
conditioning augmentation, each scored on every caption bar of ``benchmarks/text_to_image.py``.

Protocol: each row is ``recipes/gan_cls_fashion_mnist.yaml`` trained on the full 60k Fashion-MNIST training split
(``--root``, Debian's ``fashion-mnist`` package) in a process of its own, one thread, until the process has used
``--cpu_minutes`` of CPU time (``CPUBudget``; validation, checkpoints and logger off; seed 0), two rows at a time
(one per core); then ``text_to_image.measure`` on the 10k validation images and their captions, EMA generator:
class agreement (bar 0.90) on validation captions and on the held-out attribute combinations, every attribute
word's direction (bar 0.95 here, as issue 31 asks), and within-caption diversity against real images with the
same class and attributes (bar 0.8). The rows' differences are the option alone::

    python benchmarks/text_to_image_rows.py --cpu_minutes 20
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cpu_budget import cpu_model, earlier_rows, fit_recipe, quiet, run_rows
from jsonargparse import CLI

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes/gan_cls_fashion_mnist.yaml"
ROWS = {
    "gan_cls (recipe)": [],
    "gan_cls + conditioning augmentation": ["--model.init_args.generator.init_args.conditioning_augmentation", "true"],
    # StackGAN's lambda = 2 on the KL's mean over the 128 dims: our KL is summed over them, so 2 / 128
    "gan_cls + conditioning augmentation, KL weight 2/128": [
        "--model.init_args.generator.init_args.conditioning_augmentation",
        "true",
        "--model.init_args.conditioning_kl_weight",
        "0.015625",
    ],
}
BARS = {"class_agreement": 0.90, "class_agreement/held_out": 0.90, "direction_min": 0.95, "diversity_ratio": 0.8}


def run_row(job: tuple[str, str, float, str]) -> dict[str, Any]:
    row, root, cpu_minutes, ran_beside = job
    quiet()
    from text_to_image import measure

    from lightning_gans.data.captions import FashionCaptionsDataModule

    model, trainer = fit_recipe(RECIPE, [*ROWS[row], "--data.init_args.root", root], seed=0,
                                cpu_seconds=60 * cpu_minutes)  # fmt: skip
    trained = time.process_time()
    data = FashionCaptionsDataModule(root=root)
    data.setup()
    result = measure(model.eval(), data, samples_per_class=50, diversity_per_caption=50, seed=0)
    return {"row": row, "options": ROWS[row], "generator_steps": int(model.generator_steps),
            "epochs": trainer.current_epoch, "train_cpu_seconds": round(trained, 1), **result,
            "cpu": cpu_model(), "ran_beside": ran_beside}  # fmt: skip


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'row':<38}{'G steps':>8}" + "".join(f"{key:>26}" for key in BARS)]
    for result in results:
        cells = "".join(
            f"{result[key]:>20.3f} {'met' if result[key] >= bar else 'missed':>5}" for key, bar in BARS.items()
        )
        lines.append(f"{result['row']:<38}{result['generator_steps']:>8}{cells}")
    return "\n".join(lines)


def main(
    cpu_minutes: float = 20.0,
    root: str = "/usr/share/datasets/fashion-mnist",
    processes: int = 2,
    out: str = "benchmarks/results/text_to_image_rows.json",
    only: list[str] | None = None,
    ran_beside: str | None = None,
) -> None:
    """``only``: the rows to train; the other rows of ``out``, measured under the same protocol, are kept.
    ``ran_beside``: what else ran on the machine meanwhile, recorded in each row trained now (a busy machine
    buys fewer steps per CPU-second)."""
    protocol = {
        "description": __doc__.split("::")[0].strip(),
        "cpu_minutes": cpu_minutes,
        "root": root,
        "bars": BARS,
        "machine": "one thread per row; a row's machine is its cpu, what else ran beside it (the benchmark's other "
        "rows included) its ran_beside",
    }
    unknown = sorted(set(only or []) - set(ROWS))
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; the rows are {list(ROWS)}")
    kept: list[dict[str, Any]] = []
    if only:
        _, rows = earlier_rows(Path(out), protocol, {"machine"})
        kept = [r for r in rows if r["row"] not in only and r["row"] in ROWS]
    beside = ", ".join([f"{processes} rows of this benchmark at a time", *([ran_beside] if ran_beside else [])])
    jobs = [(row, root, cpu_minutes, beside) for row in ROWS if not only or row in only]
    results = run_rows(run_row, jobs, processes, Path(out), protocol, order=lambda r: list(ROWS).index(r["row"]),
                       kept=kept)  # fmt: skip
    print(table(results))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    CLI(main)
