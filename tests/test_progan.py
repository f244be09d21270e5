"""ProGAN (Karras et al. 2018): the growth schedule, the fade-in's continuity, the paper's layers, and a run that
grows through every resolution and resumes exactly from a checkpoint taken in the middle of a fade-in."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import tiny_images
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger

from lightning_gans import registry
from lightning_gans.checkpoints import read_checkpoint
from lightning_gans.nets.progan import (
    EqualizedConv2d,
    ProGANDiscriminator,
    ProGANGenerator,
    minibatch_stddev,
    pixel_norm,
    set_growth,
)
from lightning_gans.testing import check_discriminator, check_generator, check_variant
from lightning_gans.variants.progan import ProGAN, growth_at


def test_the_schedule_stabilises_then_fades_each_new_resolution_in() -> None:
    # 10 images at the first resolution, then per resolution 4 fading and 10 stable; 2 doublings
    expected = {0: (0, 1.0), 9: (0, 1.0), 10: (1, 0.0), 11: (1, 0.25), 13: (1, 0.75), 14: (1, 1.0), 23: (1, 1.0),
                24: (2, 0.0), 26: (2, 0.5), 28: (2, 1.0), 37: (2, 1.0), 38: (2, 1.0), 10**6: (2, 1.0)}  # fmt: skip
    assert {seen: growth_at(seen, 2, 10, 4) for seen in expected} == expected
    assert growth_at(10, 2, 10, 0) == (1, 1.0)  # no fade: the new block is switched on at once


@pytest.mark.parametrize("image_size", [28, 32])
def test_a_fade_in_starts_exactly_where_the_previous_resolution_ended(image_size: int) -> None:
    torch.manual_seed(0)
    g, d = ProGANGenerator(image_size=image_size), ProGANDiscriminator(image_size=image_size)
    z, images = torch.randn(8, 128), torch.rand(8, 1, image_size, image_size) * 2 - 1
    for level in range(1, g.max_level + 1):
        set_growth(level - 1, 1.0, g, d)
        before = g(z), d(images)
        set_growth(level, 0.0, g, d)
        assert torch.allclose(g(z), before[0], atol=1e-6) and torch.allclose(d(images), before[1], atol=1e-5)
        set_growth(level, 0.5, g, d)
        assert not torch.allclose(g(z), before[0], atol=1e-3)
    set_growth(0, 1.0, g)  # at the first resolution the image is the start x start one, upsampled to full size
    coarse = g(z)
    assert coarse.shape[-1] == image_size
    assert torch.equal(coarse, coarse[..., :: 2**g.max_level, :: 2**g.max_level].repeat_interleave(
        2**g.max_level, -1).repeat_interleave(2**g.max_level, -2))  # fmt: skip
    with pytest.raises(ValueError, match="level must lie in"):
        set_growth(g.max_level + 1, 1.0, g)


@pytest.mark.parametrize(("level", "alpha"), [(0, 1.0), (1, 0.0), (1, 0.5), (1, 1.0), (2, 0.3)])
def test_every_stage_of_growth_keeps_the_net_contracts(level: int, alpha: float) -> None:
    """Including exactly which layers a stage leaves unused (the kit checks ``unused_parameters()`` both ways)."""
    g, d = ProGANGenerator(), ProGANDiscriminator()
    set_growth(level, alpha, g, d)
    check_generator(g, batch_size=4)
    check_discriminator(d, torch.rand(4, 1, 28, 28) * 2 - 1)
    assert ("to_image.0.weight" in g.unused_parameters()) == (level > 1 or (level == 1 and alpha == 1.0))


def test_the_papers_layers() -> None:
    conv = EqualizedConv2d(16, 8, 3, padding=1)  # weights N(0, 1), He's constant applied at run time
    assert abs(float(conv.weight.detach().std()) - 1.0) < 0.1 and conv.scale == pytest.approx((2 / (16 * 9)) ** 0.5)
    x = torch.randn(4, 16, 5, 5) * 7
    assert torch.allclose(pixel_norm(x).square().mean(dim=1), torch.ones(4, 5, 5), atol=1e-4)
    # minibatch stddev, 8 samples in groups of 4: sample i shares its group with i + 2, i + 4, ... (mod 8)
    h = torch.randn(8, 3, 2, 2)
    out = minibatch_stddev(h, group_size=4)
    assert out.shape == (8, 4, 2, 2)
    for i in range(8):
        group = h[i % 2 :: 2]  # the 4 samples of sample i's group
        expected = group.std(dim=0, unbiased=False).mean()
        assert torch.allclose(out[i, 3], expected.expand(2, 2), atol=1e-4)
    with pytest.raises(ValueError, match="grow by doubling"):
        ProGANGenerator(image_size=24)


def test_progan_grows_through_every_resolution_and_saves_a_grid_of_each(tmp_path: Path) -> None:
    model = ProGAN(images_per_stage=16, fade_images=16)  # 12 batches of 8 (24 optimiser steps): 96 images
    trainer = Trainer(accelerator="cpu", max_steps=24, logger=CSVLogger(tmp_path), log_every_n_steps=1,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      limit_val_batches=0, default_root_dir=tmp_path)  # fmt: skip
    trainer.fit(model, tiny_images(n=96, batch_size=8))
    assert int(model.images_seen) == 96 and model.growth() == (2, 1.0)
    assert {p.name for p in (tmp_path / "samples").glob("resolution=*_last.png")} == {
        "resolution=7_last.png", "resolution=14_last.png"}  # fmt: skip
    assert trainer.logged_metrics["train/resolution"] == 28.0 and trainer.logged_metrics["train/fade_alpha"] == 1.0


def test_a_checkpoint_taken_in_the_middle_of_a_fade_in_resumes_exactly(tmp_path: Path) -> None:
    # 3 batches of 8 a epoch: the first epoch ends with 24 images seen, half-way through the 14 px fade-in
    def make() -> ProGAN:
        return ProGAN(images_per_stage=8, fade_images=32)

    check_variant(make, lambda: tiny_images(n=80, batch_size=8), tmp_path, batches=3)
    halfway = read_checkpoint(tmp_path / "first/checkpoints/last.ckpt")
    assert int(halfway["state_dict"]["images_seen"]) == 24
    restored = make()
    restored.load_state_dict(halfway["state_dict"])  # loading restores the growth, for sampling too
    assert restored.growth() == (1, 0.5)
    assert (restored.generator.level, restored.generator.alpha) == (1, 0.5)
    assert restored.generator_ema is not None and restored.generator_ema.module.level == 1


def test_progan_refuses_nets_it_cannot_grow() -> None:
    with pytest.raises(TypeError, match="progan grows its nets"):
        registry.variants.create("progan", generator="dcgan")
    with pytest.raises(TypeError, match="same image size"):
        ProGAN(ProGANGenerator(image_size=28), ProGANDiscriminator(image_size=56))
