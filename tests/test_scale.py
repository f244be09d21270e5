"""Scale paths, small: DDP over 2 CPU processes, bf16 autocast on CPU, fp16 with a grad scaler on a GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO

SMALL_DCGAN = [
    "--config", str(REPO / "recipes/dcgan_fashion_mnist.yaml"),
    "--model.generator.init_args.width", "8", "--model.discriminator.init_args.width", "8",
    "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "1", "--trainer.max_epochs", "1",
]  # fmt: skip


def fit_in_subprocess(tmp_path: Path, *extra: str) -> dict[str, object]:
    """Run `lightning-gans fit` in a fresh interpreter (DDP re-launches the command) and read last.ckpt."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONPATH": str(REPO / "tests")}
    result = subprocess.run(
        [sys.executable, "-m", "lightning_gans", "fit", *SMALL_DCGAN, *extra],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return torch.load(tmp_path / "runs/dcgan_fashion_mnist/checkpoints/last.ckpt", weights_only=True)


def assert_trained_and_finite(checkpoint: dict[str, object], generator_steps: int) -> None:
    state = checkpoint["lightning_gans"]
    assert isinstance(state, dict) and state["generator_steps"] == generator_steps
    weights = checkpoint["state_dict"]
    assert isinstance(weights, dict)
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


@pytest.mark.parametrize("strategy", ["ddp", "ddp_find_unused_parameters_true"])
def test_ddp_with_two_cpu_processes(tmp_path: Path, strategy: str) -> None:
    # plain "ddp" works because GANModule.setup turns on unused-parameter detection
    checkpoint = fit_in_subprocess(
        tmp_path, "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", strategy,
        "--trainer.callbacks+=rank_weights.SaveRankWeights", "--trainer.check_val_every_n_epoch", "1",
    )  # fmt: skip
    assert_trained_and_finite(checkpoint, generator_steps=4)  # 4 batches per process
    # Each rank drew other data and other noise; identical weights mean the gradients were all-reduced.
    root = tmp_path / "runs/dcgan_fashion_mnist"
    rank0, rank1 = torch.load(root / "rank0.pt"), torch.load(root / "rank1.pt")
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        if key.startswith(("generator.", "discriminator.")) and "running" not in key and "num_batches" not in key:
            assert torch.allclose(rank0[key], rank1[key], atol=1e-6), key
    if strategy == "ddp":
        assert_sample_quality_is_the_single_process_value(root)


def assert_sample_quality_is_the_single_process_value(root: Path) -> None:
    """Under DDP each process scores its share of the real and generated images and the metric states are
    gathered: the logged values must be those of one process scoring everything (the recipe's protocol)."""
    from lightning_gans.checkpoints import load_variant
    from lightning_gans.data.idx import FashionMNISTDataModule
    from lightning_gans.metrics.evaluation import SampleQuality, dataset_images

    logged = [torch.load(root / f"rank{r}_metrics.pt") for r in (0, 1)]
    assert logged[0]["val/fid"] == logged[1]["val/fid"]
    data = FashionMNISTDataModule()
    data.setup("fit")
    model = load_variant(root / "checkpoints/last.ckpt")
    metrics = "fid,kid,is,prdc,classes"  # the recipe's
    quality = SampleQuality(metrics, "fashion_classifier", dataset_images(data.train_set, 5000, seed=0))
    latents = torch.randn(5000, model.latent_dim, generator=torch.Generator().manual_seed(0))
    chunks = iter(latents.split(500))
    expected = quality.evaluate(lambda n: model.generate(next(chunks)), 5000)
    assert all(f"val/{key}" in logged[0] for key in expected if not isinstance(expected[key], list))
    assert logged[0]["val/fid"] == pytest.approx(expected["fid"], rel=1e-4)
    # KID and IS draw random subsets by position: equal only if the gathered order is the single-process one
    for key in ("kid", "kid_std", "is", "is_std", "precision", "recall", "density", "coverage", "classes_covered",
                "class_kl"):  # fmt: skip
        assert logged[0][f"val/{key}"] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key


def test_bf16_mixed_on_cpu(tmp_path: Path) -> None:
    checkpoint = fit_in_subprocess(tmp_path, "--trainer.precision", "bf16-mixed")
    assert_trained_and_finite(checkpoint, generator_steps=4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fp16_mixed_with_grad_scaler_on_gpu(tmp_path: Path) -> None:
    # 16-mixed scales each loss inside manual_backward and unscales before each optimiser step
    checkpoint = fit_in_subprocess(tmp_path, "--trainer.accelerator", "gpu", "--trainer.precision", "16-mixed")
    assert_trained_and_finite(checkpoint, generator_steps=4)
