"""Label- and encoder-based variants (cgan, acgan, infogan, sgan, autoencoder, vae, bigan): each trains a few
steps through the shared base, samples, reconstructs and round-trips a checkpoint; their losses and the
metrics that measure their bars are checked against independent formulas."""

from __future__ import annotations

import csv
import inspect
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO
from lightning.pytorch import LightningDataModule, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image
from torch import Tensor
from torch.utils.data import TensorDataset

from lightning_gans import registry
from lightning_gans.callbacks import LinearProbe, SampleGrid
from lightning_gans.cli import main
from lightning_gans.core import GANModule, GenerativeModule
from lightning_gans.data.base import GANDataModule
from lightning_gans.data.semi_supervised import SemiSupervisedDataModule, labelled_subset
from lightning_gans.metrics.conditional import ConditionalAccuracy, code_clustering, matched_accuracy
from lightning_gans.metrics.features import FeatureNetwork
from lightning_gans.variants.gan import GAN

NEW_VARIANTS = [
    name
    for name in registry.variants.names()
    if issubclass(registry.variants.load(name), GenerativeModule)
    and not issubclass(registry.variants.load(name), GAN)
    and name != "gan_cls"  # trains on captions, not labels: tests/test_gan_cls.py
]


class TinyImages(GANDataModule):
    """``n`` random 1x28x28 images with labels 0..9 in turn (train and val alike)."""

    def __init__(self, n: int = 80, batch_size: int = 8) -> None:
        super().__init__(batch_size, num_workers=0, seed=0)
        images = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.train_set = self.val_set = TensorDataset(images, torch.arange(n) % 10)


def data_for(name: str) -> GANDataModule:
    if name == "sgan":
        return SemiSupervisedDataModule(TinyImages(), labelled_per_class=2)
    return TinyImages()


def fit(model: GenerativeModule, data: LightningDataModule, root: Path | None = None, **overrides: object) -> Trainer:
    options: dict[str, object] = dict(
        accelerator="cpu", logger=False, enable_checkpointing=root is not None, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, max_epochs=1, limit_val_batches=2, log_every_n_steps=1,
        default_root_dir=root,
    )  # fmt: skip
    if root is not None:
        options["callbacks"] = [ModelCheckpoint(dirpath=root / "checkpoints", save_last=True)]
    options.update(overrides)
    run = Trainer(**options)  # type: ignore[arg-type]
    run.fit(model, data)
    return run


def test_the_registry_holds_the_new_variants() -> None:
    assert set(NEW_VARIANTS) == {"cgan", "acgan", "infogan", "sgan", "autoencoder", "vae", "bigan", "biggan"}


@pytest.mark.parametrize("name", NEW_VARIANTS)
def test_every_new_variant_trains_samples_and_round_trips_a_checkpoint(name: str, tmp_path: Path) -> None:
    seed_everything(0)
    model = registry.variants.create(name)
    assert isinstance(model, GenerativeModule)
    params = inspect.signature(type(model)).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), "no **kwargs sinks"
    before = {k: v.clone() for k, v in model.state_dict().items()}

    run = fit(model, data_for(name), tmp_path)
    logged = run.callback_metrics
    assert any(k.startswith("train/") for k in logged) and any(k.startswith("val/") for k in logged)
    assert all(torch.isfinite(v) for v in logged.values())
    assert model.generator_steps == (0 if name == "sgan" and model.supervised_only else 10)
    nets = ["generator"] + (["encoder"] if model.encoder is not None else [])
    nets += ["discriminator"] if isinstance(model, GANModule) else []
    for net in nets:  # every trained net moved
        assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items() if k.startswith(net + ".")), net

    samples = model.sample(5, seed=3)
    assert samples.shape == (5, 1, 28, 28) and samples.min() >= -1 and samples.max() <= 1
    assert torch.equal(samples, model.sample(5, seed=3))
    if model.encoder is not None:
        images = data_for(name).train_set.tensors[0][:4]  # type: ignore[union-attr]
        assert model.encode(images).shape == (4, model.latent_dim)
        assert model.reconstruct(images).shape == images.shape

    restored = type(model).load_from_checkpoint(tmp_path / "checkpoints/last.ckpt").eval()
    assert torch.allclose(restored.sample(5, seed=3), samples, atol=1e-6)


