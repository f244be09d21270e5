"""Precision, recall, density and coverage against an independent numpy implementation of the papers.

Kynkäänniemi et al. 2019 (improved precision and recall) and Naeem et al. 2020 (density and coverage).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_gans.metrics import prdc
from lightning_gans.metrics.prdc import PrecisionRecallDensityCoverage, precision_recall_density_coverage


def reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The four formulas, written plainly with full distance matrices."""

    def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))

    def radii(x: np.ndarray) -> np.ndarray:
        d = distances(x, x)
        np.fill_diagonal(d, np.inf)  # a point is not its own neighbour
        return np.sort(d, axis=1)[:, k - 1]

    real_radii, fake_radii = radii(real), radii(fake)
    real_fake = distances(real, fake)  # (N, M)
    in_real_ball = real_fake <= real_radii[:, None]  # [i, j]: fake j inside real i's ball
    in_fake_ball = real_fake <= fake_radii[None, :]  # [i, j]: real i inside fake j's ball
    return {
        "precision": float(in_real_ball.any(axis=0).mean()),
        "recall": float(in_fake_ball.any(axis=1).mean()),
        "density": float(in_real_ball.sum() / (k * fake.shape[0])),
        "coverage": float((real_fake.min(axis=1) <= real_radii).mean()),
    }


def feed(metric: PrecisionRecallDensityCoverage, real: torch.Tensor, fake: torch.Tensor, batch: int) -> None:
    for chunk in real.split(batch):
        metric.update(chunk, real=True)
    for chunk in fake.split(batch):
        metric.update(chunk, real=False)


def small_sets(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = torch.Generator().manual_seed(seed)
    real = torch.randn(60, 8, generator=rng)
    fake = torch.randn(50, 8, generator=rng) * 1.3 + 0.4  # overlapping but not the same distribution
    return real, fake


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_the_numpy_reference(k: int) -> None:
    real, fake = small_sets()
    metric = PrecisionRecallDensityCoverage(torch.nn.Identity(), k=k)
    feed(metric, real, fake, batch=16)  # accumulates over batches
    result = metric.compute()
    expected = reference(real.double().numpy(), fake.double().numpy(), k)
    assert set(result) == {"precision", "recall", "density", "coverage"}
    for name in ("precision", "recall", "coverage"):  # not trivially 0 or 1, so the comparison can fail
        assert 0 < expected[name] < 1, name
    assert expected["density"] > 0
    for name, value in expected.items():
        assert result[name].item() == pytest.approx(value, rel=1e-3), name


def test_same_distribution_scores_about_one_and_disjoint_about_zero() -> None:
    rng = torch.Generator().manual_seed(1)
    real = torch.randn(2000, 4, generator=rng)
    fake = torch.randn(2000, 4, generator=rng)
    metric = PrecisionRecallDensityCoverage(torch.nn.Identity(), k=5)
    feed(metric, real, fake, batch=500)
    same = metric.compute()
    for name in ("precision", "recall", "coverage"):
        assert same[name].item() > 0.9, name
    assert 0.8 < same["density"].item() < 1.2

    metric.reset()
    feed(metric, real, fake + 20, batch=500)
    disjoint = metric.compute()
    for name, value in disjoint.items():
        assert value.item() == pytest.approx(0.0, abs=1e-6), name


def test_chunking_gives_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    real, fake = small_sets(seed=2)
    whole = precision_recall_density_coverage(real, fake, k=3, chunk_size=10_000)
    for chunk_size in (1, 7, 32):  # several chunks, the last one short
        chunked = precision_recall_density_coverage(real, fake, k=3, chunk_size=chunk_size)
        for name in whole:
            assert chunked[name].item() == pytest.approx(whole[name].item(), abs=1e-12), (name, chunk_size)
    # the metric uses the module's CHUNK_SIZE
    monkeypatch.setattr(prdc, "CHUNK_SIZE", 7)
    metric = PrecisionRecallDensityCoverage(torch.nn.Identity(), k=3)
    feed(metric, real, fake, batch=60)
    for name, value in metric.compute().items():
        assert value.item() == pytest.approx(whole[name].item(), rel=1e-6), name


def test_radii_exclude_the_point_itself() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]], dtype=torch.float64)
    assert prdc.kth_neighbour_radii(x, k=1, chunk_size=3).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert prdc.kth_neighbour_radii(x, k=2, chunk_size=3).tolist() == [3.0, 2.0, 3.0, 5.0]


@pytest.mark.parametrize("reset_real_features", [True, False])
def test_reset_real_features(reset_real_features: bool) -> None:
    real, fake = small_sets()
    metric = PrecisionRecallDensityCoverage(torch.nn.Identity(), k=3, reset_real_features=reset_real_features)
    feed(metric, real, fake, batch=16)
    before = metric.compute()
    metric.reset()
    with pytest.raises(RuntimeError, match="no generated images"):
        metric.features(real=False)
    if reset_real_features:
        with pytest.raises(RuntimeError, match="no real images"):
            metric.features(real=True)
    else:
        assert torch.equal(metric.features(real=True), real)
        metric.update(fake, real=False)  # the kept real set is reused
        after = metric.compute()
        for name, value in before.items():
            assert after[name].item() == pytest.approx(value.item()), name


@pytest.mark.parametrize("k", [0, -1])
def test_k_must_be_positive(k: int) -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        PrecisionRecallDensityCoverage(torch.nn.Identity(), k=k)


@pytest.mark.parametrize(("n_real", "n_fake", "which"), [(5, 20, "real"), (20, 5, "generated"), (3, 3, "real")])
def test_too_few_samples(n_real: int, n_fake: int, which: str) -> None:
    metric = PrecisionRecallDensityCoverage(torch.nn.Identity(), k=5)
    metric.update(torch.randn(n_real, 4), real=True)
    metric.update(torch.randn(n_fake, 4), real=False)
    with pytest.raises(ValueError, match=f"the {which} set needs more than k = 5 samples"):
        metric.compute()
