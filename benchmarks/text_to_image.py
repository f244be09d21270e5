"""The text-to-image bars on Fashion-MNIST captions, for a trained ``gan_cls`` checkpoint.

Train first (the recipe's data, or the full 60k set as below), then measure::

    lightning-gans fit --config recipes/gan_cls_fashion_mnist.yaml \
        --data.init_args.root /usr/share/datasets/fashion-mnist
    python benchmarks/text_to_image.py --ckpt runs/gan_cls_fashion_mnist/checkpoints/last.ckpt \
        --root /usr/share/datasets/fashion-mnist

Protocol (``lightning_gans.metrics.captions``), EMA generator, seeded latents:
* class agreement: one sample per validation caption (captions of the validation images, made with the
  training images' terciles, as in training), judged by the shipped ``fashion_classifier``; bar >= 0.90; and
  ``class_agreement/held_out``: ``--samples_per_class`` samples of each class's held-out caption ("a dark wide
  t-shirt", ...);
* attribute direction: for each of the 12 attribute words, 10 classes x ``--samples_per_class`` pairs (same
  noise; "a dark pullover" against "a light pullover"); the share whose measured attribute moves as the word
  says (ties count as failures); bar >= 0.90 for every word; and the same for the held-out combinations
  (brightness and width words changed one at a time in "a dark wide pullover"-style captions that no training
  caption had);
* within-caption diversity: for each class and attribute combination that ``--diversity_per_caption``
  validation images have (as one canonical caption, "a dark wide pullover"), the mean pairwise distance
  (``fashion_classifier`` features) of that many samples against that of the real images;
  ``diversity_ratio`` bar >= 0.8;
* pictures: a row per caption (held-out combinations included) and text interpolations (fixed noise per row,
  embeddings from one caption to another), written next to the JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from jsonargparse import CLI

from lightning_gans.checkpoints import load_variant
from lightning_gans.data.captions import (
    ATTRIBUTE_WORDS,
    FASHION_NOUNS,
    HELD_OUT,
    FashionCaptionsDataModule,
    fashion_captions,
    phrase,
)
from lightning_gans.images import save_samples
from lightning_gans.metrics.captions import attribute_direction, class_agreement, within_caption_diversity
from lightning_gans.metrics.features import FashionClassifier

BAR = 0.90
DIVERSITY_BAR = 0.8  # samples of one caption at least 0.8x as varied as real images with that caption
INTERPOLATIONS = [("a dark pullover", "a pale pullover"), ("a slim dress", "a broad dress"),
                  ("a sneaker", "an ankle boot"), ("a small bag", "a big bag")]  # fmt: skip


def held_out_captions() -> list[str]:
    captions = []
    for label, noun in enumerate(FASHION_NOUNS):
        brightness, width = HELD_OUT[label % len(HELD_OUT)]
        words = [ATTRIBUTE_WORDS["brightness"][brightness][0], ATTRIBUTE_WORDS["width"][width][0]]
        captions.append(phrase(noun, words, 0))
    return captions


def measure(
    model: Any, data: FashionCaptionsDataModule, samples_per_class: int, diversity_per_caption: int, seed: int
) -> dict[str, float]:
    """Every bar's value for a gan_cls ``model`` on the set-up caption ``data`` (the protocol above)."""
    assert data.val_set is not None
    classifier = FashionClassifier().eval()
    latent_dim = model.latent_dim
    # real images "with the same caption": the same class and measured attributes, however the caption words them
    canonical = fashion_captions(data.val_set.images, data.val_set.targets, data.terciles, 0, False, canonical=True)
    result = {
        **class_agreement(model.generate_text, latent_dim, data.val_set.captions, data.val_set.targets, classifier,
                          seed=seed),
        **attribute_direction(model.generate_text, latent_dim, samples_per_class, seed=seed),
        **within_caption_diversity(model.generate_text, latent_dim, data.val_set.images, canonical,
                                   classifier, per_caption=diversity_per_caption, seed=seed),
    }  # fmt: skip
    held_out = [caption for caption in held_out_captions() for _ in range(samples_per_class)]
    held_out_labels = torch.arange(len(FASHION_NOUNS)).repeat_interleave(samples_per_class)
    agreement = class_agreement(model.generate_text, latent_dim, held_out, held_out_labels, classifier, seed=seed)
    result["class_agreement/held_out"] = agreement["class_agreement"]
    return result


