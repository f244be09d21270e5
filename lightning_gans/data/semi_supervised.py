"""Few labels, many unlabelled images: the data of semi-supervised learning (the ``sgan`` variant)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Subset

from lightning_gans.data.base import GANDataModule, labels_of


def labelled_subset(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Indices of ``per_class`` examples of each class (a seeded random choice), sorted."""
    rng = torch.Generator().manual_seed(seed)
    chosen = []
    for cls in labels.unique().tolist():
        members = (labels == cls).nonzero().flatten()
        if len(members) < per_class:
            raise ValueError(f"class {cls} has {len(members)} examples, fewer than labelled_per_class={per_class}")
        chosen.append(members[torch.randperm(len(members), generator=rng)[:per_class]])
    return torch.cat(chosen).sort().values


class SemiSupervisedDataModule(GANDataModule):
    """Wraps a data module: its whole train split serves as unlabelled data, and ``labelled_per_class``
    images of each class (seeded) keep their labels. Training batches are
    ``{"unlabelled": (x, y), "labelled": (x, y)}``; the unlabelled labels are carried but must not be used.

    The labelled images are repeated to the length of the train split, so that every epoch cycles through
    them many times in a fresh seeded order; validation is the wrapped module's.

    Args:
        data: a ``GANDataModule`` with labels (e.g. ``fashion_mnist``); its batch size is used for both
            kinds of batch.
        labelled_per_class: labelled images per class (10 gives the 100 labels of the classic benchmark).
        seed: which images are labelled.
    """

    def __init__(self, data: GANDataModule, labelled_per_class: int = 10, seed: int = 0) -> None:
        super().__init__(data.batch_size, data.num_workers, data.seed)
        if labelled_per_class < 1:
            raise ValueError(f"labelled_per_class must be >= 1, got {labelled_per_class}")
        self.data = data
        self.test_split = f"the wrapped {type(data).__name__}'s: {data.test_split}"
        self.labelled_per_class = labelled_per_class
        self.labelled_seed = seed
        self.labelled_indices: torch.Tensor | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.labelled_indices is not None:
            return
        self.data.setup(stage or "fit")
        self.train_set, self.val_set, self.test_set = self.data.train_set, self.data.val_set, self.data.test_set
        labels = labels_of(self.train_set) if self.train_set is not None else None
        if labels is None:
            raise TypeError(f"{type(self.data).__name__}'s train split has no labels to choose labelled images from")
        self.labelled_indices = labelled_subset(labels, self.labelled_per_class, self.labelled_seed)

    def train_dataloader(self) -> dict[str, DataLoader]:  # type: ignore[override]
        assert self.train_set is not None and self.labelled_indices is not None, "setup() has not run"
        repeats = -(-len(self.train_set) // len(self.labelled_indices))  # type: ignore[arg-type]
        labelled = Subset(self.train_set, self.labelled_indices.repeat(repeats).tolist())
        return {"unlabelled": self._loader(self.train_set, train=True), "labelled": self._loader(labelled, train=True)}


__all__ = ["SemiSupervisedDataModule", "labelled_subset"]
