"""``lightning-gans evaluate``: sample-quality metrics of a trained checkpoint, with their protocol.

The real images come from the run's data module: the one in ``config.yaml`` that ``lightning-gans fit``
saved beside the ``checkpoints/`` folder, or ``--data NAME`` (with ``--data_root``).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import yaml
from lightning.pytorch import LightningDataModule

from lightning_gans import registry
from lightning_gans.checkpoints import load_variant
from lightning_gans.cli import CommandParser
from lightning_gans.data.base import Location
from lightning_gans.errors import TRUST_HELP
from lightning_gans.images import save_picture
from lightning_gans.inference import LatentSampling
from lightning_gans.metrics.evaluation import (
    DATA_METRICS,
    METRICS,
    SampleQuality,
    dataset_images,
    minimum_images,
    parse_metric_names,
)
from lightning_gans.metrics.features import FeatureNetwork, FeatureNetworkUnavailable, build_feature_network
from lightning_gans.metrics.memorisation import NearestNeighbourMemorisation
from lightning_gans.safety import check_imports
from lightning_gans.sampling import check_truncation, truncated_latents, truncation_in_w


def run_config_of(ckpt: Path) -> Path | None:
    """``<run>/config.yaml`` for a checkpoint at ``<run>/checkpoints/x.ckpt``, if it exists."""
    candidate = ckpt.resolve().parent.parent / "config.yaml"
    return candidate if candidate.is_file() else None


def datamodule_from(
    config: Path | None, data: str | None, data_root: str | None, trust: bool = False
) -> LightningDataModule:
    """The data module named by ``data`` (registry name or import path), else the one in a run config.

    Data modules nested in the config (``semi_supervised`` wraps one under ``data``) are built too, and
    ``data_root`` goes to the innermost one. A run's config may come from someone else with the checkpoint:
    unless ``trust``, the data module it names must be registered."""
    spec: dict[str, Any]
    if data is not None:
        spec = {"class_path": data}
    elif config is not None:
        section = (yaml.safe_load(config.read_text()) or {}).get("data")
        if not isinstance(section, dict) or "class_path" not in section:
            raise ValueError(f"{config} has no data: class_path section; pass --data NAME")
        if not trust:
            check_imports({"data": section}, config, parsed=False)
        spec = section
    else:
        raise ValueError(
            "no config.yaml beside the checkpoint's run folder: pass --run_config RUN/config.yaml or --data NAME"
        )
    return build_datamodule(spec, data_root)


def is_location(annotation: Any) -> bool:
    """Whether a constructor parameter's declared type is marked ``Location`` (``lightning_gans.data.base``)."""
    return typing.get_origin(annotation) is Annotated and any(
        isinstance(meta, Location) for meta in annotation.__metadata__
    )


def names_a_place(value: str) -> bool:
    """Whether ``value`` is an absolute path or names a file or folder that exists here."""
    try:
        return os.path.isabs(value) or Path(value).expanduser().exists()
    except (OSError, ValueError):  # too long for the file system, a NUL byte: no place
        return False


def without_locations(spec: Mapping[str, Any], where: str = "data") -> dict[str, Any]:
    """A data module spec (``{"class_path", "init_args"}``) without what says where its data lives, at every depth
    of nested data modules: the parameters marked ``Location`` (``root``, ``val_root``, ``captions``,
    ``download``) and any other string naming a place on this machine (a plugin's unmarked folder).

    What ``export`` records of the run's data, and what ``evaluate`` takes from an exported folder: data
    locations come from the user's command (``--data_root``), never from a file that travels to other machines.
    The class must have been checked (``check_imports``): it is imported here to read its parameter types.
    """
    class_path = registry.resolve_name(str(spec.get("class_path")), registry.datamodules, where)
    types = registry.parameter_types(registry.class_at(class_path, where))
    arguments = spec.get("init_args") or {}
    if not isinstance(arguments, Mapping):
        raise ValueError(f"{where}.init_args must be a mapping of the data module's arguments")
    kept: dict[str, Any] = {}
    for key, value in arguments.items():
        if is_location(types.get(key)) or (isinstance(value, str) and names_a_place(value)):
            continue
        if isinstance(value, Mapping) and isinstance(value.get("class_path"), str):  # a wrapped data module
            value = without_locations(value, f"{where}.init_args.{key}")
        kept[key] = value
    return {"class_path": spec.get("class_path"), "init_args": kept}


def build_datamodule(spec: dict[str, Any], root: str | None) -> LightningDataModule:
    init_args = dict(spec.get("init_args") or {})
    inner = init_args.get("data")
    if isinstance(inner, dict) and "class_path" in inner:
        init_args["data"] = build_datamodule(inner, root)
    elif root is not None:
        init_args["root"] = root
    path = registry.resolve_name(spec["class_path"], registry.datamodules, "data")
    return registry.class_at(path, "data")(**init_args)  # type: ignore[no-any-return]


