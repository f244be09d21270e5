"""Nothing dropped silently on resume, no circular advice for a run that has nothing to resume, and parser errors as
one paragraph that names the key (issue 26, items 5, 6 and 7)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from conftest import files_of, finished_tiny_run, run_cli, tiny_recipe

import lightning_gans.lightning_cli  # noqa: F401  (Lightning imported here, not first inside capsys)
from lightning_gans.core.guards import check_scores
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.dcgan import DCGANDiscriminator


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (1 epoch, nets of width 8, EMA on)."""
    folder = tmp_path_factory.mktemp("trained")
    root = finished_tiny_run(folder)
    return root


def copy_of(trained: Path, tmp_path: Path, minutes: float = 0.0) -> tuple[Path, str]:
    """A copy of the trained run and a recipe that trains it one epoch further."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run, str(tiny_recipe(tmp_path, run, epochs=2, minutes=minutes))


# -- 5. a changed architecture on resume is refused; other settings given are applied and reported --------------
@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--model.generator.init_args.width", "32"], "--model.generator.init_args.width: 32 given, the checkpoint "
         "has 8"),
        (["--model.discriminator", "mlp"], "--model.discriminator: MLPDiscriminator given, the checkpoint has "
         "DCGANDiscriminator"),
        (["--model.ema_decay", "null"], "--model.ema_decay: null given, the checkpoint has 0.99"),
        (["--model", "wgan"], "--model: WGAN given, the checkpoint is a DCGAN run"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["fit", "validate"])
def test_other_nets_given_with_a_checkpoint_file_are_refused_naming_the_option(
    options: list[str],
    named: str,
    command: str,
    trained: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """LightningCLI parsed the checkpoint's hyper-parameters over the user's config: `--model.generator.init_args.width
    32` resumed the checkpoint's width without a word."""
    monkeypatch.chdir(tmp_path)
    run, recipe = copy_of(trained, tmp_path)
    before = files_of(run)
    code, out = run_cli([command, "--config", recipe, "--ckpt_path", str(run / "checkpoints/last.ckpt"), *options],
                        capsys)  # fmt: skip
    assert code == 2, out
    assert named in out and "another folder" in out and "drop the option" in out, out
    assert "Traceback" not in out
    assert files_of(run) == before


def test_training_settings_given_with_a_checkpoint_file_win_over_its_hyper_parameters_and_are_reported(
    trained: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The recipe's values (equal to the checkpoint's) resume; a new loss, n_critic and learning rate apply. The
    file is trusted here so that the test does not depend on the import gate of untrusted hyper-parameters."""
    caplog.set_level("INFO")
    monkeypatch.chdir(tmp_path)
    run, recipe = copy_of(trained, tmp_path)
    code, out = run_cli(["fit", "--config", recipe, "--ckpt_path", str(run / "checkpoints/last.ckpt"),
                         "--trust_checkpoint", "true", "--model.loss", "hinge", "--model.n_critic", "2",
                         "--model.g_optimizer", "torch.optim.Adam", "--model.g_optimizer.lr", "1e-3"],
                        capsys)  # fmt: skip
    assert code == 0, out
    assert "resumed with --model.loss = HingeLoss (the checkpoint had null)" in caplog.text
    assert "resumed with --model.n_critic = 2 (the checkpoint had 1)" in caplog.text
    assert "resumed with the generator optimiser's lr = 0.001 (the checkpoint had 0.0002)" in caplog.text
    last = torch.load(run / "checkpoints/last.ckpt", weights_only=True)
    assert last["hyper_parameters"]["n_critic"] == 2
    assert last["hyper_parameters"]["loss"]["class_path"] == "lightning_gans.losses.hinge.HingeLoss"
    assert last["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(1e-3)
    config = (run / "config.yaml").read_text()
    assert "HingeLoss" in config and "n_critic: 2" in config


class NaNFromTheFirstStep(NonSaturatingLoss):
    """NaN in the discriminator's loss from the first training step on (call 1 is the sanity validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = super().d_loss(real_logits, fake_logits)
        return loss * float("nan") if self.calls > 1 else loss


