"""Does a conditional generator make what it is asked for? The shipped classifier judges.

``label_accuracy``: the share of samples generated for label k that the classifier assigns to class k
(the bar of conditional GANs: cGAN, ACGAN). ``label_accuracy_matched``: the same after the best one-to-one
matching of labels to classes, for generators whose discrete code has no fixed meaning (InfoGAN's
categorical code: Chen et al. 2016 report the matched accuracy on MNIST). The matching is the linear
assignment problem, solved by scipy.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.functional.clustering import adjusted_rand_score, normalized_mutual_info_score

from lightning_gans.metrics.features import FeatureNetwork


def matched_accuracy(confusion: Tensor) -> tuple[float, list[int]]:
    """Accuracy of the best one-to-one map from rows (asked labels) to columns (predicted classes), and the
    map (``mapping[label] = class``). A square or wide confusion matrix of counts."""
    rows, cols = linear_sum_assignment(confusion.cpu().double().numpy(), maximize=True)
    mapping = [-1] * confusion.shape[0]
    for r, c in zip(rows.tolist(), cols.tolist()):
        mapping[r] = c
    return float(confusion[rows, cols].sum() / confusion.sum()), mapping


class ConditionalAccuracy(Metric):
    """How often a classifier puts a sample generated for label ``y`` in class ``y``.

    ``update(imgs, labels)`` with the labels the images were generated for. ``compute()`` returns
    ``label_accuracy``, ``label_accuracy_matched`` (after the best label-to-class matching),
    ``label_mapping`` (that matching) and ``per_label_accuracy``.

    Args:
        classifier: a ``FeatureNetwork`` with a classifier head.
        num_labels: how many labels the generator takes (at most the classifier's classes; defaults to them).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    confusion: Tensor

    def __init__(self, classifier: FeatureNetwork, num_labels: int | None = None) -> None:
        super().__init__()
        if classifier.num_classes is None:
            raise ValueError(f"label accuracy needs a classifier; {classifier.name} has no classifier head")
        self.classifier = classifier
        self.num_classes = classifier.num_classes
        self.num_labels = num_labels or self.num_classes
        if self.num_labels > self.num_classes:
            raise ValueError(f"{self.num_labels} labels cannot map one-to-one onto {self.num_classes} classes")
        shape = (self.num_labels, self.num_classes)
        self.add_state("confusion", default=torch.zeros(shape, dtype=torch.long), dist_reduce_fx="sum")

    @torch.no_grad()
    def update(self, imgs: Tensor, labels: Tensor) -> None:
        if labels.shape != (len(imgs),) or labels.min() < 0 or labels.max() >= self.num_labels:
            raise ValueError(f"need one label in 0..{self.num_labels - 1} per image")
        predicted = self.classifier.classify(imgs)
        index = labels.to(predicted.device) * self.num_classes + predicted
        self.confusion += torch.bincount(index, minlength=self.num_labels * self.num_classes).view_as(self.confusion)

    def compute(self) -> dict[str, Tensor]:
        total = self.confusion.sum()
        if total == 0:
            raise RuntimeError("ConditionalAccuracy has seen no images")
        matched, mapping = matched_accuracy(self.confusion)
        hits = self.confusion.diagonal()  # label k judged as class k
        return {
            "label_accuracy": hits.sum().float() / total,
            "label_accuracy_matched": torch.tensor(matched),
            "label_mapping": torch.tensor(mapping),
            "per_label_accuracy": hits.float() / self.confusion.sum(1).clamp(min=1),
        }


def code_clustering(codes: Tensor, labels: Tensor, num_codes: int, num_classes: int) -> dict[str, float]:
    """How well a code inferred from *real* images clusters them by class, as ClusterGAN scores its baselines
    (Mukherjee et al. 2019, "ClusterGAN: Latent Space Clustering in Generative Adversarial Networks", section
    4.2): ``cluster_accuracy`` after the best one-to-one code-to-class matching; ``cluster_purity``, each code
    mapped to its most frequent class (many-to-one, so never below the accuracy: two codes sharing a class
    both count; ClusterGAN's released evaluation computes this one); ``nmi`` and ``ari`` (torchmetrics'
    normalised mutual information, arithmetic mean, and adjusted Rand index)."""

    if codes.shape != labels.shape or codes.dim() != 1:
        raise ValueError("need one code and one label per image")
    confusion = torch.bincount(codes.long() * num_classes + labels.long(), minlength=num_codes * num_classes)
    confusion = confusion.view(num_codes, num_classes)
    accuracy, _ = matched_accuracy(confusion)
    return {
        "cluster_accuracy": accuracy,
        "cluster_purity": float(confusion.max(1).values.sum() / confusion.sum()),
        "nmi": float(normalized_mutual_info_score(codes.long(), labels.long())),
        "ari": float(adjusted_rand_score(codes.long(), labels.long())),
    }