# -- conditioning through the base -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cgan", "acgan", "infogan"])
def test_conditional_variants_sample_the_label_asked_for(name: str) -> None:
    model = registry.variants.create(name)
    assert model.num_classes == 10
    z = torch.randn(4, model.latent_dim)
    one_class = model.generate(z, 3)
    assert torch.equal(one_class, model.generate(z, torch.tensor([3, 3, 3, 3])))
    assert not torch.allclose(one_class, model.generate(z, 4))  # the label changes the image
    labelled, labels = model.generate_labelled(torch.randn(12, model.latent_dim))
    assert labels is not None and labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert model.fixed_labels.tolist()[:11] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.9"):
        model.generate(z, 10)


def test_unconditional_variants_refuse_labels() -> None:
    model = registry.variants.create("dcgan")
    assert model.num_classes == 0
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(2, labels=1)
    assert model.generate_labelled(torch.randn(2, 100))[1] is None


def test_cgan_discriminator_sees_the_label_as_one_hot_planes() -> None:
    model = registry.variants.create("cgan")
    seen: list[Tensor] = []
    model.discriminator.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    images, labels = torch.zeros(3, 1, 28, 28), torch.tensor([0, 4, 9])
    model.judge(images, labels)
    planes = seen[0][:, 1:]
    assert seen[0].shape == (3, 11, 28, 28)
    assert torch.equal(planes[:, :, 5, 7], F.one_hot(labels, 10).float())  # the same one-hot at every pixel


class Fixed(torch.nn.Module):
    """A stand-in net that returns the same output whatever it is given."""

    def __init__(self, output: Tensor) -> None:
        super().__init__()
        self.output = output

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.output


def test_cgan_projection_discriminator_adds_the_class_embedding_product() -> None:
    model = registry.variants.create("cgan", conditioning="projection")
    assert model.label_embedding is not None
    images, labels = torch.randn(4, 1, 28, 28), torch.tensor([1, 1, 5, 5])
    phi = model.discriminator.net(images)
    expected = model.discriminator(images) + (model.label_embedding.weight[labels] * phi.sum((2, 3))).sum(1)
    assert torch.allclose(model.judge(images, labels), expected, atol=1e-5)
    _, d_opt = model.configure_optimizers()
    d_params = {id(p) for group in d_opt.param_groups for p in group["params"]}
    assert id(model.label_embedding.weight) in d_params  # trained with D
    fit(model, TinyImages(), max_steps=2, limit_val_batches=1)
    with pytest.raises(TypeError, match="one-output DCGANDiscriminator"):
        registry.variants.create("cgan", conditioning="projection", discriminator=Fixed(torch.zeros(1)))


def test_acgan_discriminator_heads_are_source_then_classes() -> None:
    out = torch.randn(6, 11)
    model = registry.variants.create("acgan", discriminator=Fixed(out))
    source, classes = model.source_and_class(torch.zeros(6, 1, 28, 28))
    assert torch.equal(source, out[:, 0]) and torch.equal(classes, out[:, 1:])
    with pytest.raises(ValueError, match=r"1 \+ 10 outputs"):
        registry.variants.create("acgan", discriminator=Fixed(torch.randn(6))).source_and_class(torch.zeros(6, 1))


