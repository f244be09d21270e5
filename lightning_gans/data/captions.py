"""Image-caption data for text-to-image GANs: attribute captions for Fashion-MNIST, and a user's own caption set.

Batches are ``(images, captions, labels)``: images in [-1, 1], a list of N caption strings, and class labels
(-1 where a caption set has none; only evaluation reads them).

**Fashion-MNIST captions** (``fashion_mnist_captions``) are made offline from the class name and three
attributes measured on each image's pixels, so that what a caption claims can be measured on a generated
image too (``measure_attributes``):

* ``brightness``: the mean intensity (0..1) of the garment's pixels, those brighter than 10 % of full scale.
  Words: low "dark"/"dark-toned", high "light"/"pale".
* ``width``: the standard deviation, in pixels, of the horizontal position of the garment's intensity.
  Words: low "narrow"/"slim", high "wide"/"broad".
* ``fill``: the share of the frame's pixels that belong to the garment. Words: low "small"/"compact", high
  "large"/"big".

An attribute is named when the image lies in the lowest or the highest third of its class on it (the class's
terciles on the training images, so a "dark sandal" is dark for a sandal); in the middle third it is not
mentioned. Each image gets one caption: a seeded choice of template (four: "a dark wide pullover", "a
pullover that is dark and wide", "this pullover is dark and wide", "an image of a dark, wide pullover") and
of each attribute's two words. **Held out of training:** for class ``k`` the combination of brightness and
width poles ``HELD_OUT[k % 4]`` (e.g. dark and narrow for pullovers) never appears in a training caption:
images that have it are captioned without the width word. Validation captions are left whole.

**Your own captions** (``image_captions``): a folder of images and captions for them, e.g. Caltech-UCSD
Birds or Oxford-102 Flowers with Reed et al.'s published captions. Captions come either as a JSON-lines file,
one ``{"image": "relative/path.jpg", "captions": ["...", ...]}`` per line (``"caption"`` for one), or as a
folder of text files mirroring the image paths (``relative/path.txt``, one caption per line: the layout of
the published ``text_c10`` folders). Each (image, caption) pair is one sample, so an image with ten captions
is seen with each of them once per epoch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from lightning_gans.data.base import Folder, GANDataModule, OptionalFolder
from lightning_gans.data.idx import FashionMNISTDataModule, to_model_range
from lightning_gans.data.pairs import image_files
from lightning_gans.data.vision import image_transform

FASHION_NOUNS = ("t-shirt", "pair of trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                 "ankle boot")  # fmt: skip
# attribute -> (words for the low third, words for the high third)
ATTRIBUTE_WORDS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "brightness": (("dark", "dark-toned"), ("light", "pale")),
    "width": (("narrow", "slim"), ("wide", "broad")),
    "fill": (("small", "compact"), ("large", "big")),
}
# class k never has this (brightness pole, width pole) in a training caption; 0 = low third, 1 = high third
HELD_OUT = ((0, 1), (1, 0), (0, 0), (1, 1))
TEMPLATES = ("{a} {adjectives} {noun}", "{a} {noun} that is {listed}", "this {noun} is {listed}",
             "an image of {a} {commas} {noun}")  # fmt: skip
GARMENT_THRESHOLD = 0.1


def measure_attributes(images: Tensor) -> dict[str, Tensor]:
    """``brightness``, ``width`` and ``fill`` (each (N,)) of grey images (N, 1, H, W) in [-1, 1], as defined in the
    module docstring: what captions describe and what the text-to-image bars measure on generated images."""
    x = ((images.float() + 1) / 2).clamp(0, 1).flatten(1, 2)  # (N, H, W)
    garment = x > GARMENT_THRESHOLD
    intensity = x * garment
    mass = intensity.sum(1)  # intensity per column (N, W)
    columns = torch.arange(x.shape[-1], dtype=x.dtype, device=x.device)
    total = mass.sum(1).clamp_min(1e-6)
    centre = (mass * columns).sum(1) / total
    return {
        "brightness": intensity.flatten(1).sum(1) / garment.flatten(1).sum(1).clamp_min(1),
        "width": ((mass * (columns - centre[:, None]).square()).sum(1) / total).sqrt(),
        "fill": garment.flatten(1).float().mean(1),
    }


def class_terciles(images: Tensor, labels: Tensor, num_classes: int = 10) -> dict[str, Tensor]:
    """attribute -> (num_classes, 2): each class's 1/3 and 2/3 quantiles of it."""
    measured = measure_attributes(images)
    quantiles = torch.tensor([1 / 3, 2 / 3])
    return {
        name: torch.stack([values[labels == k].quantile(quantiles) for k in range(num_classes)])
        for name, values in measured.items()
    }


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def phrase(noun: str, adjectives: Sequence[str], template: int) -> str:
    """One caption: ``TEMPLATES[template]`` filled with the noun and the adjectives (or just the noun)."""
    if not adjectives:
        return f"{_article(noun)} {noun}" if template % 2 == 0 else f"an image of {_article(noun)} {noun}"
    listed = adjectives[0] if len(adjectives) == 1 else ", ".join(adjectives[:-1]) + " and " + adjectives[-1]
    first = adjectives[0] if template in (0, 3) else noun
    return TEMPLATES[template].format(
        a=_article(first), adjectives=" ".join(adjectives), noun=noun, listed=listed, commas=", ".join(adjectives)
    )


