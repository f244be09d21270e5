"""Feature networks, FID/KID/IS/class coverage against independent numpy formulas, and the evaluation protocol."""

from __future__ import annotations

import math
import sys
import urllib.error

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from lightning_gans import registry
from lightning_gans.data.idx import embedded_fashion_mnist, to_model_range
from lightning_gans.metrics.classes import ClassCoverage
from lightning_gans.metrics.evaluation import (
    SampleQuality,
    concatenate_list_states,
    dataset_images,
    parse_metric_names,
)
from lightning_gans.metrics.features import (
    FashionClassifier,
    FeatureNetwork,
    FeatureNetworkUnavailable,
    InceptionV3,
    build_feature_network,
)


class Projection(FeatureNetwork):
    """A fixed random linear feature map with a 'classifier' head, standing in for a trained network."""

    name = "projection"
    num_features = 6
    num_classes = 4

    def __init__(self) -> None:
        super().__init__()
        rng = torch.Generator().manual_seed(0)
        self.weight = nn.Parameter(torch.randn(16, 6, generator=rng) / 4, requires_grad=False)
        self.head = nn.Parameter(torch.randn(6, 4, generator=rng), requires_grad=False)
        self.norm = nn.BatchNorm1d(6)  # catches a network left in train mode: its statistics would move
        self.eval()

    def features(self, images: Tensor) -> Tensor:
        return self.norm(images.flatten(1).float() @ self.weight)

    def logits(self, images: Tensor) -> Tensor:
        return self.features(images) @ self.head


def images(n: int, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> Tensor:
    rng = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 4, 4, generator=rng) * scale + shift


# -- independent references ------------------------------------------------------------------------------
def fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr sqrt(A B) = sum of sqrt eigenvalues of sqrt(A) B sqrt(A), which is symmetric positive semi-definite
    w, v = np.linalg.eigh(cov_a)
    root_a = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    return float(
        ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(np.clip(eig, 0, None)).sum()
    )


def kid_reference(a: np.ndarray, b: np.ndarray) -> float:
    d = a.shape[1]

    def k(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x @ y.T / d + 1) ** 3

    m = len(a)
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    )


def is_reference(logits: np.ndarray) -> float:
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    marginal = p.mean(0)
    return float(np.exp((p * (np.log(p) - np.log(marginal))).sum(1).mean()))


def feats(x: Tensor) -> np.ndarray:
    with torch.no_grad():
        return Projection().features(x).double().numpy()


# -- feature networks ------------------------------------------------------------------------------------
def test_shipped_classifier_loads_stays_in_eval_mode_and_classifies_fashion_mnist() -> None:
    net = build_feature_network("fashion_classifier")
    assert isinstance(net, FashionClassifier)
    net.train()
    assert not any(m.training for m in net.modules()), "a feature network must never enter train mode"
    x, y = embedded_fashion_mnist()  # the test split: the classifier never saw it
    accuracy = (net.classify(to_model_range(x[:2000], 28)) == y[:2000]).float().mean().item()
    assert accuracy > 0.9, accuracy
    assert net(to_model_range(x[:3], 28)).shape == (3, 128)


def test_classifier_rejects_images_it_cannot_take() -> None:
    net = FashionClassifier()
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\).*inception"):
        net(torch.zeros(2, 3, 32, 32))


@pytest.mark.parametrize("name", registry.feature_networks.names())
def test_every_registered_feature_network_declares_its_name_and_sizes(name: str) -> None:
    cls = registry.feature_networks.load(name)  # loaded, not built: Inception would fetch weights
    assert issubclass(cls, FeatureNetwork)
    assert isinstance(cls.num_features, int) and cls.num_features > 0 and cls.name == name
    assert cls.num_classes is None or cls.num_classes > 1


def test_feature_networks_are_a_registry_kind_and_import_paths_work() -> None:
    assert {"fashion_classifier", "inception"} <= set(registry.feature_networks.names())
    assert isinstance(build_feature_network("lightning_gans.metrics.features.FashionClassifier"), FashionClassifier)
    with pytest.raises(registry.UnknownNameError, match="fashion_classifier"):
        build_feature_network("fashion_clasifier")
    with pytest.raises(TypeError, match="FeatureNetwork"):
        build_feature_network("torch.nn.Identity")


def test_inception_without_weights_fails_clearly_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fidelity, "load_state_dict_from_url", offline)  # no network is touched
    with pytest.raises(FeatureNetworkUnavailable, match="offline.*weights_path.*fashion_classifier"):
        InceptionV3()
    with pytest.raises(FeatureNetworkUnavailable, match="not a file"):
        InceptionV3(weights_path="/nonexistent/pt_inception.pth")


