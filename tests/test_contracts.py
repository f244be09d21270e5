"""One contract test per registry kind, parametrized over everything registered, through the public plugin
kit (``lightning_gans.testing``): what the kit promises a plugin author, every built-in part keeps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_captioned, tiny_images
from lightning.pytorch import LightningDataModule, LightningModule

from lightning_gans import registry
from lightning_gans.core.translation import TranslationModule
from lightning_gans.data.pairs import EdgesToImageDataModule, SuperResolutionDataModule, UnpairedClassesDataModule
from lightning_gans.data.semi_supervised import SemiSupervisedDataModule
from lightning_gans.testing import (
    check_datamodule,
    check_discriminator,
    check_generator,
    check_loss,
    check_text_encoder,
    check_variant,
)

IMAGES = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("name", registry.generators.names())
def test_every_generator_keeps_the_contract(name: str) -> None:
    generator = registry.generators.create(name)
    image_to_image = not hasattr(generator, "latent_dim")
    samples = check_generator(generator, inputs=IMAGES if image_to_image else None)
    assert samples.shape[1:] == (1, 28 * getattr(generator, "scale", 1), 28 * getattr(generator, "scale", 1))


@pytest.mark.parametrize("name", registry.discriminators.names())
def test_every_discriminator_keeps_the_contract(name: str) -> None:
    scores = check_discriminator(registry.discriminators.create(name), IMAGES)
    assert scores.shape[0] == len(IMAGES)


@pytest.mark.parametrize("name", registry.losses.names())
def test_every_loss_keeps_the_contract(name: str) -> None:
    check_loss(registry.losses.create(name))


@pytest.mark.parametrize("name", registry.text_encoders.names())
def test_every_text_encoder_keeps_the_contract(name: str) -> None:
    check_text_encoder(registry.text_encoders.create(name))


def variant_data(name: str) -> LightningDataModule:
    """Tiny data of the kind each variant trains on (the image-to-image ones need pairs of domains)."""
    wrapped = {
        "cyclegan": lambda: UnpairedClassesDataModule(tiny_images(n=80), class_a=7, class_b=9),
        "srgan": lambda: SuperResolutionDataModule(tiny_images(batch_size=4), scale=2),
        "pix2pix": lambda: EdgesToImageDataModule(tiny_images(batch_size=4)),
        "sgan": lambda: SemiSupervisedDataModule(tiny_images(), labelled_per_class=2),
        "gan_cls": tiny_captioned,
    }
    return wrapped.get(name, tiny_images)()


# Smaller than the defaults where those are slow on CPU (CycleGAN's two 6-block ResNets took 30 s here, SRGAN's
# 16-block SRResNet and 64-wide discriminator 14 s).
SMALL_RESNET = {"class_path": "resnet", "init_args": {"width": 8, "n_blocks": 1}}
SMALL_NETS = {
    "cyclegan": {"generator": SMALL_RESNET, "generator_ba": SMALL_RESNET},
    "srgan": {
        "generator": {"class_path": "srresnet", "init_args": {"width": 8, "n_blocks": 1}},
        "discriminator": {"class_path": "srgan", "init_args": {"width": 8}},
        "content_loss": "pixel",
    },
}


@pytest.mark.parametrize("name", registry.variants.names())
def test_every_variant_trains_validates_samples_round_trips_and_resumes_exactly(name: str, tmp_path: Path) -> None:
    def make() -> LightningModule:
        return registry.variants.create(name, **SMALL_NETS.get(name, {}))

    values = check_variant(make, lambda: variant_data(name), tmp_path)
    cls = registry.variants.load(name)
    assert all(key.startswith("val/") for key in values)
    if issubclass(cls, TranslationModule):
        assert {"val/l1", "val/psnr"} <= set(values) or {"val/cycle_l1_a", "val/cycle_l1_b"} <= set(values)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed IDX file (the MNIST format) holding ``array`` of uint8."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def mnist_folder(root: Path, folder: str) -> str:
    """A tiny dataset in torchvision's ``<root>/<folder>/raw`` MNIST layout (and the plain IDX layout)."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("t10k", 20)):
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    return str(raw)


