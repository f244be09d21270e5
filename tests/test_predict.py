"""``test`` and ``predict`` for every variant, as Lightning users run them: the validation measures on the test
split, and bulk generation written by a ``BasePredictionWriter`` (deterministic, sharded, never over a folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from lightning.pytorch import Trainer
from PIL import Image
from test_contracts import SMALL_NETS, variant_data

from lightning_gans import registry
from lightning_gans.cli import main
from lightning_gans.core.translation import TranslationModule
from lightning_gans.data.base import GANDataModule
from lightning_gans.predict import PredictionData, PredictionFolderError, SampleWriter, SeededLatents, to_uint8

QUIET = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False, "accelerator": "cpu"}


def small_variant(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return registry.variants.create(name, **SMALL_NETS.get(name, {}))


@pytest.mark.parametrize("name", registry.variants.names())
def test_every_variant_tests_with_its_validation_measures(name: str) -> None:
    """On data whose test split is its validation split, `test` logs exactly what `validate` logs, as test/*."""
    model, data = small_variant(name), variant_data(name)
    validated = Trainer(**QUIET, limit_val_batches=2).validate(model, datamodule=data, verbose=False)[0]
    tested = Trainer(**QUIET, limit_test_batches=2).test(model, datamodule=data, verbose=False)[0]
    assert validated and all(key.startswith("val/") for key in validated)
    assert tested == pytest.approx({"test/" + key.removeprefix("val/"): value for key, value in validated.items()})


@pytest.mark.parametrize("name", registry.variants.names())
def test_every_variant_predicts_numbered_pngs_and_an_npz(name: str, tmp_path: Path) -> None:
    model, data = small_variant(name), variant_data(name)
    out = tmp_path / "out"
    prediction = PredictionData(data, num_samples=5, seed=3, batch_size=2)
    Trainer(**QUIET, callbacks=[SampleWriter(out, npz=True)]).predict(model, datamodule=prediction,
                                                                     return_predictions=False)  # fmt: skip
    manifest = json.loads((out / "predictions.json").read_text())
    arrays = np.load(out / "samples.npz")
    pictures = sorted(out.glob("*.png"))
    translating = isinstance(model, TranslationModule)
    assert isinstance(data, GANDataModule)
    n = len(data.held_out(testing=True)) if translating else 5  # type: ignore[arg-type]
    assert manifest["samples"] == n == len(pictures) == len(arrays["arr_0"])
    assert [p.name for p in pictures] == [f"{i:06d}.png" for i in range(n)]
    first = np.asarray(Image.open(pictures[0]))
    assert np.array_equal(first, arrays["arr_0"][0].squeeze(-1) if first.ndim == 2 else arrays["arr_0"][0])
    if translating:
        image = data.held_out(testing=True)[0][0]  # type: ignore[index]
        expected = model.translate(image[None])  # type: ignore[operator]
    else:  # sample i is the model's sample of latent i, seeded by (seed, i) alone
        item = SeededLatents(5, model.latent_dim, model.num_classes, seed=3)[4]  # type: ignore[arg-type]
        if hasattr(model, "text_encoder"):
            expected = model.generate_text(item["z"][None], [str(arrays["captions"][4])])  # type: ignore[operator]
        else:
            expected = model.generate(item["z"][None], item.get("label"))  # type: ignore[operator]
        assert np.array_equal(arrays["arr_0"][4], to_uint8(expected)[0])
        if model.num_classes:  # type: ignore[truthy-function]
            assert arrays["labels"].tolist() == [i % model.num_classes for i in range(5)]  # type: ignore[operator]
        return
    assert np.array_equal(arrays["arr_0"][0], to_uint8(expected)[0])


def test_predictions_do_not_depend_on_the_batch_size_and_never_overwrite(tmp_path: Path) -> None:
    model, data = small_variant("cgan"), variant_data("cgan")
    for batch_size in (2, 7):
        Trainer(**QUIET, callbacks=[SampleWriter(tmp_path / str(batch_size), npz=True)]).predict(
            model, datamodule=PredictionData(data, 9, seed=1, batch_size=batch_size), return_predictions=False
        )
    first, second = (np.load(tmp_path / f"{b}/samples.npz") for b in (2, 7))
    assert np.array_equal(first["arr_0"], second["arr_0"]) and np.array_equal(first["labels"], second["labels"])
    with pytest.raises(PredictionFolderError, match="never writes over earlier samples"):
        SampleWriter(tmp_path / "2")


# -- through the command line ---------------------------------------------------------------------------------
SMALL_DEFAULT = [
    "--config", str(REPO / "recipes/dcgan_fashion_mnist.yaml"),
    "--model.generator.init_args.width", "8", "--model.discriminator.init_args.width", "8",
]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run") / "run"
    code = main(["fit", *SMALL_DEFAULT, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
                 "--trainer.limit_val_batches", "1", "--trainer.logger", "false",
                 "--trainer.default_root_dir", str(root)])  # fmt: skip
    assert code == 0
    return root


def test_the_test_command_prints_the_sample_quality_against_the_test_split(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["test", *SMALL_DEFAULT, "--ckpt_path", "last", "--trainer.limit_test_batches", "1",
                 "--trainer.logger", "false", "--trainer.default_root_dir", str(run)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "test split of FashionMNISTDataModule: the validation split" in out
    assert "test/fid" in out and "test/d_loss" in out and "val/" not in out  # Lightning's table of test/* keys


def test_test_and_predict_need_a_checkpoint_and_predict_a_new_folder(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("test", "predict"):
        code = main([command, *SMALL_DEFAULT, "--trainer.default_root_dir", str(run), "--out", str(tmp_path / "o")]
                    if command == "predict" else [command, *SMALL_DEFAULT])  # fmt: skip
        assert code != 0 and "give --ckpt_path" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken/000000.png").write_bytes(b"earlier")
    code = main(["predict", *SMALL_DEFAULT, "--ckpt_path", "last", "--trainer.default_root_dir", str(run),
                 "--out", str(tmp_path / "taken")])  # fmt: skip
    assert code == 2 and "never writes over earlier samples" in capsys.readouterr().err
    assert (tmp_path / "taken/000000.png").read_bytes() == b"earlier"


def predict_in_subprocess(run: Path, out: Path, *extra: str) -> None:
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(REPO / "tests")}
    result = subprocess.run(
        [sys.executable, "-m", "lightning_gans", "predict", *SMALL_DEFAULT, "--ckpt_path", "last",
         "--trainer.default_root_dir", str(run), "--out", str(out), "--num_samples", "37", "--npz", "true",
         "--predict_batch_size", "5", "--trainer.accelerator", "cpu", *extra],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_predict_under_ddp_writes_each_sample_once_as_one_process_does(run: Path, tmp_path: Path) -> None:
    """Two processes share 37 samples (an odd number: a padding sampler would duplicate one): every index once,
    each PNG and the merged npz equal to a single process's."""
    predict_in_subprocess(run, tmp_path / "one")
    predict_in_subprocess(run, tmp_path / "two", "--trainer.devices", "2", "--trainer.strategy", "ddp")
    one, two = np.load(tmp_path / "one/samples.npz"), np.load(tmp_path / "two/samples.npz")
    assert np.array_equal(one["arr_0"], two["arr_0"]) and len(two["arr_0"]) == 37
    names = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert names == sorted([f"{i:06d}.png" for i in range(37)] + ["predictions.json", "samples.npz"])
    for i in (0, 36):
        assert (tmp_path / f"one/{i:06d}.png").read_bytes() == (tmp_path / f"two/{i:06d}.png").read_bytes()


def test_a_png_that_cannot_be_written_fails_the_prediction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(array: np.ndarray, path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lightning_gans.predict.save_png", full_disk)
    with pytest.raises(OSError, match="No space left"):
        Trainer(**QUIET, callbacks=[SampleWriter(tmp_path / "out")]).predict(
            small_variant("dcgan"), datamodule=PredictionData(variant_data("dcgan"), 9, batch_size=3),
            return_predictions=False,
        )  # fmt: skip