def test_a_resume_that_fails_before_its_first_checkpoint_leaves_config_yaml_matching_last_ckpt(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    run, recipe = copy_of(trained, tmp_path, minutes=10.0)  # no checkpoint before the epoch's end
    before = files_of(run)
    code, out = run_cli(["fit", "--config", recipe, "--ckpt_path", "last", "--model.loss",
                         "test_resume_and_messages.NaNFromTheFirstStep"], capsys)  # fmt: skip
    assert code == 1 and "training diverged" in out, out
    assert files_of(run) == before, "a failed resume rewrote config.yaml (or last.ckpt)"


# -- 6. a run with nothing to resume is started again in place, not sent round in a circle -------------------------
def test_a_start_that_wrote_no_checkpoint_is_neither_resumed_nor_blocking_and_restarts_in_place(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    shutil.copy(trained / "config.yaml", run / "config.yaml")  # killed after config.yaml, before last.ckpt
    (run / "samples/epoch=000.png").write_bytes(b"a grid")
    recipe = str(tiny_recipe(tmp_path, run, epochs=1))
    before = files_of(run)

    code, resume = run_cli(["fit", "--config", recipe, "--ckpt_path", "last"], capsys)
    assert code == 2 and "nothing to resume" in resume and "--restart true" in resume, resume
    assert "drop --ckpt_path to start a new run" not in resume
    code, fresh = run_cli(["fit", "--config", recipe], capsys)
    assert code == 2 and "nothing to resume" in fresh and "--restart true" in fresh, fresh
    assert "--ckpt_path last" not in fresh
    assert files_of(run) == before

    code, out = run_cli(["fit", "--config", recipe, "--restart", "true"], capsys)
    assert code == 0, out
    assert "removed config.yaml, samples/epoch=000.png" in out
    assert (run / "checkpoints/last.ckpt").is_file() and not (run / "samples/epoch=000.png").exists()
    assert (run / "config.yaml").read_bytes() != before["config.yaml"]

    # now the run has a checkpoint: --restart removes nothing, and says how to resume
    after = files_of(run)
    code, out = run_cli(["fit", "--config", recipe, "--restart", "true"], capsys)
    assert code == 2 and "nothing was removed" in out and "--ckpt_path last" in out, out
    assert files_of(run) == after


def test_a_run_whose_only_checkpoints_are_not_last_ckpt_is_resumed_from_its_newest(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    run, recipe = copy_of(trained, tmp_path)
    (run / "checkpoints/last.ckpt").rename(run / "checkpoints/epoch=0.ckpt")
    code, resume = run_cli(["fit", "--config", recipe, "--ckpt_path", "last"], capsys)
    assert code == 2 and f"resume with --ckpt_path {run / 'checkpoints/epoch=0.ckpt'}" in resume, resume
    code, fresh = run_cli(["fit", "--config", recipe], capsys)
    assert code == 2 and f"Resume it with --ckpt_path {run / 'checkpoints/epoch=0.ckpt'}" in fresh, fresh


# -- 7. parser errors: one paragraph naming the key, the value and the close matches -------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--model.n_critc", "2"], "unknown key model.init_args.n_critc: DCGAN has no parameter 'n_critc'. Did you "
         "mean 'n_critic'?"),
        (["--data.batch_size", "abc"], "data.init_args.batch_size (FashionMNISTDataModule): expected int, got 'abc'"),
        (["--model.init_args.n_critic", "often"], "model.init_args.n_critic (DCGAN): expected int, got 'often'"),
        (["--trainer.max_epochs", "x"], "trainer.max_epochs: expected int or null, got 'x'"),
        (["--trainer.max_epohcs", "3"], "unknown option --trainer.max_epohcs. Did you mean --trainer.max_epochs"),
        (["--model.generator.init_args.widht", "3"], "unknown key model.init_args.generator.init_args.widht: "
         "DCGANGenerator has no parameter 'widht'. Did you mean 'width'?"),
        (["--model.regularisation.init_args.penalty", "10"], "Regularisation has no parameter 'penalty'. Did you "
         "mean 'gradient_penalty'?"),
        (["--model.discriminator.init_args.outputs", "five"], "model.init_args.discriminator.init_args.outputs "
         "(DCGANDiscriminator): expected int, got 'five'"),
        (["--model.loss.init_args.margin", "1"], "model.init_args.loss: options given, but no class is chosen there"),
        (["--model.g_optimizer.lr", "1e-3"], "model.init_args.g_optimizer is a function here, which takes no options"),
    ],
)  # fmt: skip
def test_a_bad_key_or_value_is_one_short_paragraph_naming_the_key(
    options: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(["fit", "--config", str(tiny_recipe(tmp_path, tmp_path / "run")), *options], capsys)
    assert code == 2, out
    assert message in out, out
    assert len(out.strip().splitlines()) <= 3, out  # not the usage block and the union dumps (58-63 lines)
    assert "usage:" not in out and "Traceback" not in out
    assert not (tmp_path / "run").exists()


def test_a_misspelt_key_in_a_recipe_is_named_with_the_close_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = tiny_recipe(tmp_path, tmp_path / "run")
    recipe.write_text(recipe.read_text().replace("ema_decay: 0.99", "ema_decy: 0.99"))
    code, out = run_cli(["fit", "--config", str(recipe)], capsys)
    assert code == 2 and "unknown key model.init_args.ema_decy" in out and "Did you mean 'ema_decay'?" in out, out
    assert len(out.strip().splitlines()) <= 3, out


def test_a_discriminator_with_outputs_the_variant_cannot_use_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README said so; a dcgan with `--model.discriminator.init_args.outputs 5` trained on its five scores."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "run"
    code, out = run_cli(["fit", "--config", str(tiny_recipe(tmp_path, root)),
                         "--model.discriminator.init_args.outputs", "5"], capsys)  # fmt: skip
    assert code == 1 and "built with outputs = 5, but DCGAN uses one score per input" in out, out
    assert "set model.discriminator.init_args.outputs to 1" in out
    assert not (root / "config.yaml").exists() and not (root / "checkpoints").exists()


def test_check_scores_takes_the_outputs_a_variant_uses_or_the_discriminators_own() -> None:
    discriminator = DCGANDiscriminator(outputs=3)
    inputs = torch.zeros(2, 1, 28, 28)
    scores = discriminator(inputs)
    check_scores(scores, inputs, discriminator)  # a part on its own: its declared outputs
    check_scores(scores, inputs, discriminator, uses=3, variant="ACGAN")
    with pytest.raises(ValueError, match="built with outputs = 3, but GAN uses one score per input"):
        check_scores(scores, inputs, discriminator, uses=1, variant="GAN")
