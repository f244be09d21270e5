"""What the data modules share: a resumable shuffle, the train/val/test loaders, and reading a split's labels."""

from __future__ import annotations

from collections.abc import Iterator, Sized
from dataclasses import dataclass
from typing import Annotated, Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset, Sampler


@dataclass(frozen=True)
class Location:
    """Marks a data module's constructor parameter that says where its data comes from: a folder or a file on
    this machine, or a switch to fetch it from the network (``Annotated[str, Location()]``).

    Only the user's own command sets such a value. A config from elsewhere (an exported folder's
    ``config.json``) never does: ``lightning-gans export`` leaves these values out and ``evaluate`` drops them
    (``lightning_gans.evaluate.without_locations``), so a downloaded file cannot choose what is read here. A
    plugin's data module marks its own location parameters the same way.
    """


Folder = Annotated[str, Location()]  # a folder (or file) of data on this machine
OptionalFolder = Annotated[str | None, Location()]
DownloadSwitch = Annotated[bool, Location()]  # fetch from the network


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
        self.resume: tuple[int, int] | None = None  # (epoch, samples already served in it)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume_at(self, epoch: int, samples_served: int) -> None:
        """Start the next pass over ``epoch`` after its first ``samples_served`` indices (a mid-epoch resume)."""
        self.resume = (epoch, samples_served)

    def __iter__(self) -> Iterator[int]:
        rng = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=rng).tolist()
        start = 0
        if self.resume is not None and self.resume[0] == self.epoch:
            start = self.resume[1]
        self.resume = None
        return iter(order[start:])

    def __len__(self) -> int:
        return self.size


class ResumableDataLoader(DataLoader):
    """A training loader whose position inside the epoch is saved in checkpoints.

    Lightning saves ``state_dict()`` of a training loader that has one with every checkpoint and hands it
    back to ``load_state_dict`` on resume, before the first batch is drawn. With an ``EpochSeededSampler``
    the resumed epoch then continues with the very batch the interrupted run would have drawn next, so a
    run resumed from a checkpoint taken mid-epoch (the time-interval ``last.ckpt``) trains on exactly the
    batches the uninterrupted run did. Its constructor is DataLoader's own, so Lightning can rebuild it
    (e.g. with a distributed sampler); a sampler that cannot skip restarts the epoch, with a warning.
    """

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]  # Lightning only calls next() on it
        sampler = self.sampler
        skip = 0
        if isinstance(sampler, EpochSeededSampler) and sampler.resume is not None:
            skip = sampler.resume[1] // (self.batch_size or 1) if sampler.resume[0] == sampler.epoch else 0
        self._position = (getattr(sampler, "epoch", 0), skip)
        for batch in super().__iter__():
            self._position = (self._position[0], self._position[1] + 1)  # counted as taken once handed out
            yield batch

    def state_dict(self) -> dict[str, int]:
        epoch, batches = getattr(self, "_position", (0, 0))
        return {"epoch": epoch, "batches": batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if not state.get("batches"):
            return
        if isinstance(self.sampler, EpochSeededSampler) and self.batch_size is not None:
            self.sampler.resume_at(state["epoch"], state["batches"] * self.batch_size)
        else:
            rank_zero_warn(
                f"the training sampler ({type(self.sampler).__name__}) cannot skip to batch {state['batches']} of "
                f"epoch {state['epoch']}: the resumed epoch starts again from its first batch"
            )


class GANDataModule(LightningDataModule):
    """Base of the built-in data modules: subclasses fill ``train_set``/``val_set`` (and ``test_set``, where the
    data have a third split) in ``setup``, and say in ``test_split`` what ``lightning-gans test`` measures on.

    Batches are ``(samples, labels)``; images are float tensors in [-1, 1] (2-D points are left in their own
    coordinates).

    Args:
        batch_size: samples per training batch (and per validation and test batch).
        num_workers: data-loading worker processes (0: load in the training process).
        seed: seed of the training shuffle and of the workers' random state.
    """

    # What the test split is, in a sentence (`lightning-gans test` prints it). Every data module states its own.
    test_split: str = "the validation split: this data module has no split of its own for testing"

    def __init__(self, batch_size: int, num_workers: int, seed: int) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None  # None: the test split is the validation split

    def _loader(self, dataset: Dataset | None, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}.setup() has not run")
        return (ResumableDataLoader if train else DataLoader)(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochSeededSampler(dataset, self.seed) if train else None,  # type: ignore[arg-type]
            # a last short batch would give batch norm a batch of one and the two nets unequal batches
            drop_last=train,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            # the workers' base seed comes from here, not from the global RNG that the models' dropout uses
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.held_out(testing=True), train=False)

    def held_out(self, testing: bool) -> Dataset | None:
        """The split that validation (``testing=False``) or ``test`` measures on."""
        return self.test_set if testing and self.test_set is not None else self.val_set


def held_out_split(datamodule: Any, testing: bool) -> Dataset | None:
    """The data module's split for validation or test: ``held_out`` of a ``GANDataModule``, else its ``val_set``
    (a plugin's data module may be a plain ``LightningDataModule`` with ``train_set``/``val_set`` attributes)."""
    if isinstance(datamodule, GANDataModule):
        return datamodule.held_out(testing)
    return getattr(datamodule, "test_set" if testing else "val_set", None) or getattr(datamodule, "val_set", None)
