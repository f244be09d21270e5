"""Does a text-to-image generator draw what the caption says? The Fashion-MNIST caption checks.

Captions of ``lightning_gans.data.captions`` name a class and attributes measured on pixels, so both can be
checked on generated images:

* ``class_agreement``: the share of samples, one per caption of a caption set (the validation captions), that
  the shipped classifier puts in the caption's class;
* ``attribute_direction``: for every attribute word w (e.g. "dark") and every class, pairs of samples from the
  same noise for "a w noun" and "a w' noun", w' the opposite word of the same rank ("light"); the share of pairs
  whose measured attribute moves the way w says (darker for "dark"; a tie counts as not moving). A generator
  that ignores the word scores 0, one that changes the image at random about 0.5; the bar is 0.9;
* the same on the held-out combinations (``HELD_OUT``): "a dark wide pullover" against "a light wide pullover"
  (brightness) and "a dark narrow pullover" (width), captions whose combination no training caption had;
* ``within_caption_diversity``: how much samples for one caption differ from each other, against real images
  with that caption (a generator that collapses within a caption follows it and still fails here).

Written here: no library measures attribute words against pixel statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from lightning_gans.data.captions import ATTRIBUTE_WORDS, FASHION_NOUNS, HELD_OUT, measure_attributes, phrase
from lightning_gans.metrics.features import FeatureNetwork

GenerateText = Callable[[Tensor, list[str]], Tensor]  # (latents, one caption per latent) -> images in [-1, 1]


def _latents(n: int, latent_dim: int, seed: int) -> Tensor:
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def class_agreement(
    generate: GenerateText,
    latent_dim: int,
    captions: Sequence[str],
    labels: Tensor,
    classifier: FeatureNetwork,
    seed: int = 0,
    batch_size: int = 500,
) -> dict[str, float]:
    """``class_agreement`` over all captions and ``class_agreement/<k>`` per class: one sample per caption."""
    z = _latents(len(captions), latent_dim, seed)
    predicted = torch.cat([
        classifier.classify(generate(z[i : i + batch_size], list(captions[i : i + batch_size])).cpu())
        for i in range(0, len(captions), batch_size)
    ])  # fmt: skip
    hits = predicted == labels.cpu()
    result = {"class_agreement": hits.float().mean().item()}
    for k in labels.unique().tolist():
        result[f"class_agreement/{k}"] = hits[labels.cpu() == k].float().mean().item()
    return result


def _moves(generate: GenerateText, z: Tensor, caption: str, opposite: str, attribute: str, up: bool) -> Tensor:
    """Per latent: does ``attribute`` of G(z, caption) lie on the ``up`` side of that of G(z, opposite)?"""
    said = measure_attributes(generate(z, [caption] * len(z)).cpu())[attribute]
    other = measure_attributes(generate(z, [opposite] * len(z)).cpu())[attribute]
    return said > other if up else said < other


@torch.no_grad()
def attribute_direction(
    generate: GenerateText, latent_dim: int, samples_per_class: int = 50, seed: int = 0
) -> dict[str, float]:
    """``direction/<word>`` for every attribute word, ``direction/held_out/<attribute>`` for the held-out
    combinations, and ``direction_min`` (the weakest word, the bar's number). Template 0 ("a dark pullover")."""
    z = _latents(samples_per_class, latent_dim, seed)
    result: dict[str, float] = {}
    for attribute, poles in ATTRIBUTE_WORDS.items():
        for pole, words in enumerate(poles):
            for rank, word in enumerate(words):
                opposite = poles[1 - pole][rank]
                moves = [_moves(generate, z, phrase(noun, [word], 0), phrase(noun, [opposite], 0), attribute, pole == 1)
                         for noun in FASHION_NOUNS]  # fmt: skip
                result[f"direction/{word}"] = torch.cat(moves).float().mean().item()
    result["direction_min"] = min(result.values())
    held: dict[str, list[Tensor]] = {"brightness": [], "width": []}
    for label, noun in enumerate(FASHION_NOUNS):
        brightness, width = HELD_OUT[label % len(HELD_OUT)]
        b_word, w_word = ATTRIBUTE_WORDS["brightness"][brightness][0], ATTRIBUTE_WORDS["width"][width][0]
        caption = phrase(noun, [b_word, w_word], 0)
        b_other = phrase(noun, [ATTRIBUTE_WORDS["brightness"][1 - brightness][0], w_word], 0)
        w_other = phrase(noun, [b_word, ATTRIBUTE_WORDS["width"][1 - width][0]], 0)
        held["brightness"].append(_moves(generate, z, caption, b_other, "brightness", brightness == 1))
        held["width"].append(_moves(generate, z, caption, w_other, "width", width == 1))
    for attribute, moves in held.items():
        result[f"direction/held_out/{attribute}"] = torch.cat(moves).float().mean().item()
    return result


__all__ = ["GenerateText", "attribute_direction", "class_agreement", "within_caption_diversity"]


def mean_pairwise_distance(features: Tensor) -> float:
    """The mean Euclidean distance between two different rows of ``features``."""
    n = len(features)
    if n < 2:
        raise ValueError("the mean pairwise distance needs at least 2 samples")
    return (torch.cdist(features, features).sum() / (n * (n - 1))).item()


@torch.no_grad()
def within_caption_diversity(
    generate: GenerateText,
    latent_dim: int,
    images: Tensor,
    captions: Sequence[str],
    classifier: FeatureNetwork,
    per_caption: int = 50,
    seed: int = 0,
) -> dict[str, float]:
    """Does a generator vary within a caption as the data do? For every caption that at least ``per_caption``
    of the real ``images`` carry: the mean pairwise distance of ``per_caption`` samples for it, and of
    ``per_caption`` of those real images (the first ones), in ``classifier``'s feature space, each averaged over
    the captions. ``diversity_ratio`` is generated over real (1: as varied as the data; a generator that
    ignores its noise scores 0)."""
    grouped: dict[str, list[int]] = {}
    for index, caption in enumerate(captions):
        grouped.setdefault(caption, []).append(index)
    chosen = sorted(caption for caption, indices in grouped.items() if len(indices) >= per_caption)
    if not chosen:
        raise ValueError(f"no caption is carried by {per_caption} images: lower per_caption")
    z = _latents(per_caption, latent_dim, seed)
    generated, real = [], []
    for caption in chosen:
        generated.append(mean_pairwise_distance(classifier.features(generate(z, [caption] * per_caption).cpu())))
        real.append(mean_pairwise_distance(classifier.features(images[grouped[caption][:per_caption]].cpu())))
    mean_generated, mean_real = sum(generated) / len(chosen), sum(real) / len(chosen)
    return {
        "diversity/generated": mean_generated,
        "diversity/real": mean_real,
        "diversity_ratio": mean_generated / mean_real,
        "diversity/captions": float(len(chosen)),
    }
