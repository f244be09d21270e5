"""BirthdayParadox against an independent full-matrix numpy implementation, and its behaviour on a collapsed
generator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lightning_gans.metrics.birthday import BirthdayParadox, birthday_support_size


def numpy_threshold(real: np.ndarray, quantile: float) -> float:
    distances = np.sqrt(((real[:, None, :] - real[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(distances, np.inf)
    return float(np.quantile(distances.min(axis=1), quantile))


def numpy_collisions(features: np.ndarray, subsets: np.ndarray, sizes: list[int], tau: float) -> np.ndarray:
    hits = np.zeros((len(subsets), len(sizes)))
    for t, subset in enumerate(subsets):
        for j, s in enumerate(sizes):
            chosen = features[subset[:s]]
            distances = np.sqrt(((chosen[:, None, :] - chosen[None, :, :]) ** 2).sum(-1))
            np.fill_diagonal(distances, np.inf)
            hits[t, j] = distances.min() < tau
    return hits.mean(axis=0)


def numpy_support(p: np.ndarray, sizes: list[int], trials: int) -> float:
    candidates = [j for j in range(len(sizes)) if 0 < p[j] < 1]
    if candidates:
        j = min(candidates, key=lambda j: (abs(p[j] - 0.5), j))
        prob = p[j]
    elif (p >= 1).any():
        j = int(np.argmin([s if p[i] >= 1 else np.inf for i, s in enumerate(sizes)]))
        prob = 1 - 1 / (2 * trials)
    else:
        return math.inf
    return sizes[j] * (sizes[j] - 1) / (2 * -np.log(1 - prob))


def filled(real: torch.Tensor, fake: torch.Tensor, **kwargs: object) -> BirthdayParadox:
    metric = BirthdayParadox(nn.Identity(), **kwargs)  # type: ignore[arg-type]
    for chunk in real.split(100):
        metric.update(chunk, real=True)
    for chunk in fake.split(100):
        metric.update(chunk, real=False)
    return metric


def test_birthday_matches_the_numpy_reference() -> None:
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(120, 4, generator=gen), 0.6 * torch.randn(80, 4, generator=gen)
    sizes, trials, quantile = [5, 10, 20, 40], 30, 0.2
    metric = filled(real, fake, sample_sizes=sizes, trials=trials, quantile=quantile, seed=3)
    result = metric.compute()
    tau = numpy_threshold(real.double().numpy(), quantile)
    assert float(result["threshold"]) == pytest.approx(tau, rel=1e-3)
    assert result["sample_sizes"].tolist() == sizes
    for name, features in (("fake", fake), ("real", real)):
        subsets = metric.draw_subsets(len(features)).numpy()
        expected = numpy_collisions(features.double().numpy(), subsets, sizes, tau)
        np.testing.assert_allclose(result[f"collision_{name}"].numpy(), expected, rtol=1e-3)
        assert float(result[f"support_{name}"]) == pytest.approx(numpy_support(expected, sizes, trials), rel=1e-3)
    assert 0 < float(result["collision_fake"][0]) < 1  # the check above went through the interesting branch


def test_subsets_are_without_replacement_and_seeded() -> None:
    metric = BirthdayParadox(nn.Identity(), sample_sizes=(3, 30), trials=20, seed=1)
    subsets = metric.draw_subsets(50)
    assert subsets.shape == (20, 30)
    assert all(len(set(row.tolist())) == 30 for row in subsets)
    assert subsets.min() >= 0 and subsets.max() < 50
    assert torch.equal(subsets, metric.draw_subsets(50))
    other = BirthdayParadox(nn.Identity(), sample_sizes=(3, 30), trials=20, seed=2)
    assert not torch.equal(subsets, other.draw_subsets(50))


def test_support_size_formula() -> None:
    assert birthday_support_size([0.0, 0.0], [10, 20], trials=50) == math.inf
    # p closest to 0.5 among 0 < p < 1: s = 20, p = 0.4
    assert birthday_support_size([0.1, 0.4, 1.0], [10, 20, 40], 50) == pytest.approx(20 * 19 / (2 * -math.log(0.6)))
    # certain collisions everywhere: the smallest size with p clamped to 1 - 1 / (2 trials)
    assert birthday_support_size([1.0, 1.0], [10, 20], 50) == pytest.approx(10 * 9 / (2 * math.log(100)))
    with pytest.raises(ValueError):
        birthday_support_size([0.5], [10, 20], 50)


@pytest.mark.parametrize("distinct", [100, 200, 400])
def test_a_collapsed_generator_has_a_small_support(distinct: int) -> None:
    gen = torch.Generator().manual_seed(distinct)
    real = torch.randn(2000, 8, generator=gen)
    centres = torch.randn(distinct, 8, generator=gen)
    fake = centres[torch.randint(0, distinct, (4000,), generator=gen)] + 1e-4 * torch.randn(4000, 8, generator=gen)
    result = filled(real, fake).compute()
    support = float(result["support_fake"])
    assert distinct / 3 < support < 3 * distinct
    assert support < float(result["support_real"]) / 10
    collisions = result["collision_fake"]
    assert torch.all(collisions[1:] >= collisions[:-1]) and collisions[-1] > collisions[0]
    assert float(result["collision_real"][-1]) < 0.9


def test_deterministic_given_the_seed() -> None:
    gen = torch.Generator().manual_seed(5)
    real, fake = torch.randn(300, 3, generator=gen), torch.randn(300, 3, generator=gen)
    first = filled(real, fake, sample_sizes=(10, 50), seed=7).compute()
    again = filled(real, fake, sample_sizes=(10, 50), seed=7).compute()
    assert all(torch.equal(first[name], again[name]) for name in first)


def test_reset_keeps_the_real_features_when_asked() -> None:
    gen = torch.Generator().manual_seed(6)
    real, fake = torch.randn(100, 3, generator=gen), torch.randn(100, 3, generator=gen)
    metric = filled(real, fake, sample_sizes=(10,), reset_real_features=False)
    first = metric.compute()
    metric.reset()
    metric.update(fake, real=False)
    assert torch.equal(metric.compute()["collision_fake"], first["collision_fake"])


def test_argument_errors() -> None:
    for kwargs in ({"sample_sizes": ()}, {"sample_sizes": (1, 5)}, {"trials": 0}, {"quantile": 0.0}, {"quantile": 1.0}):
        with pytest.raises(ValueError):
            BirthdayParadox(nn.Identity(), **kwargs)
    too_few_fake = filled(torch.randn(50, 3), torch.randn(20, 3), sample_sizes=(5, 30))
    with pytest.raises(ValueError, match="max\\(sample_sizes\\) = 30"):
        too_few_fake.compute()
    too_few_real = filled(torch.randn(20, 3), torch.randn(50, 3), sample_sizes=(5, 30))
    with pytest.raises(ValueError, match="max\\(sample_sizes\\) = 30"):
        too_few_real.compute()
    one_real = filled(torch.randn(1, 3), torch.randn(50, 3), sample_sizes=(2,))
    with pytest.raises(ValueError, match="at least 2 real"):
        one_real.compute()
