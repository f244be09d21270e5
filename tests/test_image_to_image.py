"""Image-to-image variants (pix2pix, cyclegan, srgan), their nets, data and callbacks: each variant trains a
few steps through the shared base, translates and round-trips a checkpoint; losses are checked against
independent formulas, the data modules against hand-made images and folders."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO
from lightning.pytorch import LightningDataModule, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image
from torch import nn
from torch.optim import SGD
from torch.utils.data import TensorDataset

from lightning_gans import registry
from lightning_gans.callbacks import TranslatedClassAccuracy, TranslationGrid
from lightning_gans.cli import main
from lightning_gans.core import TranslationModule
from lightning_gans.data.base import GANDataModule
from lightning_gans.data.pairs import (
    EdgesToImageDataModule,
    ImageFolderPairsDataModule,
    SuperResolutionDataModule,
    UnpairedClassesDataModule,
    bicubic_upsample,
    sobel_edges,
)
from lightning_gans.data.photos import PHOTOS, SamplePhotosDataModule
from lightning_gans.losses import content
from lightning_gans.nets import PatchGANDiscriminator, ResNetGenerator, SRGANDiscriminator, SRResNet, UNetGenerator
from lightning_gans.nets.patchgan import receptive_field
from lightning_gans.variants.cyclegan import CycleGAN, ImagePool
from lightning_gans.variants.pix2pix import Pix2Pix
from lightning_gans.variants.srgan import SRGAN

TRANSLATION_VARIANTS = [
    name for name in registry.variants.names() if issubclass(registry.variants.load(name), TranslationModule)
]


class LabelledImages(GANDataModule):
    """``n`` random 1x28x28 images with labels 0..9 in turn (train and val alike)."""

    def __init__(self, n: int = 40, batch_size: int = 4) -> None:
        super().__init__(batch_size, num_workers=0, seed=0)
        images = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.train_set = self.val_set = TensorDataset(images, torch.arange(n) % 10)


def data_for(name: str) -> GANDataModule:
    if name == "cyclegan":
        return UnpairedClassesDataModule(LabelledImages(n=80), class_a=7, class_b=9)
    if name == "srgan":
        return SuperResolutionDataModule(LabelledImages(), scale=2)
    return EdgesToImageDataModule(LabelledImages())


def fit(model: TranslationModule, data: LightningDataModule, root: Path | None = None, **overrides: Any) -> Trainer:
    options: dict[str, Any] = dict(
        accelerator="cpu", logger=False, enable_checkpointing=root is not None, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, max_epochs=1, limit_train_batches=2,
        limit_val_batches=2, log_every_n_steps=1, default_root_dir=root,
    )  # fmt: skip
    if root is not None:
        options["callbacks"] = [ModelCheckpoint(dirpath=root / "checkpoints", save_last=True)]
    options.update(overrides)
    trainer = Trainer(**options)
    trainer.fit(model, data)
    return trainer


def test_the_registry_holds_the_image_to_image_variants() -> None:
    assert set(TRANSLATION_VARIANTS) == {"pix2pix", "cyclegan", "srgan"}


@pytest.mark.parametrize("name", TRANSLATION_VARIANTS)
def test_every_translation_variant_trains_translates_and_round_trips_a_checkpoint(name: str, tmp_path: Path) -> None:
    seed_everything(0)
    model = registry.variants.create(name)
    params = inspect.signature(type(model)).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), "no **kwargs sinks"
    data = data_for(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = fit(model, data, tmp_path)
    assert model.generator_steps == 2 and model.discriminator_steps == 2
    changed = {
        k.split(".")[0]
        for k, v in model.state_dict().items()
        if v.is_floating_point() and not torch.equal(v, before[k])
    }
    nets = {"generator", "discriminator"} | ({"generator_ba", "discriminator_a"} if name == "cyclegan" else set())
    assert nets <= changed, f"not every net trained: {nets - changed}"
    logged = set(trainer.callback_metrics)
    assert {"train/g_loss", "train/d_loss", "train/d_real", "train/d_fake"} <= logged
    val_keys = {"val/cycle_l1_a", "val/cycle_l1_b"} if name == "cyclegan" else {"val/l1", "val/psnr", "val/ssim"}
    assert val_keys <= logged

    a, _ = next(iter(data.val_dataloader()))
    model.train()
    out = model.translate(a)
    assert out.shape[0] == len(a) and out.shape[-1] == 28 and out.min() >= -1 and out.max() <= 1
    assert model.generator.training, "translate restores the mode it found"
    reloaded = type(model).load_from_checkpoint(tmp_path / "checkpoints/last.ckpt")
    assert reloaded.generator_steps == 2 and reloaded.discriminator_steps == 2
    assert torch.equal(reloaded.translate(a), model.translate(a))


def test_cli_trains_a_recipe_then_translates_a_folder_and_sample_refuses_it(tmp_path: Path, capsys: Any) -> None:
    run = tmp_path / "run"
    main(["fit", "--config", str(REPO / "recipes/pix2pix_fashion_edges.yaml"), "--trainer.max_steps", "2",
          "--trainer.limit_val_batches", "1", "--trainer.logger", "false", "--trainer.default_root_dir", str(run),
          "--data.init_args.data.init_args.batch_size", "4"])  # fmt: skip
    ckpt = str(run / "checkpoints/last.ckpt")
    write_images(tmp_path / "mine/sub", ["one", "two"], 200, size=40)
    assert main(["translate", "--ckpt", ckpt, "--input", str(tmp_path / "mine"), "--out", str(tmp_path / "out"),
                 "--image_size", "28"]) == 0  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "out/sub").iterdir()) == ["one.png", "two.png"]
    assert Image.open(tmp_path / "out/sub/one.png").size == (28, 28)
    with pytest.raises(SystemExit):  # a depth-2 U-Net needs sides divisible by 4
        write_images(tmp_path / "odd", ["odd"], 0, size=30)
        main(["translate", "--ckpt", ckpt, "--input", str(tmp_path / "odd"), "--out", str(tmp_path / "x")])
    assert "--image_size resizes the inputs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["translate", "--ckpt", ckpt, "--input", str(tmp_path / "mine"), "--reverse"])
    assert "one way only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt", ckpt, "--out", str(tmp_path / "x.png")])
    assert "translates images rather than sampling them" in capsys.readouterr().err


# -- nets -------------------------------------------------------------------------------------------------
def test_unet_sizes_skips_and_dropout() -> None:
    assert UNetGenerator(3, 3, width=8, depth=8)(torch.rand(1, 3, 256, 256)).shape == (1, 3, 256, 256)
    with pytest.raises(ValueError, match="divisible by 8"):
        UNetGenerator(depth=3)(torch.rand(2, 1, 28, 28))
    UNetGenerator(1, 1, width=8, depth=8).train()(torch.rand(1, 1, 256, 256))  # batch 1 at 1x1: no batch norm there
    net = UNetGenerator(width=8, depth=6, dropout=0.5)
    dropouts = [i for i, up in enumerate(net.ups) if any(isinstance(m, nn.Dropout) for m in up)]
    assert dropouts == [0, 1, 2], "dropout on the three innermost decoder layers only"
    # the outermost skip: a change in one input pixel changes the output there even with the bottleneck cut off
    net = UNetGenerator(width=8, depth=2, dropout=0.0).eval()
    net.downs[1][1].weight.data.zero_()  # cut the path through the bottleneck
    net.downs[1][1].bias.data.zero_()
    x = torch.zeros(1, 1, 28, 28)
    y = x.clone()
    y[0, 0, 10, 10] = 1.0
    assert not torch.equal(net(x), net(y))


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_patchgan_receptive_field_is_what_it_says(n_layers: int) -> None:
    """The pixels one output sees, found by back-propagating from it, span ``receptive_field`` (70 for 3)."""
    net = PatchGANDiscriminator(1, width=4, n_layers=n_layers).eval()
    x = torch.zeros(1, 1, 160, 160, requires_grad=True)
    out = net(x)
    out[0, out.shape[1] // 2, out.shape[2] // 2].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()  # type: ignore[union-attr]
    assert int(rows.max() - rows.min()) + 1 == receptive_field(n_layers) == {1: 16, 2: 34, 3: 70}[n_layers]


def test_resnet_and_srresnet_shapes_and_the_papers_discriminator() -> None:
    assert ResNetGenerator(3, 1, width=8, n_blocks=2)(torch.rand(2, 3, 32, 32)).shape == (2, 1, 32, 32)
    assert SRResNet(3, scale=4, width=8, n_blocks=2)(torch.rand(2, 3, 16, 16)).shape == (2, 3, 64, 64)
    with pytest.raises(ValueError, match="power of two"):
        SRResNet(scale=3)
    convs = [m for m in SRGANDiscriminator(3).features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]  # Ledig et al., figure 4
    assert [c.stride[0] for c in convs] == [1, 2] * 4
    assert SRGANDiscriminator(3, width=8)(torch.rand(2, 3, 40, 40)).shape == (2,)


# -- data -------------------------------------------------------------------------------------------------
def test_sobel_edges_mark_the_border_of_a_square_only() -> None:
    image = -torch.ones(1, 16, 16)
    image[:, 4:12, 4:12] = 1.0
    edges = sobel_edges(image, threshold=1.0)
    assert set(edges.unique().tolist()) == {-1.0, 1.0}
    assert (edges[0, 7:9, 7:9] == -1).all() and (edges[0, :2] == -1).all(), "no edges inside or far outside"
    assert (edges[0, 3:5, 6:10] == 1).all(), "the top border is an edge"


def test_derived_pairs_edges_and_super_resolution() -> None:
    edges = EdgesToImageDataModule(LabelledImages())
    edges.setup()
    a, b = edges.train_set[3]  # type: ignore[index]
    assert torch.equal(b, LabelledImages().train_set[3][0]) and torch.equal(a, sobel_edges(b, 1.0))  # type: ignore[index]
    sr = SuperResolutionDataModule(LabelledImages(), scale=4)
    sr.setup()
    low, high = next(iter(sr.train_dataloader()))
    assert low.shape == (4, 1, 7, 7) and high.shape == (4, 1, 28, 28)
    # a flat image stays flat through bicubic down- and upsampling
    flat = torch.full((1, 1, 28, 28), 0.3)
    assert torch.allclose(bicubic_upsample(F.avg_pool2d(flat, 4), 4), flat, atol=1e-5)
    with pytest.raises(ValueError, match="cannot be downsampled x3"):
        SuperResolutionDataModule(LabelledImages(), scale=3).setup()


def test_unpaired_classes_take_each_domain_from_its_class() -> None:
    data = LabelledImages(n=60)
    images, labels = data.train_set.tensors  # type: ignore[union-attr]
    for k in range(10):
        images[labels == k] = k / 10  # each image says its class
    unpaired = UnpairedClassesDataModule(data, class_a=2, class_b=5)
    unpaired.setup()
    a, b = next(iter(unpaired.train_dataloader()))
    assert (a == 0.2).all() and (b == 0.5).all()
    assert len(unpaired.train_set) == 6  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must differ"):
        UnpairedClassesDataModule(data, class_a=1, class_b=1)
    with pytest.raises(ValueError, match=r"no images of class \[11\]"):
        UnpairedClassesDataModule(LabelledImages(), class_a=1, class_b=11).setup()


def write_images(folder: Path, names: list[str], value: int, size: int = 12) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", (size, size), (value, value, value)).save(folder / f"{name}.png")


def test_image_folder_pairs_match_by_name_and_say_which_file_lacks_a_partner(tmp_path: Path) -> None:
    write_images(tmp_path / "A", ["x", "y", "z"], 0)
    write_images(tmp_path / "B", ["x", "y", "z"], 255)
    data = ImageFolderPairsDataModule(
        str(tmp_path), image_size=8, channels_a=1, channels_b=3, batch_size=3, num_workers=0
    )
    data.setup()
    a, b = next(iter(data.train_dataloader()))
    assert a.shape == (3, 1, 8, 8) and b.shape == (3, 3, 8, 8)
    assert (a == -1).all() and (b == 1).all()

    write_images(tmp_path / "B", ["extra"], 255)
    with pytest.raises(ValueError, match="B/extra"):
        ImageFolderPairsDataModule(str(tmp_path), image_size=8).setup()
    unpaired = ImageFolderPairsDataModule(str(tmp_path), paired=False, image_size=8, num_workers=0)
    unpaired.setup()
    assert len(unpaired.train_set) == 4  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolderPairsDataModule(str(tmp_path / "nowhere")).setup()


def test_sample_photos_are_rgb_patches_with_the_photos_kept_apart() -> None:
    data = SamplePhotosDataModule(
        patch_size=32, train_photos=["astronaut"], val_photos=["chelsea"], patches_per_photo=10
    )
    data.setup()
    train, val = data.train_set.tensors[0], data.val_set.tensors[0]  # type: ignore[union-attr]
    assert train.shape == (10, 3, 32, 32) and val.shape == (14 * 9, 3, 32, 32)  # chelsea is 451x300
    assert train.min() >= -1 and train.max() <= 1 and train.std() > 0.1
    with pytest.raises(ValueError, match="both train_photos and val_photos"):
        SamplePhotosDataModule(train_photos=["chelsea"], val_photos=["chelsea"])
    with pytest.raises(ValueError, match=", ".join(PHOTOS)):
        SamplePhotosDataModule(train_photos=["lena"]).setup()


# -- losses, against independent formulas ----------------------------------------------------------------
def frozen_step_metrics(model: TranslationModule, data: GANDataModule) -> tuple[dict[str, float], Any]:
    """Train one batch with learning rate 0 (the nets stay as they are), return the logged values and batch."""
    model.g_optimizer = model.d_optimizer = lambda params: SGD(params, lr=0.0)
    trainer = fit(model, data, limit_train_batches=1, limit_val_batches=0)
    batch = next(iter(data.train_dataloader()))
    return {k: float(v) for k, v in trainer.callback_metrics.items()}, batch


def test_pix2pix_losses_are_the_papers() -> None:
    seed_everything(0)
    model = Pix2Pix(UNetGenerator(dropout=0.0), PatchGANDiscriminator(channels=2), l1_weight=100.0)
    logged, (a, b) = frozen_step_metrics(model, data_for("pix2pix"))
    fake = model.generator(a)  # batch norm in training mode, as in the step
    real_logits = model.discriminator(torch.cat([a, b], 1))
    fake_logits = model.discriminator(torch.cat([a, fake], 1))
    d_loss = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                    + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))  # fmt: skip
    adversarial = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    l1 = (fake - b).abs().mean()
    assert logged["train/d_loss"] == pytest.approx(float(d_loss), rel=1e-4)
    assert logged["train/l1"] == pytest.approx(float(l1), rel=1e-4)
    assert logged["train/g_loss"] == pytest.approx(float(adversarial + 100 * l1), rel=1e-4)


def test_pix2pix_l1_only_never_steps_the_discriminator_and_checks_its_channels() -> None:
    model = Pix2Pix(adversarial_weight=0.0)
    before = [p.clone() for p in model.discriminator.parameters()]
    trainer = fit(model, data_for("pix2pix"))
    assert model.discriminator_steps == 0 and model.generator_steps == 2
    assert all(torch.equal(p, q) for p, q in zip(before, model.discriminator.parameters()))
    assert "train/d_loss" not in trainer.callback_metrics
    with pytest.raises(ValueError, match="needs 1 \\+ 1 = 2 channels, got channels=1"):
        Pix2Pix(discriminator=PatchGANDiscriminator(channels=1))


def test_cyclegan_losses_are_the_papers() -> None:
    seed_everything(0)
    model = CycleGAN(pool_size=0)  # the pool would hand D older images
    logged, (a, b) = frozen_step_metrics(model, data_for("cyclegan"))
    G, F_, D_b, D_a = model.generator, model.generator_ba, model.discriminator, model.discriminator_a
    fake_b, fake_a = G(a), F_(b)
    d_loss = 0.5 * ((D_b(b) - 1) ** 2).mean() + 0.5 * (D_b(fake_b) ** 2).mean()
    d_loss += 0.5 * ((D_a(a) - 1) ** 2).mean() + 0.5 * (D_a(fake_a) ** 2).mean()
    adversarial = ((D_b(fake_b) - 1) ** 2).mean() + ((D_a(fake_a) - 1) ** 2).mean()  # the paper's, unhalved
    cycle = (F_(fake_b) - a).abs().mean() + (G(fake_a) - b).abs().mean()
    identity = (G(b) - b).abs().mean() + (F_(a) - a).abs().mean()
    assert logged["train/d_loss"] == pytest.approx(float(d_loss), rel=1e-4)
    assert logged["train/cycle"] == pytest.approx(float(cycle), rel=1e-4)
    assert logged["train/g_loss"] == pytest.approx(float(adversarial + 10 * cycle + 5 * identity), rel=1e-4)


def test_image_pool_keeps_fifty_and_swaps_half() -> None:
    torch.manual_seed(0)
    pool = ImagePool(size=50)
    first = torch.arange(50.0).view(50, 1, 1, 1)
    assert torch.equal(pool(first), first), "returned as is until full"
    later = torch.arange(50.0, 1050.0).view(1000, 1, 1, 1)
    out = pool(later)
    swapped = out != later
    assert 0.45 < float(swapped.float().mean()) < 0.55 and len(pool.images) == 50
    assert (out[swapped] < later[swapped]).all(), "a swapped-in image is an earlier one"
    assert not ImagePool(size=0)(first.requires_grad_()).requires_grad, "handed to D detached, pool or not"


# -- SRGAN: content losses, pre-training, baselines --------------------------------------------------------
def test_content_loss_auto_falls_back_with_a_warning_when_vgg_is_not_cached(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setattr(content, "vgg19_weights_path", lambda: tmp_path / "vgg19-missing.pth")
    with pytest.warns(UserWarning, match="not cached.*'fashion_classifier'"):
        loss, used = content.build_content_loss("auto", channels=1)
    assert used == "fashion_classifier" and isinstance(loss, content.FashionClassifierContentLoss)
    with pytest.warns(UserWarning, match="'pixel'"):
        assert content.build_content_loss("auto", channels=3)[1] == "pixel"
    with pytest.raises(FileNotFoundError, match="vgg19-missing.pth"):
        content.build_content_loss("vgg", channels=3)
    with pytest.raises(ValueError, match="grey images"):
        content.build_content_loss("fashion_classifier", channels=3)
    (tmp_path / "vgg19-missing.pth").touch()  # cached: auto picks VGG (its constructor is stubbed here)
    monkeypatch.setattr(content, "VGGContentLoss", content.PixelLoss)
    assert content.build_content_loss("auto", channels=3)[1] == "vgg"


def test_feature_content_loss_is_the_mse_of_the_feature_maps() -> None:
    loss = content.FashionClassifierContentLoss()
    x, y = torch.rand(3, 1, 28, 28) * 2 - 1, torch.rand(3, 1, 28, 28) * 2 - 1
    maps = loss.features
    assert float(loss(x, y)) == pytest.approx(float(((maps(x) - maps(y)) ** 2).mean()), rel=1e-5)
    assert float(loss(x, x)) == 0.0
    assert not any(p.requires_grad for p in maps.parameters())


def test_srgan_starts_from_a_pretrained_generator_and_keeps_the_content_net_out_of_checkpoints(tmp_path: Path) -> None:
    seed_everything(0)
    mse = SRGAN(SRResNet(width=8, n_blocks=1), content_loss="pixel", adversarial_weight=0.0)
    fit(mse, data_for("srgan"), tmp_path / "mse")
    assert mse.discriminator_steps == 0
    srgan = SRGAN(
        SRResNet(width=8, n_blocks=1),
        content_loss="fashion_classifier",
        pretrained_generator=str(tmp_path / "mse/checkpoints/last.ckpt"),
    )
    srgan.g_optimizer = lambda params: SGD(params, lr=0.0)
    trainer = fit(srgan, data_for("srgan"))
    trained = dict(mse.generator.named_parameters())
    for name, value in srgan.generator.named_parameters():  # (batch norm's running statistics moved on)
        assert torch.equal(value, trained[name]), name
    assert not any(k.startswith(("content", "features")) for k in srgan.state_dict())
    assert {"val/bicubic_psnr", "val/bicubic_ssim", "train/content"} <= set(trainer.callback_metrics)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        fit(
            SRGAN(SRResNet(width=8, n_blocks=1), content_loss="pixel", pretrained_generator="missing.ckpt"),
            data_for("srgan"),
        )


def test_validation_metrics_match_torchmetrics_functions() -> None:
    """val/psnr is the mean of per-image PSNRs; val/bicubic_* score bicubic upsampling of the same inputs."""
    seed_everything(0)
    model = SRGAN(SRResNet(width=8, n_blocks=1), content_loss="pixel")
    data = data_for("srgan")
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    metrics = trainer.validate(model, data, verbose=False)[0]
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    data.setup()
    low = torch.stack([p[0] for p in data.val_set])  # type: ignore[union-attr]
    high = torch.stack([p[1] for p in data.val_set])  # type: ignore[union-attr]
    output, bicubic = model.translate(low).add(1).div(2), bicubic_upsample(low, 2).add(1).div(2)
    target = high.add(1).div(2)
    per_image = [float(peak_signal_noise_ratio(o[None], t[None], data_range=1.0)) for o, t in zip(output, target)]
    assert metrics["val/psnr"] == pytest.approx(sum(per_image) / len(per_image), rel=1e-4)
    assert metrics["val/l1"] == pytest.approx(float((output - target).abs().mean()), rel=1e-4)
    assert metrics["val/bicubic_ssim"] == pytest.approx(
        float(structural_similarity_index_measure(bicubic, target, data_range=1.0)), rel=1e-4
    )


# -- callbacks --------------------------------------------------------------------------------------------
def test_translation_grid_draws_a_row_per_stage(tmp_path: Path) -> None:
    grid = TranslationGrid(n_images=5, dirpath=str(tmp_path))
    fit(SRGAN(SRResNet(width=8, n_blocks=1), content_loss="pixel"), data_for("srgan"), callbacks=[grid])
    picture = Image.open(tmp_path / "last.png")
    # 4 rows (low resolution, bicubic, output, original) x 5 columns of 28-pixel images, 2-pixel padding
    assert picture.size == (5 * 30 + 2, 4 * 30 + 2)
    grid = TranslationGrid(n_images=3, dirpath=str(tmp_path / "cycle"))
    fit(CycleGAN(), data_for("cyclegan"), callbacks=[grid])
    assert Image.open(tmp_path / "cycle/last.png").size == (3 * 30 + 2, 6 * 30 + 2)


def test_translated_class_accuracy_is_the_classifiers_verdict_on_translations() -> None:
    seed_everything(0)
    model, data = CycleGAN(), data_for("cyclegan")
    trainer = fit(model, data, callbacks=[TranslatedClassAccuracy()], limit_val_batches=None)
    from lightning_gans.metrics.features import FashionClassifier

    classifier = FashionClassifier()
    a = torch.stack([x for x, _ in data.val_set])  # type: ignore[union-attr]
    b = torch.stack([y for _, y in data.val_set])  # type: ignore[union-attr]
    ab = (classifier.classify(model.translate(a)) == 9).float().mean()
    ba = (classifier.classify(model.translate_back(b)) == 7).float().mean()
    assert float(trainer.callback_metrics["val/translated_accuracy_ab"]) == pytest.approx(float(ab))
    assert float(trainer.callback_metrics["val/translated_accuracy_ba"]) == pytest.approx(float(ba))
    with pytest.raises(TypeError, match="class_a and class_b"):
        fit(Pix2Pix(), data_for("pix2pix"), callbacks=[TranslatedClassAccuracy()])
