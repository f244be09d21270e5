"""What the data modules share: a resumable shuffle, the train/val loaders, and reading a split's labels."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Sampler


def labels_of(dataset: Dataset) -> torch.Tensor | None:
    """The labels of a ``TensorDataset`` ``(x, y)`` or of a torchvision dataset (``targets``); ``None`` if it
    has none."""
    tensors: tuple[torch.Tensor, ...] = getattr(dataset, "tensors", ())
    if len(tensors) > 1:
        return tensors[1]
    targets = getattr(dataset, "targets", None)
    return None if targets is None else torch.as_tensor(targets)


class EpochSeededSampler(Sampler[int]):
    """A random permutation that depends only on (seed, epoch).

    Lightning calls ``set_epoch`` before each epoch, so a run resumed from a checkpoint sees exactly the
    batches the uninterrupted run would have seen; ``shuffle=True`` with a global RNG cannot promise that.
    """

    def __init__(self, data: Sized, seed: int) -> None:
        self.size = len(data)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        rng = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=rng).tolist())

    def __len__(self) -> int:
        return self.size


class GANDataModule(LightningDataModule):
    """Base of the built-in data modules: subclasses fill ``train_set``/``val_set`` in ``setup``.

    Batches are ``(samples, labels)``; images are float tensors in [-1, 1].
    """

    def __init__(self, batch_size: int, num_workers: int, seed: int) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    def _loader(self, dataset: Dataset | None, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}.setup() has not run")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochSeededSampler(dataset, self.seed) if train else None,  # type: ignore[arg-type]
            # a last short batch would give batch norm a batch of one and the two nets unequal batches
            drop_last=train,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)
