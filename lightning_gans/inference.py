"""What drawing images from a trained generator needs, and nothing of training: the inference layer.

A training module (``lightning_gans.core``) and an exported generator (``lightning_gans.pretrained``) share these
mixins, so that ``sample``, ``evaluate`` and the demo take either. This module imports torch only: loading and
sampling an exported generator never imports Lightning, jsonargparse or torchmetrics
(``tests/test_pretrained_layering.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from lightning_gans.text import TextEncoder


@contextmanager
def evaluating(net: nn.Module) -> Iterator[nn.Module]:
    """``net`` in eval mode (batch norm's running statistics, no dropout), restored afterwards."""
    was_training = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was_training)


class LatentSampling:
    """Sampling from a generator of a latent space, optionally class-conditional: what a training module
    (``GenerativeModule``) and an exported generator (``lightning_gans.pretrained.PretrainedGenerator``) share,
    so that ``sample``, ``evaluate`` and the demo take either. Needs ``latent_dim``, ``num_classes``, ``device``
    and ``sampling_generator``."""

    latent_dim: int
    num_classes: int

    @property
    def device(self) -> torch.device:
        raise NotImplementedError

    @property
    def sampling_generator(self) -> nn.Module:
        """The net that samples are drawn from."""
        raise NotImplementedError

    def balanced_labels(self, n: int) -> Tensor:
        """0, 1, ..., C-1, 0, 1, ...: every class equally often (a grid with C columns has a class per column);
        empty for an unconditional generator."""
        return torch.arange(n) % self.num_classes if self.num_classes else torch.zeros(0, dtype=torch.long)

    def check_labels(self, labels: Tensor | int | None, n: int) -> Tensor | None:
        """Labels for ``n`` samples on this module's device: ``None`` means every class equally often."""
        if not self.num_classes:
            if labels is not None:
                raise ValueError(f"{type(self).__name__} is unconditional: its generator takes no class labels")
            return None
        if labels is None:
            return self.balanced_labels(n).to(self.device)
        labels = torch.as_tensor(labels, dtype=torch.long, device=self.device).expand(n)
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1}, got {labels.unique().tolist()}")
        return labels

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | int | None = None) -> Tensor:
        """Samples in [-1, 1] for given latents (and, for a conditional generator, labels: one class for all,
        one per latent, or ``None`` for every class in turn), in eval mode (batch norm's running statistics)."""
        labels = self.check_labels(labels, len(z))
        with evaluating(self.sampling_generator) as net:
            return net(z.to(self.device)) if labels is None else net(z.to(self.device), labels)

    def generate_labelled(self, z: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(samples, the labels they were made for)``: every class in turn, or ``None`` if unconditional."""
        labels = self.check_labels(None, len(z))
        return self.generate(z, labels), labels

    def sample(self, n: int, seed: int | None = None, labels: Tensor | int | None = None) -> Tensor:
        """``n`` fresh samples; with ``seed`` the same ones every call. Training noise is left untouched."""
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        return self.generate(torch.randn(n, self.latent_dim, generator=rng), labels)


class CaptionSampling(LatentSampling):
    """Sampling from a text-to-image generator ``G(z, embedding)`` with a text encoder: what ``GANCLS`` and an
    exported GAN-CLS generator (``lightning_gans.pretrained``) share. Needs ``text_encoder`` and
    ``grid_captions`` besides ``LatentSampling``'s attributes."""

    text_encoder: TextEncoder
    grid_captions: list[str]

    @torch.no_grad()
    def embed(self, captions: Sequence[str]) -> Tensor:
        """Caption embeddings in eval mode."""
        with evaluating(self.text_encoder) as encoder:
            return encoder(list(captions))  # type: ignore[no-any-return]

    @torch.no_grad()
    def generate_embedded(self, z: Tensor, embeddings: Tensor) -> Tensor:
        """Samples for latents and caption embeddings (e.g. interpolated ones), in eval mode."""
        with evaluating(self.sampling_generator) as net:
            return net(z.to(self.device), embeddings.to(self.device))  # type: ignore[no-any-return]

    def interpolate_text(self, z: Tensor, first: str, last: str, steps: int) -> Tensor:
        """For each latent, ``steps`` samples whose caption embedding goes from ``first``'s to ``last``'s (GAN-INT's
        interpolation at sampling time): ``(len(z) * steps, ...)``, a row per latent."""
        start, end = self.embed([first, last])
        weights = torch.linspace(0, 1, steps).repeat(len(z))[:, None].to(start.device)
        between = torch.lerp(start.expand(len(weights), -1), end.expand(len(weights), -1), weights)
        return self.generate_embedded(z.repeat_interleave(steps, dim=0), between)

    def generate_text(self, z: Tensor, captions: Sequence[str]) -> Tensor:
        """Samples for latents and one caption each (or one caption for all)."""
        if isinstance(captions, str):
            captions = [captions]
        if len(captions) not in (1, len(z)):
            raise ValueError(f"give one caption or one per latent: got {len(captions)} captions for {len(z)} latents")
        return self.generate_embedded(z, self.embed(captions).expand(len(z), -1))

    def generate(self, z: Tensor, labels: Tensor | int | None = None) -> Tensor:
        """Without captions: the grid captions in turn (what evaluation and the sample grids draw)."""
        if labels is not None:
            raise ValueError("gan_cls is conditioned on text, not class labels: give captions (sample --text)")
        if not self.grid_captions:
            raise ValueError("no grid captions yet (they come from the first training batch): give captions")
        return self.generate_text(z, [self.grid_captions[i % len(self.grid_captions)] for i in range(len(z))])


@torch.no_grad()
def translated(generator: nn.Module, images: Tensor, device: torch.device) -> Tensor:
    """``generator``'s images for ``images`` in eval mode (batch norm's running statistics, no dropout), clamped to
    [-1, 1]: how every translation is drawn, by a training module or an exported generator."""
    with evaluating(generator) as net:
        return net(images.to(device)).clamp(-1, 1)  # type: ignore[no-any-return]
