"""Data for image-to-image translation: batches of ``(a, b)`` image pairs in [-1, 1].

Paired tasks built from any image data module (``b`` is a real image, ``a`` is derived from it):
``edges2image`` (pix2pix: edge map -> image) and ``super_resolution`` (SRGAN: bicubic low-resolution image
-> image). ``unpaired_classes`` makes CycleGAN's two unpaired domains out of two classes of a labelled data
module. ``paired_image_folder`` and ``unpaired_image_folder`` read your own ``A/`` and ``B/`` folders.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset, Subset
from torchvision.datasets.folder import IMG_EXTENSIONS, default_loader

from lightning_gans.core.module import real_samples
from lightning_gans.data.base import Folder, GANDataModule, OptionalFolder, labels_of
from lightning_gans.data.vision import image_transform


def sobel_edges(image: Tensor, threshold: float) -> Tensor:
    """A binary edge map in {-1, 1} of an image in [-1, 1]: Sobel gradient magnitude of the [0, 1] image
    (averaged over channels) above ``threshold``. Edges are 1 (white), as Fashion-MNIST's objects are."""
    gray = image.add(1).div(2).mean(dim=0, keepdim=True)[None]
    kernel_x = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], dtype=gray.dtype)
    kernels = torch.stack([kernel_x, kernel_x.T])[:, None]
    gradient = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)
    return (gradient.norm(dim=1) > threshold).to(image.dtype).mul(2).sub(1)


def bicubic_downsample(image: Tensor, scale: int) -> Tensor:
    """The low-resolution input of super-resolution: bicubic, antialiased, as the SRGAN paper makes it."""
    small = F.interpolate(image[None], scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False)
    return small[0].clamp(-1, 1)


