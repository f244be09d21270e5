"""Is the data loader fast enough? ``image_folder`` from JPEG files at 64, 128 and 256 px, against a training step.

    python benchmarks/loader_throughput.py          # about 4 minutes on 2 CPU cores

Protocol: 384 JPEG files (quality 90, 512x512, random crops of scikit-image's colour photos, made once in a
temporary folder, read from the page cache after the first pass). For each side S in 64, 128, 256 and
``num_workers`` in 0, 1, 2: ``ImageFolderDataModule(root, image_size=S, batch_size=64)``'s training loader, one
warm-up epoch (workers started, files cached), then images/s over two timed epochs. Rows with ``full decode``
use torchvision's default loader (decode every pixel, then resize), the others ``image_folder``'s reduced-scale
JPEG decode (``vision.reduced_loader``). Beside them, for the same S, the images/s of a DCGAN training step (the
paper's nets at S px, batch 64, float32, this machine's CPU, 10 timed steps after 2), which a loader must outpace;
a GPU's step is far faster: ``benchmarks/gpu_check.sh`` measures DCGAN-64 there. One process tree at a time, nothing
else running.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from run_folders import report
from skimage import data as photos
from torchvision import datasets

from lightning_gans import registry
from lightning_gans.data.vision import ImageFolderDataModule, image_transform

SIDES = (64, 128, 256)
WORKERS = (0, 1, 2)


def make_jpegs(root: Path, n: int = 384) -> None:
    rng = np.random.default_rng(0)
    sources = [photos.astronaut(), photos.coffee(), photos.chelsea(), photos.rocket()]
    (root / "photos").mkdir(parents=True)
    for i in range(n):
        source = Image.fromarray(sources[i % len(sources)])
        side = int(rng.integers(200, min(source.size)))
        x, y = int(rng.integers(0, source.width - side + 1)), int(rng.integers(0, source.height - side + 1))
        crop = source.crop((x, y, x + side, y + side)).resize((512, 512), Image.Resampling.BICUBIC)
        crop.save(root / "photos" / f"{i:04d}.jpg", quality=90)


def loader_images_per_s(root: Path, side: int, workers: int, full_decode: bool) -> float:
    module = ImageFolderDataModule(str(root), image_size=side, batch_size=64, num_workers=workers)
    module.setup("fit")
    if full_decode:
        module.train_set = datasets.ImageFolder(str(root), transform=image_transform(side, 3))
    loader = module.train_dataloader()
    for _ in loader:  # warm-up epoch
        pass
    start, seen = time.perf_counter(), 0
    for _ in range(2):
        for images, _ in loader:
            seen += len(images)
    return seen / (time.perf_counter() - start)


def step_images_per_s(side: int) -> float:
    generator = registry.generators.create("dcgan", image_size=side, channels=3)
    discriminator = registry.discriminators.create("dcgan", image_size=side, channels=3)
    g_opt, d_opt = (torch.optim.Adam(n.parameters(), 2e-4, betas=(0.5, 0.999)) for n in (generator, discriminator))
    real = torch.rand(64, 3, side, side) * 2 - 1
    start = 0.0
    for step in range(12):
        if step == 2:
            start = time.perf_counter()
        fake = generator(torch.randn(64, generator.latent_dim))
        d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake.detach())).mean()
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_loss = F.softplus(-discriminator(fake)).mean()
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
    return 64 * 10 / (time.perf_counter() - start)


def main() -> None:
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make_jpegs(root)
        for side in SIDES:
            step = step_images_per_s(side)
            for full in (True, False):
                for workers in WORKERS:
                    speed = loader_images_per_s(root, side, workers, full)
                    name = f"{side} px, {workers} workers{', full decode' if full else ''}"
                    rows[name] = {"loader_images_per_s": speed, "cpu_step_images_per_s": step,
                                  "loader_vs_step": speed / step}  # fmt: skip
                    print(name, rows[name], flush=True)
    report(__doc__, Path("(temporary)"), rows, Path(__file__).parent / "results/loader_throughput.json",
           machine=f"{os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
