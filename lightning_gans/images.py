"""Turning samples into pictures: grids of images, scatter plots of 2-D points, as uint8 at the edges.

Models keep images in [-1, 1]; PNG files and W&B get uint8 (W&B renders float image tensors black).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from lightning_gans.core.guards import non_finite_samples

# PIL warns of a decompression bomb when it opens a picture of more pixels than Image.MAX_IMAGE_PIXELS and refuses
# one of twice as many: a grid above it is no picture anyone can look at, and its samples and pixels would fill
# the memory first (`sample --n 100000000` asked for 40 GB). Used when PIL's own limit has been switched off.
GRID_PIXELS_DEFAULT = 89_478_485
SCATTER_SIZE = 256  # pixels on a side of a scatter plot of 2-D points
# A million points cover a 256 x 256 scatter plot many times over: more only draw over each other, at a cost in
# memory.
POINTS_MAX = 1_000_000
PADDING = 2  # pixels around and between a grid's images


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] float -> [0, 255] uint8."""
    return images.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def scatter_image(points: Tensor, reference: Tensor | None = None, size: int = SCATTER_SIZE) -> Tensor:
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
    return image_grid(to_uint8(samples.cpu()), nrow)


def image_grid(images: Tensor, nrow: int | None = None) -> Tensor:
    """(3, H, W) uint8: the grid ``sample_picture`` draws, for (N, C, H, W) images already in uint8."""
    nrow = nrow or max(1, math.isqrt(len(images)))
    channels = images.shape[1]
    if channels == 4:
        images = images[:, :3]
    elif channels not in (1, 3):
        images, nrow = images.reshape(-1, 1, *images.shape[2:]), nrow * channels
    grid = make_grid(images, nrow=nrow, padding=PADDING, pad_value=255)
    return grid if grid.shape[0] == 3 else grid.expand(3, -1, -1)


def picture_size(n: int, sample_shape: Sequence[int], nrow: int | None = None) -> tuple[int, int]:
    """``(height, width)`` in pixels of the picture ``sample_picture`` draws for ``n`` samples of ``sample_shape``
    (``(C, H, W)`` images, or ``(2,)`` points), without drawing it."""
    shape = tuple(sample_shape)
    if shape == (2,):
        return SCATTER_SIZE, SCATTER_SIZE
    if len(shape) != 3:
        raise ValueError(f"cannot draw samples of shape {shape}: expected (C, H, W) images or 2-D points")
    channels, height, width = shape
    tiles, per_row = n, nrow or max(1, math.isqrt(n))
    if channels not in (1, 3, 4):  # a grey tile per channel
        tiles, per_row = n * channels, per_row * channels
    if tiles == 1:  # make_grid draws a lone image without a border
        return height, width
    columns = min(per_row, tiles)
    rows = -(-tiles // columns)
    return rows * (height + PADDING) + PADDING, columns * (width + PADDING) + PADDING


def grid_pixels_max() -> int:
    """The most pixels a picture may have: PIL's ``Image.MAX_IMAGE_PIXELS``, read when asked (a program may
    raise it)."""
    return int(Image.MAX_IMAGE_PIXELS or GRID_PIXELS_DEFAULT)


def grid_capacity(sample_shape: Sequence[int], nrow: int | None = None) -> int:
    """The most samples of ``sample_shape`` that one picture takes (``POINTS_MAX`` for 2-D points); 0 if a single
    sample is too large already."""
    if tuple(sample_shape) == (2,):
        return POINTS_MAX
    limit = grid_pixels_max()

    def fits(n: int) -> bool:
        height, width = picture_size(n, sample_shape, nrow)
        return height * width <= limit

    low, high = 0, limit + 1  # fits(low); not fits(high): every sample takes at least one pixel
    while high - low > 1:  # the picture grows with n, so a binary search finds the last n that fits
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def check_picture_size(n: int, sample_shape: Sequence[int], nrow: int | None = None) -> None:
    """Raise ``ValueError``, before any sample is drawn, if ``n`` samples of ``sample_shape`` make a picture above
    ``grid_pixels_max()`` pixels (or more than ``POINTS_MAX`` points): the message names the most that fit."""
    shape = tuple(sample_shape)
    capacity = grid_capacity(shape, nrow)
    if n <= capacity:
        return
    if shape == (2,):
        raise ValueError(
            f"{n:,} points are more than a {SCATTER_SIZE} x {SCATTER_SIZE}-pixel scatter plot can show: it takes at "
            f"most {POINTS_MAX:,} (more only draw over each other)"
        )
    height, width = picture_size(n, shape, nrow)
    layout = f" in rows of {nrow}" if nrow else ""
    raise ValueError(
        f"{n:,} samples of shape {shape}{layout} make a {width:,} x {height:,}-pixel picture, more than the "
        f"{grid_pixels_max():,} pixels that PIL opens without a decompression-bomb warning (Image.MAX_IMAGE_PIXELS): "
        f"one picture takes at most {capacity:,} of these samples{layout}"
    )


def check_picture_path(path: str | Path) -> Path:
    """``path`` as a ``Path`` if its suffix names an image type PIL writes; ``ValueError`` saying what is wrong
    otherwise (PIL picks the type by the suffix and would name only the suffix)."""
    path = Path(path)
    writable = {suffix for suffix, kind in Image.registered_extensions().items() if kind in Image.SAVE}
    if path.is_dir():
        raise ValueError(f"{path} is a folder: name a file such as {path / 'samples.png'}")
    if not path.suffix:
        raise ValueError(f"{path} has no file suffix, and the suffix picks the image type: name it e.g. {path}.png")
    if path.suffix.lower() not in writable:
        raise ValueError(
            f"{path}: {path.suffix} is not an image type PIL writes (the suffix picks the type): use .png "
            "(or .jpg, .webp, .tif, ...)"
        )
    return path


def save_picture(picture: Tensor, path: str | Path) -> Path:
    path = check_picture_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture.permute(1, 2, 0).contiguous().numpy()).save(path)
    return path


def save_samples(samples: Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Write samples in [-1, 1] (images) or 2-D points as one PNG; refuses non-finite samples, which would
    draw as a blank picture that looks like a result."""
    return save_sample_batches([samples], path, nrow)


def save_sample_batches(batches: Iterable[Tensor], path: str | Path, nrow: int | None = None) -> Path:
    """``save_samples`` for samples that come in batches (e.g. from ``sampling.generate_in_chunks``): each batch is
    turned into uint8 as it comes, so what the picture needs is all that stays in memory."""
    path = check_picture_path(path)
    kept: list[Tensor] = []
    bad = total = 0
    for samples in batches:
        bad, total = bad + non_finite_samples(samples), total + len(samples)
        points = samples.dim() == 2 and samples.shape[1] == 2
        if not points and samples.dim() != 4:
            raise ValueError(f"cannot draw samples of shape {tuple(samples.shape)}: expected (N, C, H, W) or (N, 2)")
        kept.append(samples.detach().float().cpu() if points else to_uint8(samples.cpu()))
    if bad:
        raise ValueError(f"{bad} of {total} samples hold NaN or infinite values: no picture written")
    if not kept:
        raise ValueError("no samples to draw")
    everything = torch.cat(kept)
    picture = scatter_image(everything) if everything.dtype != torch.uint8 else image_grid(everything, nrow)
    return save_picture(picture, path)
