"""ModeCoverage against an independent numpy implementation of the VEEGAN/PacGAN definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lightning_gans.data.toy import GaussianMixture2D
from lightning_gans.metrics import ModeCoverage


def reference(samples: np.ndarray, means: np.ndarray, std: float) -> tuple[int, float, float]:
    modes, hq_hist = len(means), np.zeros(len(means))
    good = 0
    for x in samples:
        d = [math.sqrt(((x - m) ** 2).sum()) / std for m in means]
        k = int(np.argmin(d))
        if d[k] <= 3:
            good += 1
            hq_hist[k] += 1
    p = hq_hist / max(good, 1)
    kl = sum(q * math.log(q * modes) for q in p if q > 0)
    return int((hq_hist > 0).sum()), good / len(samples), kl


@pytest.mark.parametrize("mixture", ["ring", "grid"])
def test_mode_coverage_matches_the_reference(mixture: str) -> None:
    target = GaussianMixture2D.named(mixture)  # type: ignore[arg-type]
    rng = torch.Generator().manual_seed(0)
    # a generator that covers only some modes, some samples off-mode
    points, _ = target.sample(300, rng)
    points = points[points[:, 0] > -0.5]
    points = torch.cat([points, torch.randn(60, 2, generator=rng) * 3])
    metric = ModeCoverage(target.means, target.std)
    for chunk in points.split(64):  # accumulates over batches
        metric.update(chunk)
    result = metric.compute()
    modes, hq, kl = reference(points.numpy(), target.means.numpy(), target.std)
    assert result["modes"].item() == modes
    assert result["high_quality"].item() == pytest.approx(hq, rel=1e-6)
    assert result["reverse_kl"].item() == pytest.approx(kl, rel=1e-5)
    assert modes < len(target.means)  # the test really leaves modes uncovered


def test_data_itself_scores_perfectly() -> None:
    target = GaussianMixture2D.grid()
    metric = ModeCoverage(target.means, target.std)
    metric.update(target.sample(20_000, torch.Generator().manual_seed(1))[0])
    result = metric.compute()
    assert result["modes"] == 25
    assert result["high_quality"] > 0.985  # P(chi_2 <= 9) = 0.9889
    assert result["reverse_kl"] < 0.01


def test_collapse_to_one_mode_gives_log_k() -> None:
    target = GaussianMixture2D.ring()
    metric = ModeCoverage(target.means, target.std)
    metric.update(target.means[3].repeat(100, 1))
    result = metric.compute()
    assert result["modes"] == 1 and result["reverse_kl"].item() == pytest.approx(math.log(8))
    empty = ModeCoverage(target.means, target.std)
    empty.update(torch.full((10, 2), 50.0))
    assert empty.compute()["high_quality"] == 0 and math.isinf(empty.compute()["reverse_kl"])
