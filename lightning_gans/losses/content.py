"""Content losses of super-resolution: how far an output is from its target, in some network's features.

Ledig et al. 2017 (SRGAN) compare VGG19 feature maps (phi_5,4: after the last convolution of the fifth
block, before its pooling) of ImageNet-trained weights, rescaled by 1/12.75. Those weights cannot be
downloaded on machines without a network, so ``build_content_loss("auto", ...)`` uses them only when
torchvision already has them in its cache, and otherwise falls back, saying so, to the shipped Fashion-MNIST
classifier's last convolutional maps for grey images, or to the pixel-wise MSE (SRResNet's loss).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

ContentLossName = Literal["auto", "vgg", "fashion_classifier", "pixel"]
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def vgg19_weights_path() -> Path:
    """Where torchvision keeps the ImageNet VGG19 weights once downloaded (``$TORCH_HOME/hub/checkpoints``)."""
    from torchvision.models import VGG19_Weights

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG19_Weights.IMAGENET1K_V1.url).name


class PixelLoss(nn.Module):
    """Mean squared error between the images: SRResNet's loss, the PSNR-oriented one."""

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(output, target)


class FeatureMapLoss(nn.Module):
    """MSE between the feature maps of a frozen network, each map multiplied by ``rescale``."""

    def __init__(self, features: nn.Module, rescale: float = 1.0) -> None:
        super().__init__()
        self.features = features.eval().requires_grad_(False)
        self.rescale = rescale

    def prepare(self, images: Tensor) -> Tensor:
        return images

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        with torch.no_grad():
            target_maps = self.features(self.prepare(target))
        return F.mse_loss(self.features(self.prepare(output)) * self.rescale, target_maps * self.rescale)


class VGGContentLoss(FeatureMapLoss):
    """SRGAN's VGG54 loss: VGG19 (ImageNet weights from torchvision's cache) up to conv5_4's ReLU, maps
    rescaled by 1/12.75; images go from [-1, 1] to ImageNet's normalisation, grey ones repeated to RGB."""

    mean: Tensor
    std: Tensor

    def __init__(self) -> None:
        from torchvision.models import VGG19_Weights, vgg19

        path = vgg19_weights_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"VGG19's ImageNet weights are not in torchvision's cache ({path}) and cannot be downloaded "
                'offline. On a machine with a network run `python -c "import torchvision; '
                "torchvision.models.vgg19(weights='IMAGENET1K_V1')\"` and copy the file there, or set "
                "content_loss: fashion_classifier (grey 28x28 images) or pixel."
            )
        super().__init__(vgg19(weights=VGG19_Weights.IMAGENET1K_V1).features[:36], rescale=1 / 12.75)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def prepare(self, images: Tensor) -> Tensor:
        images = images.add(1).div(2).expand(-1, 3, -1, -1)
        return (images - self.mean) / self.std


class FashionClassifierContentLoss(FeatureMapLoss):
    """The offline stand-in for VGG on grey images: the shipped Fashion-MNIST classifier's last
    convolutional maps (128 channels at a quarter of the image side), before its global pooling."""

    def __init__(self) -> None:
        from lightning_gans.metrics.features import FashionClassifier

        super().__init__(FashionClassifier().body)


def build_content_loss(name: ContentLossName, channels: int) -> tuple[nn.Module, str]:
    """The content loss ``name`` for images of ``channels`` channels, and the name actually used.

    ``auto``: VGG when its weights are cached; else the Fashion-MNIST classifier for grey images; else the
    pixel MSE. A fallback is announced with a warning, so that no run silently trains with another loss.
    """
    if name == "auto":
        if vgg19_weights_path().is_file():
            name = "vgg"
        else:
            name = "fashion_classifier" if channels == 1 else "pixel"
            rank_zero_warn(
                f"content_loss auto: VGG19's ImageNet weights are not cached at {vgg19_weights_path()}, so the "
                f"content loss is {name!r} ("
                + ("the shipped Fashion-MNIST classifier's feature maps" if channels == 1 else "pixel MSE")
                + "). Set content_loss explicitly to silence this."
            )
    if name == "vgg":
        return VGGContentLoss(), name
    if name == "fashion_classifier":
        if channels != 1:
            raise ValueError(f"the fashion_classifier content loss takes grey images, got {channels} channels")
        return FashionClassifierContentLoss(), name
    if name == "pixel":
        return PixelLoss(), name
    raise ValueError(f"unknown content_loss {name!r}; choose auto, vgg, fashion_classifier or pixel")
