"""Feature networks for FID, KID, IS, precision/recall and the other sample-quality metrics.

Every number a feature-based metric gives is only meaningful together with the network that made the
features, so each network has a ``name`` that evaluation output reports beside the number.

* ``fashion_classifier`` (the default for 28x28 grey images): a small CNN trained on the Fashion-MNIST train
  split by ``benchmarks/train_feature_net.py``; its weights (0.23 MB) ship inside the package, so the
  metrics work offline. Features are its 128-d global-average-pooled last conv layer; logits are its 10
  classes. Grey images of another size (``fashion_mnist --data.image_size 64``) are resized to 28x28 first;
  colour images and data that are not images are refused: a classifier of grey clothes cannot judge them.
* ``inception``: the FID Inception-v3 of torch-fidelity through torchmetrics (2048-d pool features, 1008
  logits), the network published FIDs use. It needs ``pip install lightning-gans[inception]`` and, once,
  network access to fetch its weights (or ``weights_path``); both failures are reported clearly.

Feature networks stay in eval mode whatever ``train()`` is called with: a metric network left in train mode
(batch norm updating its statistics on generated images) silently changes every number it gives.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

WEIGHTS_PACKAGE = "lightning_gans.metrics"
FASHION_CLASSIFIER_WEIGHTS = "weights/fashion_classifier.pt"


class FeatureNetworkUnavailable(RuntimeError):
    """A feature network that cannot be built on this machine (missing package or weights)."""


class FeatureNetwork(nn.Module):
    """Base of feature networks: ``forward`` gives (N, num_features) features of images in [-1, 1].

    Networks that are classifiers also give ``logits`` (N, num_classes), which the Inception Score and the
    class-coverage metric need. Subclasses set ``name``, ``num_features`` and ``num_classes`` (``None``
    for a network without a classifier head) and implement ``features``/``logits``.
    """

    name: str = "feature network"
    num_features: int
    num_classes: int | None = None

    def train(self, mode: bool = True) -> FeatureNetwork:
        return super().train(False)  # never train mode: see the module docstring

    def check_input(self, images: Tensor) -> None:
        """Raise a clear error for images the network cannot take; subclasses with a fixed input size."""

    def input_problem(self, images: Tensor) -> str | None:
        """Why the network cannot take data like ``images`` (a few real samples), or ``None`` when it can.

        ``check_input``'s message, or for a network without its own check, the error of a trial pass: the
        sample-quality callback asks this once before training, so that data the network cannot take
        (2-D points, colour images for a grey classifier) skip its metrics with a reason instead of failing
        inside the network at the first validation.
        """
        try:
            self.check_input(images)
            with torch.no_grad():
                self.features_and_logits(images)
        except torch.cuda.OutOfMemoryError:
            raise  # a machine's problem, not the data's
        except (ValueError, RuntimeError) as error:  # RuntimeError: what a layer of the wrong size raises
            return str(error)
        return None

    def forward(self, images: Tensor) -> Tensor:
        self.check_input(images)
        return self.features(images)

    def features(self, images: Tensor) -> Tensor:
        raise NotImplementedError

    def logits(self, images: Tensor) -> Tensor:
        raise NotImplementedError(f"{self.name} has no classifier head: it gives features only")

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """Both outputs; networks that share the work between them override this to run once."""
        return self.features(images), (self.logits(images) if self.num_classes is not None else None)

    def classify(self, images: Tensor) -> Tensor:
        """Predicted class indices."""
        self.check_input(images)
        return self.logits(images).argmax(dim=1)


class LogitsOf(nn.Module):
    """Wraps a classifier ``FeatureNetwork`` so that ``forward`` returns its logits.

    torchmetrics' ``InceptionScore`` takes a module whose output is the class logits.
    """

    def __init__(self, network: FeatureNetwork) -> None:
        super().__init__()
        if network.num_classes is None:
            raise ValueError(f"{network.name} has no classifier head, so it cannot give class logits")
        self.network = network
        self.num_features = network.num_classes

    def forward(self, images: Tensor) -> Tensor:
        self.network.check_input(images)
        return self.network.logits(images)


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class SmallGreyClassifier(FeatureNetwork):
    """conv16-conv16-pool-conv32-conv32-pool-conv128-global-average-pool (the 128-d features) -> linear 10: the
    small CNN behind the shipped offline classifiers, with weights ``weights_file`` trained by ``trainer``.

    It takes grey images (N, 1, H, W) in [-1, 1]. Those of another size than 28x28 are resized to 28x28
    (bilinear, antialiased: the inverse of what the ``fashion_mnist``/``idx`` data modules do for an
    ``image_size`` of 32 or 64). Colour images are refused rather than converted to grey (``refusal`` says
    what to use instead).
    """

    num_features = 128
    num_classes = 10
    input_shape = (1, 28, 28)
    weights_file: str
    trainer: str
    refusal: str

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(1, 16), _conv(16, 16), nn.MaxPool2d(2), _conv(16, 32), _conv(32, 32), nn.MaxPool2d(2), _conv(32, 128)
        )
        self.head = nn.Linear(128, 10)
        if pretrained:
            self.load_state_dict(load_shipped_weights(self.weights_file, self.trainer))
        self.eval()

    def check_input(self, images: Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 1 or not images.is_floating_point():
            raise ValueError(
                f"{self.name} takes float images (N, 1, 28, 28) in [-1, 1] (grey images of other sizes are "
                f"resized to 28x28), got {tuple(images.shape)} {images.dtype}. {self.refusal}"
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


class FashionClassifier(SmallGreyClassifier):
    """A small CNN classifier of Fashion-MNIST (Xiao et al. 2017) used as the offline feature network.

    The shipped weights were trained on the 60k train split only; ``benchmarks/train_feature_net.py``
    retrains them and records the test accuracy in ``benchmarks/results/fashion_classifier.json``. Resizing
    other grey sizes to 28x28 lets Fashion-MNIST at a DCGAN size keep its metrics; a classifier of grey 28x28
    clothes cannot judge colour photos, so those are refused.

    Args:
        pretrained: load the shipped weights (``False`` gives a randomly initialised net, for training).
    """

    name = "fashion_classifier"
    weights_file = FASHION_CLASSIFIER_WEIGHTS
    trainer = "benchmarks/train_feature_net.py"
    refusal = "It is a classifier of grey Fashion-MNIST clothes: for colour images use feature_network: inception."


def load_shipped_weights(name: str, trainer: str = "benchmarks/train_feature_net.py") -> dict[str, Tensor]:
    """Shipped weights, read with ``weights_only=True`` (tensors only, no pickled code)."""
    path = resources.files(WEIGHTS_PACKAGE) / name
    if not path.is_file():
        raise FeatureNetworkUnavailable(
            f"the shipped weights {WEIGHTS_PACKAGE}/{name} are missing from this installation; reinstall "
            f"lightning-gans or retrain them with {trainer}"
        )
    with resources.as_file(path) as file:
        state: dict[str, Tensor] = torch.load(file, map_location="cpu", weights_only=True)
    return state


class InceptionV3(FeatureNetwork):
    """The FID Inception-v3 (Szegedy et al. 2016; weights of Heusel et al. 2017's TF FID) via torchmetrics.

    Takes images in [-1, 1] with 1 or 3 channels at any size (grey is repeated to RGB; the network resizes
    to 299 itself). ``weights_path`` is a local copy of torch-fidelity's ``pt_inception-2015-12-05``
    weights, for machines without network access.
    """

    name = "inception"
    num_features = 2048
    num_classes = 1008

    def __init__(self, weights_path: str | None = None) -> None:
        super().__init__()
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
        except ImportError as error:  # pragma: no cover - torchmetrics always has it
            raise FeatureNetworkUnavailable(str(error)) from error
        try:
            import torch_fidelity  # noqa: F401
        except ImportError as error:
            raise FeatureNetworkUnavailable(
                "feature network 'inception' needs torch-fidelity: pip install 'lightning-gans[inception]'"
            ) from error
        if weights_path is not None and not Path(weights_path).is_file():
            raise FeatureNetworkUnavailable(f"inception weights_path {weights_path} is not a file")
        if weights_path is not None:
            # torch-fidelity unpickles the file in full (weights_only=False): first prove it holds tensors only
            try:
                torch.load(weights_path, map_location="cpu", weights_only=True)
            except Exception as error:
                raise FeatureNetworkUnavailable(
                    f"inception weights_path {weights_path} is not a file of weights only (tensors and plain "
                    f"values), so it was not loaded: {error}"
                ) from error
        try:
            self.net = NoTrainInceptionV3(
                name="inception-v3-compat",
                features_list=["2048", "logits_unbiased"],
                feature_extractor_weights_path=weights_path,
            )
        except OSError as error:  # urllib's URLError is an OSError
            raise FeatureNetworkUnavailable(
                "could not fetch the FID Inception-v3 weights (pt_inception-2015-12-05-6726825d.pth) from "
                f"GitHub: {error}. This machine seems offline: copy the file to $TORCH_HOME/hub/checkpoints/ "
                "(default ~/.cache/torch/hub/checkpoints/; from Python InceptionV3(weights_path=...) also works), "
                "or use feature_network: fashion_classifier for 28x28 grey images."
            ) from error
        self.eval()

    def check_input(self, images: Tensor) -> None:
        if images.dim() != 4 or images.shape[1] not in (1, 3) or not images.is_floating_point():
            raise ValueError(f"inception takes float images (N, 1 or 3, H, W) in [-1, 1], got {tuple(images.shape)}")

    def _outputs(self, images: Tensor) -> tuple[Tensor, Tensor]:
        uint8 = images.float().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
        # the tuple of every requested output; the module's forward() keeps only the first
        pool, logits = self.net._torch_fidelity_forward(uint8.expand(-1, 3, -1, -1))  # uint8 RGB in
        return pool.reshape(len(images), -1), logits.reshape(len(images), -1)

    def features(self, images: Tensor) -> Tensor:
        return self._outputs(images)[0]

    def logits(self, images: Tensor) -> Tensor:
        return self._outputs(images)[1]

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return self._outputs(images)


def build_feature_network(spec: str) -> FeatureNetwork:
    """A feature network by registry name (``fashion_classifier``, ``inception``, a plugin's) or import
    path (``my_package.nets.MyFeatures``), built with its default arguments, in eval mode."""
    from lightning_gans import registry

    cls = registry.class_at(registry.resolve_name(spec, registry.feature_networks, "feature_network"))
    if not (isinstance(cls, type) and issubclass(cls, FeatureNetwork)):
        raise TypeError(f"{spec} is not a lightning_gans.metrics.features.FeatureNetwork subclass")
    return cls().eval()