def test_acgan_regularisation_augments_every_d_input_and_penalises_the_source_head() -> None:
    from lightning_gans.regularisers import Regularisation

    model = registry.variants.create(
        "acgan", regularisation=Regularisation(r1_gamma=1.0, augment=["translation", "cutout"], ada_target=0.6)
    )
    seen: list[Tensor] = []
    model.discriminator.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach().clone()))
    data = TinyImages(n=16)
    data.setup("fit")
    every_real = torch.stack([data.train_set[i][0] for i in range(16)])
    real = every_real[:8]
    model.train()
    assert not torch.equal(model.discriminator_input(real), real)  # p = 1 at the start: every image moved
    trainer = fit(model, data, max_steps=2, limit_val_batches=1)
    assert {"train/d_penalty", "train/augment_p"} <= set(trainer.logged_metrics)
    assert int(model.augment.sign_count) > 0  # ADA observed the real source logits
    seen_images = torch.cat(seen).flatten(1)
    assert len(seen_images) >= 16  # D saw real batches, in its step and in G's (besides the fakes)...
    assert torch.cdist(seen_images, every_real.flatten(1)).min() > 0  # ...but never one unaugmented real image

    # R1 differentiates the source logit only: a D whose class logits depend on the input but whose
    # source logit does not has no R1 at all.
    class ClassesOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(10, 784))

        def forward(self, images: Tensor) -> Tensor:
            classes = images.flatten(1) @ self.weight.t()
            return torch.cat([torch.zeros(len(images), 1) + 0 * self.weight.sum(), classes], 1)

    blind = registry.variants.create("acgan", discriminator=ClassesOnly(), regularisation=Regularisation(r1_gamma=1.0))
    penalty = blind.regularisation.penalty(blind.source_logit, real, real, None)
    assert penalty is not None and float(penalty.detach()) == 0.0
    whole = Regularisation(r1_gamma=1.0).penalty(lambda x: blind.discriminator(x).sum(1), real, real, None)
    assert whole is not None and float(whole.detach()) > 0


# -- InfoGAN -----------------------------------------------------------------------------------------------
def test_infogan_information_loss_is_the_codes_negative_log_likelihood() -> None:
    model = registry.variants.create("infogan", continuous_weight=0.5)
    assert model.latent_dim == 64 and model.code_dims == [62, 63]
    logits, means = torch.randn(5, 10), torch.randn(5, 2)
    codes, z = torch.randint(0, 10, (5,)), torch.randn(5, 64)
    expected = -torch.log_softmax(logits, 1)[torch.arange(5), codes].mean()
    gaussian = torch.distributions.Normal(means, 1.0).log_prob(z[:, 62:]).sum(1)  # unit-variance Q
    expected = expected + 0.5 * (-(gaussian + torch.log(torch.tensor(2 * torch.pi)))).mean()  # minus the constant
    assert model.information_loss(logits, means, codes, z).item() == pytest.approx(expected.item(), rel=1e-5)


def test_code_clustering_scores_real_images_clusters_against_their_classes() -> None:
    labels = torch.arange(1000) % 10
    renamed = (labels * 3 + 7) % 10  # a perfect clustering under other names
    perfect = {"cluster_accuracy": 1.0, "cluster_purity": 1.0, "nmi": 1.0, "ari": 1.0}
    assert code_clustering(renamed, labels, 10, 10) == pytest.approx(perfect)
    halved = labels // 2  # 5 clusters of 2 classes each: half right after matching, and half pure
    assert code_clustering(halved, labels, 10, 10)["cluster_accuracy"] == pytest.approx(0.5)
    assert code_clustering(halved, labels, 10, 10)["cluster_purity"] == pytest.approx(0.5)
    five = torch.arange(1000) % 5  # 5 classes, each split evenly over two pure codes (2k and 2k + 1)
    split = code_clustering(five * 2 + torch.arange(1000) // 5 % 2, five, 10, 10)
    assert split["cluster_purity"] == pytest.approx(1.0) and split["cluster_accuracy"] == pytest.approx(0.5)
    noise = torch.randint(0, 10, (1000,), generator=torch.Generator().manual_seed(0))
    scores = code_clustering(noise, labels, 10, 10)
    assert scores["cluster_accuracy"] < 0.2 and scores["nmi"] < 0.05 and abs(scores["ari"]) < 0.02
    with pytest.raises(ValueError, match="one code and one label"):
        code_clustering(noise[:5], labels, 10, 10)


def test_infogan_infers_a_code_per_real_image_in_eval_mode() -> None:
    model = registry.variants.create("infogan")
    model.train()
    images = torch.rand(6, 1, 28, 28) * 2 - 1
    codes = model.infer_codes(images)
    assert codes.shape == (6,) and codes.dtype == torch.long and int(codes.max()) < 10
    assert model.discriminator.training  # left as it was
    model.eval()
    assert torch.equal(codes, model.discriminate(images)[1].argmax(1))


def test_sample_vary_latent_sweeps_one_coordinate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "--config", str(REPO / "recipes/infogan_fashion_mnist.yaml"), "--trainer.logger", "false",
                 "--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "1",
                 "--trainer.limit_train_batches", "1",
                 "--trainer.limit_val_batches", "0"]) == 0  # fmt: skip
    out, ckpt = tmp_path / "code.png", str(tmp_path / "checkpoints/last.ckpt")
    assert main(["sample", "--ckpt", ckpt, "--vary_latent", "63",
                 "--rows", "10", "--steps", "5", "--out", str(out)]) == 0  # fmt: skip
    assert "sweeping latent coordinate 63" in capsys.readouterr().out
    width, height = Image.open(out).size
    assert (width, height) == (5 * 30 + 2, 10 * 30 + 2)  # 5 columns of 28 px plus 2 px padding, 10 rows
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt", ckpt, "--vary_latent", "64"])
    assert "outside 0..63" in capsys.readouterr().err