def bicubic_upsample(images: Tensor, scale: int) -> Tensor:
    """The baseline every super-resolution result is compared with: bicubic interpolation back up."""
    return F.interpolate(images, scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


class DerivedPairs(Dataset):
    """``(make_input(x), x)`` for each image ``x`` of ``images`` (whose items may be ``(x, label)``)."""

    def __init__(self, images: Dataset, make_input: Callable[[Tensor], Tensor]) -> None:
        self.images = images
        self.make_input = make_input

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        target = real_samples(self.images[index])
        return self.make_input(target), target


class WrappingDataModule(GANDataModule):
    """A data module made from another one's train and val splits (with its batch size, workers and seed)."""

    def __init__(self, data: GANDataModule) -> None:
        super().__init__(data.batch_size, data.num_workers, data.seed)
        self.data = data
        self.test_split = f"made from the wrapped {type(data).__name__}'s: {data.test_split}"

    def derive(self, split: Dataset) -> Dataset:
        """This module's split made from the wrapped module's split."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        self.data.setup(stage or "fit")
        if self.data.train_set is None or self.data.val_set is None:
            raise RuntimeError(f"{type(self.data).__name__}.setup() made no train/val split")
        self.train_set, self.val_set = self.derive(self.data.train_set), self.derive(self.data.val_set)
        if self.data.test_set is not None:
            self.test_set = self.derive(self.data.test_set)


class EdgesToImageDataModule(WrappingDataModule):
    """pix2pix's edges -> image task (Isola et al. 2017 used HED edges of shoes and handbags), built offline:
    ``a`` is the Sobel edge map of the image ``b`` (see ``sobel_edges``).

    Args:
        data: the image data module (e.g. ``fashion_mnist``).
        threshold: Sobel gradient magnitude, on [0, 1] images, above which a pixel is an edge.
    """

    def __init__(self, data: GANDataModule, threshold: float = 1.0) -> None:
        super().__init__(data)
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        self.threshold = threshold

    def derive(self, split: Dataset) -> Dataset:
        return DerivedPairs(split, partial(sobel_edges, threshold=self.threshold))


class SuperResolutionDataModule(WrappingDataModule):
    """Super-resolution pairs: ``a`` is the image ``b`` downsampled ``scale`` times (bicubic, antialiased).

    Args:
        data: the high-resolution image data module (e.g. ``fashion_mnist`` or ``sample_photos``); its image
            side must be divisible by ``scale``.
        scale: 2 or 4 (any integer factor of the image side works).
    """

    def __init__(self, data: GANDataModule, scale: int = 4) -> None:
        super().__init__(data)
        if scale < 2:
            raise ValueError(f"scale must be >= 2, got {scale}")
        self.scale = scale

    def derive(self, split: Dataset) -> Dataset:
        image = real_samples(split[0])
        if image.shape[-1] % self.scale or image.shape[-2] % self.scale:
            raise ValueError(f"images of {tuple(image.shape[-2:])} pixels cannot be downsampled x{self.scale} exactly")
        return DerivedPairs(split, partial(bicubic_downsample, scale=self.scale))


# -- unpaired --------------------------------------------------------------------------------------------
class UnpairedDataset(Dataset):
    """Items ``(a, b)`` from two unrelated datasets: as long as the longer one; the shorter one wraps around.
    Which ``b`` meets which ``a`` carries no meaning (CycleGAN never compares them)."""

    def __init__(self, a: Dataset, b: Dataset) -> None:
        self.a, self.b = a, b
        self.sizes = len(a), len(b)  # type: ignore[arg-type]
        if min(self.sizes) == 0:
            raise ValueError(f"both domains need images, got {self.sizes[0]} and {self.sizes[1]}")

    def __len__(self) -> int:
        return max(self.sizes)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} pairs")  # also ends plain iteration
        return real_samples(self.a[index % self.sizes[0]]), real_samples(self.b[index % self.sizes[1]])


class UnpairedClassesDataModule(WrappingDataModule):
    """Two classes of a labelled data module as CycleGAN's unpaired domains: A = class ``class_a``, B = class
    ``class_b`` (e.g. Fashion-MNIST's sneaker 7 <-> ankle boot 9); batches ``(a, b)``, both splits.

    Args:
        data: a labelled data module (e.g. ``fashion_mnist``); its batch size, workers and seed are used.
        class_a: the label of domain A.
        class_b: the label of domain B.
    """

    def __init__(self, data: GANDataModule, class_a: int = 7, class_b: int = 9) -> None:
        super().__init__(data)
        if class_a == class_b:
            raise ValueError(f"class_a and class_b must differ, both are {class_a}")
        self.class_a, self.class_b = class_a, class_b

    def derive(self, dataset: Dataset) -> UnpairedDataset:
        labels = labels_of(dataset)
        if labels is None:
            raise TypeError(f"{type(dataset).__name__} has no labels to pick the two domains' classes by")
        missing = [c for c in (self.class_a, self.class_b) if not (labels == c).any()]
        if missing:
            raise ValueError(
                f"no images of class {missing} in {type(self.data).__name__}: labels are {labels.unique().tolist()}"
            )
        a, b = ((labels == c).nonzero().flatten().tolist() for c in (self.class_a, self.class_b))
        return UnpairedDataset(Subset(dataset, a), Subset(dataset, b))


# -- your own folders ------------------------------------------------------------------------------------
def image_files(folder: Path) -> dict[str, Path]:
    """Image files under ``folder`` (recursively), keyed by their path relative to it without the suffix."""
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    files = {
        str(path.relative_to(folder).with_suffix("")): path
        for path in sorted(folder.rglob("*"))
        if path.suffix.lower() in IMG_EXTENSIONS
    }
    if not files:
        raise FileNotFoundError(f"no image files ({', '.join(IMG_EXTENSIONS)}) under {folder}")
    return files


class ImageFiles(Dataset):
    """Images from a list of files, through a transform."""

    def __init__(self, files: list[Path], transform: Callable[[Any], Tensor]) -> None:
        self.files, self.transform = files, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Tensor:
        return self.transform(default_loader(str(self.files[index])))


class ZippedImages(Dataset):
    """``(a[i], b[i])``: two datasets of the same length, item by item."""

    def __init__(self, a: Dataset, b: Dataset) -> None:
        self.a, self.b = a, b

    def __len__(self) -> int:
        return len(self.a)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.a[index], self.b[index]


class ImageFolderPairsDataModule(GANDataModule):
    """Your own two domains: ``root/A/`` and ``root/B/`` (any image files, sub-folders allowed).

    Paired (``paired=True``, pix2pix): ``A/x.png`` is the input of ``B/x.png``; files are matched by their
    path without the suffix, and a file without its partner is an error that names it. Unpaired (CycleGAN):
    the two folders may hold different numbers of unrelated images. ``val_root`` has the same layout;
    without it validation reuses ``root``.

    Args:
        root: the folder holding ``A/`` and ``B/``.
        val_root: the validation folder, same layout.
        paired: whether ``A/`` and ``B/`` hold pairs.
        image_size: images are resized (short side) and centre-cropped to this side.
        channels_a: 1 (grey) or 3 (RGB) for domain A.
        channels_b: 1 or 3 for domain B.
        batch_size, num_workers: as for ``torch.utils.data.DataLoader``.
        seed: seed of the per-epoch shuffle.
    """

    test_split = (
        "the validation folder (``val_root``), or without it the training folder itself: then a test score "
        "measures images the model trained on"
    )

    def __init__(
        self,
        root: Folder,
        val_root: OptionalFolder = None,
        paired: bool = True,
        image_size: int = 256,
        channels_a: Literal[1, 3] = 3,
        channels_b: Literal[1, 3] = 3,
        batch_size: int = 1,
        num_workers: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.root, self.val_root, self.paired = root, val_root, paired
        self.image_size, self.channels_a, self.channels_b = image_size, channels_a, channels_b

    def domains(self, root: Path) -> Dataset:
        files_a, files_b = image_files(root / "A"), image_files(root / "B")
        a_transform = image_transform(self.image_size, self.channels_a)
        b_transform = image_transform(self.image_size, self.channels_b)
        if not self.paired:
            return UnpairedDataset(
                ImageFiles(list(files_a.values()), a_transform), ImageFiles(list(files_b.values()), b_transform)
            )
        unmatched = sorted(set(files_a) ^ set(files_b))
        if unmatched:
            side = ["A" if name in files_a else "B" for name in unmatched[:5]]
            named = ", ".join(f"{s}/{n}" for s, n in zip(side, unmatched[:5]))
            raise ValueError(
                f"{len(unmatched)} images under {root} have no partner in the other folder ({named}, ...): paired "
                "data needs A/<name> and B/<name> for every name (or set data.init_args.paired: false)"
            )
        names = sorted(files_a)
        return ZippedImages(
            ImageFiles([files_a[n] for n in names], a_transform), ImageFiles([files_b[n] for n in names], b_transform)
        )

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        self.train_set = self.domains(Path(self.root))
        self.val_set = self.domains(Path(self.val_root or self.root))
