"""MNIST-format (IDX) image data: Fashion-MNIST, MNIST and KMNIST.

Fashion-MNIST's test split (10k images, MIT licence, see ``fashion_mnist/LICENSE``) ships inside the
package, so the default recipes train on real images on a machine with no network. The full 70k set is read
from any folder holding the four standard files, e.g. Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist``), or an MNIST/KMNIST download.
"""

from __future__ import annotations

import gzip
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from lightning_gans.data.base import Folder, GANDataModule, OptionalFolder

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzipped or not.

    Written here because torchvision's reader only takes uncompressed files inside its own
    ``<root>/<Dataset>/raw`` layout; the format is four header bytes, the sizes, then the data.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:  # a truncated download ends in EOFError
            raise ValueError(f"{path} is a damaged gzip file ({error}); copy or download it again") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path} is cut short: its header promises {ndim} sizes")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(
            f"{path}: its header says {shape} ({int(np.prod(shape))} values) but it holds {data.size}: the file is "
            "damaged or cut short"
        )
    return data.reshape(shape)


def _find_split(root: Path, split: str) -> tuple[Path, Path]:
    found = []
    for kind, ndim in (("images", 3), ("labels", 1)):
        candidates = [root / f"{split}-{kind}-idx{ndim}-ubyte{ext}" for ext in (".gz", "")]
        existing = [c for c in candidates if c.is_file()]
        if not existing:
            present = sorted(p.name for p in root.iterdir()) if root.is_dir() else "the folder does not exist"
            raise FileNotFoundError(
                f"no {candidates[1].name}[.gz] in {root} (found: {present}). Give a folder with the four "
                "standard IDX files; for the full Fashion-MNIST run `apt-get install dataset-fashion-mnist` "
                f"and use root: {DEBIAN_FASHION_MNIST}"
            )
        found.append(existing[0])
    return found[0], found[1]


def load_idx_split(root: str | Path, split: str) -> tuple[Tensor, Tensor]:
    """uint8 images (N, 1, 28, 28) and int64 labels of the ``train`` or ``t10k`` split under ``root``."""
    images_path, labels_path = _find_split(Path(root), split)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"{images_path} and {labels_path} do not hold matching images (N, H, W) and labels")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def embedded_fashion_mnist() -> tuple[Tensor, Tensor]:
    """The Fashion-MNIST test split shipped inside the package."""
    folder = resources.files("lightning_gans.data") / "fashion_mnist"
    with resources.as_file(folder) as path:
        return load_idx_split(path, "t10k")


def to_model_range(images: Tensor, image_size: int) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1], resized (bilinear, antialiased) when ``image_size`` differs."""
    x = images.float().div_(127.5).sub_(1.0)
    if x.shape[-1] != image_size:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp_(-1.0, 1.0)


class IDXDataModule(GANDataModule):
    """Images and labels from a folder of MNIST-format IDX files (MNIST, Fashion-MNIST, KMNIST).

    Trains on the ``train`` split and validates on the ``t10k`` split.

    Args:
        root: folder holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``.
        image_size: side of the images given to the model (28, or e.g. 32/64 for DCGAN nets of that size).
        batch_size, num_workers: as for ``torch.utils.data.DataLoader``.
        seed: seed of the per-epoch shuffle.
    """

    test_split: str = (
        "the t10k split, which is also the validation split (IDX data ship two splits): a checkpoint chosen by a "
        "validation score is tested on the images it was chosen on"
    )

    def __init__(
        self, root: Folder, image_size: int = 28, batch_size: int = 128, num_workers: int = 0, seed: int = 0
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.root: str | None = root
        self.image_size = image_size

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(train images, train labels, val images, val labels), images as uint8."""
        if self.root is None:
            raise ValueError(f"{type(self).__name__} needs root: a folder of IDX files")
        return (*load_idx_split(self.root, "train"), *load_idx_split(self.root, "t10k"))

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train_x, train_y, val_x, val_y = self.load()
        self.train_set = TensorDataset(to_model_range(train_x, self.image_size), train_y)
        self.val_set = TensorDataset(to_model_range(val_x, self.image_size), val_y)


class FashionMNISTDataModule(IDXDataModule):
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): works offline out of the box.

    With ``root=None`` it uses the 10k test split shipped in the package: ``val_size`` images (a fixed,
    seeded choice) are held out for validation and the rest are trained on. With ``root`` set to a folder
    of the four IDX files (``/usr/share/datasets/fashion-mnist`` after ``apt-get install
    dataset-fashion-mnist``) it trains on the 60k train split and validates on the 10k test split.

    Fashion-MNIST has no third split, so ``test`` measures on the validation split: the ``val_size`` held-out
    images of the shipped t10k file, or with ``root`` the whole t10k split. A checkpoint picked by ``val/fid``
    is then scored on the images it was picked on: say so beside a test score.
    """

    test_split: str = (
        "the validation split (Fashion-MNIST ships a train and a test split only): without root, the val_size "
        "held-out images of the shipped t10k file; with root, the 10k t10k images. A checkpoint chosen by a "
        "validation score is tested on the images it was chosen on"
    )

    def __init__(
        self,
        root: OptionalFolder = None,
        image_size: int = 28,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 0,
        val_size: int = 1000,
    ) -> None:
        super().__init__(root or "", image_size, batch_size, num_workers, seed)
        self.root = root
        if not 0 < val_size < 10_000:
            raise ValueError(f"val_size must lie in (0, 10000) for the embedded split, got {val_size}")
        self.val_size = val_size

    def load(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if self.root is not None:
            return super().load()
        images, labels = embedded_fashion_mnist()
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(1234))
        val, train = order[: self.val_size], order[self.val_size :]
        return images[train], labels[train], images[val], labels[val]