# -- semi-supervised GAN -----------------------------------------------------------------------------------
def test_labelled_subset_takes_k_per_class_seeded() -> None:
    labels = torch.arange(200) % 10
    chosen = labelled_subset(labels, 3, seed=1)
    assert torch.equal(torch.bincount(labels[chosen]), torch.full((10,), 3))
    assert torch.equal(chosen, labelled_subset(labels, 3, seed=1))
    assert not torch.equal(chosen, labelled_subset(labels, 3, seed=2))
    with pytest.raises(ValueError, match="fewer than labelled_per_class"):
        labelled_subset(labels, 21, seed=0)


def test_sgan_never_reads_the_unlabelled_labels() -> None:
    def trained(scramble: bool) -> dict[str, Tensor]:
        seed_everything(0)
        data = SemiSupervisedDataModule(TinyImages(), labelled_per_class=2)
        data.setup("fit")
        if scramble:  # the labels of the unlabelled split, everywhere but in the labelled subset
            images, labels = data.train_set.tensors  # type: ignore[union-attr]
            others = torch.ones(len(labels), dtype=torch.bool)
            others[data.labelled_indices] = False
            labels[others] = torch.randint(0, 10, (int(others.sum()),), generator=torch.Generator().manual_seed(1))
        model = registry.variants.create("sgan")
        fit(model, data, max_steps=3, limit_val_batches=0)
        return model.state_dict()

    plain, scrambled = trained(False), trained(True)
    assert all(torch.equal(v, scrambled[k]) for k, v in plain.items())


def test_sgan_supervised_only_is_the_baseline_and_leaves_g_alone() -> None:
    model = registry.variants.create("sgan", supervised_only=True)
    g_before = [p.clone() for p in model.generator.parameters()]
    fit(model, SemiSupervisedDataModule(TinyImages(), labelled_per_class=2), max_steps=3)
    assert model.generator_steps == 0 and model.discriminator_steps == 3
    assert all(torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))


