"""``digit_classifier``: a small CNN classifier of grey MNIST digits, the offline classifier behind Stacked
MNIST mode counting (``lightning_gans.metrics.stacked``) and a feature network for MNIST-like digits.

Trained by ``benchmarks/train_digit_classifier.py`` on the 5,000 MNIST digits shipped in the package, except a
seeded 1,000 (100 per class) held out to measure its accuracy (``benchmarks/results/digit_classifier.json``),
with small random rotations, scalings and shifts: the digits a generator stacks are imperfect, and a
classifier that only knows centred, upright digits would count a slightly shifted 3 as another mode.
"""

from __future__ import annotations

from importlib import resources

import torch.nn.functional as F
from torch import Tensor, nn

from lightning_gans.metrics.features import (
    WEIGHTS_PACKAGE,
    FeatureNetwork,
    FeatureNetworkUnavailable,
    load_shipped_weights,
)

DIGIT_CLASSIFIER_WEIGHTS = "weights/digit_classifier.pt"


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def digit_classifier_weights() -> dict[str, Tensor]:
    """The shipped weights, read with ``weights_only=True`` (tensors only, no pickled code)."""
    if not (resources.files(WEIGHTS_PACKAGE) / DIGIT_CLASSIFIER_WEIGHTS).is_file():
        raise FeatureNetworkUnavailable(
            f"the shipped weights {WEIGHTS_PACKAGE}/{DIGIT_CLASSIFIER_WEIGHTS} are missing from this installation; "
            "reinstall lightning-gans or retrain them with benchmarks/train_digit_classifier.py"
        )
    return load_shipped_weights(DIGIT_CLASSIFIER_WEIGHTS)


class DigitClassifier(FeatureNetwork):
    """A small CNN classifier of MNIST digits (LeCun et al. 1998), used to count the modes of Stacked MNIST
    the way VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018) do: a pretrained MNIST classifier
    labels each colour channel.

    conv16-conv16-pool-conv32-conv32-pool-conv128-global-average-pool (the 128-d features) -> linear 10.
    ``benchmarks/train_digit_classifier.py`` retrains it and records its accuracy on held-out digits.

    It takes grey images (N, 1, H, W) in [-1, 1]. Those of another size than 28x28 are resized to 28x28
    (bilinear, antialiased: the inverse of what the ``idx`` data module does for an ``image_size`` of 32 or 64);
    Stacked MNIST's 32x32 images are padded, not resized, so ``StackedMNISTModes`` crops them itself. Colour
    images are refused: classify a stacked image one channel at a time.

    Args:
        pretrained: load the shipped weights (``False`` gives a randomly initialised net, for training).
    """

    name = "digit_classifier"
    num_features = 128
    num_classes = 10
    input_shape = (1, 28, 28)

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(1, 16), _conv(16, 16), nn.MaxPool2d(2), _conv(16, 32), _conv(32, 32), nn.MaxPool2d(2), _conv(32, 128)
        )
        self.head = nn.Linear(128, 10)
        if pretrained:
            self.load_state_dict(digit_classifier_weights())
        self.eval()

    def check_input(self, images: Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 1 or not images.is_floating_point():
            raise ValueError(
                f"{self.name} takes float images (N, 1, 28, 28) in [-1, 1] (grey images of other sizes are resized "
                f"to 28x28), got {tuple(images.shape)} {images.dtype}. It classifies one grey MNIST digit: for "
                "Stacked MNIST use the metric stacked_modes, which classifies each colour channel."
            )

    def resized(self, images: Tensor) -> Tensor:
        """Float images at the 28x28 the classifier was trained at."""
        images = images.float()
        if tuple(images.shape[-2:]) == self.input_shape[1:]:
            return images
        return F.interpolate(images, size=self.input_shape[1:], mode="bilinear", antialias=True, align_corners=False)

    def embed(self, images: Tensor) -> Tensor:
        """The features without the input check (used while training the classifier)."""
        return self.body(images).mean(dim=(2, 3))

    def features(self, images: Tensor) -> Tensor:
        return self.embed(self.resized(images))

    def logits(self, images: Tensor) -> Tensor:
        return self.head(self.embed(self.resized(images)))

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features = self.embed(self.resized(images))
        return features, self.head(features)
