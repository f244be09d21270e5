"""The README's code is run, so that the docs cannot rot: the "Write a variant" example, written to a file
exactly as printed and registered through a (fake) distribution, trains, validates, resumes exactly, samples
and evaluates through the public kit and the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO, FakeDistributions, tiny_images

from lightning_gans import registry
from lightning_gans.cli import main
from lightning_gans.testing import check_variant


def readme_block(section: str) -> str:
    """The first ```python block under the README heading ``section``."""
    text = (REPO / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", body, re.S)
    assert match, f"no python block under '## {section}'"
    return match.group(1)


@pytest.fixture
def readme_variant(fake_dists: FakeDistributions) -> str:
    code = readme_block("Write a variant")
    module = code.splitlines()[0].removeprefix("# ").removesuffix(".py").replace("/", ".")  # my_gans.hinge
    fake_dists.add("my-gans", {"lightning_gans.variants": {"hinge_gan": f"{module}:HingeGAN"}}, {module: code})
    registry.variants.refresh()
    return "hinge_gan"


def test_the_readme_variant_trains_validates_resumes_exactly_and_samples(readme_variant: str, tmp_path: Path) -> None:
    values = check_variant(lambda: registry.variants.create(readme_variant), tiny_images, tmp_path / "default")
    assert set(values) == {"val/d_loss", "val/g_loss", "val/d_real", "val/d_fake"}  # the base's, with self.loss
    # every option it shows: a relativistic loss, R1 (compiled too: through uncompiled), instance noise, the EMA
    options = {"loss": "relativistic_average", "r1_gamma": 1.0, "instance_noise": 0.1, "ema_decay": 0.9}
    check_variant(lambda: registry.variants.create(readme_variant, **options), tiny_images, tmp_path / "options")


def test_the_readme_variant_runs_from_the_command_line_then_validates_samples_and_evaluates(
    readme_variant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "run"
    cap = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "1",
           "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]  # fmt: skip
    fit = ["fit", "--model", readme_variant, "--model.n_critic", "2", "--data", "fashion_mnist",
           "--data.batch_size", "16", "--trainer.default_root_dir", str(root), *cap]  # fmt: skip
    assert main(fit) == 0, capsys.readouterr().err
    (ckpt,) = (root / "checkpoints").glob("*.ckpt")
    assert main(["validate", "--config", str(root / "config.yaml"), "--ckpt_path", str(ckpt), *cap[6:]]) == 0
    assert "val/d_real" in capsys.readouterr().out
    assert main(["sample", "--ckpt", str(ckpt), "--n", "16", "--out", str(tmp_path / "grid.png")]) == 0
    report = tmp_path / "eval.json"
    code = main(["evaluate", "--ckpt", str(ckpt), "--metrics", "fid,kid", "--n_fake", "200", "--n_real", "200",
                 "--out", str(report)])  # fmt: skip
    assert code == 0 and report.is_file()


def test_the_readme_states_command_1s_measured_time_with_its_machine() -> None:
    """The figure users check first comes from benchmarks/results/command1.json, not from memory."""
    import json

    measured = json.loads((REPO / "benchmarks/results/command1.json").read_text())
    row = measured["rows"]["command 1 (fit)"]
    line = next(line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("# 1. "))
    cpu = measured["machine"].split(",")[0]
    expected = f"({row['wall_min']:.1f} min, {row['cpu_s']:.0f} CPU-s: {cpu}, {measured['machine'].split(', ')[1]})"
    assert line.endswith(expected), (line, expected)