def checked_metric_names(metrics: str | Sequence[str], n_fake: int, n_real: int) -> list[str]:
    """The metric names, checked, and refused when ``n_fake`` or ``n_real`` is below what they need."""
    names = parse_metric_names(metrics)
    fewest = minimum_images(names)
    if min(n_fake, n_real) < fewest:
        raise ValueError(f"--metrics {','.join(names)} need --n_fake and --n_real of at least {fewest}")
    return names


# FID, KID, IS and PRDC measured on few images are strongly biased: FID by a term that shrinks as 1/n and differs
# between models (Chong & Forsyth 2020), so numbers from different image counts, or from few images, do not compare.
# Heusel et al. (2017, the TTUR code) recommend at least 10,000 samples for FID, papers report it at 10k-50k, and
# Naeem et al. (2020) measure PRDC at 10k: below 10k, evaluate warns (the refusal below minimum_images stays).
FEW_IMAGES = 10_000
BIASED_METRICS = {"fid": "FID", "kid": "KID", "is": "IS", "prdc": "precision/recall/density/coverage"}


def few_images_warning(names: Sequence[str], n_fake: int, n_real: int) -> str | None:
    """What to say about ``names`` measured on ``n_fake`` generated and ``n_real`` real images, if too few (below
    ``FEW_IMAGES``) for their numbers to be compared with others; ``None`` otherwise."""
    biased = [label for name, label in BIASED_METRICS.items() if name in names]
    few = [f"--{flag} {count}" for flag, count in (("n_fake", n_fake), ("n_real", n_real)) if count < FEW_IMAGES]
    if not biased or not few:
        return None
    return (
        f"{', '.join(biased)} measured on {' and '.join(few)} images are strongly biased (FID by a term that shrinks "
        "as 1/n and differs between models): compare them only with numbers measured on as many images, and measure "
        f"numbers to report on at least {FEW_IMAGES:,} generated and real images (FID is usually reported at 10k-50k)"
    )


def split_of(datamodule: LightningDataModule, split: str) -> Any:
    datamodule.setup("fit")
    dataset = getattr(datamodule, f"{split}_set", None)
    if dataset is None:
        raise ValueError(f"{type(datamodule).__name__} has no {split}_set; splits are train and val")
    return dataset


def evaluate_checkpoint(
    model: LatentSampling,
    datamodule: LightningDataModule,
    metrics: str | Sequence[str],
    feature_network: FeatureNetwork | str = "fashion_classifier",
    n_real: int = 10_000,
    n_fake: int = 10_000,
    real_split: str = "train",
    seed: int = 0,
    batch_size: int = 500,
    truncation: float | None = None,
    truncation_mode: str = "resample",
    pairs_png: Path | None = None,
) -> dict[str, Any]:
    """Score ``n_fake`` samples of ``model`` against ``n_real`` images of ``real_split``.

    ``knn`` always searches the *whole* train split (a copy of any training image must be found) and holds
    out the whole val split. Returns ``{"protocol": ..., "results": ..., "seconds": ...}``.
    """
    names = parse_metric_names(metrics)
    start = time.time()
    real = dataset_images(split_of(datamodule, real_split), n_real, seed)
    memorisation = None
    if "knn" in names:
        memorisation = (
            dataset_images(split_of(datamodule, "train"), None, seed),
            dataset_images(split_of(datamodule, "val"), None, seed),
        )
    quality = SampleQuality(
        names, feature_network, real, memorisation, batch_size, seed, num_labels=model.num_classes, device=model.device
    )
    latents = truncated_latents(n_fake, model.latent_dim, truncation, truncation_mode, seed)  # type: ignore[arg-type]
    chunks = iter(latents.split(batch_size))
    with truncation_in_w(model.sampling_generator, truncation if truncation_mode == "w" else None):
        results = quality.evaluate(lambda n: model.generate_labelled(next(chunks)), n_fake, reset=False)
    described = f"{type(datamodule).__name__} {real_split} split ({len(real)} images)"
    protocol = quality.protocol(described, n_fake).as_dict()
    if model.num_classes:
        protocol["labels"] = f"each of the {model.num_classes} labels in turn"
    if truncation is not None:
        protocol["truncation"] = {"psi": truncation, "mode": truncation_mode}
    if pairs_png is not None and "knn" in names:
        knn = quality.metrics["knn"]
        assert isinstance(knn, NearestNeighbourMemorisation)
        save_picture(knn.closest_pairs_picture(16), pairs_png)
        protocol["knn_pairs_png"] = str(pairs_png)
    return {"protocol": protocol, "results": results, "seconds": round(time.time() - start, 1)}


