"""What our set-based sample metrics share: features of real and generated images kept as whole sets.

FID and KID (torchmetrics) need only running sums or are already in torchmetrics; precision/recall,
density/coverage, memorisation and the birthday test need every feature vector (nearest neighbours), so
they keep ``cat``-reduced list states, which torchmetrics gathers across DDP processes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


class FeatureSetMetric(Metric):
    """A torchmetrics ``Metric`` fed images like torchmetrics' FID: ``update(imgs, real)``.

    Args:
        feature: maps images to (N, d) features, e.g. a ``FeatureNetwork``; run without gradients.
        reset_real_features: as in torchmetrics' FID: ``False`` keeps the real features across ``reset()``,
            so a reference set is embedded once and reused at every validation.
    """

    is_differentiable = False
    full_state_update = False

    real_features: list[Tensor]
    fake_features: list[Tensor]
    # the states of the reference data, kept across reset() when reset_real_features is False
    real_states: tuple[str, ...] = ("real_features",)

    def __init__(self, feature: nn.Module, reset_real_features: bool = True) -> None:
        super().__init__()
        self.feature = feature
        self.reset_real_features = reset_real_features
        self.add_state("real_features", default=[], dist_reduce_fx="cat")
        self.add_state("fake_features", default=[], dist_reduce_fx="cat")

    @torch.no_grad()
    def embed(self, imgs: Tensor) -> Tensor:
        features = self.feature(imgs)
        if features.dim() != 2 or len(features) != len(imgs):
            raise ValueError(f"the feature network must return (N, d) features, got {tuple(features.shape)}")
        return features.detach().float()

    def update(self, imgs: Tensor, real: bool) -> None:
        (self.real_features if real else self.fake_features).append(self.embed(imgs))

    def concatenated(self, state: str, what: str) -> Tensor:
        """The list state ``state`` as one tensor; ``what`` names its contents in the error when empty."""
        states = getattr(self, state)
        if isinstance(states, Tensor):  # after a DDP sync torchmetrics leaves one concatenated tensor
            return states
        if not states:
            raise RuntimeError(f"{type(self).__name__}: no {what} were given")
        return dim_zero_cat(states)

    def features(self, real: bool) -> Tensor:
        """All features seen so far of the real (or generated) set, as one (N, d) tensor."""
        if real:
            return self.concatenated("real_features", "real images")
        return self.concatenated("fake_features", "generated images")

    def reset(self) -> None:
        kept = {}
        if not self.reset_real_features:  # copies: torchmetrics empties list states in place
            for name in self.real_states:
                value = getattr(self, name)
                kept[name] = value if isinstance(value, Tensor) else list(value)
        super().reset()
        for name, value in kept.items():
            setattr(self, name, value)