def test_sgan_unsupervised_loss_is_the_k_plus_one_class_cross_entropy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Salimans et al.: D is a K+1-class classifier whose "generated" class has logit 0. The unsupervised loss is
    -log P(one of the K real classes | unlabelled x) - log P(generated | G(z)), written out here over K+1 classes."""
    from lightning_gans.variants import sgan

    noise = torch.Generator().manual_seed(0)
    real_logits = 3 * torch.randn(7, 10, generator=noise)
    fake_logits = 3 * torch.randn(5, 10, generator=noise) + 1  # other rows and another batch size than real's

    def k_plus_one(logits: Tensor) -> Tensor:  # the explicit K+1-class classifier
        return torch.cat([logits, torch.zeros(len(logits), 1)], 1)

    p_real_classes = torch.softmax(k_plus_one(real_logits), 1)[:, :10].sum(1)
    generated = torch.full((len(fake_logits),), 10)  # the index of the K+1-th class
    expected = -torch.log(p_real_classes).mean() + F.cross_entropy(k_plus_one(fake_logits), generated)
    assert torch.allclose(sgan.unsupervised_loss(real_logits, fake_logits), expected, atol=1e-5)

    # ... and it is what D is trained on: a training step's D loss goes through it, real logits first
    calls: list[tuple[torch.Size, torch.Size]] = []
    library_loss = sgan.unsupervised_loss

    def spy(real: Tensor, fake: Tensor) -> Tensor:
        calls.append((real.shape, fake.shape))
        return library_loss(real, fake)

    monkeypatch.setattr(sgan, "unsupervised_loss", spy)
    data = SemiSupervisedDataModule(TinyImages(batch_size=8), labelled_per_class=2)
    model = registry.variants.create("sgan")
    fit(model, data, max_steps=4, limit_val_batches=0)
    assert model.discriminator_steps >= 2 and calls == [(torch.Size([8, 10]), torch.Size([8, 10]))] * len(calls)
    assert len(calls) == model.discriminator_steps


def test_sgan_needs_the_semi_supervised_data_module() -> None:
    with pytest.raises(TypeError, match="semi_supervised"):
        fit(registry.variants.create("sgan"), TinyImages(), max_steps=1)


# -- autoencoders ------------------------------------------------------------------------------------------
def test_vae_elbo_terms_match_torch_distributions() -> None:
    from lightning_gans.variants.autoencoder import bernoulli_nll

    model = registry.variants.create("vae", latent_dim=4)
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    model.encoder = Fixed(torch.randn(3, 8))
    mean, log_var = model.posterior(images)
    recon, kl = model.elbo_terms(images, torch.Generator().manual_seed(0))
    q = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    prior = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    assert torch.allclose(kl, torch.distributions.kl_divergence(q, prior).sum(1), atol=1e-5)
    logits = torch.randn(3, 1, 28, 28)
    bernoulli = torch.distributions.Bernoulli(logits=logits)
    targets = (images + 1) / 2
    expected = -(targets * bernoulli.logits.sigmoid().log() + (1 - targets) * (-bernoulli.logits).sigmoid().log())
    assert torch.allclose(bernoulli_nll(logits, images), expected.flatten(1).sum(1), rtol=1e-5)
    assert recon.shape == (3,) and (recon > 0).all()


def test_vae_encodes_to_the_posterior_mean_and_samples_the_prior() -> None:
    model = registry.variants.create("vae", latent_dim=4)
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    model.eval()
    assert torch.equal(model.encode(images), model.posterior(images)[0])
    z = torch.randn(2, 4)
    assert torch.allclose(model.generate(z), torch.tanh(model.generator.net(z) / 2))


def test_autoencoder_latents_are_standardised_codes() -> None:
    model = registry.variants.create("autoencoder", latent_dim=4)
    fit(model, TinyImages(), max_steps=5)
    assert not torch.equal(model.code_std, torch.ones(4))  # the fitted Gaussian moved
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    model.eval()
    codes = model.encoder(images)
    assert torch.allclose(model.encode(images), (codes - model.code_mean) / model.code_std)
    decoded = torch.tanh(model.decoder.logits(codes) / 2)
    assert torch.allclose(model.reconstruct(images), decoded, atol=1e-5)  # generate(encode) = D(E)


def test_an_exported_autoencoder_samples_through_its_fitted_gaussian(tmp_path: Path) -> None:
    """The Gaussian fitted to the codes lives in the decoder, a registered net: the exported folder (built from
    config.json by registry name, not through the variant) samples what the trained model samples."""
    from lightning_gans.export import pretrained_from_module
    from lightning_gans.pretrained import from_pretrained

    model = registry.variants.create("autoencoder", latent_dim=4)
    fit(model, TinyImages(), max_steps=5)
    model.eval()
    hyper_parameters = {"_class_path": registry.variants.entry("autoencoder").class_path, "latent_dim": 4}
    pretrained_from_module(model, hyper_parameters).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["nets"]["generator"]["class_path"] == "bernoulli"
    assert config["nets"]["generator"]["init_args"]["latent_dim"] == 4
    torch.testing.assert_close(from_pretrained(tmp_path).sample(6, seed=2), model.sample(6, seed=2), rtol=0, atol=0)


def test_an_autoencoder_checkpoint_of_an_earlier_version_loads_its_gaussian() -> None:
    """Earlier versions kept code_mean and code_std as the variant's buffers; they load into the decoder."""
    model = registry.variants.create("autoencoder", latent_dim=4)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("generator.code_")}
    state["code_mean"], state["code_std"] = torch.full((4,), 0.5), torch.full((4,), 2.0)
    model.load_state_dict(state)
    assert torch.equal(model.code_mean, torch.full((4,), 0.5))
    assert torch.equal(model.decoder.code_std, torch.full((4,), 2.0))


