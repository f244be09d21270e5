"""The example plugin, really pip-installed: its parts are listed with its distribution and train by name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

PLUGIN = REPO / "plugins/lightning-gans-example"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip-install the plugin into a private folder (offline: no deps, the build backend already present).

    It is built from a copy, so the build leaves nothing behind in the source tree.
    """
    source = tmp_path_factory.mktemp("plugin-source") / PLUGIN.name
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return target


def run(args: list[str], site: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(site), "WANDB_MODE": "offline", **env}
    return subprocess.run(
        [sys.executable, "-m", "lightning_gans", *args], cwd=cwd, env=environment, capture_output=True, text=True
    )


def test_installed_plugin_parts_are_listed_with_their_distribution(plugin_site: Path, tmp_path: Path) -> None:
    result = run(["list", "--check"], plugin_site, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {tuple(line.split()[:2]): line.split() for line in result.stdout.splitlines()}
    assert rows[("generator", "upsample_conv")][2:] == [
        "lightning_gans_example.nets:UpsampleConvGenerator", "lightning-gans-example", "0.1.0", "ok",
    ]  # fmt: skip
    assert rows[("discriminator", "minibatch_std")][3] == "lightning-gans-example"
    assert rows[("loss", "reverse_kl")][3] == "lightning-gans-example"
    assert rows[("variant", "dcgan")][3] == "lightning-gans"

    disabled = run(["list"], plugin_site, tmp_path, LIGHTNING_GANS_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "upsample_conv" not in disabled.stdout and "dcgan" in disabled.stdout


def test_recipe_naming_plugin_parts_by_registry_name_trains(plugin_site: Path, tmp_path: Path) -> None:
    result = run(
        ["fit", "--config", str(PLUGIN / "recipe.yaml"), "--trainer.max_epochs", "1",
         "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "1"],
        plugin_site, tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    config = (tmp_path / "runs/example_plugin/config.yaml").read_text()
    assert "class_path: lightning_gans_example.nets.UpsampleConvGenerator" in config
    assert "class_path: lightning_gans_example.losses.ReverseKLLoss" in config


def test_the_plugin_passes_its_own_tests_with_the_public_kit(plugin_site: Path, tmp_path: Path) -> None:
    """The example plugin's tests use `lightning_gans.testing` on its installed parts, as any plugin's would."""
    environment = {**os.environ, "PYTHONPATH": str(plugin_site), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGIN / "tests")],
        cwd=tmp_path, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 passed" in result.stdout
