"""EBGAN (Zhao et al. 2017): auto-encoder energies, the margin loss and the pulling-away term."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import tiny_images
from torch import nn

from lightning_gans import registry
from lightning_gans.data.toy import GaussianMixtureDataModule
from lightning_gans.losses.energy import EnergyMarginLoss
from lightning_gans.nets.ebgan import ConvAutoencoderDiscriminator, MLPAutoencoderDiscriminator
from lightning_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lightning_gans.testing import check_variant
from lightning_gans.variants.ebgan import EBGAN, pulling_away


@pytest.mark.parametrize(
    "net", [ConvAutoencoderDiscriminator(width=8, code_dim=5), MLPAutoencoderDiscriminator(hidden=(16,), code_dim=5)]
)
def test_the_energy_is_the_mean_squared_reconstruction_error(net: nn.Module) -> None:
    torch.manual_seed(0)
    net.eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    codes, energies = net.codes_and_energy(x)
    assert codes.shape == (3, 5)
    reconstruction = net.decoder(net.encoder(x))
    expected = torch.stack([((r - s) ** 2).mean() for r, s in zip(reconstruction, x)])
    torch.testing.assert_close(energies, expected)
    torch.testing.assert_close(net(x), energies)
    assert (energies > 0).all()


def test_the_margin_loss_stops_pushing_fakes_at_the_margin() -> None:
    loss = EnergyMarginLoss(margin=1.0)
    real = torch.tensor([0.1, 0.3])
    fake = torch.tensor([0.25, 2.0], requires_grad=True)
    d_loss = loss.d_loss(real, fake)
    torch.testing.assert_close(d_loss, torch.tensor(0.2 + (0.75 + 0.0) / 2))
    d_loss.backward()
    assert fake.grad is not None
    assert fake.grad.tolist() == [-0.5, 0.0], "a fake above the margin gives D no gradient"
    torch.testing.assert_close(loss.g_loss(None, fake), torch.tensor(1.125))
    assert loss.scores(real, fake)["train/d_real"] == pytest.approx(0.2), "scores report mean energies"
    with pytest.raises(ValueError, match="margin must be > 0"):
        EnergyMarginLoss(margin=0)


def test_the_pulling_away_term_is_the_mean_squared_cosine_of_distinct_pairs() -> None:
    torch.testing.assert_close(pulling_away(torch.eye(4)), torch.tensor(0.0))
    torch.testing.assert_close(
        pulling_away(torch.ones(4, 3) * torch.tensor([[1.0], [2.0], [3.0], [4.0]])), torch.tensor(1.0)
    )
    codes = torch.randn(6, 5)
    brute = sum(
        (torch.dot(codes[i], codes[j]) / (codes[i].norm() * codes[j].norm())) ** 2
        for i in range(6)
        for j in range(6)
        if i != j
    ) / (6 * 5)
    torch.testing.assert_close(pulling_away(codes), brute)
    with pytest.raises(ValueError, match="at least 2 samples"):
        pulling_away(codes[:1])


def test_collapsed_codes_cost_the_generator_more_than_spread_ones() -> None:
    """The term's purpose: a batch whose codes all point one way pays lambda_PT, an orthogonal batch nothing."""
    torch.manual_seed(0)
    spread, collapsed = torch.randn(64, 64), torch.randn(1, 64).expand(64, -1) + 0.01 * torch.randn(64, 64)
    assert pulling_away(collapsed) > 0.99 and pulling_away(spread) < 0.05


def test_ebgan_needs_codes_for_the_pulling_away_term() -> None:
    with pytest.raises(ValueError, match="has no codes_and_energy.*'autoencoder', 'mlp_autoencoder'"):
        EBGAN(discriminator=MLPDiscriminator())
    model = EBGAN(discriminator=MLPDiscriminator(), pulling_away_weight=0)  # plain margin loss on any D
    assert model.pulling_away_weight == 0
    with pytest.raises(ValueError, match="pulling_away_weight must be >= 0"):
        EBGAN(pulling_away_weight=-1)


def test_registered_names_build_the_papers_parts() -> None:
    model = registry.variants.create("ebgan")
    assert isinstance(model.discriminator, ConvAutoencoderDiscriminator)
    assert isinstance(model.loss, EnergyMarginLoss) and model.pulling_away_weight == 0.1
    assert isinstance(registry.discriminators.create("mlp_autoencoder"), MLPAutoencoderDiscriminator)
    assert isinstance(registry.losses.create("energy_margin", margin=2.0), EnergyMarginLoss)


def test_ebgan_pt_trains_lowers_real_energy_and_resumes_exactly(tmp_path: Path) -> None:
    def make() -> EBGAN:
        return EBGAN(discriminator=ConvAutoencoderDiscriminator(width=8, code_dim=8), ema_decay=0.9)

    check_variant(make, lambda: tiny_images(n=32, batch_size=8), tmp_path, batches=3)


def test_on_a_mixture_d_learns_low_energy_on_data_and_g_moves_towards_it() -> None:
    """A few hundred steps on the ring: the energy of data falls below that of points off the ring, and the generator's
    samples have lower energy than the noise they started from."""
    from lightning.pytorch import Trainer, seed_everything

    seed_everything(0, verbose=False)
    generator = MLPGenerator(latent_dim=2, out_shape=(2,), hidden=(64, 64), output_activation="none")
    model = EBGAN(generator, MLPAutoencoderDiscriminator(in_shape=(2,), hidden=(64, 64), code_dim=2),
                  EnergyMarginLoss(margin=1.0))  # fmt: skip
    data = GaussianMixtureDataModule(mixture="ring", num_train=4096, num_val=256, batch_size=256, seed=0)
    before = model.sample(512, seed=1)
    Trainer(accelerator="cpu", max_steps=600, max_epochs=-1, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0).fit(model, data)  # fmt: skip
    real, _ = data.mixture.sample(512, torch.Generator().manual_seed(2))
    model.discriminator.eval()
    with torch.no_grad():
        off_ring = model.discriminator(real * 0.3)  # the same angles, far inside the ring
        on_ring = model.discriminator(real)
        assert on_ring.mean() < 0.5 * off_ring.mean()
        after = model.sample(512, seed=1)
        ring_distance = lambda x: (x.norm(dim=1) - 1).abs().mean()  # noqa: E731
        assert ring_distance(after) < 0.5 * ring_distance(before)
