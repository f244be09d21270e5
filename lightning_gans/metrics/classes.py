"""Class coverage: which classes of a labelled dataset the generator produces, and in what proportions.

A classifier (the shipped ``fashion_classifier`` for Fashion-MNIST) labels real and generated images; the
two class histograms are compared. It catches mode collapse on real images the way mode counting does on
the toy mixtures (cf. the MNIST mode counts of Che et al. 2017 and Srivastava et al. 2017 (VEEGAN)), and the
reverse KL mirrors ``ModeCoverage``'s. Written here because no maintained library offers it.

Real images are labelled by the same classifier rather than taken from the dataset's labels, so that the
classifier's own errors affect both histograms alike.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from lightning_gans.metrics.features import FeatureNetwork


class ClassCoverage(Metric):
    """Classes covered by the generated images and the KL divergence of their class histogram.

    ``classes_covered``: the number of classes that receive at least ``min_share`` of the share they have
    in the real data (0.1: a class with 10% of the real images needs at least 1% of the generated ones).
    ``class_kl``: KL(p_generated || p_real) of the predicted-class histograms (0 when they agree; log 10
    for a generator that makes only one of ten equally common classes). ``class_shares``: p_generated.

    Args:
        classifier: a ``FeatureNetwork`` with a classifier head.
        min_share: the fraction of its real share a class must get to count as covered.
        reset_real_features: ``False`` keeps the real histogram across ``reset()`` (as in torchmetrics' FID).
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    real_counts: Tensor
    fake_counts: Tensor

    def __init__(self, classifier: FeatureNetwork, min_share: float = 0.1, reset_real_features: bool = True) -> None:
        super().__init__()
        if classifier.num_classes is None:
            raise ValueError(f"class coverage needs a classifier; {classifier.name} has no classifier head")
        if not 0 < min_share <= 1:
            raise ValueError(f"min_share must lie in (0, 1], got {min_share}")
        self.classifier = classifier
        self.min_share = min_share
        self.reset_real_features = reset_real_features
        self.num_classes = classifier.num_classes
        self.add_state("real_counts", default=torch.zeros(self.num_classes, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("fake_counts", default=torch.zeros(self.num_classes, dtype=torch.long), dist_reduce_fx="sum")

    @torch.no_grad()
    def update(self, imgs: Tensor, real: bool) -> None:
        counts = torch.bincount(self.classifier.classify(imgs), minlength=self.num_classes)
        if real:
            self.real_counts += counts
        else:
            self.fake_counts += counts

    def compute(self) -> dict[str, Tensor]:
        if self.real_counts.sum() == 0 or self.fake_counts.sum() == 0:
            raise RuntimeError("ClassCoverage needs both real and generated images")
        p_real = self.real_counts.double() / self.real_counts.sum()
        p_fake = self.fake_counts.double() / self.fake_counts.sum()
        present = p_real > 0
        covered = (p_fake[present] >= self.min_share * p_real[present]).sum()
        made = p_fake > 0
        if (made & ~present).any():
            kl = torch.tensor(float("inf"), dtype=torch.float64)  # classes the real data never shows
        else:
            kl = (p_fake[made] * (p_fake[made] / p_real[made]).log()).sum()
        return {"classes_covered": covered.float(), "class_kl": kl.float(), "class_shares": p_fake.float()}

    def reset(self) -> None:
        kept = self.real_counts.clone() if not self.reset_real_features else None
        super().reset()
        if kept is not None:
            self.real_counts = kept