# -- BiGAN -------------------------------------------------------------------------------------------------
def test_bigan_discriminator_judges_pairs_and_the_encoder_trains_with_g() -> None:
    model = registry.variants.create("bigan", latent_dim=8)
    g_opt, d_opt = model.configure_optimizers()
    g_side = {id(p) for group in g_opt.param_groups for p in group["params"]}
    assert g_side == {id(p) for p in [*model.generator.parameters(), *model.encoder.parameters()]}
    pairs: list[tuple[int, ...]] = []
    model.discriminator.register_forward_pre_hook(lambda _, args: pairs.append((args[0].shape[1], args[1].shape[1])))
    fit(model, TinyImages(), max_steps=1, limit_val_batches=0)
    assert pairs and set(pairs) == {(1, 8)}  # (image, latent) every time


# -- metrics of the bars -----------------------------------------------------------------------------------
class LabelIs(FeatureNetwork):
    """A stub classifier: the class of an image is the value of its first pixel (rounded)."""

    name, num_features, num_classes = "stub", 1, 10

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        cls = images.flatten(1)[:, 0].round().long()
        return cls[:, None].float(), F.one_hot(cls, 10).float() * 10

    def features(self, images: Tensor) -> Tensor:
        return self.features_and_logits(images)[0]

    def logits(self, images: Tensor) -> Tensor:
        return self.features_and_logits(images)[1]


def test_matched_accuracy_is_the_best_permutation() -> None:
    rng = np.random.default_rng(0)
    confusion = torch.from_numpy(rng.integers(0, 20, (5, 5)))
    brute = max(sum(int(confusion[i, p[i]]) for i in range(5)) for p in itertools.permutations(range(5)))
    accuracy, mapping = matched_accuracy(confusion)
    assert accuracy == pytest.approx(brute / int(confusion.sum()))
    assert sorted(mapping) == list(range(5))


def test_conditional_accuracy_counts_hits_and_matched_hits() -> None:
    metric = ConditionalAccuracy(LabelIs())
    labels = torch.arange(40) % 10
    produced = (labels + 3) % 10  # the generator makes class k + 3 for label k: always wrong, perfectly matched
    produced[:4] = labels[:4]  # except for the first four
    metric.update(produced.float().view(-1, 1, 1, 1).expand(-1, 1, 2, 2), labels)
    out = metric.compute()
    assert out["label_accuracy"].item() == pytest.approx(4 / 40)
    assert out["label_accuracy_matched"].item() == pytest.approx(36 / 40)
    assert out["label_mapping"].tolist() == [(k + 3) % 10 for k in range(10)]


def test_linear_probe_separates_separable_codes() -> None:
    from lightning_gans.callbacks.probe import linear_probe_accuracy

    labels = torch.arange(400) % 4
    codes = F.one_hot(labels, 4).float() * 3 + torch.randn(400, 4) * 0.1
    assert linear_probe_accuracy(codes[:300], labels[:300], codes[300:], labels[300:]) == 1.0
    noise = torch.randn(400, 4)
    assert linear_probe_accuracy(noise[:300], labels[:300], noise[300:], labels[300:]) < 0.5


