"""Mode coverage on the 2-D mixtures, for every loss, PacGAN, unrolled GAN and R3GAN's objective, beside the
published tables.

Protocol (VEEGAN / PacGAN):
* data: the ring of 8 (radius 1, std 0.01) and the 5x5 grid (spacing 2, std 0.05);
* metric: 2500 samples from the trained generator; each goes to its nearest mode by Mahalanobis distance;
  it is high quality within 3 std; a mode is captured if a high-quality sample is nearest to it; reverse
  KL of the high-quality mode histogram against uniform (``lightning_gans.metrics.ModeCoverage``);
* every row uses the same nets (MLP G: latent 2 -> 3 x 128 ReLU -> 2; MLP D: 2 -> 3 x 128 LeakyReLU -> 1),
  the same batch size (256), the same number of training batches (one discriminator step each; a
  generator step every n_critic of them) and seeds 0..n-1. It trains through our variants under
  ``Trainer.fit``, one thread per run, two runs at a time on 2 cores. CPU seconds are each run's process
  time (training and evaluation);
* r3gan is R3GAN's objective (relativistic pairing loss + R1 + R2, gamma ``--r3gan_gamma``, Adam betas
  (0, 0.99)) on the shared MLP nets; hinge_sn_x10 is hinge_sn whose D first multiplies its input by 10 (no
  parameters: the Lipschitz bound spectral norm gives D becomes 10 instead of 1); hinge (no spectral norm)
  and gan_sn (non-saturating loss with spectral norm) tell the loss's part from spectral norm's;
* ebgan_pt is EBGAN with the pulling-away term (weight 0.1, margin 10 on the mean squared reconstruction error):
  D is an auto-encoder of the shared MLP layers (2 -> 3 x 128 ReLU -> code 2 -> 3 x 128 ReLU -> 2), so it has
  twice the shared D's layers; its energy takes the logit's place;
* diagnostics per run: the median norm of D's input gradient at 2500 real points (what bounds how sharply
  D can tell a sample 3 std off a mode from one on it) and the median distance of a sample to its nearest
  mode, in units of the mixture's std (high quality is <= 3).

    python benchmarks/toy_modes.py                         # all rows, 5 seeds
    python benchmarks/toy_modes.py --rows '[gan, pacgan4]' --seeds 2 --batches 1000
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from jsonargparse import CLI
from torch import nn
from torch.optim import Adam, Optimizer, RMSprop

BATCH_SIZE = 256
LATENT_DIM = 2
HIDDEN = (128, 128, 128)

PUBLISHED = [
    # (source, method, ring modes, ring HQ %, grid modes, grid HQ %, grid reverse KL)
    ("PacGAN Table 1", "GAN", 6.3, 98.2, 17.3, 94.8, None),
    ("PacGAN Table 1", "PacGAN4", 7.8, 95.9, 24.8, 93.6, 0.04),
    ("VEEGAN Table 1", "VEEGAN", 8.0, 52.9, 24.6, 40.0, None),
]


def adam(lr: float, betas: tuple[float, float]) -> Any:
    def build(params: Iterator[nn.Parameter]) -> Optimizer:
        return Adam(params, lr=lr, betas=betas)

    return build


def rmsprop(lr: float) -> Any:
    def build(params: Iterator[nn.Parameter]) -> Optimizer:
        return RMSprop(params, lr=lr)

    return build


class ScaledInput(nn.Module):
    """x -> net(scale * x): a D whose spectrally normalised layers see inputs ``scale`` times larger."""

    def __init__(self, net: nn.Module, scale: float) -> None:
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.scale * x)  # type: ignore[no-any-return]


def build_row(row: str, lr: float, ema_decay: float | None, r3gan_gamma: float) -> Any:
    """The model for a row. Every row shares nets, batch size and data; only the method differs."""
    from lightning_gans.losses import (
        EnergyMarginLoss,
        HingeLoss,
        LeastSquaresLoss,
        MinimaxLoss,
        NonSaturatingLoss,
        WassersteinLoss,
    )
    from lightning_gans.losses.relativistic import RelativisticPairingLoss
    from lightning_gans.nets import MLPAutoencoderDiscriminator, MLPDiscriminator, MLPGenerator
    from lightning_gans.regularisers import Regularisation
    from lightning_gans.variants.ebgan import EBGAN
    from lightning_gans.variants.gan import GAN
    from lightning_gans.variants.unrolled import UnrolledGAN

    pack = 4 if row == "pacgan4" else 1
    generator = MLPGenerator(latent_dim=LATENT_DIM, out_shape=(2,), hidden=HIDDEN, output_activation="none")
    discriminator: nn.Module = MLPDiscriminator(in_shape=(2 * pack,), hidden=HIDDEN)
    if row == "hinge_sn_x10":
        discriminator = ScaledInput(discriminator, 10.0)
    fast = adam(lr, (0.5, 0.999))
    settings: dict[str, dict[str, Any]] = {
        "gan_minimax": {"loss": MinimaxLoss()},
        "gan": {"loss": NonSaturatingLoss()},
        "wgan": {"loss": WassersteinLoss(), "n_critic": 5, "regularisation": Regularisation(weight_clip=0.01),
                 "g_optimizer": rmsprop(lr / 2), "d_optimizer": rmsprop(lr / 2)},
        "wgan_gp": {"loss": WassersteinLoss(), "n_critic": 5, "regularisation": Regularisation(gradient_penalty=0.1),
                    "g_optimizer": adam(lr, (0.5, 0.9)), "d_optimizer": adam(lr, (0.5, 0.9))},
        "lsgan": {"loss": LeastSquaresLoss()},
        "hinge_sn": {"loss": HingeLoss(), "regularisation": Regularisation(spectral_norm=True)},
        "hinge_sn_x10": {"loss": HingeLoss(), "regularisation": Regularisation(spectral_norm=True)},
        "hinge": {"loss": HingeLoss()},
        "gan_sn": {"loss": NonSaturatingLoss(), "regularisation": Regularisation(spectral_norm=True)},
        "r3gan": {"loss": RelativisticPairingLoss(),
                  "regularisation": Regularisation(r1_gamma=r3gan_gamma, r2_gamma=r3gan_gamma),
                  "g_optimizer": adam(lr, (0.0, 0.99)), "d_optimizer": adam(lr, (0.0, 0.99))},
        "pacgan4": {"loss": NonSaturatingLoss(), "pack": 4},
        "unrolled5": {"loss": NonSaturatingLoss()},
        "ebgan_pt": {"loss": EnergyMarginLoss(margin=10.0)},
    }  # fmt: skip
    options = {"g_optimizer": fast, "d_optimizer": fast, "ema_decay": ema_decay, **settings[row]}
    if row == "unrolled5":
        return UnrolledGAN(generator, discriminator, unrolled_steps=5, **options)
    if row == "ebgan_pt":  # the shared MLP layers as encoder, mirrored as decoder, a 2-value code
        energy = MLPAutoencoderDiscriminator(in_shape=(2,), hidden=HIDDEN, code_dim=2)
        return EBGAN(generator, energy, pulling_away_weight=0.1, **options)
    return GAN(generator, discriminator, **options)


ROWS = ["gan_minimax", "gan", "wgan", "wgan_gp", "lsgan", "hinge_sn", "hinge_sn_x10", "hinge", "gan_sn", "pacgan4",
        "unrolled5", "r3gan", "ebgan_pt"]  # fmt: skip


def diagnostics(
    model: Any, real: torch.Tensor, samples: torch.Tensor, means: torch.Tensor, std: float
) -> dict[str, float]:
    """The median sample-to-nearest-mode distance in stds; D's median input-gradient norm on real points; and
    how linear D is: the share of the variance of D's scores on real and generated points that the best affine
    function of the point explains (R^2; 1 means D can only tell distributions apart by their means)."""
    distance = torch.cdist(samples, means).min(dim=1).values.median().item() / std
    if model.pack != 1:
        return {"median_distance_std": distance}
    x = real.clone().requires_grad_(True)
    model.discriminator.eval()
    (grad,) = torch.autograd.grad(model.discriminator(x).sum(), x)
    points = torch.cat([real, samples])
    with torch.no_grad():
        scores = model.discriminator(points).flatten().double()
    design = torch.cat([points.double(), torch.ones(len(points), 1, dtype=torch.double)], dim=1)
    fitted = design @ torch.linalg.lstsq(design, scores.unsqueeze(1)).solution
    r2 = 1 - (scores - fitted.flatten()).var() / scores.var()
    return {"median_distance_std": distance, "d_grad_norm": grad.norm(dim=1).median().item(), "d_linear_r2": r2.item()}


def train_row(
    row: str, mixture: str, seed: int, batches: int, lr: float, ema_decay: float | None, r3gan_gamma: float
) -> tuple[Any, Any, Any]:
    """``row`` trained on ``mixture`` for ``batches`` training batches, seeded: (model, data module, trainer)."""
    from lightning.pytorch import Trainer, seed_everything

    from lightning_gans.data.toy import GaussianMixtureDataModule

    seed_everything(seed, verbose=False)
    model = build_row(row, lr, ema_decay, r3gan_gamma)
    data = GaussianMixtureDataModule(mixture=mixture, num_train=50_000, num_val=256, batch_size=BATCH_SIZE, seed=seed)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as root:
        trainer = Trainer(
            accelerator="cpu", max_steps=batches + batches // model.n_critic, max_epochs=-1, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            limit_val_batches=0, num_sanity_val_steps=0, default_root_dir=root,
        )  # fmt: skip
        trainer.fit(model, data)
    return model, data, trainer


def one_run(job: tuple[str, str, int, int, float, float | None, float]) -> dict[str, Any]:
    """Train one (row, mixture, seed) for ``batches`` batches and score 2500 samples."""
    row, mixture, seed, batches, lr, ema_decay, r3gan_gamma = job
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from lightning_gans.metrics import ModeCoverage

    started = time.process_time()
    model, data, _ = train_row(row, mixture, seed, batches, lr, ema_decay, r3gan_gamma)
    metric = ModeCoverage(data.mixture.means, data.mixture.std)
    samples = model.sample(2500, seed=10_000 + seed)
    metric.update(samples)
    result = {k: float(v) for k, v in metric.compute().items()}
    real, _ = data.mixture.sample(2500, torch.Generator().manual_seed(20_000 + seed))
    result.update(diagnostics(model, real, samples, data.mixture.means, data.mixture.std))
    settings = {
        "row": row,
        "mixture": mixture,
        "seed": seed,
        "batches": batches,
        "lr": lr,
        "ema_decay": ema_decay,
        "r3gan_gamma": r3gan_gamma if row == "r3gan" else None,
    }
    cpu_seconds = time.process_time() - started
    return {**settings, "generator_steps": model.generator_steps, "cpu_seconds": cpu_seconds, **result}


def mean_se(values: list[float]) -> tuple[float, float]:
    if any(math.isinf(v) for v in values):  # reverse KL of a run with no high-quality sample
        return math.inf, math.nan
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, se


def main(
    rows: list[str] | None = None,
    seeds: int = 5,
    batches: int = 10_000,
    lr: float = 1e-3,
    ema_decay: float | None = None,
    r3gan_gamma: float = 0.1,
    mixtures: list[str] | None = None,
    workers: int = 2,
    out: str = "benchmarks/results/toy_modes.json",
    resume: bool = False,
) -> None:
    """Train every row on both mixtures (or ``mixtures``) for ``seeds`` seeds; print the table and write JSON to
    ``out``.

    With ``resume``, runs already in ``out`` (a finished or a stopped benchmark) with the same settings are
    kept and not trained again.
    """
    rows = rows or ROWS
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        raise ValueError(f"unknown rows {unknown}; choose from {ROWS}")
    jobs = [
        (row, mixture, seed, batches, lr, ema_decay, r3gan_gamma)
        for row in rows
        for mixture in mixtures or ("ring", "grid")
        for seed in range(seeds)
    ]
    results: list[dict[str, Any]] = []
    if resume and Path(out).is_file():
        planned = {(row, mixture, seed, batches, lr, ema_decay) for row, mixture, seed, *_ in jobs}
        gammas = {(row, mixture, seed): gamma for row, mixture, seed, *_, gamma in jobs}
        for run in json.loads(Path(out).read_text())["runs"]:
            key = (run["row"], run["mixture"], run["seed"], run["batches"], run["lr"], run["ema_decay"])
            same_gamma = run["row"] != "r3gan" or run.get("r3gan_gamma") == gammas[key[:3]]
            if key in planned and same_gamma:
                results.append(run)
        done = {(r["row"], r["mixture"], r["seed"]) for r in results}
        jobs = [job for job in jobs if (job[0], job[1], job[2]) not in done]
        print(f"resuming: {len(results)} runs kept from {out}, {len(jobs)} to train")
    wall = time.perf_counter()
    with mp.get_context("spawn").Pool(workers) as pool:
        for result in pool.imap_unordered(one_run, jobs):
            results.append(result)
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(json.dumps({"partial": True, "runs": results}, indent=2))  # survives a stop
            print(f"{result['row']:<12}{result['mixture']:<6}seed {result['seed']}: {result['modes']:.0f} modes, "
                  f"{100 * result['high_quality']:.1f}% HQ, rKL {result['reverse_kl']:.3f}, "
                  f"median distance {result['median_distance_std']:.1f} std, "
                  f"D grad {result.get('d_grad_norm', math.nan):.3g}, "
                  f"D linear R2 {result.get('d_linear_r2', math.nan):.3f}, "
                  f"{result['cpu_seconds']:.0f} CPU s", flush=True)  # fmt: skip
    protocol = {
        "samples_scored": 2500,
        "high_quality": "within 3 std (Mahalanobis) of the nearest mode",
        "nets": f"MLP G latent {LATENT_DIM} -> {HIDDEN} ReLU -> 2; MLP D 2*pack -> {HIDDEN} LeakyReLU(0.2) -> 1",
        "batch_size": BATCH_SIZE,
        "training_batches": batches,
        "generator_ema_decay": ema_decay,
        "learning_rate": f"{lr} (Adam, betas (0.5, 0.999); WGAN: RMSProp lr/2)",
        "seeds": seeds,
        "threads_per_run": 1,
        "hardware": f"{platform.machine()}, {os.cpu_count()} logical CPUs, no GPU",
        "wall_seconds_this_invocation": round(time.perf_counter() - wall, 1),
    }
    print("\n" + "\n".join(f"{k}: {v}" for k, v in protocol.items()))
    columns = ["ring modes", "ring HQ %", "ring rKL", "grid modes", "grid HQ %", "grid rKL"]
    print(f"\n{'method':<14}{'runs':>5}" + "".join(f"{c:>14}" for c in columns) + f"{'CPU s/run':>11}")
    table = []
    for row in rows:
        cells, summary = [], {"row": row}
        for mixture in ("ring", "grid"):
            runs = [r for r in results if r["row"] == row and r["mixture"] == mixture]
            if not runs:
                cells += ["-"] * 3
                continue
            for key, scale in (("modes", 1), ("high_quality", 100), ("reverse_kl", 1)):
                mean, se = mean_se([scale * r[key] for r in runs])
                summary[f"{mixture}_{key}"] = {"mean": mean, "se": se}
                cells.append(f"{mean:.2f}±{se:.2f}" if key != "modes" else f"{mean:.1f}±{se:.1f}")
            for key in ("median_distance_std", "d_grad_norm", "d_linear_r2"):
                if all(key in r for r in runs):
                    summary[f"{mixture}_{key}"] = {"mean": statistics.fmean(r[key] for r in runs)}
        row_runs = [r for r in results if r["row"] == row]
        cpu = statistics.fmean(r["cpu_seconds"] for r in row_runs)
        summary["cpu_seconds_per_run"] = cpu
        summary["runs"] = len(row_runs)
        table.append(summary)
        print(f"{row:<14}{len(row_runs):>5}" + "".join(f"{c:>14}" for c in cells) + f"{cpu:>11.1f}")
    print("\npublished (other nets and budgets):")
    for source, method, rm, rhq, gm, ghq, gkl in PUBLISHED:
        print(f"{method + ' (' + source + ')':<32} ring {rm} modes / {rhq}% HQ; grid {gm} modes / {ghq}% HQ"
              + (f"; grid rKL {gkl}" if gkl is not None else ""))  # fmt: skip
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"protocol": protocol, "table": table, "runs": results,
                                     "published": PUBLISHED}, indent=2))  # fmt: skip
    print(f"\nwrote {out}")


if __name__ == "__main__":
    CLI(main)
