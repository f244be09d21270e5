"""NearestNeighbourMemorisation against an independent full-matrix numpy implementation, and its behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lightning_gans.images import to_uint8
from lightning_gans.metrics.memorisation import NearestNeighbourMemorisation, nearest_neighbours


def numpy_nearest(queries: np.ndarray, references: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    distances = np.sqrt(((queries[:, None, :] - references[None, :, :]) ** 2).sum(-1))
    if exclude_self:
        np.fill_diagonal(distances, np.inf)
    return distances.min(axis=1)


def reference(train: np.ndarray, fake: np.ndarray, holdout: np.ndarray, quantile: float) -> dict[str, float]:
    fake_nn, holdout_nn = numpy_nearest(fake, train), numpy_nearest(holdout, train)
    threshold = np.quantile(holdout_nn, quantile)
    return {
        "fake_nn_median": float(np.median(fake_nn)),
        "holdout_nn_median": float(np.median(holdout_nn)),
        "nn_ratio": float(np.median(fake_nn) / np.median(holdout_nn)),
        "memorised_fraction": float((fake_nn < threshold).mean()),
        "threshold": float(threshold),
    }


def filled(
    train: torch.Tensor, fake: torch.Tensor, holdout: torch.Tensor, **kwargs: float
) -> NearestNeighbourMemorisation:
    metric = NearestNeighbourMemorisation(nn.Identity(), **kwargs)  # type: ignore[arg-type]
    for chunk in train.split(97):
        metric.update(chunk, real=True)
    for chunk in fake.split(64):
        metric.update(chunk, real=False)
    for chunk in holdout.split(50):
        metric.update_holdout(chunk)
    return metric


@pytest.mark.parametrize("exclude_self", [False, True])
def test_chunked_nearest_neighbours_match_numpy(exclude_self: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    references = torch.randn(70, 6, generator=gen)
    queries = references if exclude_self else torch.randn(53, 6, generator=gen)
    distance, index = nearest_neighbours(queries, references, exclude_self=exclude_self, chunk_size=16)
    expected = numpy_nearest(queries.double().numpy(), references.double().numpy(), exclude_self)
    assert distance.dtype == torch.float64
    np.testing.assert_allclose(distance.numpy(), expected, rtol=1e-9)
    np.testing.assert_allclose((queries - references[index]).double().norm(dim=1).numpy(), expected, rtol=1e-5)
    if exclude_self:
        assert (index != torch.arange(len(queries))).all()


@pytest.mark.parametrize("quantile", [0.01, 0.1, 0.37])
def test_memorisation_matches_the_numpy_reference(quantile: float) -> None:
    gen = torch.Generator().manual_seed(1)
    train, holdout = torch.randn(300, 5, generator=gen), torch.randn(150, 5, generator=gen)
    fake = torch.cat([0.8 * torch.randn(150, 5, generator=gen), train[:50] + 0.05 * torch.randn(50, 5, generator=gen)])
    result = filled(train, fake, holdout, quantile=quantile).compute()
    expected = reference(train.double().numpy(), fake.double().numpy(), holdout.double().numpy(), quantile)
    assert set(result) == set(expected)
    for name, value in expected.items():
        assert float(result[name]) == pytest.approx(value, rel=1e-3, abs=1e-12), name


def test_nearest_distances_are_the_per_sample_distances() -> None:
    gen = torch.Generator().manual_seed(2)
    train, fake, holdout = (torch.randn(n, 3, generator=gen) for n in (40, 30, 20))
    metric = filled(train, fake, holdout)
    np.testing.assert_allclose(
        metric.nearest_distances(real_holdout=False).numpy(), numpy_nearest(fake.numpy(), train.numpy()), rtol=1e-5
    )
    np.testing.assert_allclose(
        metric.nearest_distances(real_holdout=True).numpy(), numpy_nearest(holdout.numpy(), train.numpy()), rtol=1e-5
    )


def test_copies_of_training_points_are_flagged() -> None:
    gen = torch.Generator().manual_seed(3)
    train, holdout = torch.randn(1000, 8, generator=gen), torch.randn(1000, 8, generator=gen)
    copies = train[torch.randint(0, 1000, (500,), generator=gen)] + 1e-3 * torch.randn(500, 8, generator=gen)
    result = filled(train, copies, holdout, quantile=0.05).compute()
    assert float(result["memorised_fraction"]) > 0.99
    assert float(result["nn_ratio"]) < 0.01


def test_fresh_samples_look_like_held_out_data() -> None:
    gen = torch.Generator().manual_seed(4)
    train, holdout, fresh = (torch.randn(1000, 8, generator=gen) for _ in range(3))
    result = filled(train, fresh, holdout, quantile=0.05).compute()
    assert 0.01 < float(result["memorised_fraction"]) < 0.12
    assert 0.9 < float(result["nn_ratio"]) < 1.1


def image_metric(k_copies: int = 6) -> tuple[NearestNeighbourMemorisation, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    train = torch.rand(40, 1, 8, 8, generator=gen) * 2 - 1
    fake = torch.cat([torch.rand(20, 1, 8, 8, generator=gen) * 2 - 1, train[:k_copies]])
    metric = NearestNeighbourMemorisation(nn.Flatten())
    metric.update(train, real=True)
    metric.update(fake, real=False)
    metric.update_holdout(torch.rand(30, 1, 8, 8, generator=gen) * 2 - 1)
    return metric, train, fake


def test_closest_pairs_are_the_copies() -> None:
    metric, train, _ = image_metric(k_copies=6)
    fake_images, train_images, distances = metric.closest_pairs(6)
    assert fake_images.dtype == train_images.dtype == torch.uint8
    assert fake_images.shape == train_images.shape == (6, 1, 8, 8)
    assert torch.equal(fake_images, train_images)
    assert torch.all(distances == 0)
    _, _, more = metric.closest_pairs(10)
    assert torch.all(more[1:] >= more[:-1]) and more[6] > 0
    assert {tuple(img.flatten().tolist()) for img in fake_images} == {
        tuple(img.flatten().tolist()) for img in to_uint8(train[:6])
    }


@pytest.mark.parametrize(("k", "per_row", "shape"), [(5, 8, (3, 22, 52)), (10, 8, (3, 42, 82)), (16, 4, (3, 82, 42))])
def test_closest_pairs_picture(k: int, per_row: int, shape: tuple[int, int, int]) -> None:
    metric, _, _ = image_metric()
    picture = metric.closest_pairs_picture(k, per_row=per_row)
    assert picture.dtype == torch.uint8 and tuple(picture.shape) == shape
    fake_images, train_images, _ = metric.closest_pairs(k)
    assert torch.equal(picture[0, 2:10, 2:10], fake_images[0, 0])  # generated image on top ...
    assert torch.equal(picture[0, 12:20, 2:10], train_images[0, 0])  # ... its training neighbour below


def test_reset_keeps_the_reference_sets_when_asked() -> None:
    gen = torch.Generator().manual_seed(6)
    train, fake, holdout = (torch.randn(n, 3, generator=gen) for n in (40, 30, 20))
    kept = filled(train, fake, holdout, reset_real_features=False)
    first = kept.compute()
    kept.reset()
    kept.update(fake, real=False)
    assert torch.allclose(kept.compute()["nn_ratio"], first["nn_ratio"])
    cleared = filled(train, fake, holdout)
    cleared.reset()
    cleared.update(fake, real=False)
    with pytest.raises(RuntimeError, match="no real images"):
        cleared.compute()


def test_holdout_updates_invalidate_the_cached_result() -> None:
    gen = torch.Generator().manual_seed(7)
    train, fake, holdout = (torch.randn(n, 3, generator=gen) for n in (40, 30, 20))
    metric = filled(train, fake, holdout)
    first = metric.compute()["holdout_nn_median"]
    metric.update_holdout(holdout + 10)
    assert metric.compute()["holdout_nn_median"] > first


def test_argument_errors() -> None:
    for quantile in (0.0, 1.0, -0.5, 2.0):
        with pytest.raises(ValueError, match="quantile"):
            NearestNeighbourMemorisation(nn.Identity(), quantile=quantile)
    metric = NearestNeighbourMemorisation(nn.Identity())
    metric.update(torch.randn(10, 3), real=True)
    metric.update(torch.randn(10, 3), real=False)
    with pytest.raises(RuntimeError, match="held-out"):
        metric.compute()
    with pytest.raises(ValueError, match="k must"):
        metric.closest_pairs(0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        metric.closest_pairs_picture(4)
    with pytest.raises(ValueError, match="features"):
        nearest_neighbours(torch.randn(4, 3), torch.randn(5, 2))
    with pytest.raises(ValueError, match="too few"):
        nearest_neighbours(torch.randn(1, 3), torch.randn(1, 3), exclude_self=True)
