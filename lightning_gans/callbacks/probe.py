"""How good are an encoder's features? A linear classifier on E(x), logged at every validation."""

from __future__ import annotations

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import Tensor
from torch.utils.data import Dataset

from lightning_gans.core.module import GenerativeModule
from lightning_gans.data.base import held_out_split


def labelled_tensors(dataset: Dataset, n: int | None, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` (all when ``None``) seeded random ``(images, labels)`` of a ``TensorDataset``-like split."""
    tensors = getattr(dataset, "tensors", None)
    if tensors is None or len(tensors) < 2:
        raise TypeError("the linear probe needs a labelled TensorDataset split (images, labels)")
    images, labels = tensors[0], tensors[1]
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[: n or len(images)]
    return images[order], labels[order]


@torch.no_grad()
def encode_all(module: GenerativeModule, images: Tensor, batch_size: int = 500) -> Tensor:
    return torch.cat([module.encode(chunk).flatten(1).float().cpu() for chunk in images.split(batch_size)])


def linear_probe_accuracy(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor) -> float:
    """Test accuracy of multinomial logistic regression (scikit-learn, L2, standardised features) fitted on
    the training features: the usual linear evaluation of unsupervised features."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(train_x.numpy(), train_y.numpy())
    return float(probe.score(test_x.numpy(), test_y.numpy()))


class LinearProbe(Callback):
    """Fit a linear classifier on the encoder's output for ``n_train`` labelled training images and log its
    accuracy on the validation split as ``val/linear_probe`` (BiGAN's evaluation: Donahue et al. 2017, sec.
    4), and on ``lightning-gans test`` on the test split as ``test/linear_probe``. Works for any model with an
    encoder (``bigan``, ``autoencoder``, ``vae``); on ``lightning-gans validate`` with ``--data.root`` the
    validation split is Fashion-MNIST's test split.

    Args:
        n_train: training images the probe is fitted on (all when ``None``).
        seed: which training images.
    """

    def __init__(self, n_train: int | None = 10_000, seed: int = 0) -> None:
        self.n_train = n_train
        self.seed = seed
        self.last: float | None = None

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.on_validation_epoch_end(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if not isinstance(pl_module, GenerativeModule) or pl_module.encoder is None:
            raise TypeError(f"LinearProbe needs a model with an encoder, got {type(pl_module).__name__}")
        datamodule = getattr(trainer, "datamodule", None)
        train_set, val_set = getattr(datamodule, "train_set", None), held_out_split(datamodule, trainer.testing)
        if train_set is None or val_set is None:
            raise RuntimeError("LinearProbe needs a data module with train_set and val_set (a GANDataModule)")
        train_x, train_y = labelled_tensors(train_set, self.n_train, self.seed)
        val_x, val_y = labelled_tensors(val_set, None, self.seed)
        if trainer.is_global_zero:  # one fit, on rank 0; every rank logs the broadcast value
            self.last = linear_probe_accuracy(
                encode_all(pl_module, train_x), train_y, encode_all(pl_module, val_x), val_y
            )
        self.last = trainer.strategy.broadcast(self.last, src=0)
        assert self.last is not None
        pl_module.log("val/linear_probe", self.last, sync_dist=False)  # test/linear_probe while testing
