"""DiffAugment's transforms against what they promise, ADA's controller against its update rule, and both inside
a training run (gradients reach G through them, a resumed run goes on with the same probability)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from conftest import tiny_images
from lightning import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger

from lightning_gans.augment import DiffAugment, colour, cutout, translation
from lightning_gans.data.toy import GaussianMixtureDataModule
from lightning_gans.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from lightning_gans.regularisers import Regularisation
from lightning_gans.testing import check_variant
from lightning_gans.variants.gan import GAN


def dots(n: int = 16, side: int = 28) -> torch.Tensor:
    """Images that are 0 everywhere but one pixel of value 1 at (row 10 + i % 5, column 12 - i % 4)."""
    x = torch.zeros(n, 1, side, side)
    for i in range(n):
        x[i, 0, 10 + i % 5, 12 - i % 4] = 1.0
    return x


def test_translation_moves_whole_pixels_by_at_most_an_eighth_of_the_side() -> None:
    x = dots()
    moved = translation(x, torch.Generator().manual_seed(0))
    shifts = set()
    for before, after in zip(x, moved):
        assert after.sum() == 1.0 and after.max() == 1.0  # moved exactly, not blurred; the dot stays inside
        (r0, c0), (r1, c1) = (torch.nonzero(before[0])[0].tolist(), torch.nonzero(after[0])[0].tolist())
        shifts.add((r1 - r0, c1 - c0))
    assert all(abs(dr) <= 4 and abs(dc) <= 4 for dr, dc in shifts)  # round(28 * 0.125) = 4
    assert len(shifts) > 3  # each sample draws its own shift


def test_translation_fills_what_comes_in_with_zeros() -> None:
    x = torch.ones(64, 1, 16, 16)
    moved = translation(x, torch.Generator().manual_seed(1))
    zeros = (moved == 0).flatten(1).sum(1)
    assert set(moved.unique().tolist()) <= {0.0, 1.0} and zeros.max() > 0
    assert zeros.max() <= 16 * 16 - 14 * 14  # at most 2 pixels of shift on each axis at 16 px


def test_cutout_zeroes_one_square_of_half_the_side() -> None:
    x = torch.ones(200, 1, 28, 28)
    cut = cutout(x, torch.Generator().manual_seed(2))
    zeros = (cut == 0).flatten(1).sum(1)
    assert zeros.max() == 14 * 14 and zeros.min() > 0  # whole squares inside, clipped squares at the edges
    for image in cut[:20, 0]:
        rows, columns = torch.nonzero(image == 0).unbind(1)
        height, width = rows.max() - rows.min() + 1, columns.max() - columns.min() + 1
        assert height * width == (image == 0).sum()  # a rectangle (a square cut by the border)


def test_colour_is_a_per_sample_affine_map_of_a_grey_image() -> None:
    x = torch.rand(8, 1, 6, 6) * 2 - 1
    changed = colour(x, torch.Generator().manual_seed(3))
    for before, after in zip(x.flatten(1), changed.flatten(1)):
        design = torch.stack([before, torch.ones_like(before)], dim=1)
        solution = torch.linalg.lstsq(design, after.unsqueeze(1)).solution
        assert torch.allclose(design @ solution, after.unsqueeze(1), atol=1e-5)
        assert 0.5 - 1e-5 <= solution[0].item() <= 1.5 + 1e-5  # contrast scale in [0.5, 1.5]
    grey = torch.rand(4, 3, 5, 5).mean(dim=1, keepdim=True).expand(4, 3, 5, 5)
    out = colour(grey.contiguous(), torch.Generator().manual_seed(4))
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])  # grey stays grey


def test_every_transform_passes_gradients_to_its_input() -> None:
    x = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    DiffAugment()(x, torch.Generator().manual_seed(5)).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_probability_zero_is_the_identity_and_one_always_changes() -> None:
    x = torch.rand(32, 1, 12, 12) * 2 - 1
    assert torch.equal(DiffAugment(["color", "cutout"], probability=0.0)(x, torch.Generator()), x)
    changed = DiffAugment(["cutout"], probability=1.0)(x, torch.Generator().manual_seed(0))
    assert all(not torch.equal(a, b) for a, b in zip(changed, x))
    half = DiffAugment(["cutout"], probability=0.5)(x, torch.Generator().manual_seed(0))
    kept = sum(torch.equal(a, b) for a, b in zip(half, x))
    assert 4 <= kept <= 28  # about half of 32


def test_ada_moves_p_by_images_seen_over_speed_towards_the_target() -> None:
    augment = DiffAugment(probability=0.0, ada_target=0.6, ada_interval=4, ada_speed_images=1_000)
    for _ in range(3):
        augment.observe(torch.ones(50))  # every real scored real: overfitting
    assert augment.p.item() == 0.0  # adjusted every 4th D step only
    augment.observe(torch.ones(50))
    assert augment.p.item() == pytest.approx(200 / 1_000)  # 4 steps x 50 images
    for _ in range(4):
        augment.observe(torch.tensor([1.0, -1.0] * 25))  # r_t = 0 < 0.6: less augmentation
    assert augment.p.item() == pytest.approx(0.0)
    for _ in range(8):
        augment.observe(-torch.ones(50))
    assert augment.p.item() == 0.0  # clamped at 0
    fixed = DiffAugment(probability=0.3)
    fixed.observe(torch.ones(50))
    assert fixed.p.item() == pytest.approx(0.3)


def test_bad_policies_and_probabilities_are_named() -> None:
    with pytest.raises(ValueError, match="choose one or more of color, translation, cutout"):
        DiffAugment(["colour"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"probability must be in \[0, 1\]"):
        DiffAugment(probability=1.5)
    with pytest.raises(ValueError, match="ada_target"):
        Regularisation(augment=["color"], ada_target=1.0)
    with pytest.raises(ValueError, match="need regularisation.augment"):
        Regularisation(ada_target=0.6)
    with pytest.raises(ValueError, match=r"images \(N, C, H, W\)"):
        DiffAugment()(torch.randn(4, 2))


def small_gan(regularisation: Regularisation) -> GAN:
    return GAN(
        DCGANGenerator(latent_dim=8, image_size=28, width=8),
        DCGANDiscriminator(image_size=28, width=8),
        regularisation=regularisation,
        ema_decay=0.9,
    )


def test_generator_gradients_flow_through_the_augmented_discriminator_input() -> None:
    model = small_gan(Regularisation(augment=["color", "translation", "cutout"]))
    fake = model.generator(torch.randn(4, 8))
    seen = model.discriminator_input(fake)
    assert not torch.equal(seen, fake)  # D sees augmented fakes...
    model.generator_loss(torch.zeros_like(fake), fake).backward()
    grads = [p.grad for p in model.generator.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)  # ...and G learns through them
    assert torch.equal(model.discriminator_input(fake.detach(), training=False), fake.detach())  # not in eval


def test_a_run_with_ada_logs_p_and_resumes_with_the_same_p(tmp_path: Path) -> None:
    def make() -> LightningModule:
        # a fast controller, so p moves within the few steps of the run
        return small_gan(Regularisation(augment=["color", "translation", "cutout"], augment_p=0.2, ada_target=0.6,
                                        ada_speed_images=64, r1_gamma=1.0, lazy_interval=2))  # fmt: skip

    # check_variant resumes from a checkpoint and compares every buffer (p and ADA's sums among them)
    check_variant(make, lambda: tiny_images(n=64, batch_size=8), tmp_path / "check", batches=4)
    model = make()
    trainer = Trainer(max_epochs=1, logger=CSVLogger(tmp_path, name="log"), log_every_n_steps=1,
                      enable_checkpointing=False, enable_progress_bar=False, limit_val_batches=0)  # fmt: skip
    trainer.fit(model, tiny_images(n=64, batch_size=8))
    logged = [row["train/augment_p"] for row in csv.DictReader(open(tmp_path / "log/version_0/metrics.csv"))
              if row.get("train/augment_p")]  # fmt: skip
    assert len(logged) == 8 and float(logged[-1]) == pytest.approx(model.augment.p.item())  # type: ignore[union-attr]
    assert model.augment.p.item() != pytest.approx(0.2)  # type: ignore[union-attr]
    assert {float(v) for v in logged} != {0.2}


def test_augmenting_points_is_refused_before_training() -> None:
    model = GAN(MLPGenerator(latent_dim=2, out_shape=(2,)), MLPDiscriminator(in_shape=(2,)),
                regularisation=Regularisation(augment=["translation"]))  # fmt: skip
    data = GaussianMixtureDataModule(num_train=16, batch_size=8)
    data.setup("fit")
    with pytest.raises(ValueError, match="leave augment empty"):
        model.check_batch(next(iter(data.train_dataloader())))
