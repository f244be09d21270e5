"""Does a translation change the class? A classifier's verdict on translated validation images."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torchmetrics import MeanMetric

from lightning_gans.core.translation import TranslationModule
from lightning_gans.metrics.features import build_feature_network


class TranslatedClassAccuracy(Callback):
    """``val/translated_accuracy_ab``: the share of validation images of class A that the classifier labels
    as class B once translated (``translate``), and ``val/translated_accuracy_ba`` the other way
    (``translate_back``, for models that have it, such as CycleGAN); ``val/translated_accuracy`` is their
    mean. The two classes are the data module's ``class_a`` and ``class_b`` (``unpaired_classes``).

    Args:
        feature_network: a registered feature network with a classifier head (default the shipped
            Fashion-MNIST classifier).
    """

    def __init__(self, feature_network: str = "fashion_classifier") -> None:
        self.feature_network = feature_network
        self.accuracy_ab, self.accuracy_ba = MeanMetric(), MeanMetric()
        self.classifier: Any = None
        self.classes: tuple[int, int] = (0, 0)

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        datamodule = getattr(trainer, "datamodule", None)
        if not hasattr(datamodule, "class_a") or not hasattr(datamodule, "class_b"):
            raise TypeError(
                "TranslatedClassAccuracy needs a data module with class_a and class_b (unpaired_classes), got "
                f"{type(datamodule).__name__}"
            )
        self.classes = (datamodule.class_a, datamodule.class_b)  # type: ignore[union-attr]
        if self.classifier is None:
            self.classifier = build_feature_network(self.feature_network)
        self.classifier.to(pl_module.device)
        for metric in (self.accuracy_ab, self.accuracy_ba):
            metric.to(pl_module.device).reset()

    @torch.no_grad()
    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not isinstance(pl_module, TranslationModule):
            raise TypeError(f"TranslatedClassAccuracy needs a TranslationModule, got {type(pl_module).__name__}")
        a, b = batch
        class_a, class_b = self.classes
        self.accuracy_ab.update((self.classifier.classify(pl_module.translate(a)) == class_b).float())
        translate_back = getattr(pl_module, "translate_back", None)
        if translate_back is not None:
            self.accuracy_ba.update((self.classifier.classify(translate_back(b)) == class_a).float())

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        values = {"val/translated_accuracy_ab": self.accuracy_ab.compute()}
        if self.accuracy_ba.update_count:
            values["val/translated_accuracy_ba"] = self.accuracy_ba.compute()
        values["val/translated_accuracy"] = torch.stack(list(values.values())).mean()
        pl_module.log_dict(values)  # as test/* while testing (TrainingModule.log)

    # `lightning-gans test`: the same measure on the test split's batches
    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.on_validation_epoch_start(trainer, pl_module)

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self.on_validation_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.on_validation_epoch_end(trainer, pl_module)
