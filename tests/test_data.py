"""Data modules: the IDX reader, the shipped Fashion-MNIST, the 2-D mixtures, and resumable shuffling."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_gans.data.base import EpochSeededSampler
from lightning_gans.data.idx import (
    DEBIAN_FASHION_MNIST,
    FashionMNISTDataModule,
    IDXDataModule,
    embedded_fashion_mnist,
    read_idx,
)
from lightning_gans.data.toy import GaussianMixture2D, GaussianMixtureDataModule
from lightning_gans.data.vision import ImageFolderDataModule, TorchvisionDataModule


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips(tmp_path: Path, compress: bool) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.idx", array, compress)
    assert np.array_equal(read_idx(tmp_path / "x.idx"), array)


def test_read_idx_rejects_other_files(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x89PNG....")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_embedded_fashion_mnist_is_the_real_test_split() -> None:
    images, labels = embedded_fashion_mnist()
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [1000] * 10  # the t10k split is balanced
    assert 60 < images.float().mean() < 80  # Fashion-MNIST's mean pixel is about 72.9


def test_fashion_mnist_module_defaults_to_the_shipped_split() -> None:
    data = FashionMNISTDataModule(batch_size=32, val_size=1000)
    data.setup("fit")
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (32, 1, 28, 28) and labels.shape == (32,)
    assert images.min() >= -1 and images.max() <= 1 and images.min() < -0.99
    assert len(data.train_set) == 9000 and len(data.val_set) == 1000  # type: ignore[arg-type]
    train_images = {x.numpy().tobytes() for x in data.train_set.tensors[0]}  # type: ignore[union-attr]
    assert not any(x.numpy().tobytes() in train_images for x in data.val_set.tensors[0])  # type: ignore[union-attr]


def test_resizing_for_bigger_dcgan_nets() -> None:
    data = FashionMNISTDataModule(image_size=32, batch_size=4)
    data.setup("fit")
    assert next(iter(data.train_dataloader()))[0].shape == (4, 1, 32, 32)


def test_idx_folder_with_both_splits(tmp_path: Path) -> None:
    for split, n in (("train", 6), ("t10k", 4)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", np.zeros((n, 28, 28)), True)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", np.arange(n) % 10, False)
    data = IDXDataModule(str(tmp_path), batch_size=2)
    data.setup("fit")
    assert len(data.train_set) == 6 and len(data.val_set) == 4  # type: ignore[arg-type]


def test_missing_idx_files_say_where_to_get_them(tmp_path: Path) -> None:
    (tmp_path / "unrelated.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"no train-images-idx3-ubyte\[.gz\].*unrelated.txt.*apt-get install"):
        FashionMNISTDataModule(root=str(tmp_path)).setup("fit")


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_full_fashion_mnist_from_the_debian_package() -> None:
    data = FashionMNISTDataModule(root=str(DEBIAN_FASHION_MNIST))
    data.setup("fit")
    assert len(data.train_set) == 60_000 and len(data.val_set) == 10_000  # type: ignore[arg-type]


def test_ring_has_eight_distinct_modes_at_the_pacgan_angles() -> None:
    ring = GaussianMixture2D.ring()
    assert ring.std == 0.01 and len(ring.means) == 8
    expected = [(math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)) for k in range(8)]
    assert torch.allclose(ring.means, torch.tensor(expected), atol=1e-6)
    assert torch.cdist(ring.means, ring.means).add(torch.eye(8)).min() > 0.7  # no duplicated mode


def test_grid_has_twenty_five_modes() -> None:
    grid = GaussianMixture2D.grid()
    assert grid.std == 0.05
    assert {tuple(m) for m in grid.means.tolist()} == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


@pytest.mark.parametrize("mixture", ["ring", "grid"])
def test_mixture_samples_sit_on_their_modes(mixture: str) -> None:
    data = GaussianMixtureDataModule(mixture=mixture, num_train=20_000, num_val=10)  # type: ignore[arg-type]
    data.setup("fit")
    points, modes = data.train_set.tensors  # type: ignore[union-attr]
    spread = (points - data.mixture.means[modes]).std().item()
    assert spread == pytest.approx(data.mixture.std, rel=0.05)
    assert torch.bincount(modes).min() > 0.8 * 20_000 / len(data.mixture.means)


def test_epoch_seeded_sampler_is_a_function_of_seed_and_epoch() -> None:
    sampler = EpochSeededSampler(range(50), seed=1)
    first = list(sampler)
    assert sorted(first) == list(range(50)) and list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    again = EpochSeededSampler(range(50), seed=1)
    again.set_epoch(1)
    assert list(again) == second


def test_training_loader_is_split_by_rank_and_pinned_for_a_gpu() -> None:
    from types import SimpleNamespace

    data = GaussianMixtureDataModule(batch_size=8)
    data.setup("fit")
    assert data.train_dataloader().sampler.num_replicas == 1 and not data.train_dataloader().pin_memory
    for rank in (0, 1):  # what a trainer of 2 processes on GPUs gives the data module
        device = SimpleNamespace(type="cuda")
        data.trainer = SimpleNamespace(world_size=2, global_rank=rank, strategy=SimpleNamespace(root_device=device))
        loader = data.train_dataloader()
        # a DistributedSampler of its own: Lightning keeps it rather than wrapping it in one that cannot skip
        assert isinstance(loader.sampler, torch.utils.data.DistributedSampler)
        assert (loader.sampler.num_replicas, loader.sampler.rank, loader.sampler.batch_size) == (2, rank, 8)
        assert loader.pin_memory and data.val_dataloader().pin_memory


def test_torchvision_module_never_downloads_unasked(tmp_path: Path) -> None:
    data = TorchvisionDataModule("mnist", root=str(tmp_path), download=False)
    with pytest.raises(FileNotFoundError, match="download: true"):
        data.setup("fit")


def test_image_folder_module_reads_pictures(tmp_path: Path) -> None:
    from PIL import Image

    for i in range(3):
        (tmp_path / "cats").mkdir(exist_ok=True)
        Image.new("RGB", (40, 30), (i * 80, 10, 200)).save(tmp_path / "cats" / f"{i}.png")
    data = ImageFolderDataModule(str(tmp_path), image_size=16, batch_size=2, num_workers=0)
    data.setup("fit")
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (2, 3, 16, 16) and images.min() >= -1 and images.max() <= 1
    with pytest.raises(FileNotFoundError, match="val_root"):
        ImageFolderDataModule(str(tmp_path / "missing")).setup("fit")


@pytest.mark.parametrize(("side", "channels"), [(64, 3), (100, 3), (64, 1)])
def test_image_folder_decodes_jpegs_at_a_reduced_scale_to_nearly_the_same_pixels(
    side: int, channels: int, tmp_path: Path
) -> None:
    """A 512-px JPEG for a 64-px model is decoded at 1/8 scale (PIL's draft), then resized as before: the pixels
    differ from a full decode by little (JPEG's DCT scaling against an antialiased resize), the shapes not at all."""
    from PIL import Image
    from skimage import data as photos
    from torchvision import datasets

    from lightning_gans.data.vision import image_transform

    (tmp_path / "a").mkdir()
    photo = photos.astronaut()  # 512 x 512
    Image.fromarray(photo).save(tmp_path / "a/photo.jpg", quality=90)
    Image.fromarray(photo).save(tmp_path / "a/photo.png")  # not a JPEG: decoded in full, as before
    module = ImageFolderDataModule(str(tmp_path), image_size=side, channels=channels, num_workers=0)  # type: ignore[arg-type]
    module.setup("fit")
    full = datasets.ImageFolder(str(tmp_path), transform=image_transform(side, channels))
    for index in range(2):
        reduced, exact = module.train_set[index][0], full[index][0]  # type: ignore[index]
        assert reduced.shape == exact.shape == (channels, side, side)
        assert (reduced - exact).abs().mean() < 0.05
    assert torch.equal(module.train_set[1][0], full[1][0])  # type: ignore[index]  # the PNG
