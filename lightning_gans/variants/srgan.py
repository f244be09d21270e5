"""SRGAN: Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial
Network" (arXiv:1609.04802), sections 2.2 and 3.2.

Paired (low-resolution a, high-resolution b) images; G is SRResNet, D the paper's conv net. The perceptual
loss of G is a content loss plus a small adversarial term,

    l_SR = l_X(G(a), b) + 1e-3 * l_Gen,    l_Gen = -log D(G(a))      (non-saturating)
    min_D  -log D(b) - log(1 - D(G(a)))

where l_X is the VGG54 feature loss (see ``lightning_gans.losses.content`` for what is used offline).
The paper first trains SRResNet with the pixel MSE alone ("SRResNet-MSE": ``content_loss: pixel``,
``adversarial_weight: 0``) and starts SRGAN's G from it (``pretrained_generator``). Per batch: G(a) once;
one D step on b against G(a) detached; one G step. Adam (lr 1e-4, beta1 0.9) as in the paper.

Validation logs ``val/psnr``, ``val/ssim`` and ``val/l1`` of G (``TranslationModule``) and the same of
bicubic upsampling (``val/bicubic_*``), the baseline of the paper's table 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn
from torch.optim import Adam, Optimizer
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from lightning_gans.checkpoints import read_checkpoint
from lightning_gans.core.parts import Discriminator, Generator
from lightning_gans.core.translation import TranslationModule, shown_like, to_unit_range
from lightning_gans.data.pairs import bicubic_upsample
from lightning_gans.losses.base import AdversarialLoss, real_logits_if_relativistic
from lightning_gans.losses.content import ContentLossName, build_content_loss
from lightning_gans.losses.gan import NonSaturatingLoss
from lightning_gans.nets.srresnet import SRGANDiscriminator, SRResNet


def adam_1e4(params: Iterable[Any]) -> Optimizer:
    """Adam(lr=1e-4, betas=(0.9, 0.999)): the SRGAN paper's setting."""
    return Adam(params, lr=1e-4, betas=(0.9, 0.999))


class SRGAN(TranslationModule):
    """Super-resolution GAN (Ledig et al. 2017); also SRResNet-MSE with ``content_loss: pixel`` and
    ``adversarial_weight: 0``.

    Args:
        generator: low-resolution -> high-resolution images, with a ``scale`` attribute (the upscaling
            factor); defaults to ``SRResNet()`` (grey, x2).
        discriminator: high-resolution images -> one logit each; defaults to ``SRGANDiscriminator()``.
        loss: the adversarial loss (default ``NonSaturatingLoss()``, the paper's).
        content_loss: ``vgg`` (the paper's VGG54; needs the cached ImageNet weights), ``fashion_classifier``
            (the shipped classifier's feature maps, grey images), ``pixel`` (MSE) or ``auto`` (VGG when
            cached, else one of the other two, with a warning).
        adversarial_weight: the weight of G's adversarial term (the paper's 1e-3); 0 means no D steps.
        pretrained_generator: a checkpoint of an SRGAN run (e.g. SRResNet-MSE) whose generator weights
            G starts from, at the start of a fresh fit.
        g_optimizer, d_optimizer: see ``TranslationModule`` (default Adam 1e-4).
    """

    def __init__(
        self,
        generator: Generator | None = None,
        discriminator: Discriminator | None = None,
        loss: AdversarialLoss | None = None,
        content_loss: ContentLossName = "auto",
        adversarial_weight: float = 1e-3,
        pretrained_generator: str | None = None,
        g_optimizer: OptimizerCallable = adam_1e4,
        d_optimizer: OptimizerCallable = adam_1e4,
    ) -> None:
        generator = generator if generator is not None else SRResNet()
        super().__init__(generator, discriminator or SRGANDiscriminator(), g_optimizer, d_optimizer)
        scale = getattr(generator, "scale", None)
        if not isinstance(scale, int) or scale < 2:
            raise TypeError(
                f"{type(generator).__name__} needs an integer attribute `scale` >= 2 (its upscaling factor)"
            )
        if adversarial_weight < 0:
            raise ValueError(f"adversarial_weight must be >= 0, got {adversarial_weight}")
        self.scale = scale
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.adversarial_weight = adversarial_weight
        self.pretrained_generator = pretrained_generator
        content, self.content_loss_name = build_content_loss(content_loss, getattr(generator, "out_channels", 1))
        # kept out of the module tree: frozen, and not worth 80 MB of VGG in every checkpoint
        self.__dict__["content_loss"] = content
        self.bicubic_psnr = PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))
        self.bicubic_ssim = StructuralSimilarityIndexMeasure(data_range=1.0)

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if self.pretrained_generator is None or self.generator_steps > 0:  # resumed runs have their own G
            return
        path = Path(self.pretrained_generator)
        if not path.is_file():
            raise FileNotFoundError(f"pretrained_generator: no checkpoint at {path}")
        state = read_checkpoint(path)["state_dict"]  # names a damaged or unsafe file
        self.generator.load_state_dict(
            {k.removeprefix("generator."): v for k, v in state.items() if k.startswith("generator.")}
        )
        rank_zero_info(f"SRGAN: generator initialised from {path}")

    def content(self, output: Tensor, target: Tensor) -> Tensor:
        loss: nn.Module = self.__dict__["content_loss"].to(output.device)
        return loss(output, target)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        low, high = batch
        g_opt, d_opt = self.generator_and_discriminator_optimizers()
        fake = self.generator(low)
        metrics: dict[str, Tensor] = {}

        if self.adversarial_weight > 0:
            with self.toggled_optimizer(d_opt):
                real_logits, fake_logits = self.discriminator(high), self.discriminator(fake.detach())
                d_loss = self.loss.d_loss(real_logits, fake_logits)
                self.update_discriminator(d_opt, d_loss)
            metrics["train/d_loss"] = d_loss
            metrics.update(self.loss.scores(real_logits, fake_logits))

        with self.toggled_optimizer(g_opt):
            content = self.content(fake, high)
            g_loss = content
            if self.adversarial_weight > 0:
                fresh_real_logits = real_logits_if_relativistic(self.loss, lambda: self.discriminator(high))
                adversarial = self.loss.g_loss(fresh_real_logits, self.discriminator(fake))
                g_loss = g_loss + self.adversarial_weight * adversarial
                metrics["train/g_adversarial"] = adversarial
            self.update_generator(g_opt, g_loss)
        self.log_train({**metrics, "train/g_loss": g_loss, "train/content": content})

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        super().validation_step(batch, batch_idx)
        low, high = batch
        bicubic, target = to_unit_range(bicubic_upsample(low, self.scale)), to_unit_range(high)
        for name, metric in (("psnr", self.bicubic_psnr), ("ssim", self.bicubic_ssim)):
            metric(bicubic, target)
            self.log(f"val/bicubic_{name}", metric)

    def picture_rows(self, a: Tensor, b: Tensor) -> list[Tensor]:
        """Low resolution (nearest-neighbour), bicubic, SRGAN output, original."""
        rows = super().picture_rows(a, b)
        return [rows[0], shown_like(bicubic_upsample(a.to(self.device), self.scale), rows[1]), *rows[1:]]
