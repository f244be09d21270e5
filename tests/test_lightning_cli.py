"""Names on the command line and in recipes are resolved by the declared type of the parameter they are given
to (``lightning_gans.lightning_cli`` on top of ``registry.resolve_config``), not by the key's spelling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_cli

from lightning_gans.lightning_cli import resolve_argv, resolve_sections

DCGAN_G = "lightning_gans.nets.dcgan.DCGANGenerator"
SRGAN_D = "lightning_gans.nets.srresnet.SRGANDiscriminator"


def test_a_parameter_typed_as_a_part_takes_names_whatever_it_is_called() -> None:
    """CycleGAN's own ``generator_ba: dcgan`` and ``discriminator_a: {class_path: srgan}`` were refused as ambiguous
    when names were keyed on the literal key ``generator``/``discriminator``."""
    parts = {"generator_ba": "dcgan", "discriminator_a": {"class_path": "srgan"}}
    recipe = {
        "model": {"class_path": "cyclegan", "init_args": parts},
        "data": {"class_path": "unpaired_classes", "init_args": {"data": {"class_path": "fashion_mnist"}}},
    }
    resolved = resolve_sections(recipe)
    assert resolved["model"]["class_path"] == "lightning_gans.variants.cyclegan.CycleGAN"
    assert resolved["model"]["init_args"]["generator_ba"] == DCGAN_G
    assert resolved["model"]["init_args"]["discriminator_a"]["class_path"] == SRGAN_D
    assert resolved["data"]["init_args"]["data"]["class_path"] == "lightning_gans.data.idx.FashionMNISTDataModule"


def test_command_line_names_follow_the_types_of_the_config_and_earlier_options() -> None:
    argv = ["--config", str(REPO / "recipes/cyclegan_fashion_sneaker_boot.yaml"), "--model.generator_ba", "dcgan",
            "--model.init_args.discriminator_a.class_path", "srgan", "--model.loss=hinge"]  # fmt: skip
    out = resolve_argv(argv)
    assert out[3] == DCGAN_G and out[5] == SRGAN_D and out[6] == "--model.loss=lightning_gans.losses.hinge.HingeLoss"
    # a plain value of a part's parameter, or a str parameter that happens to equal a name, is left alone
    assert resolve_argv(["--model", "gan", "--model.n_critic", "2"])[3] == "2"
    assert resolve_argv(["--data", "gaussian_mixture", "--data.mixture", "ring"])[3] == "ring"
    # a field of a dataclass argument (no class known at model.regularisation): numbers pass through
    gamma = ["--model", "acgan", "--model.init_args.regularisation.r1_gamma", "0.1"]
    assert resolve_argv(gamma) == ["--model", "lightning_gans.variants.acgan.ACGAN", *gamma[2:]]


def test_jsonargparse_inline_forms_are_resolved_not_refused() -> None:
    out = resolve_argv(["--model", "gan", "--model.generator", '{"class_path": "mlp", "init_args": {"latent_dim": 2}}'])
    assert json.loads(out[3]) == {"class_path": "lightning_gans.nets.mlp.MLPGenerator", "init_args": {"latent_dim": 2}}


def test_an_unknown_name_says_where_it_stands_and_what_exists() -> None:
    with pytest.raises(
        LookupError, match=r"unknown generator 'dcganx'.*Did you mean 'dcgan'.*\(at model.generator_ba\)"
    ):
        resolve_argv(["--model", "cyclegan", "--model.generator_ba", "dcganx"])


def test_inline_form_and_a_renamed_part_parameter_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fit", "--config", str(REPO / "recipes/gan_ring.yaml"), "--model.generator",
            '{"class_path": "mlp", "init_args": {"latent_dim": 2, "out_shape": [2], "hidden": [16]}}',
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "0",
            "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path)]  # fmt: skip
    code, out = run_cli(args, capsys)
    assert code == 0, out
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["model"]["init_args"]["generator"]["init_args"]["hidden"] == [16]


def test_help_takes_registry_names_and_lists_names_not_every_torch_module(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["fit", "--model.help", "cyclegan"], capsys)
    assert code == 0, out
    assert "Help for --model.help=lightning_gans.variants.cyclegan.CycleGAN" in out
    assert "registered generators: bernoulli, biggan, dcgan, mlp" in out and "torch.nn.Linear" not in out
    assert len(out.splitlines()) < 200  # it was 1,500+ lines of "known subclasses"
    code, out = run_cli(
        ["fit", "--config", str(REPO / "recipes/gan_ring.yaml"), "--model.generator.help", "mlp"], capsys
    )
    assert code == 0 and "MLPGenerator" in out and "--generator.latent_dim" in out, out


def test_a_model_given_by_import_path_still_types_its_parts(tmp_path: Path) -> None:
    out = resolve_argv(["--model", "lightning_gans.variants.gan.GAN", "--model.generator", "mlp"])
    assert out[3] == "lightning_gans.nets.mlp.MLPGenerator"
    # SRGAN's content_loss is a str choice that happens to equal a feature network's name: left alone
    srgan = ["--model", "srgan", "--model.content_loss", "fashion_classifier"]
    assert resolve_argv(srgan)[3] == "fashion_classifier"


def test_a_part_in_its_own_yaml_file_is_resolved_by_the_option_it_is_given_to(tmp_path: Path) -> None:
    part = tmp_path / "generator.yaml"
    part.write_text("class_path: mlp\ninit_args: {latent_dim: 2}\n")  # mlp is also a discriminator's name
    out = resolve_argv(["--model", "gan", "--model.discriminator", str(part)])
    assert json.loads(out[3]) == {
        "class_path": "lightning_gans.nets.mlp.MLPDiscriminator",
        "init_args": {"latent_dim": 2},
    }


def test_trainer_help_is_jsonargparse_s_own(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["fit", "--config", str(REPO / "recipes/gan_ring.yaml"), "--help"], capsys)
    assert code == 0
    logger_help = out.split("\n  --trainer.logger LOGGER", 1)[1].split("\n  --", 1)[0]
    assert "known subclasses" in logger_help and "registered" not in logger_help
    code, out = run_cli(["fit", "--model.help", "gan"], capsys)
    loss_help = out.split("\n  --model.loss LOSS", 1)[1].split("\n  --", 1)[0]
    assert "registered losses: energy_margin, hinge" in " ".join(loss_help.split())
