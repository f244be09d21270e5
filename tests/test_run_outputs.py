"""What a default fit shows and records (``lightning_gans.quiet``, ``lightning_gans.wandb_run``): a console with
only the lines that concern the run, and a W&B run that holds the whole resolved config and ``config.yaml``;
a fit that fails before training leaves no W&B run behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from lightning_gans.lightning_cli import earlier_run_files

CAPPED = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "5", "--trainer.limit_val_batches", "2",
          "--trainer.check_val_every_n_epoch", "1", "--trainer.log_every_n_steps", "5"]  # fmt: skip
# Every stderr line a capped default fit may print: Lightning's own account of the run and W&B's, no warning.
EXPECTED_STDERR = [
    r"Seed set to \d+",
    r"[A-Z]PU available: .*",  # GPU, TPU, ... available: Lightning's statement of the devices it found
    r"`Trainer\.fit` stopped: `max_epochs=1` reached\.",
    r"wandb: (?!WARNING|ERROR).*",  # W&B's lines about its run (where it is saved, how to sync it, its summary)
    r"wandb:",
    # On a machine with SLURM installed, Lightning's hint that the run is not placed through srun (it concerns
    # where the run goes; CI machines may have SLURM from the SLURM check)
    r".*slurm\.py:\d+: The `srun` command is available on your system but is not used\. HINT: .*",
]


def lightning_gans(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WANDB_MODE": "offline"}
    env.pop("WANDB_SILENT", None)  # the console as a user sees it
    return subprocess.run([sys.executable, "-m", "lightning_gans", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def default_fit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """README command 1's recipe, capped, with its W&B logger (offline): the run folder and its stderr."""
    folder = tmp_path_factory.mktemp("default")
    root = folder / "run"
    result = lightning_gans("fit", "--config", str(REPO / "recipes/dcgan_fashion_mnist.yaml"), *CAPPED,
                            "--trainer.default_root_dir", str(root), cwd=folder)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result.stderr


def test_a_default_fit_prints_only_what_concerns_the_run(default_fit: tuple[Path, str]) -> None:
    unexpected = [line for line in default_fit[1].splitlines()
                  if line.strip() and not any(re.fullmatch(p, line.rstrip()) for p in EXPECTED_STDERR)]  # fmt: skip
    assert not unexpected, "\n".join(unexpected)


def test_the_wandb_run_holds_the_resolved_config_the_recipe_and_config_yaml(default_fit: tuple[Path, str]) -> None:
    root = default_fit[0]
    (run,) = (root / "wandb").glob("offline-run-*")
    config_yaml = (root / "config.yaml").read_text()
    assert (run / "files/lightning_gans/config.yaml").read_text() == config_yaml
    # An offline run keeps its config in its transaction log: protobuf records, keys and JSON values as text
    (log,) = run.glob("*.wandb")
    recorded = log.read_bytes()
    config = yaml.safe_load(config_yaml)
    for key in ("seed_everything", "trainer", "data", "model", "recipe", "lightning_gans_version"):
        assert key.encode() in recorded, key
    for value in ("recipes/dcgan_fashion_mnist.yaml", "limit_train_batches", config["data"]["class_path"]):
        assert value.encode() in recorded, value


def test_a_fit_that_fails_before_training_leaves_no_wandb_run(tmp_path: Path) -> None:
    root = tmp_path / "run"
    result = lightning_gans("fit", "--config", str(REPO / "recipes/dcgan_fashion_mnist.yaml"), *CAPPED,
                            "--model.generator.init_args.image_size", "32",  # not the data's 28 px: refused
                            "--trainer.default_root_dir", str(root), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1 and "makes samples of shape (1, 32, 32)" in result.stderr
    assert not (root / "wandb").exists() and not (tmp_path / "wandb").exists()
    assert "wandb sync" not in result.stderr  # no advice to sync a run that is gone
    assert not root.exists() or earlier_run_files(root) == []  # the corrected command starts there as anew


def test_help_into_a_closed_pipe_is_no_error(tmp_path: Path) -> None:
    for command in ("", "fit", "sample"):
        result = subprocess.run(f"{sys.executable} -m lightning_gans {command} --help | head -1", shell=True,
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.stdout.startswith("usage: "), result.stdout
        assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
