"""StyleGAN, lite (Karras et al. 2019/2020): the modulated convolution against its definition, W and its
truncation, style mixing in training and in `lightning-gans sample`, and path-length regularisation in a run
that resumes exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, run_cli, tiny_images
from PIL import Image

from lightning_gans import registry
from lightning_gans.nets.dcgan import DCGANGenerator
from lightning_gans.nets.stylegan import MappingNetwork, ModulatedConv2d, StyleGANGenerator, mix_styles
from lightning_gans.sampling import style_mixing_grid, truncated_latents, truncation_in_w
from lightning_gans.testing import check_variant
from lightning_gans.variants.stylegan import StyleGAN


def test_the_modulated_convolution_is_the_papers_per_sample_demodulated_weight() -> None:
    torch.manual_seed(0)
    conv = ModulatedConv2d(3, 5, 3, w_dim=4)
    x, w = torch.randn(2, 3, 6, 6), torch.randn(2, 4)
    styles = conv.affine(w)
    for i in range(2):  # StyleGAN2 eqs. 1-3, one sample at a time
        weight = conv.weight * conv.scale * styles[i][None, :, None, None]
        weight = weight / (weight.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        expected = F.conv2d(x[i : i + 1], weight, padding=1)
        torch.testing.assert_close(conv(x, w)[i : i + 1], expected, rtol=1e-4, atol=1e-5)


def test_styles_start_at_one_and_demodulation_keeps_unit_variance() -> None:
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 64, 3, w_dim=8)
    assert torch.equal(conv.affine(torch.zeros(1, 8)), torch.ones(1, 64))  # bias 1: unmodulated at first
    out = conv(torch.randn(16, 64, 8, 8), torch.randn(16, 8))
    assert 0.8 < float(out.detach()[:, :, 1:-1, 1:-1].std()) < 1.2  # unit-variance inputs stay unit variance


def test_the_mapping_network_keeps_w_at_unit_scale() -> None:
    # the leaky ReLU's gain once per layer: with it in the weights as well, w's rms grew sqrt(2)x per layer to ~4.3
    torch.manual_seed(0)
    w = MappingNetwork(64, 128, layers=4)(torch.randn(4096, 64))
    assert 0.7 < float(w.detach().square().mean().sqrt()) < 1.5


def test_w_avg_follows_the_mapped_w_in_training_only() -> None:
    generator = StyleGANGenerator(latent_dim=8, w_dim=8, w_avg_beta=0.5)
    z = torch.randn(32, 8)
    generator.eval()
    generator.styles(z)
    assert not generator.w_avg.any(), "sampling must not move the average"
    generator.train()
    w = generator.mapping(z).mean(dim=0)
    generator.styles(z)
    torch.testing.assert_close(generator.w_avg, 0.5 * w)


def test_truncation_in_w_draws_every_w_towards_the_average() -> None:
    torch.manual_seed(0)
    generator = StyleGANGenerator(latent_dim=8, w_dim=8).eval()
    generator.w_avg.normal_()
    z = torch.randn(4, 8)
    plain = generator(z)
    with torch.no_grad(), truncation_in_w(generator, 0.0):
        average = generator(z)  # psi = 0: every latent gives the image of w_avg
    assert torch.allclose(average, average[:1].expand_as(average)) and not torch.allclose(plain, average)
    with truncation_in_w(generator, 0.5):
        ws = generator.styles(z, generator.truncation_psi)
    torch.testing.assert_close(ws[:, 0], generator.w_avg + 0.5 * (generator.mapping(z) - generator.w_avg))
    assert generator.truncation_psi == 1.0, "the psi is restored after the block"
    with pytest.raises(ValueError, match="no W space to truncate in.*stylegan"):
        with truncation_in_w(DCGANGenerator(), 0.5):
            pass
    with pytest.raises(ValueError, match="0 <= psi <= 1"):
        truncated_latents(4, 8, 1.5, "w")


def test_style_mixing_takes_coarse_styles_from_one_latent_and_fine_from_the_other() -> None:
    first, second = torch.zeros(2, 6, 3), torch.ones(2, 6, 3)
    assert mix_styles(first, second, 2)[:, :, 0].tolist() == [[0, 0, 1, 1, 1, 1]] * 2
    model = StyleGAN(StyleGANGenerator(latent_dim=8, w_dim=8), style_mixing=1.0)
    ws = model.mixed_styles(3)
    changes = (ws[:, 1:] != ws[:, :-1]).any(dim=2).any(dim=0)  # a crossover is where the styles change
    assert int(changes.sum()) == 1, "one crossover, inside the layers"
    assert not StyleGAN(StyleGANGenerator(latent_dim=8, w_dim=8), style_mixing=0.0).mixed_styles(3).diff(dim=1).any()


def affines_by_style_index(generator: StyleGANGenerator) -> list[tuple[int, torch.nn.Module]]:
    """(which w a layer takes, its affine map): layer i takes w_i, the toRGB of resolution l takes w_{2l+1}."""
    layers = [(i, layer.conv.affine) for i, layer in enumerate(generator.layers)]
    return layers + [(2 * level + 1, to_image.conv.affine) for level, to_image in enumerate(generator.to_image)]


@pytest.mark.parametrize("deaf", ["fine", "coarse"])
def test_the_style_mixing_grid_crosses_row_and_column_styles(deaf: str) -> None:
    """Made deaf to the fine styles (their affine maps ignore w), every cell is its row's image; deaf to the
    coarse ones, its column's."""
    torch.manual_seed(0)
    generator = StyleGANGenerator(latent_dim=8, w_dim=8)
    crossover = 3
    with torch.no_grad():
        for index, affine in affines_by_style_index(generator):
            if (index >= crossover) == (deaf == "fine"):
                affine.weight.zero_()
    images, per_row = style_mixing_grid(generator, rows=2, columns=3, crossover=crossover)
    assert images.shape == (12, 1, 28, 28) and per_row == 4
    grid = images.view(3, 4, 1, 28, 28)
    assert torch.equal(grid[0, 0], torch.ones_like(grid[0, 0]))  # the blank corner
    rows, columns, cells = grid[1:, :1], grid[:1, 1:], grid[1:, 1:]
    expected = rows.expand_as(cells) if deaf == "fine" else columns.expand_as(cells)
    torch.testing.assert_close(cells, expected, rtol=0, atol=1e-5)
    assert not torch.allclose(grid[1, 1], grid[2, 2]), "the seeds differ"


