"""GAN-CLS/GAN-INT text-to-image (Reed et al. 2016): the text encoder kind, the text-conditional nets, the
matching-aware discriminator step, GAN-INT, sampling from captions and ``sample --text``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import REPO, run_cli, tiny_captioned
from PIL import Image

from lightning_gans import registry
from lightning_gans.nets.text import TextDCGANDiscriminator, TextDCGANGenerator
from lightning_gans.testing import check_variant
from lightning_gans.text import TextEncoder, WordEncoder, words_of
from lightning_gans.variants.gan_cls import GANCLS


def test_words_are_hashed_stably_and_padded() -> None:
    encoder = WordEncoder(buckets=1000)
    assert words_of("A dark-toned T-shirt, isn't it?") == ["a", "dark-toned", "t-shirt", "isn't", "it"]
    ids = encoder.token_ids(["a dark pullover", "pullover", ""])
    assert ids.shape == (3, 3) and ids[1, 1:].eq(0).all() and ids[2].eq(0).all()
    assert ids[0, 2] == ids[1, 0], "one word, one bucket, whatever its place"
    assert ids.tolist() == WordEncoder(buckets=1000).token_ids(["a dark pullover", "pullover", ""]).tolist()
    with pytest.raises(TypeError, match="not one string"):
        encoder(["ok"] and "a string")  # type: ignore[arg-type]


def test_the_word_encoder_tells_captions_apart_only_by_their_words() -> None:
    torch.manual_seed(0)
    encoder = WordEncoder().eval()
    with torch.no_grad():
        same, punctuated, other = encoder(["a dark pullover", "A dark pullover.", "a light pullover"])
    torch.testing.assert_close(same, punctuated)
    assert not torch.allclose(same, other)


def test_text_encoders_are_a_registry_kind() -> None:
    assert "words" in registry.text_encoders.names()
    assert isinstance(registry.text_encoders.create("words", embedding_dim=16), TextEncoder)
    sized = {"init_args": {"text_dim": 16}}
    encoder = {"class_path": "words", "init_args": {"embedding_dim": 16}}
    model = registry.variants.create("gan_cls", text_encoder=encoder,
                                     generator={"class_path": "text_dcgan", **sized},
                                     discriminator={"class_path": "text_dcgan", **sized})  # fmt: skip
    assert model.text_encoder.embedding_dim == 16


def test_mismatched_embedding_sizes_are_refused_with_the_sizes() -> None:
    with pytest.raises(ValueError, match="embeddings of size 128 but the text encoder .* gives 32"):
        GANCLS(text_encoder=WordEncoder(embedding_dim=32))


def test_the_discriminator_reads_the_caption() -> None:
    torch.manual_seed(0)
    discriminator = TextDCGANDiscriminator(width=8, text_dim=4).eval()
    image = torch.rand(1, 1, 28, 28).expand(2, -1, -1, -1)
    scores = discriminator(image, torch.randn(2, 4))
    assert scores.shape == (2,) and scores[0] != scores[1]
    generator = TextDCGANGenerator(latent_dim=4, text_dim=4, width=8).eval()
    z = torch.randn(1, 4).expand(2, -1)
    made = generator(z, torch.randn(2, 4))
    assert made.shape == (2, 1, 28, 28) and not torch.equal(made[0], made[1])


def small() -> GANCLS:
    encoder = WordEncoder(embedding_dim=16, buckets=64, word_dim=8)
    return GANCLS(TextDCGANGenerator(latent_dim=8, text_dim=16, width=8), TextDCGANDiscriminator(width=8, text_dim=16),
                  encoder, ema_decay=0.9, n_grid_samples=6)  # fmt: skip


def test_gan_cls_trains_validates_samples_and_resumes_exactly(tmp_path: Path) -> None:
    check_variant(small, lambda: tiny_captioned(n=32, batch_size=8), tmp_path, batches=3)


def small_stackgan() -> GANCLS:
    encoder = WordEncoder(embedding_dim=16, buckets=64, word_dim=8)
    generator = TextDCGANGenerator(latent_dim=8, text_dim=16, projected_dim=4, width=8, conditioning_augmentation=True)
    return GANCLS(generator, TextDCGANDiscriminator(width=8, text_dim=16), encoder, ema_decay=0.9, n_grid_samples=6)


def test_conditioning_augmentation_samples_a_gaussian_of_the_caption_that_the_latent_seeds(tmp_path: Path) -> None:
    generator = TextDCGANGenerator(latent_dim=8, text_dim=16, projected_dim=4, width=8, conditioning_augmentation=True)
    assert generator.latent_dim == 8 + 4  # (z, eps): sampling stays a function of the latent
    generator.eval()
    text, z = torch.randn(1, 16).expand(3, -1), torch.randn(1, 12).expand(3, -1).clone()
    z[1, 8:] += 1.0  # another eps, the same z
    made = generator(z, text)
    assert torch.equal(made[0], made[2]) and not torch.equal(made[0], made[1])
    # KL(N(mu, sigma^2) || N(0, I)) is 0 only at mu = 0, sigma = 1, and the closed form of a 1-D case holds
    with torch.no_grad():
        generator.compress.weight.zero_(), generator.compress.bias.zero_()
        assert generator.conditioning_kl(text).item() == 0.0
        generator.compress.bias[:4] = 2.0  # mu = 2, log sigma^2 = 0: KL = 4 * 2^2 / 2
        assert generator.conditioning_kl(text).item() == pytest.approx(8.0)
    # the variant trains, resumes exactly, exports and reloads with it (the kit's checks)
    check_variant(small_stackgan, lambda: tiny_captioned(n=32, batch_size=8), tmp_path, batches=3)


def test_the_kl_term_joins_the_generators_loss_with_its_weight() -> None:
    from lightning.pytorch import Trainer

    logged: list[dict[str, float]] = []
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = small_stackgan()
        model.conditioning_kl_weight = weight
        model.log_train = lambda metrics: logged.append({k: float(v.detach()) for k, v in metrics.items()})  # type: ignore[method-assign]
        trainer = Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)  # fmt: skip
        trainer.fit(model, tiny_captioned(n=16, batch_size=8))
    assert len(logged) == 2  # one batch (a D and a G step) of each
    without, with_kl = logged  # the same weights, data and noise
    assert with_kl["train/g_conditioning_kl"] > 0
    assert without["train/g_conditioning_kl"] == pytest.approx(with_kl["train/g_conditioning_kl"])
    assert with_kl["train/g_loss"] == pytest.approx(without["train/g_loss"] + with_kl["train/g_conditioning_kl"])


def test_the_training_step_judges_right_wrong_and_interpolated_pairs() -> None:
    """Counting D's calls: real/right, fake/right and real/wrong in D's step (wrong only where the captions differ);
    fake/right and GAN-INT's interpolated pair in G's step. The encoder trains with D only."""
    from lightning.pytorch import Trainer

    model = small()
    calls: list[tuple[int, bool]] = []
    model.discriminator.register_forward_hook(lambda m, args, out: calls.append((len(args[0]), args[1].requires_grad)))
    Trainer(accelerator="cpu", max_steps=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, limit_val_batches=0).fit(model, tiny_captioned(n=16, batch_size=8))  # fmt: skip
    d_step, g_step = calls[:3], calls[3:5]
    assert [n for n, _ in d_step] == [8, 8, 8], "tiny captions all differ from their shifted neighbour"
    assert all(grad for _, grad in d_step), "D's step trains the encoder through the embeddings"
    assert [n for n, _ in g_step] == [8, 8] and not any(grad for _, grad in g_step), "G reads detached embeddings"
    assert len(calls) == 10  # two steps

    d_params = {id(p) for group in model.optimizers()[1].optimizer.param_groups for p in group["params"]}
    assert all(id(p) in d_params for p in model.text_encoder.parameters())
    g_params = {id(p) for group in model.optimizers()[0].optimizer.param_groups for p in group["params"]}
    assert not any(id(p) in g_params for p in model.text_encoder.parameters())


def test_d_judges_the_shifted_pairs_even_when_no_caption_differs() -> None:
    """A batch of one caption has no wrong pair to score, yet D still runs on the shifted pairs: under DDP with a
    synced batch norm each forward all-reduces, so a forward that one rank skipped would hang the others."""
    from lightning.pytorch import Trainer

    model = small()
    calls: list[tuple[int, bool]] = []  # (batch size, whether the embeddings carry the encoder's graph: D's step)
    logged: list[dict[str, float]] = []
    model.discriminator.register_forward_hook(lambda m, args, out: calls.append((len(args[0]), args[1].requires_grad)))
    model.log_train = lambda metrics: logged.append({k: float(v.detach()) for k, v in metrics.items()})  # type: ignore[method-assign]
    Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, limit_val_batches=0).fit(model, tiny_captioned(16, 8, "a bag"))  # fmt: skip
    assert calls == [(8, True)] * 3 + [(8, False)] * 2, "D's step: real, fake and shifted pairs; G's: fake, GAN-INT"
    assert len(logged) == 1 and "train/d_wrong" not in logged[0], "no wrong pair was scored"


def test_same_captions_are_not_used_as_wrong_ones() -> None:
    model = small()
    index, differ = model.mismatched(["a bag", "a bag", "a coat", "a bag"])
    assert (index != torch.arange(4)).all()
    captions = ["a bag", "a bag", "a coat", "a bag"]
    assert differ.tolist() == [captions[i] != captions[j] for i, j in enumerate(index.tolist())]


def test_sampling_needs_captions_and_uses_the_grid_captions_by_default(tmp_path: Path) -> None:
    model = small()
    with pytest.raises(ValueError, match="no grid captions yet"):
        model.sample(2)
    with pytest.raises(ValueError, match="conditioned on text, not class labels"):
        model.sample(2, labels=3)
    model.grid_captions = ["a dark bag", "a light coat"]
    z = torch.randn(4, 8)
    torch.testing.assert_close(model.generate(z), model.generate_text(z, ["a dark bag", "a light coat"] * 2))
    assert model.generate_text(z, "a dark bag").shape == (4, 1, 28, 28)
    with pytest.raises(ValueError, match="one caption or one per latent"):
        model.generate_text(z, ["a", "b"])


def test_a_batch_without_captions_is_refused_with_what_to_use() -> None:
    with pytest.raises(ValueError, match="use a caption data module"):
        small().check_batch((torch.zeros(2, 1, 28, 28), torch.zeros(2)))


def test_sample_text_writes_rows_per_caption_and_text_interpolations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_cli(["fit", "--config", str(REPO / "recipes/gan_cls_fashion_mnist.yaml"), "--trainer.logger", "false",
                       "--trainer.default_root_dir", str(tmp_path), "--trainer.max_steps", "2",
                       "--trainer.limit_val_batches", "0", "--trainer.callbacks", "[]",
                       "--trainer.enable_checkpointing", "true",
                       "--trainer.callbacks+=lightning_gans.callbacks.LastCheckpoint"], capsys)  # fmt: skip
    assert code == 0
    ckpt = str(tmp_path / "checkpoints/last.ckpt")
    code, out = run_cli(["sample", "--ckpt", ckpt, "--text", "a dark wide pullover", "--text", "a pale sneaker",
                         "--nrow", "4", "--out", str(tmp_path / "text.png")], capsys)  # fmt: skip
    assert code == 0 and "8 samples for 2 caption(s)" in out
    assert Image.open(tmp_path / "text.png").size == (4 * 28 + 5 * 2, 2 * 28 + 3 * 2)
    between = ["--text", "a dark bag", "--text", "a light bag", "--interpolate", "linear", "--rows", "2"]
    code, out = run_cli(["sample", "--ckpt", ckpt, *between, "--steps", "5", "--out", str(tmp_path / "b.png")], capsys)
    assert code == 0 and "2 rows from 'a dark bag' to 'a light bag' in 5 steps" in out
    code, out = run_cli(["sample", "--ckpt", ckpt, "--out", str(tmp_path / "grid.png"), "--n", "6"], capsys)
    assert code == 0, "without --text: the grid captions kept in the checkpoint"
    code, out = run_cli(["sample", "--ckpt", ckpt, "--text", "a bag", "--truncation", "0.5"], capsys)
    assert code == 2 and "--text combines with" in out


def test_sample_text_is_refused_for_models_without_captions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_cli(["fit", "--config", str(REPO / "recipes/dcgan_fashion_mnist.yaml"), "--trainer.logger", "false",
                       "--trainer.default_root_dir", str(tmp_path), "--trainer.max_steps", "1",
                       "--trainer.limit_val_batches", "0"], capsys)  # fmt: skip
    assert code == 0
    code, out = run_cli(["sample", "--ckpt", str(tmp_path / "checkpoints/last.ckpt"), "--text", "a bag"], capsys)
    assert code == 2 and "DCGAN does not take captions" in out
