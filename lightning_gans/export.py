"""``lightning-gans export``: a checkpoint's generator as a folder to share (``lightning_gans.pretrained``).

The folder gets ``model.safetensors``, ``config.json`` and a model card ``README.md`` that states the variant,
the data, the training steps and the metrics measured on the exported weights with their protocol; with
``--format onnx`` also ``model.onnx``, checked against PyTorch in onnxruntime; with ``--push_to_hub`` it is
uploaded as a Hub model repo.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from lightning_gans import registry
from lightning_gans.checkpoints import load_module, read_checkpoint
from lightning_gans.cli import CommandParser
from lightning_gans.errors import TRUST_HELP
from lightning_gans.pretrained import Pretrained, PretrainedGenerator, registry_name

DEFAULT_METRICS = "fid,kid"
EXPORTED_FILES = ("model.safetensors", "config.json", "README.md", "model.onnx")  # what --overwrite replaces
ONNX_TOLERANCE = 1e-4  # largest absolute difference from PyTorch that an exported model.onnx may show


def training_record(checkpoint: dict[str, Any], ckpt: Path, config: Path | None) -> dict[str, Any]:
    """What the model card says of the training: steps, epochs, the checkpoint's name and the run's data."""
    counters = checkpoint.get("lightning_gans") or {}
    record: dict[str, Any] = {
        "generator_steps": counters.get("generator_steps"),
        "discriminator_steps": counters.get("discriminator_steps"),
        "epochs": checkpoint.get("epoch"),
        "checkpoint": ckpt.name,
    }
    record = {key: value for key, value in record.items() if value is not None}
    if config is not None:
        data = (yaml.safe_load(config.read_text()) or {}).get("data")
        if isinstance(data, dict):
            from lightning_gans.evaluate import without_locations

            # not the folders it was read from on this machine: `evaluate --data_root` says where they are on another
            record["data"] = without_locations(data) | {"class_path": registry_name(str(data.get("class_path")))}
    return record


def measure(
    pretrained: PretrainedGenerator,
    metrics: str,
    n_real: int,
    n_fake: int,
    feature_network: str,
    config: Path | None,
    data: str | None,
    data_root: str | None,
    trust: bool,
) -> dict[str, Any]:
    """``lightning-gans evaluate``'s report on the exported weights, against the run's data."""
    from lightning_gans.evaluate import checked_metric_names, datamodule_from, evaluate_checkpoint, json_safe
    from lightning_gans.metrics.features import build_feature_network

    names = checked_metric_names(metrics, n_fake, n_real)
    datamodule = datamodule_from(config, data, data_root, trust=trust)
    network = build_feature_network(feature_network)
    report = evaluate_checkpoint(pretrained, datamodule, names, feature_network=network, n_real=n_real, n_fake=n_fake)
    return json_safe(report)  # type: ignore[no-any-return]


def export_command(argv: Sequence[str]) -> int:
    """``lightning-gans export``: see the module docstring."""
    from lightning_gans.evaluate import run_config_of
    from lightning_gans.metrics.features import FeatureNetworkUnavailable

    parser = CommandParser(
        prog="lightning-gans export",
        description="Write a checkpoint's generator (the EMA one when the run kept it) as a folder to share: "
        "model.safetensors, config.json and a model card README.md with the metrics measured on it. The folder is "
        "a Hugging Face Hub model repo; `sample`, `evaluate`, `translate` and `demo` take it as --ckpt.",
    )
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `lightning-gans fit`")
    parser.add_argument("--out", required=True, help="the folder to write (refused if it exists and is not empty)")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of an existing --out folder")
    parser.add_argument(
        "--format",
        choices=("safetensors", "onnx"),
        default="safetensors",
        help="onnx: also write model.onnx (the generator alone, dynamo exporter), checked in onnxruntime against "
        "PyTorch; needs `pip install lightning-gans[onnx]` (default safetensors)",
    )
    parser.add_argument(
        "--metrics",
        default=DEFAULT_METRICS,
        help=f"measured on the exported weights for the model card, or `none` (default {DEFAULT_METRICS}; "
        "translation models are not measured here: `lightning-gans validate` reports their L1, PSNR and SSIM)",
    )
    parser.add_argument("--n_fake", type=int, default=10_000, help="generated images measured (default 10000)")
    parser.add_argument("--n_real", type=int, default=10_000, help="real images, at most the split (default 10000)")
    parser.add_argument("--feature_network", default="fashion_classifier", help="registry name or import path")
    parser.add_argument("--config", default=None, help="the run's config.yaml (default: found from --ckpt)")
    parser.add_argument("--data", default=None, help="data module name or import path instead of the config's")
    parser.add_argument("--data_root", default=None, help="the data module's root folder")
    parser.add_argument("--push_to_hub", default=None, metavar="REPO_ID", help="also upload the folder to the Hub")
    parser.add_argument("--private", action="store_true", help="--push_to_hub: create the repo private")
    parser.add_argument("--trust_checkpoint", action="store_true", help=TRUST_HELP)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"{out} is a file: --out names a folder")
    others = sorted(p.name for p in out.iterdir() if p.name not in EXPORTED_FILES) if out.is_dir() else []
    if others:
        parser.error(f"{out} holds files other than an export's ({', '.join(others[:5])}): choose another --out")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        parser.error(f"{out} holds an export already: choose another --out, or add --overwrite to replace it")
    ckpt = Path(args.ckpt)
    try:
        checkpoint = read_checkpoint(ckpt, trust=args.trust_checkpoint)
        model = load_module(ckpt, trust=args.trust_checkpoint)
        config = Path(args.config) if args.config else run_config_of(ckpt)
        pretrained = Pretrained.from_module(
            model, checkpoint.get("hyper_parameters") or {}, training_record(checkpoint, ckpt, config)
        )
        if isinstance(pretrained, PretrainedGenerator) and args.metrics.strip().lower() != "none":
            pretrained.config["metrics"] = measure(
                pretrained, args.metrics, args.n_real, args.n_fake, args.feature_network, config, args.data,
                args.data_root, args.trust_checkpoint,
            )  # fmt: skip
    except registry.RegistryError:  # a WrongBaseClassError is a TypeError too: it goes to report()
        raise
    except (FileNotFoundError, ValueError, TypeError, FeatureNetworkUnavailable) as error:
        parser.error(str(error))
    # written beside --out first and moved in at the end: a failure (an ONNX export that does not pass its check)
    # leaves an earlier export as it was
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as staging:
        staged = Path(staging)
        if args.format == "onnx":
            from lightning_gans.onnx_export import OnnxExportError, OnnxExtraMissingError

            try:
                pretrained.config["onnx"] = write_onnx(pretrained, staged)
            except (OnnxExtraMissingError, OnnxExportError) as error:
                parser.error(str(error))
        pretrained.save_pretrained(staged)
        out.mkdir(exist_ok=True)
        for name in EXPORTED_FILES:
            (out / name).unlink(missing_ok=True)
        for path in staged.iterdir():
            path.replace(out / path.name)
    print(f"wrote the {pretrained.config['weights']} of {ckpt} to {out}/: "
          f"{', '.join(sorted(p.name for p in out.iterdir()))}")  # fmt: skip
    metrics = pretrained.config.get("metrics")
    if metrics:
        print("measured: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics["results"].items() if isinstance(v, float)))
    if args.push_to_hub:
        url = pretrained.push_to_hub(args.push_to_hub, private=args.private or None)
        print(f"uploaded to the Hub: {url}")
    return 0


def write_onnx(pretrained: Pretrained, out: Path) -> dict[str, Any]:
    """``out/model.onnx`` of the generator, and what ``config.json`` records of it (inputs, the check). A file
    whose outputs differ from PyTorch's by more than ``ONNX_TOLERANCE`` is refused (``OnnxExportError``)."""
    from lightning_gans.onnx_export import OnnxExportError, export_and_check, input_names

    difference = export_and_check(pretrained.generator, out / "model.onnx")
    if not difference <= ONNX_TOLERANCE:  # NaN fails too
        raise OnnxExportError(
            f"the ONNX file's samples differ from PyTorch's by up to {difference:.3g} (more than {ONNX_TOLERANCE}): "
            "not written"
        )
    print(f"model.onnx: max abs difference vs PyTorch on fixed latents {difference:.3g}")
    record = {"file": "model.onnx", "inputs": input_names(pretrained.generator), "output": "images",
              "max_abs_difference_vs_pytorch": difference}  # fmt: skip
    if pretrained.task == "text":
        record["note"] = "the generator only: embed captions with the text encoder in model.safetensors first"
    return record
