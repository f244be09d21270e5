"""BigGAN, lite (Brock et al. 2019): hierarchical latents, class-conditional batch norm, the projection
discriminator, spectral norm everywhere and the orthogonal regulariser."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import tiny_images
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from lightning_gans import registry
from lightning_gans.nets.biggan import BigGANDiscriminator, BigGANGenerator, ConditionalBatchNorm2d
from lightning_gans.nets.dcgan import DCGANDiscriminator
from lightning_gans.variants.biggan import BigGAN, orthogonal_penalty


def test_every_chunk_of_the_latent_reaches_the_image() -> None:
    generator = BigGANGenerator(latent_dim=30, image_size=28)  # 7, 14, 28 px: three chunks of 10
    z = torch.randn(4, 30, requires_grad=True)
    generator(z, torch.tensor([1, 2, 3, 4])).sum().backward()
    assert z.grad is not None
    assert all(chunk.abs().sum() > 0 for chunk in z.grad.split(10, dim=1))
    with pytest.raises(ValueError, match="does not split into 3 equal chunks"):
        BigGANGenerator(latent_dim=100)


def test_the_label_sets_the_gain_and_bias_of_every_batch_norm() -> None:
    torch.manual_seed(0)
    norm = ConditionalBatchNorm2d(4, condition_dim=3).eval()
    x, condition = torch.randn(2, 4, 5, 5), torch.randn(2, 3)
    gain, bias = 1 + norm.gain(condition), norm.bias(condition)
    expected = norm.norm(x) * gain[:, :, None, None] + bias[:, :, None, None]
    torch.testing.assert_close(norm(x, condition), expected)
    generator = BigGANGenerator()
    z = torch.randn(1, 120).expand(4, -1)
    same_noise = generator(z, torch.tensor([0, 7, 0, 7]))
    assert not torch.allclose(same_noise[0], same_noise[1]), "the class changes the image of one latent"


def test_the_projection_adds_the_class_embeddings_inner_product_with_phi() -> None:
    torch.manual_seed(0)
    discriminator = BigGANDiscriminator().eval()
    x, labels = torch.rand(3, 1, 28, 28) * 2 - 1, torch.tensor([0, 3, 9])
    h = x
    for block in discriminator.blocks:
        h = block(h)
    phi = torch.relu(h).sum(dim=(2, 3))
    assert discriminator.embedding is not None
    projection = (discriminator.embedding(labels) * phi).sum(dim=1)
    torch.testing.assert_close(discriminator(x, labels) - discriminator(x), projection, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="unconditional"):
        BigGANDiscriminator(num_classes=0)(x, labels)


@pytest.mark.parametrize("net", [BigGANGenerator, BigGANDiscriminator])
def test_every_weight_layer_is_spectrally_normalised(net: type[nn.Module]) -> None:
    torch.manual_seed(0)
    module = net()
    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    module.train()
    for layer in layers:
        for _ in range(30):  # in train mode every read of the weight runs one power iteration
            weight = layer.weight
        sigma = torch.linalg.matrix_norm(weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1) < 0.05, f"{layer}: largest singular value {float(sigma):.3f}"


def test_the_orthogonal_penalty_is_zero_for_orthogonal_filters_only() -> None:
    net = nn.Sequential(nn.Linear(6, 4), nn.Conv2d(2, 3, 3))
    for layer in net:
        nn.init.orthogonal_(layer.weight)
    assert float(orthogonal_penalty(net).detach()) < 1e-5  # float32 rounding of ||W^T W||^2 - sum ||w_i||^4
    with torch.no_grad():
        net[0].weight[1] = net[0].weight[0] * 2  # two parallel filters
    rows = net[0].weight.detach()
    gram = rows @ rows.T
    expected = (gram * (1 - torch.eye(4))).square().sum()
    torch.testing.assert_close(orthogonal_penalty(net), expected, rtol=1e-4, atol=1e-4)


def test_biggan_trains_with_the_orthogonal_penalty_on_g_only(tmp_path: Path) -> None:
    model = BigGAN(
        generator=BigGANGenerator(latent_dim=30, widths=[16, 8, 8]),
        discriminator=BigGANDiscriminator(widths=[16, 8, 8]),
    )
    before = {n: p.detach().clone() for n, p in model.discriminator.named_parameters()}
    trainer = Trainer(accelerator="cpu", max_steps=4, logger=CSVLogger(tmp_path), log_every_n_steps=1,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      limit_val_batches=0, default_root_dir=tmp_path)  # fmt: skip
    trainer.fit(model, tiny_images(n=16, batch_size=8))
    assert model.generator_steps == 2 and float(trainer.logged_metrics["train/g_orthogonal_penalty"]) > 0
    assert model.discriminator_takes_labels and model.label_embedding is None
    # the EMA averages the weights but takes the trained net's power-iteration vectors: averaged unit vectors
    # shrink, and eval-mode spectral norm would then overscale the EMA's weights
    assert model.generator_ema is not None
    trained, averaged = dict(model.generator.named_buffers()), dict(model.generator_ema.module.named_buffers())
    vectors = [name for name in trained if name.endswith(("._u", "._v"))]
    assert vectors and all(torch.equal(trained[name], averaged[name]) for name in vectors)
    assert any(not torch.equal(before[n], p) for n, p in model.discriminator.named_parameters())


def test_cgan_projection_takes_a_discriminator_that_projects_itself() -> None:
    model = registry.variants.create("cgan", conditioning="projection", discriminator="biggan")
    assert model.discriminator_takes_labels
    with pytest.raises(ValueError, match="discriminator takes 5 classes"):
        BigGAN(discriminator=BigGANDiscriminator(num_classes=5))
    assert BigGAN(discriminator=DCGANDiscriminator()).label_embedding is not None  # projected by the variant


@pytest.mark.parametrize("size", [28, 32, 64])
def test_the_nets_build_the_sizes_they_claim(size: int) -> None:
    generator = BigGANGenerator(latent_dim=120, channels=3, image_size=size)
    images = generator(torch.randn(4, 120), torch.arange(4))
    assert images.shape == (4, 3, size, size)
    assert BigGANDiscriminator(channels=3, image_size=size)(images, torch.arange(4)).shape == (4,)