def fashion_captions(
    images: Tensor, labels: Tensor, terciles: dict[str, Tensor], seed: int, hold_out: bool, canonical: bool = False
) -> list[str]:
    """A caption per image (see the module docstring); ``hold_out`` drops the width word from held-out combinations.
    ``canonical`` words every caption the same way (the first template, each attribute's first word), so that
    images with the same class and attributes get the same string."""
    measured = measure_attributes(images)
    rng = torch.Generator().manual_seed(seed)
    choices = torch.randint(0, 2**30, (len(images), 1 + len(ATTRIBUTE_WORDS)), generator=rng).tolist()
    captions = []
    for i, label in enumerate(labels.tolist()):
        poles: dict[str, int] = {}
        for name, values in measured.items():
            low, high = terciles[name][label].tolist()
            value = float(values[i])
            if value < low or value > high:
                poles[name] = int(value > high)
        if hold_out and (poles.get("brightness"), poles.get("width")) == HELD_OUT[label % len(HELD_OUT)]:
            del poles["width"]
        words = [0] * len(choices[i]) if canonical else choices[i]
        adjectives = [ATTRIBUTE_WORDS[name][pole][words[1 + j] % 2]
                      for j, name in enumerate(ATTRIBUTE_WORDS) if (pole := poles.get(name)) is not None]  # fmt: skip
        captions.append(phrase(FASHION_NOUNS[label], adjectives, words[0] % len(TEMPLATES)))
    return captions


class CaptionedImages(Dataset):
    """(image, caption, label) triples from images held in memory."""

    def __init__(self, images: Tensor, captions: list[str], labels: Tensor) -> None:
        if not len(images) == len(captions) == len(labels):
            raise ValueError(
                f"{len(images)} images, {len(captions)} captions and {len(labels)} labels differ in number"
            )
        self.images, self.captions, self.targets = images, captions, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, str, Tensor]:
        return self.images[index], self.captions[index], self.targets[index]


class FashionCaptionsDataModule(FashionMNISTDataModule):
    """Fashion-MNIST with measured-attribute captions (see the module docstring), offline like ``fashion_mnist``.

    Args:
        root, image_size, batch_size, num_workers, seed, val_size: as for ``fashion_mnist`` (``root=None``: the
            10k images shipped in the package).
        caption_seed: seed of the template and word choices.
        hold_out: keep the ``HELD_OUT`` attribute combinations out of the training captions.
    """

    def __init__(
        self,
        root: OptionalFolder = None,
        image_size: int = 28,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        val_size: int = 1000,
        caption_seed: int = 0,
        hold_out: bool = True,
    ) -> None:
        super().__init__(root, image_size, batch_size, num_workers, seed, val_size)
        self.caption_seed, self.hold_out = caption_seed, hold_out
        self.terciles: dict[str, Tensor] | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train_x, train_y, val_x, val_y = self.load()
        train_images, val_images = to_model_range(train_x, 28), to_model_range(val_x, 28)
        self.terciles = class_terciles(train_images, train_y)
        train_captions = fashion_captions(train_images, train_y, self.terciles, self.caption_seed, self.hold_out)
        val_captions = fashion_captions(val_images, val_y, self.terciles, self.caption_seed + 1, hold_out=False)
        if self.image_size != 28:  # captions are measured at 28x28; the model may want another size
            train_images, val_images = to_model_range(train_x, self.image_size), to_model_range(val_x, self.image_size)
        self.train_set = CaptionedImages(train_images, train_captions, train_y)
        self.val_set = CaptionedImages(val_images, val_captions, val_y)


