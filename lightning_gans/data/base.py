"""What the data modules share: a resumable shuffle, the train/val/test loaders, and reading a split's labels."""

from __future__ import annotations

from collections.abc import Iterator, Sized
from dataclasses import dataclass
from typing import Annotated, Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset, DistributedSampler


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


class EpochSeededSampler(DistributedSampler):
    """A random permutation that depends only on (seed, epoch), split between the processes of a DDP run.

    Lightning calls ``set_epoch`` before each epoch, so a run resumed from a checkpoint sees exactly the
    batches the uninterrupted run would have seen; ``shuffle=True`` with a global RNG cannot promise that.

    With ``num_replicas`` processes of ``batch_size`` each, global batch k is the permutation's k-th run of
    ``num_replicas * batch_size`` indices and process r takes its r-th block: together the processes train on
    the very batches one process with the summed batch size would, rank 0's block first. A resume skips a
    number of samples, so it continues mid-epoch at any number of processes. Being a ``DistributedSampler``,
    it is kept as it is by Lightning, whose ``DistributedSamplerWrapper`` (which cannot skip) would replace it.
    """

    def __init__(self, data: Sized, seed: int, batch_size: int = 1, num_replicas: int = 1, rank: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__(data, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)  # type: ignore[arg-type]
        self.size = len(data)
        self.batch_size = batch_size
        self.resume: tuple[int, int] | None = None  # (epoch, samples of it already served to all processes)

    @property
    def global_batch_size(self) -> int:
        """Samples per step over all processes."""
        return self.batch_size * self.num_replicas

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
        if self.num_replicas == 1:
            return iter(order[start:])  # the data loader drops the last partial batch
        steps, block = (self.size - start) // self.global_batch_size, self.rank * self.batch_size
        first = [start + step * self.global_batch_size + block for step in range(steps)]
        return iter([order[i] for begin in first for i in range(begin, begin + self.batch_size)])

    def __len__(self) -> int:
        if self.num_replicas == 1:
            return self.size
        return self.size // self.global_batch_size * self.batch_size


class ResumableDataLoader(DataLoader):
    """A training loader whose position inside the epoch is saved in checkpoints.

    Lightning saves ``state_dict()`` of a training loader that has one with every checkpoint and hands it
    back to ``load_state_dict`` on resume, before the first batch is drawn. With an ``EpochSeededSampler``
    the resumed epoch then continues with the very batch the interrupted run would have drawn next, so a
    run resumed from a checkpoint taken mid-epoch (the time-interval ``last.ckpt``) trains on exactly the
    batches the uninterrupted run did, under DDP too. The position is counted in samples served to all
    processes. Its constructor is DataLoader's own, so Lightning can rebuild it; another sampler, which
    cannot skip, restarts the epoch, with a warning.
    """

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]  # Lightning only calls next() on it
        sampler = self.sampler
        served, per_batch = 0, self.batch_size or 1
        if isinstance(sampler, EpochSeededSampler):
            per_batch *= sampler.num_replicas
            if sampler.resume is not None and sampler.resume[0] == sampler.epoch:
                served = sampler.resume[1]
        self._position = (getattr(sampler, "epoch", 0), served)
        for batch in super().__iter__():
            self._position = (self._position[0], self._position[1] + per_batch)  # counted as taken once handed out
            yield batch

    def global_batch_size(self) -> int:
        """Samples per step over all processes."""
        processes = self.sampler.num_replicas if isinstance(self.sampler, EpochSeededSampler) else 1
        return (self.batch_size or 1) * processes

    def state_dict(self) -> dict[str, int]:
        epoch, samples = getattr(self, "_position", (0, 0))
        return {"epoch": epoch, "samples": samples, "global_batch_size": self.global_batch_size()}

    def load_state_dict(self, state: dict[str, int]) -> None:
        # checkpoints before the DDP-exact resume counted one process's batches
        samples = state.get("samples", state.get("batches", 0) * (self.batch_size or 1))
        if not samples:
            return
        saved, now = state.get("global_batch_size", self.global_batch_size()), self.global_batch_size()
        size = len(self.dataset) if isinstance(self.dataset, Sized) else None  # an iterable dataset has none
        whole_epoch = size is not None and size - samples < saved  # saved when no full batch was left
        if saved != now and not whole_epoch:
            # Lightning resumes its count of the epoch's batches where it stopped and ends the epoch at
            # len(loader) batches of the new size, so the epoch would end before (or after) its samples do
            processes = now // (self.batch_size or 1)
            per_process = f"--data.init_args.batch_size {saved // processes}" if saved % processes == 0 else ""
            raise ValueError(
                f"the checkpoint stopped in the middle of epoch {state['epoch']} ({samples} samples in) at a global "
                f"batch size of {saved} samples per step; this run's is {now} ({processes} process"
                f"{'es' if processes > 1 else ''} of {self.batch_size}). A mid-epoch resume must keep the global "
                "batch size, or the epoch would end early or late: resume with "
                + (f"{per_process} on {processes} process{'es' if processes > 1 else ''}" if per_process else
                   "a per-process batch size and process count whose product is the saved size")
                + ", or resume from a checkpoint saved at the end of an epoch"
            )  # fmt: skip
        if isinstance(self.sampler, EpochSeededSampler):
            self.sampler.resume_at(state["epoch"], samples)
        else:
            rank_zero_warn(
                f"the training sampler ({type(self.sampler).__name__}) cannot skip the {samples} samples already "
                f"served in epoch {state['epoch']}: the resumed epoch starts again from its first batch"
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
            sampler=self._training_sampler(dataset) if train else None,
            # a last short batch would give batch norm a batch of one and the two nets unequal batches
            drop_last=train,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self._on_gpu(),  # page-locked batches: the copy to the GPU overlaps the step
            # the workers' base seed comes from here, not from the global RNG that the models' dropout uses
            generator=torch.Generator().manual_seed(self.seed),
        )

    def _on_gpu(self) -> bool:
        trainer = self.trainer
        return trainer is not None and trainer.strategy.root_device.type == "cuda"

    def _training_sampler(self, dataset: Dataset) -> EpochSeededSampler:
        # split between the processes here, where the trainer is known, so that Lightning keeps it
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        return EpochSeededSampler(dataset, self.seed, self.batch_size, replicas, rank)  # type: ignore[arg-type]

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