def test_inception_without_torch_fidelity_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # makes `import torch_fidelity` fail
    with pytest.raises(FeatureNetworkUnavailable, match=r"lightning-gans\[inception\]"):
        InceptionV3()


# -- metrics against the formulas ------------------------------------------------------------------------
def quality(metrics: str, real: Tensor) -> SampleQuality:
    return SampleQuality(metrics, Projection(), real, batch_size=64, kid_subset_size=10_000)


def from_tensor(x: Tensor) -> object:
    position = 0

    def take(n: int) -> Tensor:
        nonlocal position
        position += n
        return x[position - n : position]

    return take


def test_fid_kid_is_match_independent_formulas() -> None:
    real, fake = images(250), images(250, shift=0.3, scale=1.2, seed=1)
    results = quality("fid,kid,is", real).evaluate(from_tensor(fake), len(fake))  # type: ignore[arg-type]
    a, b = feats(real), feats(fake)
    assert results["fid"] == pytest.approx(fid_reference(a, b), rel=1e-3)
    # one subset holding every sample makes KID deterministic (torchmetrics permutes, then takes all)
    assert results["kid"] == pytest.approx(kid_reference(a, b), rel=1e-3)
    with torch.no_grad():
        logits = Projection().logits(fake).double().numpy()
    one_split = SampleQuality("is", Projection(), real)  # torchmetrics' default 10 splits, then one
    metric = one_split.metrics["is"]
    metric.splits = 1  # type: ignore[assignment]
    assert one_split.evaluate(from_tensor(fake), len(fake))["is"] == pytest.approx(is_reference(logits), rel=1e-3)  # type: ignore[arg-type]
    assert results["fid"] > 0.05  # the sets differ, so the comparison is not 0 == 0


def test_class_coverage_matches_the_reference() -> None:
    real, fake = images(400), images(300, shift=0.8, seed=2)
    metric = ClassCoverage(Projection(), min_share=0.5)
    for chunk in real.split(64):
        metric.update(chunk, real=True)
    for chunk in fake.split(64):
        metric.update(chunk, real=False)
    result = metric.compute()
    with torch.no_grad():
        p = np.bincount(Projection().logits(real).argmax(1).numpy(), minlength=4) / len(real)
        q = np.bincount(Projection().logits(fake).argmax(1).numpy(), minlength=4) / len(fake)
    covered = int(sum(q[c] >= 0.5 * p[c] for c in range(4) if p[c] > 0))
    kl = sum(q[c] * math.log(q[c] / p[c]) for c in range(4) if q[c] > 0)
    assert result["classes_covered"].item() == covered
    assert 0 < covered < 4  # the shifted set really under-covers some class
    assert result["class_kl"].item() == pytest.approx(kl, rel=1e-3)
    assert result["class_shares"].numpy() == pytest.approx(q, abs=1e-6)


def test_class_coverage_of_a_collapsed_generator() -> None:
    net = FashionClassifier()
    x, _ = embedded_fashion_mnist()
    data = to_model_range(x[:1000], 28)
    one_class = data[net.classify(data) == 1]  # trousers only
    metric = ClassCoverage(net)
    metric.update(data, real=True)
    metric.update(one_class, real=False)
    result = metric.compute()
    assert result["classes_covered"].item() == 1
    assert result["class_kl"].item() == pytest.approx(math.log(1 / (net.classify(data) == 1).float().mean().item()))


# -- behaviour of the protocol ---------------------------------------------------------------------------
def test_identical_distributions_score_near_perfect_and_disjoint_ones_badly() -> None:
    real = images(2000)
    suite = quality("fid,kid,prdc,classes", real)
    same = suite.evaluate(from_tensor(images(2000, seed=5)), 2000)  # type: ignore[arg-type]
    assert same["fid"] < 0.05 and abs(same["kid"]) < 0.01
    assert min(same["precision"], same["recall"], same["coverage"]) > 0.9
    assert same["classes_covered"] == 4 and same["class_kl"] < 0.01
    apart = suite.evaluate(from_tensor(images(2000, shift=3.0, seed=6)), 2000)  # type: ignore[arg-type]
    assert apart["fid"] > 10 and apart["kid"] > 1
    assert max(apart["precision"], apart["recall"], apart["coverage"]) < 0.05