def test_the_style_mixing_grid_refuses_what_it_cannot_draw() -> None:
    generator = StyleGANGenerator(latent_dim=8, w_dim=8)
    with pytest.raises(ValueError, match="crossover layer must lie in 1..5"):
        style_mixing_grid(generator, 2, 3, crossover=6)
    with pytest.raises(ValueError, match="style-based generator"):
        style_mixing_grid(DCGANGenerator(), 2, 3)


def test_stylegan_refuses_a_generator_without_w() -> None:
    with pytest.raises(TypeError, match="must be a StyleGANGenerator"):
        registry.variants.create("stylegan", generator="dcgan")
    with pytest.raises(ValueError, match="style_mixing is a probability"):
        StyleGAN(style_mixing=1.5)


def test_path_length_regularisation_trains_and_resumes_exactly(tmp_path: Path) -> None:
    def make() -> StyleGAN:
        generator = StyleGANGenerator(latent_dim=16, w_dim=16, mapping_layers=2, widths=[16, 8, 8])
        return StyleGAN(generator, path_length_weight=2.0, path_length_interval=2)

    check_variant(make, lambda: tiny_images(n=32, batch_size=8), tmp_path, batches=3)
    model = make()
    for _ in range(2):
        penalty = model.path_length_penalty(4)
        assert torch.isfinite(penalty) and penalty > 0
    assert 0 < float(model.path_length_mean) < 1, "the mean moves 1 % of the way to the batch's lengths"
    penalty.backward()
    assert model.generator.mapping.layers[0].weight.grad.abs().sum() > 0, "the penalty shapes the mapping too"


def test_sample_writes_a_style_mixing_grid_and_truncates_in_w(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_cli(["fit", "--config", str(REPO / "recipes/stylegan_fashion_mnist.yaml"),
                       "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path),
                       "--trainer.max_steps", "4", "--trainer.limit_val_batches", "0"], capsys)  # fmt: skip
    assert code == 0
    ckpt = str(tmp_path / "checkpoints/last.ckpt")
    code, out = run_cli(["sample", "--ckpt", ckpt, "--style_mixing", "--rows", "3", "--steps", "5",
                         "--out", str(tmp_path / "mix.png")], capsys)  # fmt: skip
    assert code == 0 and "style-mixing grid: 3 rows" in out
    assert Image.open(tmp_path / "mix.png").size == (6 * 28 + 7 * 2, 4 * 28 + 5 * 2)  # 6 x 4 cells, padding 2
    code, out = run_cli(["sample", "--ckpt", ckpt, "--n", "4", "--truncation", "0.5", "--truncation_mode", "w",
                         "--out", str(tmp_path / "w.png")], capsys)  # fmt: skip
    assert code == 0 and "truncation 0.5 (w)" in out
    code, out = run_cli(["sample", "--ckpt", ckpt, "--style_mixing", "--truncation", "0.5"], capsys)
    assert code == 2 and "use --truncation_mode w" in out


@pytest.mark.parametrize("size", [28, 32, 64])
def test_the_generator_builds_the_sizes_it_claims(size: int) -> None:
    generator = StyleGANGenerator(latent_dim=8, w_dim=8, channels=3, image_size=size).eval()
    assert generator(torch.randn(2, 8)).shape == (2, 3, size, size)
    assert generator.num_ws == 2 * len(generator.to_image)
