"""Mode coverage of the 2-D mixtures, logged at every validation: ``val/modes``, ``val/high_quality``,
``val/reverse_kl``."""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer

from lightning_gans.core.module import GenerativeModule
from lightning_gans.data.toy import GaussianMixtureDataModule
from lightning_gans.metrics.modes import ModeCoverage


class ModeCoverageCallback(Callback):
    """Draw ``num_samples`` (2500 in VEEGAN/PacGAN) from the generator and score them against the mixture
    of the run's ``GaussianMixtureDataModule``. The samples come from the EMA generator when there is one,
    and use fixed noise (``seed``)."""

    def __init__(self, num_samples: int = 2500, seed: int = 0) -> None:
        self.num_samples = num_samples
        self.seed = seed

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        datamodule = getattr(trainer, "datamodule", None)
        if not isinstance(datamodule, GaussianMixtureDataModule) or not isinstance(pl_module, GenerativeModule):
            raise TypeError("ModeCoverageCallback needs a GenerativeModule trained on a GaussianMixtureDataModule")
        metric = ModeCoverage(datamodule.mixture.means, datamodule.mixture.std).to(pl_module.device)
        metric.update(pl_module.sample(self.num_samples, seed=self.seed))
        pl_module.log_dict({f"val/{k}": v for k, v in metric.compute().items()}, prog_bar=True)

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.on_validation_epoch_end(trainer, pl_module)  # logged as test/* (TrainingModule.log)