def main(
    ckpt: str | None = None,
    root: str | None = None,
    samples_per_class: int = 50,
    diversity_per_caption: int = 50,
    seed: int = 0,
    out: str = "benchmarks/results/text_to_image.json",
    trust_checkpoint: bool = False,
) -> None:
    """Measure ``ckpt`` (a gan_cls checkpoint) against the caption bars; print the table and write ``out``."""
    if ckpt is None:
        raise SystemExit("give --ckpt: a gan_cls checkpoint")
    started = time.perf_counter()
    torch.set_num_threads(2)
    model = load_variant(ckpt, trust=trust_checkpoint).eval()
    data = FashionCaptionsDataModule(root=root)
    data.setup()
    assert data.val_set is not None
    result = measure(model, data, samples_per_class, diversity_per_caption, seed)
    latent_dim = model.latent_dim
    steps = int(getattr(model, "generator_steps", 0))
    print(f"{ckpt}: {steps} generator steps\n")
    print(f"{'check':<34}{'value':>8}  bar {BAR:.2f}")
    for key, value in result.items():
        if key.startswith("class_agreement/") and key != "class_agreement/held_out":
            continue
        bar = DIVERSITY_BAR if key == "diversity_ratio" else BAR
        passed = "" if (key.startswith(("direction/", "diversity/")) and "held_out" not in key) else (
            "met" if value >= bar else "missed")  # fmt: skip
        print(f"{key:<34}{value:>8.3f}  {passed}")
    per_class = " ".join(f"{FASHION_NOUNS[k]}={result[f'class_agreement/{k}']:.2f}" for k in range(10))
    print(f"\nclass agreement per class: {per_class}")

    folder = Path(out).parent
    folder.mkdir(parents=True, exist_ok=True)
    captions = [*held_out_captions(), "a dark narrow dress", "a light wide dress", "a small sandal", "a large bag"]
    z = torch.randn(8, latent_dim, generator=torch.Generator().manual_seed(seed))
    rows = torch.cat([model.generate_text(z, caption) for caption in captions])
    save_samples(rows, folder / "gan_cls_captions.png", nrow=8)
    noise = torch.randn(1, latent_dim, generator=torch.Generator().manual_seed(seed))
    lines = [model.interpolate_text(noise, start, end, 8) for start, end in INTERPOLATIONS]
    save_samples(torch.cat(lines), folder / "gan_cls_text_interpolation.png", nrow=8)
    protocol = {
        "checkpoint": ckpt,
        "generator_steps": steps,
        "captions": "lightning_gans.data.captions (class terciles of the training images)",
        "train_root": root or "the 9k shipped images",
        "class_agreement": f"{len(data.val_set.captions)} validation captions, one sample each, fashion_classifier",
        "attribute_direction": f"12 words x 10 classes x {samples_per_class} same-noise pairs, template 0",
        "within_caption_diversity": f"every class and attribute combination of >= {diversity_per_caption} "
        f"validation images, as its canonical caption: mean pairwise fashion_classifier feature distance of "
        f"{diversity_per_caption} samples over that of {diversity_per_caption} real images, averaged over the "
        f"captions; bar {DIVERSITY_BAR}",
        "rows_png": [*captions],
        "interpolations_png": INTERPOLATIONS,
        "bar": BAR,
        "seconds": round(time.perf_counter() - started, 1),
    }
    Path(out).write_text(json.dumps({"protocol": protocol, "result": result}, indent=2))
    print(f"\nwrote {out}, {folder / 'gan_cls_captions.png'} and {folder / 'gan_cls_text_interpolation.png'}")


if __name__ == "__main__":
    CLI(main)
