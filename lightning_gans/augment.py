"""Differentiable augmentation of every discriminator input, with an optional adaptive probability.

* DiffAugment: Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN Training"
  (arXiv:2006.10738). The same random colour, translation and cutout transforms are applied to real and
  generated images whenever D sees them, in D's step and in G's step; because every transform is
  differentiable, G's gradient flows through them. Augmenting only the reals would teach G to make augmented
  images ("leaking"); augmenting both with the same distribution leaves the optimum unchanged.
* ADA's overfitting heuristic: Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020, "Training Generative
  Adversarial Networks with Limited Data" (arXiv:2006.06676), section 3. Each transform is applied to a
  sample with probability p; every ``interval`` D steps, r_t = E[sign(D(real))] over those steps is compared
  with a target (0.6 in the paper) and p moves by +-(batch * interval) / ``speed_images``, so that p can
  go from 0 to 1 in ``speed_images`` real images. A D that gives almost every training image a positive score
  is overfitting, and more augmentation is what stops it. ADA's own pipeline has 18 geometric and colour
  transforms; here its controller drives DiffAugment's three, which is what fits a CPU budget.

Written by hand: kornia has differentiable augmentation but no DiffAugment policy or ADA controller, and
would be one more dependency for three short functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

Transform = Literal["color", "translation", "cutout"]
TRANSFORMS: tuple[Transform, ...] = ("color", "translation", "cutout")


def _uniform(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """One U(0, 1) number per sample, shaped to broadcast over an image batch."""
    return torch.rand((x.shape[0], 1, 1, 1), device=x.device, dtype=x.dtype, generator=generator)


def colour(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """DiffAugment's colour: brightness +U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5)."""
    x = x + (_uniform(x, generator) - 0.5)
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * (2 * _uniform(x, generator)) + grey  # a single channel is its own grey: unchanged
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, generator) + 0.5) + mean


def translation(x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.125) -> Tensor:
    """Shift each image by a whole number of pixels, up to ``ratio`` of its side, filling with zeros."""
    n, _, height, width = x.shape
    shift = torch.stack(
        [
            torch.randint(-int(width * ratio + 0.5), int(width * ratio + 0.5) + 1, (n,), generator=generator,
                          device=x.device) * (2.0 / width),
            torch.randint(-int(height * ratio + 0.5), int(height * ratio + 0.5) + 1, (n,), generator=generator,
                          device=x.device) * (2.0 / height),
        ],
        dim=1,
    ).to(x.dtype)  # fmt: skip
    theta = torch.cat([torch.eye(2, device=x.device, dtype=x.dtype).expand(n, 2, 2), shift.unsqueeze(2)], dim=2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Whole-pixel shifts land on pixel centres, so nearest sampling moves pixels exactly (no blur).
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def cutout(x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.5) -> Tensor:
    """Zero a square of ``ratio`` times the side at a random place in each image (it may overhang the edge)."""
    n, _, height, width = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height + 1, (n, 1, 1), generator=generator, device=x.device) - size_y // 2
    left = torch.randint(0, width + 1, (n, 1, 1), generator=generator, device=x.device) - size_x // 2
    rows = torch.arange(height, device=x.device).view(1, height, 1)
    columns = torch.arange(width, device=x.device).view(1, 1, width)
    inside = (rows >= top) & (rows < top + size_y) & (columns >= left) & (columns < left + size_x)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_FUNCTIONS = {"color": colour, "translation": translation, "cutout": cutout}


class DiffAugment(nn.Module):
    """DiffAugment's transforms, each applied to a sample with probability ``p`` (fixed or ADA-adapted).

    Args:
        policy: the transforms, applied in this order: ``color``, ``translation``, ``cutout`` (the paper's
            "color,translation,cutout" is the default).
        probability: p at the start (1.0: every transform on every sample, as in DiffAugment).
        ada_target: ADA's target for r_t = E[sign(D(real))] (the paper: 0.6); None keeps p fixed.
        ada_interval: D steps between adjustments of p (the paper: 4).
        ada_speed_images: real images over which p may move by 1 (the paper: 500k; fewer suits short runs).

    ``p``, the running sum of signs and its count are buffers: checkpoints keep them and a resumed run goes on
    with the same p.
    """

    p: Tensor
    sign_sum: Tensor
    sign_count: Tensor
    steps: Tensor

    def __init__(
        self,
        policy: Sequence[Transform] = TRANSFORMS,
        probability: float = 1.0,
        ada_target: float | None = None,
        ada_interval: int = 4,
        ada_speed_images: int = 100_000,
    ) -> None:
        super().__init__()
        unknown = [name for name in policy if name not in TRANSFORMS]
        if unknown or not policy:
            raise ValueError(f"augmentation policy {list(policy)!r}: choose one or more of {', '.join(TRANSFORMS)}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"augmentation probability must be in [0, 1], got {probability}")
        if ada_target is not None and not -1.0 < ada_target < 1.0:
            raise ValueError(f"ada_target is a target for E[sign(D(real))], so it lies in (-1, 1); got {ada_target}")
        if ada_interval < 1 or ada_speed_images < 1:
            raise ValueError(f"ada_interval and ada_speed_images must be >= 1, got {ada_interval}, {ada_speed_images}")
        self.policy = list(policy)
        self.ada_target = ada_target
        self.ada_interval = ada_interval
        self.ada_speed_images = ada_speed_images
        self.always = ada_target is None and probability == 1.0  # p never moves then: skip the coin flips
        self.register_buffer("p", torch.tensor(float(probability)))
        self.register_buffer("sign_sum", torch.zeros(()))
        self.register_buffer("sign_count", torch.zeros(()))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if x.dim() != 4:
            raise ValueError(
                f"differentiable augmentation transforms images (N, C, H, W); these samples have shape "
                f"{tuple(x.shape)}. Leave regularisation.augment empty for non-image data."
            )
        for name in self.policy:
            changed = _FUNCTIONS[name](x, generator)
            if self.always:
                x = changed
            else:
                chosen = torch.rand((x.shape[0], 1, 1, 1), device=x.device, generator=generator) < self.p
                x = torch.where(chosen, changed, x)
        return x

    @torch.no_grad()
    def observe(self, real_scores: Tensor) -> None:
        """ADA: accumulate sign(D(real)) and, every ``ada_interval`` calls, move p towards the target.

        ``real_scores`` should be positive where D calls a real image real: raw logits for the usual losses,
        real minus mean fake logits for a relativistic one (whose logits have no fixed zero).
        """
        if self.ada_target is None:
            return
        self.sign_sum += real_scores.detach().float().sign().sum()
        self.sign_count += real_scores.numel()
        self.steps += 1
        if int(self.steps) % self.ada_interval:
            return
        totals = torch.stack([self.sign_sum, self.sign_count])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(totals)  # every rank moves p alike
        r_t = totals[0] / totals[1].clamp(min=1)
        self.p.add_(torch.sign(r_t - self.ada_target) * totals[1] / self.ada_speed_images).clamp_(0.0, 1.0)
        self.sign_sum.zero_()
        self.sign_count.zero_()
