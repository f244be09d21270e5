"""Stacked MNIST mode counting: how many of the 1000 digit triples a generator makes, and how evenly.

Each colour channel of a generated image is labelled by the shipped digit classifier (``digit_classifier``);
the three labels give the image's mode ``100 * d_R + 10 * d_G + d_B``. Reported as in VEEGAN (Srivastava et
al. 2017, Table 2) and PacGAN (Lin et al. 2018, Tables 2-3): the number of modes with at least one sample, and
KL(p_generated || uniform over 1000) = sum_m p_m log(1000 p_m) (natural log). A perfect generator scored on
26,000 samples (the papers' count) still shows a KL of about 999 / (2 * 26000) = 0.019 from sampling noise
alone, plus what the classifier gets wrong.

Written here because no maintained library offers it. It is a torchmetrics ``Metric``, so it accumulates
over batches and sums its histogram across DDP processes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric

from lightning_gans.core.guards import non_finite_samples
from lightning_gans.metrics.digits import DigitClassifier

NUM_MODES = 1000
MODE_WEIGHTS = (100, 10, 1)


def stacked_input_problem(images: Tensor) -> str | None:
    """Why ``images`` are not Stacked MNIST images (3 channels, 28x28 or 32x32, floats), or ``None``."""
    if images.dim() != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) not in ((28, 28), (32, 32)):
        return (
            "stacked_modes counts the 1000 digit triples of Stacked MNIST and takes float images (N, 3, 28, 28) or "
            f"(N, 3, 32, 32) in [-1, 1] (data: stacked_mnist), got {tuple(images.shape)}"
        )
    if not images.is_floating_point():
        return f"stacked_modes takes float images in [-1, 1], got {images.dtype}"
    return None


class StackedMNISTModes(Metric):
    """Modes covered and reverse KL to the uniform mode distribution on Stacked MNIST (Metz et al. 2017;
    protocol of Srivastava et al. 2017, VEEGAN, and Lin et al. 2018, PacGAN, arXiv:1712.04086).

    ``update(images)`` takes generated images (N, 3, 28, 28) or (N, 3, 32, 32) in [-1, 1]; a 32x32 image is
    the ``stacked_mnist`` data module's 28x28 digits padded by 2 px, so its centre 28x28 is classified.
    ``compute()`` gives ``modes`` (modes with at least one sample, 0..1000) and ``kl``
    (sum_m p_m log(1000 p_m) over the modes with p_m > 0: 0 for a uniform histogram, log 1000 = 6.91 for a
    generator that makes one mode only).

    Args:
        classifier: the digit classifier (default: the shipped ``DigitClassifier``).
        batch_size: digits per classifier call (3 per image).
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    counts: Tensor
    weights: Tensor

    def __init__(self, classifier: DigitClassifier | None = None, batch_size: int = 3000) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.classifier = (classifier if classifier is not None else DigitClassifier()).eval()
        self.batch_size = batch_size
        self.register_buffer("weights", torch.tensor(MODE_WEIGHTS), persistent=False)
        self.add_state("counts", default=torch.zeros(NUM_MODES, dtype=torch.long), dist_reduce_fx="sum")

    def check(self, images: Tensor) -> None:
        """Raise a clear ``ValueError`` for images that are not Stacked MNIST images or are not finite."""
        problem = stacked_input_problem(images)
        if problem is not None:
            raise ValueError(problem)
        bad = non_finite_samples(images)
        if bad:
            raise ValueError(f"{bad} of {len(images)} images hold NaN or infinite values: no mode counted")

    @torch.no_grad()
    def modes(self, images: Tensor) -> Tensor:
        """The mode (0..999) of each image."""
        self.check(images)
        if images.shape[-1] == 32:
            images = images[..., 2:30, 2:30]  # undo the data module's padding: the classifier saw 28x28 digits
        digits = images.detach().float().reshape(-1, 1, 28, 28)  # (N * 3) grey digits, R, G, B in turn
        labels = torch.cat([self.classifier.classify(chunk) for chunk in digits.split(self.batch_size)])
        return (labels.view(-1, 3) * self.weights).sum(dim=1)

    def update(self, images: Tensor) -> None:
        self.counts += torch.bincount(self.modes(images), minlength=NUM_MODES)

    def compute(self) -> dict[str, Tensor]:
        total = self.counts.sum()
        if total == 0:
            raise RuntimeError("StackedMNISTModes needs at least one image before compute()")
        p = self.counts.double() / total
        made = p[p > 0]
        kl = (made * (made * NUM_MODES).log()).sum()
        return {"modes": (self.counts > 0).sum().float(), "kl": kl.float()}


def uniform_kl_floor(n_samples: int) -> float:
    """The KL a perfect generator shows on ``n_samples`` from multinomial noise alone (first-order estimate
    (K - 1) / (2 n)); benchmarks print it beside the measured values."""
    return (NUM_MODES - 1) / (2 * n_samples) if n_samples > 0 else math.inf
