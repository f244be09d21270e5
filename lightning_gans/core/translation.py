"""The base of the image-to-image variants (pix2pix, CycleGAN, SRGAN).

They have no latent space to sample from: a generator maps an image of domain A (edges, a low-resolution
image, a sneaker) to an image of domain B. What they share with the GANs is the alternating generator and
discriminator updates (``AlternatingUpdates``); what they share with each other is below: ``translate``,
the paired-data metrics and the rows of the triplet grids that ``TranslationGrid`` draws.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics import MeanAbsoluteError
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from lightning_gans.core.guards import call_checked, check_same_sample_shape
from lightning_gans.core.module import AlternatingUpdates, adam_2e4_beta05
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.inference import evaluating, translated


def to_unit_range(images: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clamped: the range the image-quality metrics are stated in."""
    return images.float().add(1).div(2).clamp(0, 1)


def shown_like(images: Tensor, reference: Tensor) -> Tensor:
    """``images`` at ``reference``'s size (nearest neighbour, so low-resolution pixels stay visible) and with
    as many channels, so that inputs, outputs and targets fit one grid."""
    if images.shape[-2:] != reference.shape[-2:]:
        images = F.interpolate(images, size=reference.shape[-2:], mode="nearest")
    channels = max(images.shape[1], reference.shape[1])
    return images.expand(-1, channels, -1, -1) if images.shape[1] != channels else images


class TranslationModule(AlternatingUpdates):
    """Shared base of the image-to-image variants: a generator from domain-A images to domain-B images,
    trained against a discriminator by alternating manual updates, optimisers ``(generator, discriminator)``.

    Batches are ``(a, b)`` image pairs in [-1, 1]: paired data (``b`` is the target of ``a``: pix2pix,
    SRGAN) or unpaired data (CycleGAN, which overrides ``validation_step``). On paired data, validation logs
    ``val/l1`` (mean absolute error), ``val/psnr`` (dB) and ``val/ssim`` of ``translate(a)`` against ``b``,
    with both mapped to [0, 1]; PSNR and SSIM are computed per image and averaged (torchmetrics).

    Args:
        generator: maps ``(N, C_a, H, W)`` images to ``(N, C_b, H', W')`` images in [-1, 1].
        discriminator: maps domain-B images (or pairs, for pix2pix) to raw scores, one per sample or a map
            of per-patch scores (PatchGAN); the adversarial losses average over all of them.
        g_optimizer: builds the generator's optimiser from its parameters.
        d_optimizer: builds the discriminator's optimiser from its parameters.
    """

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        g_optimizer: OptimizerCallable = adam_2e4_beta05,
        d_optimizer: OptimizerCallable = adam_2e4_beta05,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.val_l1 = MeanAbsoluteError()
        self.val_psnr = PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))  # per image, then the mean
        self.val_ssim = StructuralSimilarityIndexMeasure(data_range=1.0)

    def configure_optimizers(self) -> tuple[Optimizer, Optimizer]:
        return self.g_optimizer(self.generator.parameters()), self.d_optimizer(self.discriminator.parameters())

    def check_batch(self, batch: Any) -> None:
        """The generator must turn the batch's domain-A images into images of the domain-B images' shape."""
        a, b = batch[0][:2], batch[1][:2]
        with evaluating(self.generator) as generator:
            made = call_checked(generator, a, "generator")
            check_same_sample_shape(made, b, self.generator, "the target (domain B) data")

    def translate(self, a: Tensor) -> Tensor:
        """Domain-B images for domain-A images ``a``, in eval mode (batch norm's running statistics, no
        dropout), clamped to [-1, 1]."""
        return translated(self.generator, a, self.device)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        a, b = batch
        self.log_paired_metrics(self.translate(a), b)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        """``lightning-gans predict``: the translations of a batch of the test split's images, with their indices."""
        return {"index": batch["index"], "images": self.translate(batch["image"])}

    def log_paired_metrics(self, output: Tensor, target: Tensor) -> None:
        """Update and log ``val/l1``, ``val/psnr`` and ``val/ssim`` of ``output`` against ``target``."""
        output, target = to_unit_range(output), to_unit_range(target)
        for name, metric in (("l1", self.val_l1), ("psnr", self.val_psnr), ("ssim", self.val_ssim)):
            metric(output, target)
            self.log(f"val/{name}", metric, prog_bar=name != "l1")

    def picture_rows(self, a: Tensor, b: Tensor) -> list[Tensor]:
        """The rows of a triplet grid: inputs, outputs, targets (each shown at the output's size)."""
        output = self.translate(a)
        return [shown_like(a.to(self.device), output), output, shown_like(b.to(self.device), output)]
