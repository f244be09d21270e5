"""Caption data (``lightning_gans.data.captions``) and the caption checks (``lightning_gans.metrics.captions``)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import Tensor

from lightning_gans.data.captions import (
    ATTRIBUTE_WORDS,
    FASHION_NOUNS,
    HELD_OUT,
    FashionCaptionsDataModule,
    ImageCaptionsDataModule,
    class_terciles,
    fashion_captions,
    measure_attributes,
    phrase,
)
from lightning_gans.data.idx import embedded_fashion_mnist, to_model_range
from lightning_gans.metrics.captions import attribute_direction, class_agreement, within_caption_diversity
from lightning_gans.metrics.features import FashionClassifier


def test_the_attributes_measure_what_they_are_named_for() -> None:
    image = -torch.ones(1, 1, 28, 28)
    image[..., 10:18, 12:16] = 0.0  # a grey bar, 4 px wide, 8 tall: brightness 0.5, fill 32/784
    wide = image.clone()
    wide[..., 10:18, 6:22] = 0.0
    bright = image.clone()
    bright[..., 10:18, 12:16] = 1.0
    base, w, b = (measure_attributes(x) for x in (image, wide, bright))
    assert base["brightness"].item() == pytest.approx(0.5) and b["brightness"].item() == pytest.approx(1.0)
    assert base["fill"].item() == pytest.approx(32 / 784) and w["fill"].item() == pytest.approx(128 / 784)
    assert base["width"].item() == pytest.approx(((torch.arange(4.0) - 1.5).square().mean()).sqrt().item())
    assert w["width"] > 3 * base["width"]


def test_captions_name_the_class_and_the_measured_extremes_and_hold_out_combinations() -> None:
    data = FashionCaptionsDataModule()
    data.setup()
    assert data.train_set is not None and data.val_set is not None and data.terciles is not None
    images, captions, labels = data.train_set.images, data.train_set.captions, data.train_set.targets
    assert len(captions) == 9000 and len(set(captions)) > 1000, "several phrasings"
    measured = measure_attributes(images)
    checked = 0
    for i in range(0, 9000, 7):
        caption, label = captions[i], int(labels[i])
        assert FASHION_NOUNS[label] in caption
        for attribute, (low_words, high_words) in ATTRIBUTE_WORDS.items():
            low, high = data.terciles[attribute][label].tolist()
            value = float(measured[attribute][i])
            said = {w for w in low_words + high_words if f" {w} " in f" {caption.replace(',', ' ')} "}
            if said & set(low_words):
                assert value < low, (caption, attribute, value, low)
            if said & set(high_words):
                assert value > high, (caption, attribute, value, high)
            if low <= value <= high:
                assert not said, f"{caption!r} names {attribute} of a middle-third image"
        checked += 1
    assert checked > 1000
    for label in range(len(FASHION_NOUNS)):  # no training caption has its class's held-out combination
        brightness, width = HELD_OUT[label % len(HELD_OUT)]
        for caption in (c for c, y in zip(captions, labels.tolist()) if y == label):
            words = set(caption.replace(",", " ").split())
            assert not (words & set(ATTRIBUTE_WORDS["brightness"][brightness])
                        and words & set(ATTRIBUTE_WORDS["width"][width])), caption  # fmt: skip
    val_words = [set(c.replace(",", " ").split()) for c in data.val_set.captions]
    assert any(w & {"dark", "dark-toned"} and w & {"wide", "broad"} and "pullover" in w for w in val_words)


def test_phrasings() -> None:
    assert phrase("pullover", ["dark", "wide"], 0) == "a dark wide pullover"
    assert phrase("ankle boot", ["pale"], 1) == "an ankle boot that is pale"
    assert phrase("bag", ["dark", "wide", "big"], 2) == "this bag is dark, wide and big"
    assert phrase("ankle boot", [], 0) == "an ankle boot"


def test_the_image_captions_module_reads_jsonl_and_text_folders(tmp_path: Path) -> None:
    for i in range(5):
        Image.new("RGB", (20, 20), (50 * i, 0, 0)).save(tmp_path / f"bird{i}.png")
    lines = [json.dumps({"image": f"bird{i}.png", "captions": [f"red bird {i}", f"a bird {i}"]}) for i in range(5)]
    (tmp_path / "captions.jsonl").write_text("\n".join(lines))
    data = ImageCaptionsDataModule(str(tmp_path), str(tmp_path / "captions.jsonl"), image_size=8, val_images=1,
                                   batch_size=2, num_workers=0)  # fmt: skip
    data.setup()
    assert len(data.train_set) == 8 and len(data.val_set) == 2  # type: ignore[arg-type]
    images, captions, _ = next(iter(data.train_dataloader()))
    assert images.shape == (2, 3, 8, 8) and all(isinstance(c, str) and "bird" in c for c in captions)

    texts = tmp_path / "text_c10"
    texts.mkdir()
    for i in range(5):
        (texts / f"bird{i}.txt").write_text(f"this bird is red\nbird number {i}\n\n")
    folder = ImageCaptionsDataModule(str(tmp_path), str(texts), image_size=8, val_images=1, num_workers=0)
    folder.setup()
    assert len(folder.train_set) == 8  # type: ignore[arg-type]

    (texts / "bird3.txt").unlink()
    with pytest.raises(ValueError, match="no caption for image .*bird3.png"):
        ImageCaptionsDataModule(str(tmp_path), str(texts), val_images=1).setup()
    (tmp_path / "bad.jsonl").write_text('{"image": "bird0.png"}\n')
    with pytest.raises(ValueError, match="bad.jsonl, line 1"):
        ImageCaptionsDataModule(str(tmp_path), str(tmp_path / "bad.jsonl"), val_images=1).setup()
    with pytest.raises(FileNotFoundError, match="neither a JSON-lines file nor a folder"):
        ImageCaptionsDataModule(str(tmp_path), str(tmp_path / "missing"), val_images=1).setup()


class RealImagesFor:
    """A 'generator' that draws real Fashion-MNIST images matching each caption's class and attribute words (the
    image for latent z: chosen by z among the matches), or with ``follow=False`` any image, chosen by z and the
    caption's hash: a caption changes the image but not in the way it says."""

    def __init__(self, follow: bool) -> None:
        raw, self.labels = embedded_fashion_mnist()
        self.images = to_model_range(raw, 28)
        self.terciles = class_terciles(self.images, self.labels)
        self.measured = measure_attributes(self.images)
        self.follow = follow

    def matches(self, caption: str) -> Tensor:
        words = set(caption.replace(",", " ").split())
        label = max((k for k, noun in enumerate(FASHION_NOUNS) if noun in caption), key=lambda k: len(FASHION_NOUNS[k]))
        keep = self.labels == label
        for attribute, poles in ATTRIBUTE_WORDS.items():
            low, high = self.terciles[attribute][label]
            for pole, pole_words in enumerate(poles):
                if words & set(pole_words):
                    keep &= self.measured[attribute] > high if pole else self.measured[attribute] < low
        return keep.nonzero().flatten()

    def __call__(self, z: Tensor, captions: list[str]) -> Tensor:
        chosen = []
        for latent, caption in zip(z, captions):
            pool = self.matches(caption) if self.follow else torch.arange(len(self.images))
            salt = 0 if self.follow else zlib.crc32(caption.encode())
            chosen.append(pool[(int(latent.abs().sum() * 1000) + salt) % len(pool)])
        return self.images[torch.stack(chosen)]


