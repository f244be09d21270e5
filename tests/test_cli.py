"""The command line: every recipe runs, registry names resolve, bad input gets a message that points at it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import RECIPES, REPO, run_cli
from PIL import Image

from lightning_gans.lightning_cli import resolve_argv


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_every_recipe_parses_and_runs_a_fast_dev_run(
    recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(["fit", "--config", str(recipe), "--print_config"], capsys)
    assert code == 0, out
    assert "class_path: lightning_gans.variants." in out  # the registry name became an import path
    code, out = run_cli(["fit", "--config", str(recipe), "--trainer.fast_dev_run", "2"], capsys)
    assert code == 0, out
    assert "Traceback" not in out


def test_fit_logs_to_wandb_offline_saves_grids_and_checkpoints_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["fit", "--config", str(REPO / "recipes/dcgan_fashion_mnist.yaml"), "--trainer.limit_train_batches", "3",
            "--trainer.limit_val_batches", "1", "--model.generator.init_args.width", "8",
            "--model.discriminator.init_args.width", "8"]  # fmt: skip
    code, out = run_cli([*args, "--trainer.max_epochs", "1"], capsys)
    assert code == 0, out
    root = tmp_path / "runs/dcgan_fashion_mnist"
    assert (root / "config.yaml").is_file()
    assert (root / "checkpoints/last.ckpt").is_file()
    grid = Image.open(root / "samples/last.png")
    assert grid.size == (8 * 30 + 2, 8 * 30 + 2)  # 64 samples of 28x28 with 2-pixel padding
    logged = list((root / "wandb").glob("offline-run-*/files/media/images/samples_*.png"))
    assert logged, "the sample grid was not logged to W&B"
    pixels = torch.from_numpy(np.asarray(Image.open(logged[0]).convert("L")))
    assert pixels.max() > 200, "W&B image is black: it must be logged as uint8"

    code, out = run_cli([*args, "--trainer.max_epochs", "2", "--ckpt_path", "last"], capsys)
    assert code == 0, out
    state = torch.load(root / "checkpoints/last.ckpt", weights_only=True)
    assert state["lightning_gans"]["generator_steps"] == 6  # 3 + 3: resumed, not restarted
    assert state["global_step"] == 12

    out_png = tmp_path / "grid.png"
    code, out = run_cli(["sample", "--ckpt", str(root / "checkpoints/last.ckpt"), "--n", "16", "--out",
                         str(out_png)], capsys)  # fmt: skip
    assert code == 0, out
    assert Image.open(out_png).size == (4 * 30 + 2, 4 * 30 + 2)


def edited_recipe(tmp_path: Path, name: str, old: str, new: str) -> str:
    """A copy of a recipe with one edit, beside a link to the shared parts it includes."""
    text = (REPO / "recipes" / name).read_text()
    assert old in text
    (tmp_path / "_shared").symlink_to(REPO / "recipes/_shared")
    (tmp_path / name).write_text(text.replace(old, new))
    return str(tmp_path / name)


def test_bad_recipe_key_points_at_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = edited_recipe(tmp_path, "gan_ring.yaml", "loss: non_saturating", "loss: non_saturating\n    n_critc: 2")
    code, out = run_cli(["fit", "--config", recipe, "--print_config"], capsys)
    assert code != 0
    assert "n_critc" in out


def test_unknown_registry_name_in_a_recipe_lists_close_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = edited_recipe(tmp_path, "gan_ring.yaml", "loss: non_saturating", "loss: non_saturatin")
    code, out = run_cli(["fit", "--config", recipe, "--print_config"], capsys)
    assert code != 0
    assert "unknown loss 'non_saturatin'" in out and "Did you mean 'non_saturating'" in out
    code, out = run_cli(["fit", "--config", str(REPO / "recipes/gan_ring.yaml"), "--model.generator", "mlpp",
                         "--print_config"], capsys)  # fmt: skip
    assert code != 0 and "unknown generator 'mlpp'" in out and "Did you mean 'mlp'" in out


def test_registry_names_on_the_command_line_resolve() -> None:
    assert resolve_argv(["--model", "gan", "--model.generator=dcgan", "--data.class_path", "fashion_mnist"]) == [
        "--model",
        "lightning_gans.variants.gan.GAN",
        "--model.generator=lightning_gans.nets.dcgan.DCGANGenerator",
        "--data.class_path",
        "lightning_gans.data.idx.FashionMNISTDataModule",
    ]
    assert resolve_argv(["--trainer.logger", "WandbLogger"]) == ["--trainer.logger", "WandbLogger"]


def test_list_shows_kind_name_class_and_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["list", "--check"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "CLASS", "DISTRIBUTION", "STATUS"]
    row = next(line.split() for line in lines if line.startswith("variant") and " dcgan " in line)
    assert row == ["variant", "dcgan", "lightning_gans.variants.dcgan:DCGAN", "lightning-gans", "0.1.0", "ok"]


def test_sample_refuses_a_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["sample", "--ckpt", str(tmp_path / "nope.ckpt")], capsys)
    assert code == 2 and "no checkpoint at" in out and "Traceback" not in out


def test_console_script_is_installed() -> None:
    """`pip install` puts the `lightning-gans` script (pyproject's [project.scripts]) beside the interpreter."""
    script = Path(sys.executable).parent / "lightning-gans"
    assert script.is_file(), f"no console script at {script}: install the project (pip install -e .)"
    shown = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert (
        "usage: lightning-gans {fit,validate,test,predict,list,sample,translate,evaluate,export,demo}" in shown.stdout
    )
    listed = subprocess.run([str(script), "list"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert ["KIND", "NAME", "CLASS", "DISTRIBUTION", "STATUS"] == rows[0]
    assert ["variant", "wgan_gp", "lightning_gans.variants.wgan_gp:WGANGP", "lightning-gans"] in [r[:4] for r in rows]
    assert ["loss", "wasserstein", "lightning_gans.losses.wasserstein:WassersteinLoss", "lightning-gans"] in [
        r[:4] for r in rows
    ]


@pytest.mark.parametrize("command", [["--help"], ["list"], ["list", "generators"]])
def test_help_and_list_import_neither_torch_nor_lightning(command: list[str]) -> None:
    """`lightning-gans --help` and `list` answer from package metadata: importing torch and Lightning first
    took seconds (the paired timing is benchmarks/cli_startup.py)."""
    code = (
        "import sys\n"
        "from lightning_gans.cli import main\n"
        f"assert main({command!r}) == 0\n"
        "print('HEAVY', sorted(m for m in ('torch', 'lightning', 'jsonargparse', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


# -- the light commands take a config file, as fit does ----------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("sample", {"n": 12, "out": "grid.png", "truncation": 0.7}),
        ("translate", {"input": "photos", "out": "translated", "reverse": True}),
        ("evaluate", {"metrics": "fid", "n_fake": 100, "run_config": "run/config.yaml"}),
        ("export", {"out": "exported", "license": "apache-2.0", "format": "onnx"}),
        ("demo", {"port": 7861, "host": "0.0.0.0"}),
    ],
)
def test_every_light_command_reads_options_from_a_config_file(
    command: str, options: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    config = tmp_path / "options.yaml"
    config.write_text(yaml.safe_dump({"ckpt": "run/checkpoints/last.ckpt", **options}))
    code, out = run_cli([command, "--config", str(config), "--print_config"], capsys)
    assert code == 0, out
    printed = yaml.safe_load(out)
    assert printed.items() >= {"ckpt": "run/checkpoints/last.ckpt", **options}.items()
    # the command line overrides the file; a later file overrides an earlier one
    key, value = next(iter(options.items()))
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"ckpt": "other.ckpt"}))
    code, out = run_cli([command, "--config", str(config), "--config", str(override), "--print_config"], capsys)
    assert yaml.safe_load(out)["ckpt"] == "other.ckpt"
    if not isinstance(value, bool):
        code, out = run_cli([command, "--config", str(config), f"--{key}", "9", "--print_config"], capsys)
        assert str(yaml.safe_load(out)[key]) == "9"


def test_a_bad_config_file_key_or_value_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    for text, expected in [
        ("ckpt: x.ckpt\nnn: 4\n", "--config {}: unknown option 'nn'. Did you mean 'n'?"),
        ("ckpt: x.ckpt\nn: many\n", "--config {}: n: invalid literal"),
        ("ckpt: x.ckpt\ntruncation_mode: sideways\n", "--config {}: truncation_mode: 'sideways' is not one of"),
        ("ckpt: x.ckpt\ncompile: maybe\n", "--config {}: compile: expected true or false"),
        ("- just\n- a list\n", "--config {}: expected a mapping"),
        ("ckpt: [unclosed\n", "--config {}: not valid YAML"),
    ]:
        bad.write_text(text)
        code, out = run_cli(["sample", "--config", str(bad), "--out", str(tmp_path / "x.png")], capsys)
        assert code == 2 and expected.format(bad) in out and "Traceback" not in out, out
    code, out = run_cli(["sample", "--config", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "cannot read it" in out
