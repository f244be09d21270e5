"""The shared recipe callbacks follow the data module: 2-D points, images of any size and channels, labels or
not. A sample-quality metric that cannot apply is skipped with one warning that says why (the run goes on, and a
checkpoint watching its key does not fail it); on data every metric applies to nothing changes."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO
from lightning.pytorch import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from PIL import Image
from torch.utils.data import TensorDataset

from lightning_gans.callbacks import SampleGrid, SampleQualityCallback
from lightning_gans.data.base import GANDataModule
from lightning_gans.data.toy import GaussianMixtureDataModule
from lightning_gans.metrics.features import FashionClassifier
from lightning_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lightning_gans.variants.gan import GAN

SHARED = REPO / "recipes/_shared"


def shared_callbacks(name: str, **init_args: dict[str, Any]) -> list[Callback]:
    """The callbacks of ``recipes/_shared/<name>`` as the CLI builds them, less the progress bar; ``init_args``
    overrides some arguments per class name (``SampleQualityCallback={"n_real": 64}``)."""
    callbacks: list[Callback] = []
    for spec in yaml.safe_load((SHARED / name).read_text()):
        module, _, cls_name = spec["class_path"].rpartition(".")
        if cls_name.endswith("ProgressBar"):
            continue
        cls = getattr(importlib.import_module(module), cls_name)
        callbacks.append(cls(**{**spec.get("init_args", {}), **init_args.get(cls_name, {})}))
    return callbacks


class Tensors(GANDataModule):
    """A data module over fixed tensors (the same split for training and validation)."""

    def __init__(self, *tensors: torch.Tensor, batch_size: int = 16) -> None:
        super().__init__(batch_size, num_workers=0, seed=0)
        self.train_set = self.val_set = TensorDataset(*tensors)


def gan(shape: tuple[int, ...]) -> GAN:
    seed_everything(0)
    return GAN(
        MLPGenerator(
            latent_dim=4, out_shape=shape, hidden=(16,), output_activation="none" if len(shape) == 1 else "tanh"
        ),
        MLPDiscriminator(in_shape=shape, hidden=(16,)),
        ema_decay=0.9,
        n_grid_samples=16,
    )


def fit(model: GAN, data: GANDataModule, callbacks: list[Callback], root: Path, **overrides: Any) -> Trainer:
    """One epoch with one validation batch at its end: where ModelCheckpoint looks for its monitored key."""
    options: dict[str, Any] = dict(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, max_epochs=1, limit_val_batches=1, default_root_dir=root, callbacks=callbacks,
    )  # fmt: skip
    options.update(overrides)
    trainer = Trainer(**options)
    trainer.fit(model, data)
    return trainer


def skip_warnings(record: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in record if str(w.message).startswith("SampleQualityCallback skips")]


# -- 2-D points ----------------------------------------------------------------------------------------------
def test_2d_data_with_the_image_callbacks_trains_validates_and_says_why_the_image_metrics_are_skipped(
    tmp_path: Path,
) -> None:
    data = GaussianMixtureDataModule("ring", num_train=128, num_val=64, batch_size=32)
    with pytest.warns(UserWarning) as record:
        trainer = fit(gan((2,)), data, shared_callbacks("callbacks.yaml"), tmp_path)
    messages = skip_warnings(record)
    assert len(messages) == 1, messages  # one message, not one per validation or per metric
    message = messages[0]
    assert "fid, kid, is, prdc, classes" in message and "2-D points" in message and "(2,)" in message
    assert "fashion_classifier takes float images" in message  # why
    assert "callbacks_2d.yaml" in message  # what to use instead
    assert "ModelCheckpoint(monitor='val/fid') keeps no checkpoint" in message
    # validation ran, without val/fid and without ModelCheckpoint failing over its missing key
    assert "val/d_loss" in trainer.callback_metrics and "val/fid" not in trainer.callback_metrics
    assert (tmp_path / "checkpoints/last.ckpt").is_file()
    assert not list(tmp_path.rglob("best-fid-*.ckpt"))
    # the sample picture is a scatter plot: samples in red, real points in blue, on white
    picture = torch.from_numpy(np.array(Image.open(tmp_path / "samples/last.png")))
    assert picture.shape == (256, 256, 3)
    colours = {tuple(p) for p in picture.reshape(-1, 3).tolist()}
    assert {(255, 255, 255), (230, 60, 40), (20, 40, 200)} <= colours


def test_2d_data_validate_alone_skips_too_and_mode_coverage_still_logs(tmp_path: Path) -> None:
    """`lightning-gans validate` checks the data at the first validation instead; the 2-D list's mode coverage
    runs beside a quality callback that has nothing to compute."""
    from lightning_gans.callbacks import ModeCoverageCallback

    data = GaussianMixtureDataModule("ring", num_train=128, num_val=64, batch_size=32)
    callbacks: list[Callback] = [SampleQualityCallback(n_real=64, n_fake=64), ModeCoverageCallback(num_samples=200)]
    trainer = Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=1, default_root_dir=tmp_path, callbacks=callbacks,
    )  # fmt: skip
    with pytest.warns(UserWarning, match=r"(?s)skips fid, kid, is, prdc, classes.*2-D points"):
        (metrics,) = trainer.validate(gan((2,)), data)
    assert {"val/modes", "val/high_quality", "val/reverse_kl"} <= set(metrics) and "val/fid" not in metrics


# -- images the feature network cannot take -------------------------------------------------------------------
def test_rgb_images_of_another_size_skip_the_fashion_classifier_metrics_with_a_clear_message(tmp_path: Path) -> None:
    images = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    data = Tensors(images, torch.arange(64) % 10)
    callbacks = [*shared_callbacks("callbacks.yaml"), EarlyStopping(monitor="val/fid", mode="min")]
    with pytest.warns(UserWarning) as record:
        trainer = fit(gan((3, 32, 32)), data, callbacks, tmp_path)
    (message,) = skip_warnings(record)
    assert "RGB 32x32 images" in message and "(3, 32, 32)" in message
    assert "fid, kid, is, prdc, classes: fashion_classifier takes float images (N, 1, 28, 28)" in message
    assert "feature_network: inception" in message  # the network that can
    assert "EarlyStopping(monitor='val/fid')" in message and "ModelCheckpoint(monitor='val/fid')" in message
    assert "val/d_loss" in trainer.callback_metrics and not trainer.should_stop
    assert (tmp_path / "checkpoints/last.ckpt").is_file()
    grid = Image.open(tmp_path / "samples/last.png")
    assert grid.mode == "RGB" and grid.size == (4 * 34 + 2, 4 * 34 + 2)  # 16 RGB samples, 4 a row, 2 px padding


def test_the_fashion_classifier_resizes_grey_images_and_refuses_colour_ones_with_a_reason() -> None:
    net = FashionClassifier()
    grey = torch.rand(3, 1, 28, 28) * 2 - 1
    large = torch.nn.functional.interpolate(grey, size=(64, 64), mode="bilinear", align_corners=False)
    assert net.input_problem(large) is None
    assert net(large).shape == (3, 128)
    resized = torch.nn.functional.interpolate(large, size=(28, 28), mode="bilinear", antialias=True)
    assert torch.equal(net(large), net(resized))
    reason = net.input_problem(torch.zeros(2, 3, 64, 64))
    assert reason is not None and "(N, 1, 28, 28)" in reason and "inception" in reason
    assert net.input_problem(torch.zeros(2, 2)) is not None  # 2-D points: no image at all


def test_grids_draw_images_of_any_channel_count(tmp_path: Path) -> None:
    """Two-channel samples draw one grey tile per channel (they used to fail in torchvision's grid)."""
    data = Tensors(torch.rand(32, 2, 8, 8) * 2 - 1, torch.zeros(32, dtype=torch.long))
    grid = SampleGrid(dirpath=str(tmp_path / "samples"))
    fit(gan((2, 8, 8)), data, [grid], tmp_path, enable_checkpointing=False)
    assert grid.last_path is not None
    picture = Image.open(grid.last_path)
    assert picture.size == (8 * 10 + 2, 4 * 10 + 2)  # 16 samples, 4 a row, 2 tiles each


# -- labels ------------------------------------------------------------------------------------------------------
def test_label_metrics_on_unlabelled_data_are_skipped_and_the_others_computed(tmp_path: Path) -> None:
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    quality = SampleQualityCallback(metrics=["fid", "classes", "labels"], n_real=32, n_fake=32, batch_size=16)
    callbacks: list[Callback] = [quality, ModelCheckpoint(monitor="val/class_kl", save_top_k=1)]
    with pytest.warns(UserWarning) as record:
        trainer = fit(gan((1, 28, 28)), Tensors(images), callbacks, tmp_path)  # no labels at all
    (message,) = skip_warnings(record)
    assert "skips classes, labels" in message and "grey 28x28 images" in message
    assert "classes, labels: it compares the classes of a labelled data set" in message
    assert "no class labels" in message and "ModelCheckpoint(monitor='val/class_kl')" in message
    assert "val/fid" in trainer.callback_metrics  # what applies is still computed
    assert "val/classes_covered" not in trainer.callback_metrics
    assert "val/label_accuracy" not in trainer.callback_metrics


def test_data_modules_with_a_constant_placeholder_label_count_as_unlabelled() -> None:
    from lightning_gans.callbacks.quality import has_labels

    x = torch.zeros(6, 1, 4, 4)
    assert has_labels(TensorDataset(x, torch.arange(6) % 3))
    assert not has_labels(TensorDataset(x))
    assert not has_labels(TensorDataset(x, torch.zeros(6, dtype=torch.long)))  # sample_photos' (patch, 0)


def test_labels_on_an_unconditional_generator_is_skipped_not_a_crash(tmp_path: Path) -> None:
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    quality = SampleQualityCallback(metrics=["fid", "labels"], n_real=32, n_fake=32, batch_size=16)
    with pytest.warns(UserWarning, match="labels: it needs a conditional generator"):
        trainer = fit(gan((1, 28, 28)), Tensors(images, torch.arange(64) % 10), [quality], tmp_path)
    assert "val/fid" in trainer.callback_metrics


def test_every_metric_names_the_keys_it_logs() -> None:
    """The keys a ModelCheckpoint is stood down for are the keys each metric really logs."""
    from lightning_gans.metrics.evaluation import LOGGED_KEYS, SampleQuality, scalars

    real = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    fake = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    quality = SampleQuality(["fid", "kid", "is", "prdc", "classes", "labels"], "fashion_classifier", real, None, 40, 0,
                            kid_subset_size=10, num_labels=10)  # fmt: skip
    results = quality.evaluate(lambda n: (fake[:n], torch.arange(n) % 10), 40)
    expected = {key for name in quality.names for key in LOGGED_KEYS[name]}
    assert set(scalars(results)) == expected
