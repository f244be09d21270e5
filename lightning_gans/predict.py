"""``lightning-gans predict``: bulk generation for external tools (an FID implementation, a classifier, a study).

``Trainer.predict`` with a ``PredictionData`` data module and a ``SampleWriter`` callback, the way Lightning
writes predictions (``BasePredictionWriter``):

* a generator: ``num_samples`` samples, sample ``i`` from the latent ``N(0, I)`` seeded by ``(seed, i)`` alone,
  so a sample is the same whatever the batch size, the number of processes or which process drew it; a
  class-conditional one draws class ``i % num_classes`` (every class equally often), a text-to-image one the
  caption of test item ``i % len(test split)``;
* an image-to-image model: the translation of every image of the data module's test split (``test_split``).

Each sample is written as ``<index>.png`` (numbered from 0, zero-padded) and, with ``npz=True``, all of them as
one ``samples.npz`` (``arr_0``: uint8 ``(N, H, W, C)``, the layout that FID tools read, plus ``labels`` or
``captions``). ``predictions.json`` says what was drawn. Under DDP Lightning's predict sampler gives each process
its own indices (no duplicates, no padding); rank 0 checks that every index from 0 to N - 1 was written once.
A folder that already holds files is refused: a prediction never writes over an earlier one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lightning_gans.data.base import held_out_split
from lightning_gans.errors import RunFolderError
from lightning_gans.images import to_uint8 as images_to_uint8

MANIFEST_NAME = "predictions.json"
NPZ_NAME = "samples.npz"
SEED_STRIDE = 2**32  # sample i of seed s is drawn from seed s * SEED_STRIDE + i: no two (s, i) pairs share a seed


class PredictionFolderError(RunFolderError):
    """The output folder of ``predict`` already holds files."""


def check_prediction_folder(out: str | Path) -> Path:
    """``out`` as a Path, refused when it holds anything: predictions are never written over earlier ones."""
    path = Path(out)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise PredictionFolderError(
            f"{path} already exists and is not an empty folder, and predict never writes over earlier samples: "
            "give another --out, or delete it first"
        )
    return path


class SeededLatents(Dataset):
    """Item ``i``: ``{"index": i, "z": N(0, I) latent seeded by (seed, i)}``, plus ``"label": i % num_classes``
    for a class-conditional generator, or ``"caption": captions[i % len(captions)]`` for a text-to-image one."""

    def __init__(
        self, num_samples: int, latent_dim: int, num_classes: int = 0, seed: int = 0, captions: Sequence[str] = ()
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.num_samples, self.latent_dim, self.num_classes, self.seed = num_samples, latent_dim, num_classes, seed
        self.captions = list(captions)

    def record(self) -> dict[str, Any]:
        """What ``predictions.json`` says of how the samples were drawn."""
        drawn: dict[str, Any] = {"latents": f"N(0, I) of size {self.latent_dim}, sample i seeded by "
                                            f"{self.seed} * 2**32 + i", "seed": self.seed}  # fmt: skip
        if self.num_classes:
            drawn["labels"] = f"sample i is of class i % {self.num_classes}"
        if self.captions:
            drawn["captions"] = f"sample i has caption i % {len(self.captions)} of the test split"
        return drawn

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = torch.Generator().manual_seed(self.seed * SEED_STRIDE + index)
        item: dict[str, Any] = {"index": index, "z": torch.randn(self.latent_dim, generator=rng)}
        if self.num_classes:
            item["label"] = index % self.num_classes
        if self.captions:
            item["caption"] = self.captions[index % len(self.captions)]
        return item


class IndexedImages(Dataset):
    """Item ``i``: ``{"index": i, "image": the first element of item i of a split}`` (the domain-A image)."""

    def __init__(self, split: Dataset) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)  # type: ignore[arg-type]

    def record(self) -> dict[str, Any]:
        return {"inputs": f"the {len(self)} images of the test split, in order; sample i translates image i"}

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.split[index]
        return {"index": index, "image": item[0] if isinstance(item, (tuple, list)) else item}


class PredictionData(LightningDataModule):
    """What ``predict`` draws from: seeded latents for a generator, the test split of ``data`` for an image-to-image
    model (and the test split's captions for a text-to-image one).

    Args:
        data: the recipe's data module (only its test split is read, and only where the model needs it).
        num_samples: samples a generator draws.
        seed: seed of the latents.
        batch_size: samples per generator call.
    """

    def __init__(
        self, data: LightningDataModule | None, num_samples: int = 10_000, seed: int = 0, batch_size: int = 500
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.data, self.num_samples, self.seed, self.batch_size = data, num_samples, seed, batch_size

    def test_set(self) -> Dataset:
        if self.data is None:
            raise ValueError("this model predicts from data: give the recipe's data module")
        self.data.setup("test")
        split = held_out_split(self.data, testing=True)
        if split is None:
            raise ValueError(f"{type(self.data).__name__} has no test split to predict from")
        return split

    def predict_dataloader(self) -> DataLoader:
        assert self.trainer is not None
        model = self.trainer.lightning_module
        dataset: Dataset
        if hasattr(model, "translate"):
            dataset = IndexedImages(self.test_set())
        else:
            captions: list[str] = []
            if hasattr(model, "text_encoder"):
                split = self.test_set()
                captions = [split[i][1] for i in range(len(split))]  # type: ignore[arg-type]
            latent_dim, num_classes = int(model.latent_dim), int(model.num_classes)  # type: ignore[arg-type]
            dataset = SeededLatents(self.num_samples, latent_dim, num_classes, self.seed, captions)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=False)


def to_uint8(images: Tensor) -> np.ndarray:
    """Images in [-1, 1] (N, C, H, W) -> uint8 (N, H, W, C), the layout of the files and of FID tools' npz."""
    return images_to_uint8(images).permute(0, 2, 3, 1).cpu().numpy()


def save_png(array: np.ndarray, path: Path) -> None:
    # Encoded in memory and written in one call: PIL's save to a path writes in small chunks, which took 670 us
    # per 28-px file here against 130 us this way. Level 1: the files are read by tools, not downloaded.
    encoded = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(encoded, format="PNG", compress_level=1)
    path.write_bytes(encoded.getvalue())


class SampleWriter(BasePredictionWriter):
    """Writes what ``predict_step`` returns (``{"index", "images"}`` and ``"labels"`` or ``"captions"``) as
    numbered PNGs in ``out``, and with ``npz`` one ``samples.npz``; see the module docstring.

    PNGs are encoded and written on ``threads`` threads (PIL and file writes release the GIL) while the generator
    runs. On a CPU they still share its cores: 50k 28-px PNGs cost about 0.6x the forward pass on top of it here
    (``benchmarks/predict_throughput.py``); ``png=False`` with ``npz=True`` writes the npz alone, at the forward
    pass's pace.

    Args:
        out: the folder, created; refused when it already holds files.
        npz: also write every sample in one ``samples.npz``.
        png: write each sample as a numbered PNG.
        threads: PNG-writing threads.
    """

    def __init__(self, out: str | Path, npz: bool = False, png: bool = True, threads: int = 2) -> None:
        super().__init__(write_interval="batch")
        if not (npz or png):
            raise ValueError("SampleWriter writes PNGs, an npz or both: png=False needs npz=True")
        self.out = check_prediction_folder(out)
        self.npz, self.png = npz, png
        self.threads = threads
        self.digits = 6
        self.written: list[np.ndarray] = []  # this process's indices, batch by batch
        self.kept: dict[str, list[Any]] = {"arr_0": [], "labels": [], "captions": []}
        self.pool: ThreadPoolExecutor | None = None
        self.pending: list[Any] = []

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:  # the others were checked before they joined; rank 0 may be writing by now
            check_prediction_folder(self.out)
            self.out.mkdir(parents=True, exist_ok=True)
        trainer.strategy.barrier("prediction folder made")
        loaders = trainer.predict_dataloaders
        dataset = (loaders[0] if isinstance(loaders, list) else loaders).dataset  # type: ignore[union-attr]
        self.digits = max(6, len(str(max(len(dataset) - 1, 0))))
        record = getattr(dataset, "record", None)
        self.drawn: dict[str, Any] = record() if callable(record) else {}
        self.pool = ThreadPoolExecutor(self.threads)

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        assert self.pool is not None
        indices = prediction["index"].cpu().numpy()
        images = to_uint8(prediction["images"])
        for future in [f for f in self.pending if f.done()]:
            future.result()  # a file that could not be written fails the command now, not a silent gap
        self.pending = [f for f in self.pending if not f.done()]
        for index, image in zip(indices, images) if self.png else ():
            self.pending.append(self.pool.submit(save_png, image, self.out / f"{index:0{self.digits}d}.png"))
        self.written.append(indices)
        if self.npz:
            self.kept["arr_0"].append(images)
            if "labels" in prediction:
                self.kept["labels"].append(prediction["labels"].cpu().numpy())
            if "captions" in prediction:
                self.kept["captions"].extend(prediction["captions"])

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        assert self.pool is not None
        self.pool.shutdown(wait=True)
        for future in self.pending:
            future.result()  # an encoding error fails the command, not a silent gap
        indices = np.concatenate(self.written) if self.written else np.zeros(0, dtype=np.int64)
        rank = trainer.global_rank
        part = self.out / f".part-{rank}.npz"
        parts = {"index": indices, **{k: np.concatenate(v) if k != "captions" else np.array(v)
                                      for k, v in self.kept.items() if v}}  # fmt: skip
        np.savez(part, **parts)  # type: ignore[arg-type]  # numpy types **kwds as its allow_pickle flag
        trainer.strategy.barrier("predictions written")
        if trainer.is_global_zero:
            self.merge(trainer, pl_module)
        trainer.strategy.barrier("predictions merged")

    def merge(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Rank 0: check that every index was written exactly once, write samples.npz and predictions.json."""
        files = sorted(self.out.glob(".part-*.npz"))
        parts = [dict(np.load(f, allow_pickle=False)) for f in files]
        indices = np.concatenate([p["index"] for p in parts])
        order = np.argsort(indices, kind="stable")
        if not np.array_equal(indices[order], np.arange(len(indices))):
            raise RuntimeError(f"predict wrote indices with duplicates or gaps: {len(indices)} written")
        if self.npz:
            arrays = {k: np.concatenate([p[k] for p in parts])[order] for k in parts[0] if k != "index"}
            np.savez(self.out / NPZ_NAME, **arrays)  # type: ignore[arg-type]
        for f in files:
            f.unlink()
        manifest = {
            "library_version": version("lightning-gans"),
            "model": type(pl_module).__name__,
            "checkpoint": str(trainer.ckpt_path) if trainer.ckpt_path else None,
            "samples": len(indices),
            "files": ", ".join(
                ([f"{'0' * self.digits}.png ... {len(indices) - 1:0{self.digits}d}.png"] if self.png else [])
                + ([NPZ_NAME] if self.npz else [])
            ),  # fmt: skip
            "value_range": "uint8 0..255 from the model's [-1, 1]",
            **self.drawn,
        }
        (self.out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