def test_encoder_runs_log_a_linear_probe_and_reconstruction_grids(tmp_path: Path) -> None:
    model = registry.variants.create("autoencoder", latent_dim=4)
    probe, grid = LinearProbe(n_train=None), SampleGrid()
    fit(model, TinyImages(batch_size=32), callbacks=[probe, grid], default_root_dir=tmp_path)
    assert probe.last is not None and 0.0 <= probe.last <= 1.0
    recon = Image.open(tmp_path / "samples/recon_last.png")
    assert recon.size == (8 * 30 + 2, 8 * 30 + 2)  # 4 rows of 8 images, each under its reconstruction


# -- the command line --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cgan")
    # a CSV logger in place of the recipe's W&B: what the recipe logs lands in <root>/lightning_logs/version_0
    logger = json.dumps({"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(root)}})
    code = main(["fit", "--config", str(REPO / "recipes/cgan_fashion_mnist.yaml"), "--trainer.logger", logger,
                 "--trainer.default_root_dir", str(root), "--trainer.max_epochs", "1",
                 "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
                 "--trainer.check_val_every_n_epoch", "1"])  # fmt: skip
    assert code == 0
    return root


def test_cgan_recipe_logs_label_accuracy(cgan_run: Path) -> None:
    """The recipe's quality callback (metrics [..., labels]) logs val/label_accuracy at each validation run."""
    (metrics_file,) = cgan_run.glob("lightning_logs/version_*/metrics.csv")
    with metrics_file.open(newline="") as file:
        validations = [row for row in csv.DictReader(file) if row.get("val/label_accuracy")]
    assert len(validations) == 1  # the run validates once, at the end of its one epoch
    accuracy = float(validations[0]["val/label_accuracy"])
    matched = float(validations[0]["val/label_accuracy_matched"])
    assert 0.0 <= accuracy <= matched <= 1.0  # the identity is one of the matchings, so matching never loses
    state = torch.load(cgan_run / "checkpoints/last.ckpt", weights_only=False)
    assert state["hyper_parameters"]["_class_path"].endswith("ConditionalGAN")
    grid = Image.open(cgan_run / "samples/last.png")
    assert grid.size == (10 * 30 + 2, 10 * 30 + 2)  # 100 fixed samples, a column per class


def test_sample_label_and_evaluate_labels_on_a_conditional_checkpoint(
    cgan_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = str(cgan_run / "checkpoints/last.ckpt")
    assert main(["sample", "--ckpt", ckpt, "--label", "7", "--n", "16", "--out", str(tmp_path / "s.png")]) == 0
    assert "16 samples of class 7" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt", ckpt, "--label", "12"])
    assert "labels must lie in 0..9" in capsys.readouterr().err
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--ckpt", ckpt, "--metrics", "labels,classes", "--n_fake", "200", "--n_real", "200",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    results = report["results"]
    assert report["protocol"]["labels"] == "each of the 10 labels in turn"
    assert 0 <= results["label_accuracy"] <= results["label_accuracy_matched"] <= 1
    assert len(results["per_label_accuracy"]) == 10


def test_labels_metric_needs_a_conditional_generator() -> None:
    from lightning_gans.evaluate import evaluate_checkpoint

    with pytest.raises(ValueError, match="needs a conditional generator"):
        evaluate_checkpoint(registry.variants.create("dcgan"), TinyImages(), "labels", n_real=10, n_fake=10)


def test_evaluate_rebuilds_a_nested_data_module_and_passes_the_root_inward(tmp_path: Path) -> None:
    from lightning_gans.data.idx import FashionMNISTDataModule
    from lightning_gans.evaluate import build_datamodule

    inner = {"class_path": "lightning_gans.data.idx.FashionMNISTDataModule", "init_args": {"batch_size": 16}}
    spec = {"class_path": "semi_supervised", "init_args": {"labelled_per_class": 3, "data": inner}}
    built = build_datamodule(spec, None)
    assert isinstance(built, SemiSupervisedDataModule) and built.labelled_per_class == 3
    assert isinstance(built.data, FashionMNISTDataModule) and built.data.batch_size == 16
    rooted = build_datamodule(spec, str(tmp_path))
    assert isinstance(rooted, SemiSupervisedDataModule) and rooted.data.root == str(tmp_path)  # type: ignore[attr-defined]
