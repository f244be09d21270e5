"""Turning samples into pictures: grids of images, scatter plots of 2-D points, as uint8 at the edges.

Models keep images in [-1, 1]; PNG files and W&B get uint8 (W&B renders float image tensors black).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from lightning_gans.core.guards import non_finite_samples


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] float -> [0, 255] uint8."""
    return images.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def scatter_image(points: Tensor, reference: Tensor | None = None, size: int = 256) -> Tensor:
    """(3, size, size) uint8 picture of 2-D points: samples red, reference data drawn over them in blue.

    A hand-written rasteriser rather than matplotlib, which nothing else here needs.
    """
    clouds = [points.detach().float().cpu()]
    if reference is not None:
        clouds.append(reference.detach().float().cpu())
    extent = max(1.5, 1.1 * max(float(c.abs().max()) for c in clouds if len(c)))
    canvas = torch.full((3, size, size), 255, dtype=torch.uint8)
    colours = (torch.tensor([230, 60, 40], dtype=torch.uint8), torch.tensor([20, 40, 200], dtype=torch.uint8))
    for cloud, colour in zip(clouds, colours):
        pixel = ((cloud / extent + 1) / 2 * (size - 1)).round().long()
        inside = ((pixel >= 0) & (pixel < size)).all(dim=1)
        col, row = pixel[inside, 0], (size - 1) - pixel[inside, 1]  # y grows upwards
        for dr in (0, 1):  # 2x2 dots stay visible after W&B shrinks the image
            for dc in (0, 1):
                canvas[:, (row + dr).clamp(max=size - 1), (col + dc).clamp(max=size - 1)] = colour[:, None]
    return canvas


def sample_picture(samples: Tensor, nrow: int | None = None, reference: Tensor | None = None) -> Tensor:
    """(3, H, W) uint8: an image grid for (N, C, H, W) samples, a scatter plot for (N, 2) points.

    Grey and RGB images are drawn as they are, RGBA without its alpha channel, any other channel count as one
    grey tile per channel (side by side, so a row holds ``nrow`` samples).
    """
    if samples.dim() == 2 and samples.shape[1] == 2:
        return scatter_image(samples, reference)
    if samples.dim() != 4:
        raise ValueError(f"cannot draw samples of shape {tuple(samples.shape)}: expected (N, C, H, W) or (N, 2)")
    nrow = nrow or max(1, math.isqrt(len(samples)))
    channels = samples.shape[1]
    if channels == 4:
        samples = samples[:, :3]
    elif channels not in (1, 3):
        samples, nrow = samples.reshape(-1, 1, *samples.shape[2:]), nrow * channels
    grid = make_grid(to_uint8(samples.cpu()), nrow=nrow, padding=2, pad_value=255)
    return grid if grid.shape[0] == 3 else grid.expand(3, -1, -1)


def save_picture(picture: Tensor, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture.permute(1, 2, 0).contiguous().numpy()).save(path)
    return path


def save_samples(samples: Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Write samples in [-1, 1] (images) or 2-D points as one PNG; refuses non-finite samples, which would
    draw as a blank picture that looks like a result."""
    bad = non_finite_samples(samples)
    if bad:
        raise ValueError(f"{bad} of {len(samples)} samples hold NaN or infinite values: no picture written")
    return save_picture(sample_picture(samples, nrow), path)