def test_real_features_are_embedded_once_and_kept_between_evaluations() -> None:
    suite = quality("fid,prdc,birthday", images(500))
    fake = images(500, shift=0.5, seed=3)
    first = suite.evaluate(from_tensor(fake), 500)  # type: ignore[arg-type]
    second = suite.evaluate(from_tensor(fake), 500)  # type: ignore[arg-type]
    assert first == second  # fake side reset, real side kept, subsets seeded


def test_feature_network_in_train_mode_cannot_change_the_numbers() -> None:
    suite = quality("fid", images(300))
    before = suite.evaluate(from_tensor(images(300, seed=4)), 300)  # type: ignore[arg-type]
    for metric in suite.metrics.values():
        metric.train()  # what Lightning does to every submodule of a LightningModule
    after = suite.evaluate(from_tensor(images(300, seed=4)), 300)  # type: ignore[arg-type]
    assert before == after
    assert not suite.network.norm.training


def test_metric_names_are_checked() -> None:
    assert parse_metric_names("fid, kid,fid") == ["fid", "kid"]
    with pytest.raises(ValueError, match="choose from fid, kid, is, prdc, classes, knn, birthday"):
        parse_metric_names("fid,fjd")
    with pytest.raises(ValueError, match="training and held-out"):
        quality("knn", images(10))


def test_dataset_images_is_a_seeded_choice_and_shards_are_contiguous_blocks_of_it() -> None:
    dataset = torch.utils.data.TensorDataset(torch.arange(50.0).view(50, 1, 1, 1), torch.zeros(50))
    chosen = dataset_images(dataset, 20, seed=1)
    assert torch.equal(chosen, dataset_images(dataset, 20, seed=1)) and len(chosen.unique()) == 20
    shards = [dataset_images(dataset, 20, seed=1, shard=(r, 3)) for r in range(3)]
    assert [len(s) for s in shards] == [6, 7, 7]
    assert torch.equal(torch.cat(shards), chosen)  # gathered in rank order: the single-process order


def test_a_metric_value_does_not_depend_on_which_metrics_ran_before_it() -> None:
    real, fake = images(300), images(300, shift=0.2, seed=7)
    alone = quality("is", real).evaluate(from_tensor(fake), 300)  # type: ignore[arg-type]
    after_kid = quality("kid,is", real).evaluate(from_tensor(fake), 300)  # type: ignore[arg-type]
    assert alone["is"] == after_kid["is"] and alone["is_std"] == after_kid["is_std"]


def test_list_states_are_concatenated_before_compute() -> None:
    """torchmetrics gathers a list state without a reduction one element at a time under DDP: processes
    holding different numbers of batches would deadlock, so each state becomes one tensor first."""
    suite = quality("kid,is", images(130))  # 3 batches of 64, 64, 2
    kid = suite.metrics["kid"]
    assert len(kid.real_features) == 3  # type: ignore[arg-type]
    concatenate_list_states(kid)
    assert len(kid.real_features) == 1 and len(kid.real_features[0]) == 130  # type: ignore[arg-type]


def test_inception_gives_batched_pool_features_and_logits(monkeypatch: pytest.MonkeyPatch) -> None:
    fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    # random weights instead of the download: this checks shapes and plumbing, not the published network
    monkeypatch.setattr(fidelity, "load_state_dict_from_url", lambda *args, **kwargs: None)
    monkeypatch.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    torch.manual_seed(0)
    net = InceptionV3()
    net.train()
    assert not any(m.training for m in net.modules())
    grey = torch.rand(3, 1, 28, 28) * 2 - 1
    features, logits = net(grey), net.logits(grey)
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    scale = features.abs().max()
    assert (features[0] - features[1]).abs().max() > 1e-3 * scale  # a row per image, not an image per batch
    swapped = net(torch.cat([grey[1:2], grey[0:1]]))
    assert torch.allclose(swapped[0], features[1], rtol=1e-3, atol=1e-3 * scale)


def test_metrics_fed_one_batch_share_one_pass_of_the_feature_network() -> None:
    suite = quality("fid,kid,is,prdc,classes,birthday", images(400))
    calls = []
    original = suite.network.features_and_logits
    suite.network.features_and_logits = lambda x: calls.append(len(x)) or original(x)  # type: ignore[method-assign]
    suite.evaluate(from_tensor(images(400, seed=8)), 400)  # type: ignore[arg-type]
    assert calls == [64] * 6 + [16]  # batches of 64: one pass each, whatever the number of metrics
