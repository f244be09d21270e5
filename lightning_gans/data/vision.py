"""torchvision datasets (for users online) and a folder of the user's own pictures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets, transforms

from lightning_gans.data.base import DownloadSwitch, Folder, GANDataModule, OptionalFolder

TorchvisionName = Literal["mnist", "fashion_mnist", "kmnist", "cifar10", "celeba"]


def image_transform(image_size: int | None, channels: int) -> transforms.Compose:
    """Resize the short side and centre-crop (unless ``image_size`` is ``None``), then map to [-1, 1] as every
    model here expects."""
    steps: list[object] = (
        [] if image_size is None else [transforms.Resize(image_size), transforms.CenterCrop(image_size)]
    )
    if channels == 1:
        steps.append(transforms.Grayscale(1))
    steps += [transforms.ToTensor(), transforms.Normalize([0.5] * channels, [0.5] * channels)]
    return transforms.Compose(steps)


def reduced_loader(image_size: int | None) -> Callable[[str], Image.Image]:
    """``ImageFolder``'s loader, with JPEGs decoded at the smallest of 1/1, 1/2, 1/4 or 1/8 scale that still
    covers ``image_size`` on the short side (PIL's ``draft``: the JPEG decoder skips the detail the resize
    would throw away). The resize after it is unchanged; a 512-px photo for a 64-px model decodes at 64 px."""

    def load(path: str) -> Image.Image:
        with open(path, "rb") as file:
            image = Image.open(file)
            if image_size is not None and image.format == "JPEG":
                image.draft("RGB", (image_size, image_size))
            return image.convert("RGB")  # as torchvision's loader: the transform makes grey images after resizing

    return load


class TorchvisionDataModule(GANDataModule):
    """MNIST, Fashion-MNIST, KMNIST, CIFAR-10 or CelebA through ``torchvision.datasets``.

    Nothing is downloaded unless ``download=True``: offline, prefer ``FashionMNISTDataModule`` or
    ``IDXDataModule``, which read local IDX files.
    """

    test_split = "the data set's own test split (``train=False``), which is also the validation split"

    def __init__(
        self,
        dataset: TorchvisionName = "cifar10",
        root: Folder = "data",
        download: DownloadSwitch = False,
        image_size: int = 32,
        batch_size: int = 128,
        num_workers: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.dataset = dataset
        self.root = root
        self.download = download
        self.image_size = image_size

    @property
    def channels(self) -> int:
        return 3 if self.dataset in ("cifar10", "celeba") else 1

    def _split(self, train: bool) -> Dataset:
        transform = image_transform(self.image_size, self.channels)
        common = {"root": self.root, "download": self.download, "transform": transform}
        if self.dataset == "celeba":
            return datasets.CelebA(split="train" if train else "valid", **common)  # type: ignore[arg-type]
        cls = {
            "mnist": datasets.MNIST,
            "fashion_mnist": datasets.FashionMNIST,
            "kmnist": datasets.KMNIST,
            "cifar10": datasets.CIFAR10,
        }[self.dataset]
        return cls(train=train, **common)  # type: ignore[arg-type]

    def prepare_data(self) -> None:
        if self.download:
            self._split(True), self._split(False)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        try:
            self.train_set, self.val_set = self._split(True), self._split(False)
        except RuntimeError as error:  # torchvision's "Dataset not found or corrupted"
            raise FileNotFoundError(
                f"torchvision {self.dataset!r} is not under {Path(self.root).resolve()} ({error}). Set "
                "`data.init_args.download: true` to fetch it (needs a network), or use the offline "
                "fashion_mnist / idx data modules."
            ) from error


class ImageFolderDataModule(GANDataModule):
    """Your own pictures: ``root/<any sub-folder>/<image files>``, as ``torchvision.datasets.ImageFolder``.

    Sub-folder names become labels. ``val_root`` is optional; without it validation reuses ``root``.
    """

    test_split = (
        "the validation folder (``val_root``), or without it the training folder itself: then a test score "
        "measures images the model trained on"
    )

    def __init__(
        self,
        root: Folder,
        val_root: OptionalFolder = None,
        image_size: int = 64,
        channels: Literal[1, 3] = 3,
        batch_size: int = 64,
        num_workers: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.root = root
        self.val_root = val_root
        self.image_size = image_size
        self.channels = channels

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        transform = image_transform(self.image_size, self.channels)
        for folder in filter(None, (self.root, self.val_root)):
            if not Path(folder).is_dir():
                raise FileNotFoundError(f"image folder {folder!r} does not exist (data.init_args.root/val_root)")
        try:
            loader = reduced_loader(self.image_size)
            self.train_set = datasets.ImageFolder(self.root, transform=transform, loader=loader)
            self.val_set = datasets.ImageFolder(self.val_root or self.root, transform=transform, loader=loader)
        except FileNotFoundError as error:  # torchvision's words for an empty folder or one without images
            raise FileNotFoundError(
                f"image folder {self.root!r}: {error}. Put the images in sub-folders: root/<any name>/<image files>"
            ) from error