def json_safe(value: Any) -> Any:
    """Infinite and NaN floats as the strings "inf", "-inf", "nan": strict JSON has no such numbers (an
    infinite support estimate means no collisions were seen)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def format_table(report: dict[str, Any]) -> str:
    lines = ["| metric | value |", "|---|---|"]
    for key, value in report["results"].items():
        if isinstance(value, list):
            shown = ", ".join(f"{v:.3g}" for v in value)
        elif isinstance(value, float) and math.isfinite(value):
            shown = f"{value:.4g}"
        else:
            shown = str(value)
        lines.append(f"| {key} | {shown} |")
    protocol = ", ".join(f"{k}={v}" for k, v in report["protocol"].items())
    return "\n".join(lines) + f"\n\nprotocol: {protocol}; {report['seconds']} s"


def evaluate_command(argv: Sequence[str]) -> int:
    parser = CommandParser(
        prog="lightning-gans evaluate",
        description="Sample-quality metrics of a checkpoint: prints a table and writes JSON with the protocol.",
        epilog="metrics: " + "; ".join(f"{k}: {v}" for k, v in {**METRICS, **DATA_METRICS}.items()),
    )
    parser.add_argument(
        "--ckpt", required=True, help="a checkpoint written by `lightning-gans fit`, or an exported folder or Hub id"
    )
    parser.add_argument("--trust_checkpoint", action="store_true", help=TRUST_HELP)
    parser.add_argument(
        "--metrics",
        default=None,
        help="comma-separated (default: all but the data-specific ones such as stacked_modes; `labels` only for "
        "conditional models)",
    )
    parser.add_argument("--n_fake", type=int, default=10_000, help="generated images (default 10000)")
    parser.add_argument("--n_real", type=int, default=10_000, help="real images, at most the split (default 10000)")
    parser.add_argument("--real_split", choices=("train", "val"), default="train", help="reference split")
    parser.add_argument("--feature_network", default="fashion_classifier", help="registry name or import path")
    parser.add_argument("--seed", type=int, default=0, help="latents, real subset and KID/IS subsets")
    parser.add_argument("--batch_size", type=int, default=500)
    parser.add_argument("--truncation", type=float, default=None, help="truncation psi (default: none)")
    parser.add_argument("--truncation_mode", choices=("resample", "scale", "w"), default="resample")
    parser.add_argument("--run_config", default=None, help="the run's config.yaml (default: found from --ckpt)")
    parser.add_argument("--data", default=None, help="data module name or import path instead of the config's")
    parser.add_argument("--data_root", default=None, help="the data module's root folder")
    parser.add_argument("--out", default="evaluation.json", help="JSON to write (default evaluation.json)")
    parser.add_argument("--pairs_png", default=None, help="closest (sample, training image) pairs (knn)")
    args = parser.parse_args(argv)
    try:
        check_truncation(args.truncation, args.truncation_mode)
    except ValueError as error:
        parser.error(f"--truncation: {error}")
    try:
        model = load_variant(args.ckpt, trust=args.trust_checkpoint)
        default = [m for m in METRICS if m != "labels" or model.num_classes]
        names = checked_metric_names(args.metrics or default, args.n_fake, args.n_real)
        network = build_feature_network(args.feature_network)
        exported = getattr(model, "config", None)  # an exported folder (or Hub repo) names its data in config.json
        if exported is not None and args.run_config is None and args.data is None:
            data = (exported.get("training") or {}).get("data")
            if not isinstance(data, dict) or not isinstance(data.get("class_path"), str):
                raise ValueError(f"{args.ckpt} names no data module: pass --data NAME (and --data_root)")
            check_imports({"data": data}, args.ckpt, parsed=False)
            # the data module and its settings come from the folder; where its data lives, from this command only
            datamodule = build_datamodule(without_locations(data, f"{args.ckpt}: training.data"), args.data_root)
        else:
            config = Path(args.run_config) if args.run_config else run_config_of(Path(args.ckpt))
            datamodule = datamodule_from(config, args.data, args.data_root, trust=args.trust_checkpoint)
    except registry.RegistryError:  # a WrongBaseClassError is a TypeError too: it goes to report()
        raise
    except (FileNotFoundError, ValueError, TypeError, FeatureNetworkUnavailable) as error:
        parser.error(str(error))
    out = Path(args.out)
    pairs = Path(args.pairs_png) if args.pairs_png else out.with_name(out.stem + "_knn_pairs.png")
    try:
        report = evaluate_checkpoint(
            model,
            datamodule,
            names,
            feature_network=network,
            n_real=args.n_real,
            n_fake=args.n_fake,
            real_split=args.real_split,
            seed=args.seed,
            batch_size=args.batch_size,
            truncation=args.truncation,
            truncation_mode=args.truncation_mode,
            pairs_png=pairs,
        )
    except ValueError as error:  # e.g. images the feature network cannot take
        parser.error(str(error))
    report["checkpoint"] = str(args.ckpt)
    print(format_table(report))
    warning = few_images_warning(names, args.n_fake, args.n_real)
    if warning is not None:  # beside the numbers, and in the JSON that travels without this output
        print(f"lightning-gans evaluate: warning: {warning}", file=sys.stderr)
        report["warning"] = warning
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n")
    print(f"wrote {out}")
    return 0
