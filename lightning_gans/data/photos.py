"""RGB patches of the sample photos that scikit-image ships (astronaut, chelsea the cat, coffee, ...):
real colour images that need no download, for super-resolution and translation demos."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import TensorDataset
from torchvision.transforms.functional import pil_to_tensor

from lightning_gans.data.base import GANDataModule

# scikit-image's bundled colour photographs (file names in skimage/data); motorcycle_right is left out: it
# is the other half of motorcycle_left's stereo pair, so it would leak between the splits.
PHOTOS = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "ihc": "ihc.png",
    "motorcycle_left": "motorcycle_left.png",
    "retina": "retina.jpg",
    "rocket": "rocket.jpg",
}


def load_photo(name: str) -> Tensor:
    """A bundled photo as a (3, H, W) float tensor in [-1, 1]."""
    if name not in PHOTOS:
        raise ValueError(f"unknown sample photo {name!r}; the photos are {', '.join(PHOTOS)}")
    with resources.as_file(resources.files("skimage.data") / PHOTOS[name]) as path:
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: reinstall scikit-image (it ships the sample photos)")
        image = Image.open(path).convert("RGB")
    return pil_to_tensor(image).float().div(127.5).sub(1)


def random_patches(photo: Tensor, size: int, count: int, generator: torch.Generator) -> Tensor:
    """``count`` crops of ``size`` x ``size`` at random positions, half of them mirrored."""
    _, height, width = photo.shape
    tops = torch.randint(0, height - size + 1, (count,), generator=generator).tolist()
    lefts = torch.randint(0, width - size + 1, (count,), generator=generator).tolist()
    flips = torch.rand(count, generator=generator) < 0.5
    patches = torch.stack([photo[:, t : t + size, left : left + size] for t, left in zip(tops, lefts)])
    patches[flips] = patches[flips].flip(-1)
    return patches


def tiled_patches(photo: Tensor, size: int) -> Tensor:
    """Every non-overlapping ``size`` x ``size`` tile of the photo (the remainder at the edges is dropped)."""
    tiles = photo.unfold(1, size, size).unfold(2, size, size)  # (3, rows, cols, size, size)
    return tiles.permute(1, 2, 0, 3, 4).reshape(-1, 3, size, size)


class SamplePhotosDataModule(GANDataModule):
    """RGB patches of scikit-image's sample photos, with the train and validation photos kept apart.

    Training: ``patches_per_photo`` random crops (half mirrored; a fixed, seeded choice) of each training
    photo. Validation: every non-overlapping tile of the validation photos. Batches are ``(patches, 0)``.

    Args:
        patch_size: side of the patches (the SRGAN paper trains on 96x96 crops).
        train_photos: photos to train on (see ``PHOTOS``).
        val_photos: photos to validate on.
        patches_per_photo: random crops per training photo.
        batch_size, num_workers: as for ``torch.utils.data.DataLoader``.
        seed: seed of the crops and of the per-epoch shuffle.
    """

    test_split = (
        "the tiles of the validation photos (``val_photos``, none of them trained on), which are also the "
        "validation split"
    )

    def __init__(
        self,
        patch_size: int = 64,
        train_photos: Sequence[str] = ("astronaut", "hubble_deep_field", "ihc", "motorcycle_left", "retina", "rocket"),
        val_photos: Sequence[str] = ("chelsea", "coffee"),
        patches_per_photo: int = 400,
        batch_size: int = 16,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        shared = set(train_photos) & set(val_photos)
        if shared:
            raise ValueError(f"photos {sorted(shared)} are in both train_photos and val_photos")
        if not train_photos or not val_photos:
            raise ValueError("train_photos and val_photos must each name at least one photo")
        self.patch_size = patch_size
        self.train_photos, self.val_photos = list(train_photos), list(val_photos)
        self.patches_per_photo = patches_per_photo

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        generator = torch.Generator().manual_seed(self.seed)
        train = torch.cat(
            [
                random_patches(load_photo(n), self.patch_size, self.patches_per_photo, generator)
                for n in self.train_photos
            ]
        )
        val = torch.cat([tiled_patches(load_photo(n), self.patch_size) for n in self.val_photos])
        self.train_set = TensorDataset(train, torch.zeros(len(train), dtype=torch.long))
        self.val_set = TensorDataset(val, torch.zeros(len(val), dtype=torch.long))
