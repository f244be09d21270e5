"""The bars of the label- and encoder-based variants, measured on trained runs of their recipes.

Train first (each recipe writes ``runs/<name>_fashion_mnist``; ``sgan`` twice, the second time as the
supervised-only baseline), then measure every run folder under ``--runs`` whose model is one of these
variants (a row per folder, named after it)::

    lightning-gans fit --config recipes/cgan_fashion_mnist.yaml            # likewise acgan, infogan, vae,
                                                                            # autoencoder, bigan, sgan
    lightning-gans fit --config recipes/sgan_fashion_mnist.yaml --model.init_args.supervised_only true \\
        --trainer.default_root_dir runs/sgan_base_fashion_mnist
    python benchmarks/labels_and_encoders.py --runs runs

Protocol, per row (every number on data the run never trained on: the run's own validation split, read
from its ``config.yaml``; for the shipped data that is 1k held-out images of the Fashion-MNIST test split,
with ``root`` set it is the whole 10k test split):

* ``cgan``, ``acgan``: 10k samples from ``last.ckpt`` (EMA generator, seeded latents, every label equally
  often); share the classifier assigns to the label asked for (bar: >= 0.90); also FID against the train
  split (10k or all); and ``real_accuracy``, the same classifier on the run's real validation images with
  their true labels (the judge errs this often on real images: the ceiling of the bar), per class too;
* ``infogan``: the same with the categorical code as label, after the best code-to-class matching
  (bar: >= 0.80); and ClusterGAN's protocol (Mukherjee et al. 2019 report about 0.63 ACC for InfoGAN on
  Fashion-MNIST): Q's most likely code of each real validation image as its cluster, ``q_cluster_accuracy``
  after the best one-to-one code-to-class matching, ``q_cluster_purity`` (each code to its most frequent
  class, as ClusterGAN's released evaluation counts), ``q_nmi``, ``q_ari``;
* ``sgan``, ``sgan_base``: the classifier's (D's) accuracy on the validation split (bar: sgan > sgan_base);
* ``vae``, ``autoencoder``: ELBO / reconstruction in nats per image on the validation split (one
  reparameterised sample per image, seeded);
* every encoder and semi-supervised row also gets the FID of 10k samples against the train split;
* ``vae``, ``autoencoder``, ``bigan``: a logistic regression fitted on the encodings of 10k training images
  (all when fewer), scored on the validation split (bar for bigan: >= 0.80).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Trainer
from run_folders import report, runs_of

from lightning_gans.callbacks.probe import LinearProbe
from lightning_gans.checkpoints import load_variant
from lightning_gans.evaluate import datamodule_from, evaluate_checkpoint, split_of
from lightning_gans.metrics.conditional import code_clustering
from lightning_gans.metrics.features import build_feature_network

REPO = Path(__file__).resolve().parents[1]
CONDITIONAL = ["ConditionalGAN", "ACGAN", "InfoGAN"]
VALIDATED = ["SemiSupervisedGAN", "VAE", "Autoencoder", "BiGAN"]


def judge_on_real(run: Path) -> dict[str, Any]:
    """The shipped classifier on the real validation images of ``run``, against their labels."""
    data = datamodule_from(run / "config.yaml", None, None)
    images, labels = split_of(data, "val").tensors
    predicted = build_feature_network("fashion_classifier").eval().classify(images)
    per_class = [float((predicted[labels == k] == k).float().mean()) for k in range(10)]
    return {"real_accuracy": float((predicted == labels).float().mean()), "real_per_class_accuracy": per_class}


def conditional_row(run: Path) -> dict[str, Any]:
    model = load_variant(run / "checkpoints/last.ckpt")
    data = datamodule_from(run / "config.yaml", None, None)
    evaluation = evaluate_checkpoint(model, data, "fid,classes,labels", n_real=10_000, n_fake=10_000)
    keep = ["label_accuracy", "label_accuracy_matched", "label_mapping", "per_label_accuracy", "fid", "class_kl"]
    results = {k: evaluation["results"][k] for k in keep}
    if hasattr(model, "infer_codes"):  # InfoGAN: Q's code of the real validation images, as clusters
        images, labels = split_of(data, "val").tensors
        codes = torch.cat([model.infer_codes(chunk) for chunk in images.split(1000)])
        clustering = code_clustering(codes, labels, model.num_classes, 10)
        results.update({f"q_{name}": value for name, value in clustering.items()})
    return {**results, **judge_on_real(run), "generator_steps": model.generator_steps}


def validated_row(run: Path) -> dict[str, Any]:
    model = load_variant(run / "checkpoints/last.ckpt")
    data = datamodule_from(run / "config.yaml", None, None)
    callbacks = [LinearProbe(n_train=10_000)] if model.encoder is not None else []
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, callbacks=callbacks)
    (metrics,) = trainer.validate(model, datamodule=data, verbose=False)
    fid = evaluate_checkpoint(model, data, "fid", n_real=10_000, n_fake=10_000)["results"]["fid"]
    return {**{k: round(float(v), 4) for k, v in metrics.items()}, "fid": fid, "generator_steps": model.generator_steps}


def main(runs: Path = REPO / "runs", out: Path = REPO / "benchmarks/results/labels_and_encoders.json") -> None:
    """Measure every row whose run exists under ``runs``; print a table and write JSON."""
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    present = runs_of(runs, CONDITIONAL + VALIDATED)
    rows: dict[str, Any] = {}
    for run, kind in present.items():
        start = time.time()
        row = conditional_row(run) if kind in CONDITIONAL else validated_row(run)
        rows[run.name] = {"variant": kind, **row, "seconds": round(time.time() - start, 1)}
    report(__doc__, runs, rows, out)


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(main)