def test_the_caption_checks_pass_a_generator_that_follows_captions_and_fail_one_that_ignores_them() -> None:
    classifier = FashionClassifier().eval()
    data = FashionCaptionsDataModule()
    data.setup()
    captions, labels = data.val_set.captions[:300], data.val_set.targets[:300]  # type: ignore[union-attr]
    follows, ignores = RealImagesFor(follow=True), RealImagesFor(follow=False)

    agreement = class_agreement(follows, 8, captions, labels, classifier)["class_agreement"]
    assert agreement > 0.85, "the classifier scores about 0.93 on real images"
    assert class_agreement(ignores, 8, captions, labels, classifier)["class_agreement"] < 0.2

    followed = attribute_direction(follows, 8, samples_per_class=10)
    assert followed["direction_min"] == 1.0, "terciles apart: every pair moves the stated way"
    assert followed["direction/held_out/brightness"] == followed["direction/held_out/width"] == 1.0
    ignored = attribute_direction(ignores, 8, samples_per_class=10)
    assert all(0.25 < v < 0.75 for k, v in ignored.items() if k.startswith("direction/")), ignored


def test_within_caption_diversity_is_one_for_the_data_and_zero_for_a_generator_that_ignores_its_noise() -> None:
    data = FashionCaptionsDataModule()
    data.setup()
    images, labels = data.val_set.images, data.val_set.targets
    canonical = fashion_captions(images, labels, data.terciles, 0, False, canonical=True)
    assert len(set(canonical)) < len(set(data.val_set.captions))  # wordings merged: one string per meaning
    classifier = FashionClassifier().eval()
    first = {caption: [i for i, c in enumerate(canonical) if c == caption] for caption in set(canonical)}

    def the_data(z: Tensor, captions: list[str]) -> Tensor:  # the very real images the metric compares with
        return images[first[captions[0]][: len(z)]]

    def collapsed(z: Tensor, captions: list[str]) -> Tensor:  # follows the caption, ignores the noise
        return images[first[captions[0]][0]].expand(len(z), -1, -1, -1)

    data_score = within_caption_diversity(the_data, 8, images, canonical, classifier, per_caption=10)
    assert data_score["diversity_ratio"] == pytest.approx(1.0)
    assert data_score["diversity/captions"] == sum(len(v) >= 10 for v in first.values()) > 5
    assert within_caption_diversity(collapsed, 8, images, canonical, classifier, per_caption=10)["diversity_ratio"] == 0
    with pytest.raises(ValueError, match="no caption is carried by 1000 images"):
        within_caption_diversity(collapsed, 8, images, canonical, classifier, per_caption=1000)