def read_captions(captions: Path, images: list[Path], root: Path) -> list[list[str]]:
    """The captions of each image (relative to ``root``), from a JSON-lines file or a folder of ``.txt`` files."""
    found: dict[str, list[str]] = {}
    if captions.is_file():
        for number, line in enumerate(captions.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                texts = record["captions"] if "captions" in record else [record["caption"]]
                found[str(Path(record["image"]))] = [str(t) for t in texts]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise ValueError(
                    f'{captions}, line {number}: expected {{"image": ..., "captions": [...]}} ({error!r})'
                ) from error
    elif captions.is_dir():
        for image in images:
            text = captions / image.relative_to(root).with_suffix(".txt")
            if text.is_file():
                found[str(image.relative_to(root))] = text.read_text(encoding="utf-8").splitlines()
    else:
        raise FileNotFoundError(f"captions {str(captions)!r} is neither a JSON-lines file nor a folder of .txt files")
    result = []
    for image in images:
        texts = [t.strip() for t in found.get(str(image.relative_to(root)), []) if t.strip()]
        if not texts:
            raise ValueError(f"no caption for image {image} in {captions}")
        result.append(texts)
    return result


class CaptionFolder(Dataset):
    """(image, caption, -1) for every caption of every image, images read from disk on access."""

    def __init__(self, pairs: list[tuple[Path, str]], image_size: int, channels: int) -> None:
        self.pairs, self.transform, self.channels = pairs, image_transform(image_size, channels), channels

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[Tensor, str, int]:
        path, caption = self.pairs[index]
        with Image.open(path) as image:
            return self.transform(image.convert("RGB" if self.channels == 3 else "L")), caption, -1


class ImageCaptionsDataModule(GANDataModule):
    """A folder of images with captions (see the module docstring), for text-to-image training on your own data.

    Args:
        root: folder of images (searched recursively).
        captions: a JSON-lines file or a folder of ``.txt`` files mirroring the images.
        image_size, channels: images are resized, centre-cropped and mapped to [-1, 1].
        val_images: how many images (a seeded choice, with all their captions) are held out for validation.
        batch_size, num_workers, seed: as for every data module.
    """

    test_split = "the validation pairs of the caption file, also the validation split"

    def __init__(
        self,
        root: Folder,
        captions: Folder,
        image_size: int = 64,
        channels: Literal[1, 3] = 3,
        val_images: int = 100,
        batch_size: int = 64,
        num_workers: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.root, self.captions, self.image_size, self.channels = root, captions, image_size, channels
        self.val_images = val_images

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        root = Path(self.root)
        if not root.is_dir():
            raise FileNotFoundError(f"image folder {self.root!r} does not exist (data.init_args.root)")
        images = list(image_files(root).values())
        if len(images) <= self.val_images:
            raise ValueError(f"{self.root!r} holds {len(images)} images: need more than val_images={self.val_images}")
        texts = read_captions(Path(self.captions), images, root)
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(self.seed)).tolist()
        held = set(order[: self.val_images])

        def pairs(keep: bool) -> list[tuple[Path, str]]:
            return [(images[i], t) for i in range(len(images)) if (i in held) == keep for t in texts[i]]

        self.train_set = CaptionFolder(pairs(False), self.image_size, self.channels)
        self.val_set = CaptionFolder(pairs(True), self.image_size, self.channels)


__all__ = [
    "ATTRIBUTE_WORDS",
    "FASHION_NOUNS",
    "HELD_OUT",
    "CaptionedImages",
    "FashionCaptionsDataModule",
    "ImageCaptionsDataModule",
    "class_terciles",
    "fashion_captions",
    "measure_attributes",
    "phrase",
]