def image_folder(root: Path, classes: tuple[str, str] = ("a", "b")) -> str:
    from PIL import Image

    for label in classes:
        (root / label).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (20, 20), (40 * i, 100, 200)).save(root / label / f"{i}.png")
    return str(root)


def caption_lines(root: Path) -> str:
    """A JSON-lines captions file for every image under ``root``: two captions each."""
    import json

    lines = [json.dumps({"image": str(p.relative_to(root)), "captions": [f"picture {p.stem}", f"{p.parent.name} art"]})
             for p in sorted(root.rglob("*.png"))]  # fmt: skip
    path = root.parent / "captions.jsonl"
    path.write_text("\n".join(lines))
    return str(path)


DATAMODULES: dict[str, Callable[[Path], LightningDataModule]] = {
    "fashion_mnist": lambda _: registry.datamodules.create("fashion_mnist", batch_size=8),
    "idx": lambda tmp: registry.datamodules.create("idx", root=mnist_folder(tmp, "idx"), batch_size=8),
    "gaussian_mixture": lambda _: registry.datamodules.create("gaussian_mixture", num_train=64, batch_size=8),
    "torchvision": lambda tmp: registry.datamodules.create(
        "torchvision",
        dataset="mnist",
        root=str(Path(mnist_folder(tmp, "MNIST")).parents[1]),
        batch_size=8,
        image_size=28,
        num_workers=0,
    ),  # fmt: skip
    "image_folder": lambda tmp: registry.datamodules.create(
        "image_folder", root=image_folder(tmp / "pictures"), image_size=16, batch_size=4, num_workers=0
    ),
    "semi_supervised": lambda _: SemiSupervisedDataModule(tiny_images(), labelled_per_class=2),
    "edges2image": lambda _: EdgesToImageDataModule(tiny_images()),
    "super_resolution": lambda _: SuperResolutionDataModule(tiny_images(), scale=2),
    "unpaired_classes": lambda _: UnpairedClassesDataModule(tiny_images()),
    "image_folder_pairs": lambda tmp: registry.datamodules.create(
        "image_folder_pairs",
        root=image_folder(tmp / "pairs", ("A", "B")),
        paired=False,
        image_size=16,
        batch_size=2,
        num_workers=0,
    ),  # fmt: skip
    "sample_photos": lambda _: registry.datamodules.create("sample_photos", patch_size=16, patches_per_photo=4),
    "stacked_mnist": lambda _: registry.datamodules.create("stacked_mnist", num_train=64, num_val=16, batch_size=8),
    "fashion_mnist_captions": lambda _: registry.datamodules.create("fashion_mnist_captions", batch_size=8),
    "image_captions": lambda tmp: registry.datamodules.create(
        "image_captions",
        root=image_folder(tmp / "captioned"),
        captions=caption_lines(tmp / "captioned"),
        image_size=16,
        val_images=2,
        batch_size=4,
        num_workers=0,
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", registry.datamodules.names())
def test_every_data_module_keeps_the_contract(name: str, tmp_path: Path) -> None:
    assert name in DATAMODULES, f"add a small {name!r} data module to DATAMODULES: every registered one is checked"
    assert isinstance(DATAMODULES[name](tmp_path / "built"), registry.datamodules.load(name))
    folders = iter(tmp_path / str(i) for i in range(2))  # each build writes its files afresh
    check_datamodule(lambda: DATAMODULES[name](next(folders)))


@pytest.mark.parametrize("name", registry.datamodules.names())
def test_every_data_module_states_its_test_split_and_serves_it(name: str, tmp_path: Path) -> None:
    """`lightning-gans test` prints what it measures on: every built-in data module says it in its own words
    (not the base class's fallback), and its test loader gives batches like its validation loader."""
    from lightning_gans.data.base import GANDataModule

    data = DATAMODULES[name](tmp_path)
    assert isinstance(data, GANDataModule)
    assert data.test_split != GANDataModule.test_split and len(data.test_split) > 20, data.test_split
    data.setup("test")
    test_batch, val_batch = next(iter(data.test_dataloader())), next(iter(data.val_dataloader()))
    assert type(test_batch) is type(val_batch) and len(test_batch) == len(val_batch)
