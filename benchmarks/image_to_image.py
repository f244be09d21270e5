"""The bars of the image-to-image variants (pix2pix, cyclegan, srgan), measured on trained runs of their recipes.

Train first (each recipe writes ``runs/<recipe name>``; pix2pix twice, the second time with L1 alone; each
SRGAN after the SRResNet-MSE run it starts from), then measure every run folder under ``--runs`` whose
model is one of these variants (a row per folder, named after it)::

    lightning-gans fit --config recipes/pix2pix_fashion_edges.yaml
    lightning-gans fit --config recipes/pix2pix_fashion_edges.yaml --model.init_args.adversarial_weight 0 \\
        --trainer.default_root_dir runs/pix2pix_l1_fashion_edges
    lightning-gans fit --config recipes/cyclegan_fashion_sneaker_boot.yaml
    lightning-gans fit --config recipes/srresnet_fashion_x2.yaml
    lightning-gans fit --config recipes/srgan_fashion_x2.yaml \\
        --model.init_args.pretrained_generator runs/srresnet_fashion_x2/checkpoints/last.ckpt
    lightning-gans fit --config recipes/srresnet_photos_x4.yaml
    lightning-gans fit --config recipes/srgan_photos_x4.yaml \\
        --model.init_args.pretrained_generator runs/srresnet_photos_x4/checkpoints/last.ckpt
    python benchmarks/image_to_image.py --runs runs

Protocol, per row: ``last.ckpt`` of the run, validated (``Trainer.validate``, eval mode, no dropout) on the
run's own validation split, read from its ``config.yaml``: for the shipped Fashion-MNIST data, 1k images of
the test split held out from training; for the photos, every 64x64 tile of the two validation photos
(chelsea, coffee: 82 tiles), never trained on. Images are mapped to [0, 1]; L1 is the mean absolute error,
PSNR (dB) and SSIM (11x11 Gaussian window, sigma 1.5) are per image and averaged, over all channels (RGB,
not the luminance channel the SRGAN paper scores, and without its border crop), by torchmetrics.

* ``pix2pix`` rows: L1, PSNR, SSIM of the output against the original image (bar: the GAN row beats the
  L1-only row, same U-Net, same steps, on both L1 and SSIM); and realism, what pix2pix claims: the outputs
  for every validation input (eval mode) scored in the shipped classifier's features against 10k images
  of the training split (all when fewer): ``output_fid``, ``output_precision``/``output_recall`` (PRDC,
  k = 5), and ``output_label_accuracy``, the share of outputs the classifier puts in the class of the
  original image. ``real_val_*`` scores the original validation images the same way: what a perfect
  translation would get (bar: the GAN row's FID below the L1-only row's, its label accuracy not below);
* ``cyclegan`` rows: the cycle reconstruction error |F(G(a)) - a| and |G(F(b)) - b|, and the share of
  translated validation images that the shipped Fashion-MNIST classifier puts in the target class (bar:
  >= 0.90); ``real_accuracy_a``/``_b`` is the same classifier on the untranslated images of each class (its
  ceiling), ``untranslated_as_target`` how often it calls an untranslated image the other class (the floor);
* ``srgan`` rows (SRResNet-MSE is an srgan run with ``adversarial_weight: 0`` and the pixel loss): PSNR and
  SSIM of the output and of bicubic upsampling of the same inputs (the paper's table 2 rows).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, Trainer
from run_folders import report, runs_of
from torch import Tensor

from lightning_gans.callbacks import TranslatedClassAccuracy
from lightning_gans.checkpoints import load_translation
from lightning_gans.core.module import real_samples
from lightning_gans.core.translation import TranslationModule
from lightning_gans.data.base import labels_of
from lightning_gans.data.pairs import EdgesToImageDataModule, UnpairedClassesDataModule
from lightning_gans.evaluate import datamodule_from
from lightning_gans.metrics.evaluation import SampleQuality, dataset_images
from lightning_gans.metrics.features import build_feature_network

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ["Pix2Pix", "CycleGAN", "SRGAN"]


def judge_untranslated(data: UnpairedClassesDataModule) -> dict[str, float]:
    """The shipped classifier on the untranslated validation images of both classes."""
    data.setup("validate")
    classifier = build_feature_network("fashion_classifier")
    pairs = data.val_set.a, data.val_set.b  # type: ignore[union-attr]
    a, b = (torch.stack([real_samples(item) for item in domain]) for domain in pairs)
    predicted_a, predicted_b = classifier.classify(a), classifier.classify(b)
    return {
        "real_accuracy_a": float((predicted_a == data.class_a).float().mean()),
        "real_accuracy_b": float((predicted_b == data.class_b).float().mean()),
        "untranslated_as_target": float(
            torch.cat([predicted_a == data.class_b, predicted_b == data.class_a]).float().mean()
        ),
    }


def realism(model: TranslationModule, data: EdgesToImageDataModule) -> dict[str, float]:
    """FID, precision/recall and label accuracy of the translations of every validation input, beside the
    same scores of the original validation images (the ceiling)."""
    data.setup("validate")
    originals, translated, train = data.data.val_set, data.val_set, data.data.train_set
    assert originals is not None and translated is not None and train is not None  # set up above
    labels = labels_of(originals)
    if labels is None:
        raise TypeError(f"{type(data.data).__name__} has no labels to judge the translations by")
    inputs = torch.stack([translated[i][0] for i in range(len(labels))])
    targets = torch.stack([real_samples(originals[i]) for i in range(len(labels))])
    reference = dataset_images(train, 10_000, seed=0)
    quality = SampleQuality(["fid", "prdc", "labels"], "fashion_classifier", reference, num_labels=10)
    model.eval()
    with torch.no_grad():
        outputs = torch.cat([model.translate(chunk) for chunk in inputs.split(500)])
    scores: dict[str, float] = {}
    for kind, images in (("output", outputs), ("real_val", targets)):
        batches = iter(zip(images.split(quality.batch_size), labels.split(quality.batch_size)))

        def next_batch(n: int, batches: Iterator[tuple[Tensor, Tensor]] = batches) -> tuple[Tensor, Tensor]:
            return next(batches)  # evaluate asks for batch_size images at a time: one chunk

        results = quality.evaluate(next_batch, len(images))
        scores.update({f"{kind}_{k}": round(float(results[k]), 4) for k in ("fid", "precision", "recall")})
        scores[f"{kind}_label_accuracy"] = round(float(results["label_accuracy"]), 4)
    return scores


def measure(run: Path) -> dict[str, Any]:
    model = load_translation(run / "checkpoints/last.ckpt")
    data = datamodule_from(run / "config.yaml", None, None)
    unpaired_classes = isinstance(data, UnpairedClassesDataModule)
    callbacks: list[Callback] = [TranslatedClassAccuracy()] if unpaired_classes else []
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, callbacks=callbacks)
    (metrics,) = trainer.validate(model, datamodule=data, verbose=False)
    row = {k.removeprefix("val/"): round(float(v), 4) for k, v in metrics.items()}
    if unpaired_classes:
        row.update({k: round(v, 4) for k, v in judge_untranslated(data).items()})  # type: ignore[arg-type]
    if isinstance(data, EdgesToImageDataModule):
        row.update(realism(model, data))
    extra = {"adversarial_weight": getattr(model, "adversarial_weight", None)}
    if hasattr(model, "content_loss_name"):
        extra["content_loss"] = model.content_loss_name
    return {**row, **extra, "generator_steps": model.generator_steps}


def bars(rows: dict[str, Any]) -> list[str]:
    """The README's bars, where both rows of a comparison exist."""
    lines = []
    for name, gan in rows.items():  # each pix2pix run against the run of the same name with "_l1" added
        l1 = rows.get(name.replace("pix2pix_", "pix2pix_l1_", 1))
        if gan["variant"] == "Pix2Pix" and "_l1_" not in name and l1 is not None:
            met = gan["l1"] < l1["l1"] and gan["ssim"] > l1["ssim"]
            lines.append(
                f"{name} vs L1 alone: L1 {gan['l1']:.4f} vs {l1['l1']:.4f}, SSIM {gan['ssim']:.4f} vs "
                f"{l1['ssim']:.4f}, PSNR {gan['psnr']:.2f} vs {l1['psnr']:.2f} dB -> {'met' if met else 'MISSED'}"
            )
            real = gan["output_fid"] < l1["output_fid"] and gan["output_label_accuracy"] >= l1["output_label_accuracy"]
            lines.append(
                f"{name} vs L1 alone, realism: FID {gan['output_fid']:.3f} vs {l1['output_fid']:.3f} (real "
                f"{gan['real_val_fid']:.3f}), label accuracy {gan['output_label_accuracy']:.3f} vs "
                f"{l1['output_label_accuracy']:.3f} (real {gan['real_val_label_accuracy']:.3f}) -> "
                f"{'met' if real else 'MISSED'}"
            )
    for name, row in rows.items():
        if "translated_accuracy" in row:
            met = min(row["translated_accuracy_ab"], row["translated_accuracy_ba"]) >= 0.9
            lines.append(
                f"{name}: translated into the target class {row['translated_accuracy_ab']:.3f} (A->B), "
                f"{row['translated_accuracy_ba']:.3f} (B->A); cycle L1 {row['cycle_l1_a']:.4f} / "
                f"{row['cycle_l1_b']:.4f} -> {'met' if met else 'MISSED'}"
            )
        if "bicubic_psnr" in row:
            lines.append(
                f"{name}: PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f} (bicubic {row['bicubic_psnr']:.2f} dB, "
                f"{row['bicubic_ssim']:.4f}; content loss {row['content_loss']})"
            )
    return lines


def main(runs: Path = REPO / "runs", out: Path = REPO / "benchmarks/results/image_to_image.json") -> None:
    """Measure every run of these variants under ``runs``; print a table and write JSON."""
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    present = runs_of(runs, VARIANTS)
    rows: dict[str, Any] = {}
    for run, kind in present.items():
        start = time.time()
        rows[run.name] = {"variant": kind, **measure(run), "seconds": round(time.time() - start, 1)}
    summary = bars(rows)
    report(__doc__, runs, rows, out, bars=summary)
    print("\n".join(summary))


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(main)
