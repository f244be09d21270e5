"""``lightning-gans export``: a checkpoint's generator as a folder to share (``lightning_gans.pretrained``).

The folder gets ``model.safetensors``, ``config.json`` and a model card ``README.md`` that states the variant,
the data, the training steps and the metrics measured on the exported weights with their protocol; with
``--format onnx`` also ``model.onnx``, checked against PyTorch in onnxruntime; with ``--push_to_hub`` it is
uploaded as a Hub model repo.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from lightning_gans import registry
from lightning_gans.checkpoints import load_module, read_checkpoint
from lightning_gans.cli import CommandParser
from lightning_gans.core.module import GenerativeModule, TrainingModule, is_plain
from lightning_gans.core.translation import TranslationModule
from lightning_gans.errors import TRUST_HELP
from lightning_gans.inference import CaptionSampling
from lightning_gans.model_card import DEFAULT_LICENSE, SAMPLES_NAME
from lightning_gans.nets.progan import growing_nets
from lightning_gans.pretrained import (
    CONFIG_NAME,
    FORMAT_VERSION,
    ROLES,
    TASK_CLASSES,
    Pretrained,
    PretrainedGenerator,
    provider_of,
    registry_name,
)
from lightning_gans.safety import IMPORT_PATH, check_imports, parser_imports_only

DEFAULT_METRICS = "fid,kid"
# what --overwrite replaces
EXPORTED_FILES = ("model.safetensors", CONFIG_NAME, "README.md", SAMPLES_NAME, "model.onnx", "model_ba.onnx")
ARXIV = re.compile(r"arXiv:\s*(\d{4}\.\d{4,5})")
ONNX_TOLERANCE = 1e-4  # largest absolute difference from PyTorch that an exported model.onnx may show


@contextmanager
def recorded_arguments(cls: type) -> Iterator[dict[int, dict[str, Any]]]:
    """While the block runs, every ``cls(...)`` (not a subclass's) records its constructor arguments, defaults
    filled in, under ``id(instance)``. A net has no record of how it was built, and a variant's preset builds its
    nets inside its constructor: this is how ``config.json`` learns the arguments of a preset's net."""
    own = vars(cls).get("__init__")
    original = registry.constructor(cls)
    signature = inspect.signature(original)
    records: dict[int, dict[str, Any]] = {}

    @functools.wraps(original)  # its signature stays the constructor's: jsonargparse reads it to parse arguments
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if type(self) is cls and id(self) not in records:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            records[id(self)] = dict(list(bound.arguments.items())[1:])  # without self
        original(self, *args, **kwargs)

    cls.__init__ = init  # type: ignore[misc]
    try:
        yield records
    finally:
        if own is None:
            del cls.__init__  # type: ignore[misc]
        else:
            cls.__init__ = own  # type: ignore[misc]


def variant_arguments(hyper_parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe's arguments of the variant in a checkpoint's hyper-parameters (without Lightning's keys and the
    optimiser factories, which no net depends on)."""
    return {key: value for key, value in hyper_parameters.items()
            if not key.startswith("_") and not (isinstance(value, str) and IMPORT_PATH.match(value))}  # fmt: skip


def net_specs(model: TrainingModule, hyper_parameters: Mapping[str, Any], nets: Mapping[str, nn.Module],
              variant: str) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``config.json``'s description of each net: its registry name and full constructor arguments, recorded while
    the variant is built again from the same hyper-parameters (under the same import gate as any load of them),
    and checked to build a net of the same tensors. A net whose arguments are not plain JSON, or whose class is
    not a registered part, is described by the variant that builds it (``built_by_variant``, format 1)."""
    from lightning.pytorch.cli import instantiate_module

    arguments = variant_arguments(hyper_parameters)
    check_imports(dict(hyper_parameters), CONFIG_NAME)  # before any import: the file may be anyone's
    resolved = copy.deepcopy(arguments)
    registry.resolve_arguments(type(model), resolved, "model", None)  # registry names, as the CLI resolves them
    approved = check_imports(resolved, CONFIG_NAME)
    classes = {role: type(net) for role, net in nets.items()}
    with ExitStack() as stack:
        records = {cls: stack.enter_context(recorded_arguments(cls)) for cls in set(classes.values())}
        with parser_imports_only(approved, CONFIG_NAME):
            rebuilt = instantiate_module(type(model), resolved)
    specs: dict[str, dict[str, Any]] = {}
    for role, net in nets.items():
        cls = classes[role]
        again = getattr(rebuilt, role, None)
        recorded = records[cls].get(id(again))
        found = registry.find_registered(f"{cls.__module__}.{cls.__qualname__}")
        registered = found is not None and found[0] is registry.REGISTRIES[ROLES[role]]
        if recorded is not None and registered and is_plain(recorded) and same_tensors(cls(**recorded), net):
            assert found is not None
            specs[role] = {"class_path": found[1].name, "init_args": json.loads(json.dumps(recorded))}
        else:
            specs[role] = {"built_by_variant": {"class_path": variant, "init_args": arguments}}
    return specs


def same_tensors(built: nn.Module, net: nn.Module) -> bool:
    """Whether two nets hold tensors of the same names, shapes and dtypes."""
    ours, theirs = built.state_dict(), net.state_dict()
    return ours.keys() == theirs.keys() and all(
        ours[k].shape == theirs[k].shape and ours[k].dtype == theirs[k].dtype for k in ours
    )


def paper_of(cls: type) -> dict[str, Any] | None:
    """The paper a variant implements, from the first paragraph of its module's docstring (every built-in variant
    opens with ``Name: Authors year, "Title" (arXiv:...)``), with its arXiv ids."""
    doc = inspect.getdoc(sys.modules.get(cls.__module__)) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return {"citation": first, "arxiv": ARXIV.findall(first)} if first else None


def part_spec(part: Any, given: Any) -> dict[str, Any] | None:
    """A part of the variant (its loss) as ``config.json`` names nets: registry name and the recipe's arguments."""
    if part is None:
        return None
    path = f"{type(part).__module__}.{type(part).__qualname__}"
    init_args = given.get("init_args") if isinstance(given, Mapping) else None
    return {"class_path": registry_name(path), "init_args": dict(init_args or {})}


def providers(model: TrainingModule, weights: Mapping[str, nn.Module], record: Mapping[str, Any]) -> dict[str, str]:
    """The distribution (``"name version"``) that provided each registered part of the run: the variant, each
    exported net, the loss and the data module. ``config.json`` keeps it, so that loading the folder where a
    plugin is missing names the plugin to install, and the card lists it."""
    parts: dict[str, Any] = {"variant": model, **weights, "loss": getattr(model, "loss", None)}
    paths = {
        key: f"{type(part).__module__}.{type(part).__qualname__}" for key, part in parts.items() if part is not None
    }
    data = (record.get("data") or {}).get("class_path")
    if isinstance(data, str):
        paths["data"] = registry.datamodules.entry(data).class_path if data in registry.datamodules else data
    found = {key: provider_of(path) for key, path in paths.items()}
    return {key: provider for key, provider in found.items() if provider is not None}


def output_of(pretrained: Pretrained) -> dict[str, Any]:
    """What the generator draws: one sample's shape (latent models) and the value range of every task."""
    output: dict[str, Any] = {"value_range": [-1.0, 1.0]}
    if isinstance(pretrained, PretrainedGenerator) and pretrained.draws_sample_grid:
        output["shape"] = list(pretrained.sample(1, seed=0).shape[1:])
    elif isinstance(pretrained, PretrainedGenerator):
        output["shape"] = None  # a text-to-image generator without grid captions: it needs a caption to draw
    return output


def pretrained_from_module(
    model: TrainingModule,
    hyper_parameters: Mapping[str, Any],
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    license: str = DEFAULT_LICENSE,  # noqa: A002 (the Hub's field name)
) -> Pretrained:
    """The exportable generator of a trained variant: the EMA generator when there is one.

    ``hyper_parameters`` are its checkpoint's (``read_checkpoint(path)["hyper_parameters"]``): the recipe's
    config. ``training`` (data, steps) and ``metrics`` (an ``evaluate`` report) go into the config and the model
    card."""
    hparams = dict(hyper_parameters)
    variant = registry_name(hparams.get("_class_path") or f"{type(model).__module__}.{type(model).__qualname__}")
    weights: dict[str, nn.Module]
    config: dict[str, Any] = {"format_version": FORMAT_VERSION, "library_version": version("lightning-gans")}
    if isinstance(model, TranslationModule):
        weights = {"generator": model.generator}
        second = getattr(model, "generator_ba", None)  # CycleGAN's B -> A generator
        if isinstance(second, nn.Module):
            weights["generator_ba"] = second
        config.update(task="translation")
    elif isinstance(model, GenerativeModule):
        weights = {"generator": model.sampling_generator}
        config.update(task="latent", latent_dim=model.latent_dim, num_classes=model.num_classes)
        if isinstance(model, CaptionSampling):
            weights["text_encoder"] = model.text_encoder
            config.update(task="text", grid_captions=list(model.grid_captions))
    else:
        raise TypeError(f"{type(model).__name__} has no generator to export")
    nets = net_specs(model, hparams, weights, variant)
    for role, net in weights.items():
        grown = growing_nets(net)  # ProGAN: the resolution it samples at is not in its state_dict
        if grown:
            nets[role]["growth"] = {"level": grown[0].level, "alpha": grown[0].alpha}
    record = dict(training or {})
    loss = part_spec(getattr(model, "loss", None), hparams.get("loss"))
    if loss is not None:
        record["loss"] = loss
    config.update(
        variant=variant,
        weights="exponential moving average of the generator"
        if getattr(model, "generator_ema", None) is not None
        else "trained generator (the run kept no EMA)",
        nets=nets,
        parameters={role: sum(p.numel() for p in net.parameters()) for role, net in weights.items()},
        paper=paper_of(type(model)),
        provided_by=providers(model, weights, record),
        license=license,
        training=record,
        metrics=metrics,
    )
    pretrained = TASK_CLASSES[config["task"]](config)
    for role, net in weights.items():
        getattr(pretrained, role).load_state_dict(net.state_dict())
    config["output"] = output_of(pretrained)
    return pretrained


def training_record(checkpoint: dict[str, Any], ckpt: Path, config: Path | None) -> dict[str, Any]:
    """What the model card says of the training: steps, epochs, the checkpoint's name and the run's data."""
    counters = checkpoint.get("lightning_gans") or {}
    record: dict[str, Any] = {
        "generator_steps": counters.get("generator_steps"),
        "discriminator_steps": counters.get("discriminator_steps"),
        "epochs": epochs_trained(checkpoint),
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


def epochs_trained(checkpoint: Mapping[str, Any]) -> int | None:
    """Complete epochs behind a checkpoint: its ``epoch`` is the index of the epoch it was saved in, which is
    complete when the save came after that epoch's last batch (Lightning's ``is_last_batch``)."""
    epoch = checkpoint.get("epoch")
    if not isinstance(epoch, int):
        return None
    progress = ((checkpoint.get("loops") or {}).get("fit_loop") or {}).get("epoch_loop.batch_progress") or {}
    return epoch + 1 if progress.get("is_last_batch") else epoch


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


def default_metrics(pretrained: Pretrained) -> str:
    """What ``export`` measures when ``--metrics`` is not given: FID and KID of image generators; nothing for a
    generator of points or vectors (the 2-D mixtures), which image metrics cannot take, with a line saying so."""
    shape = (pretrained.config.get("output") or {}).get("shape")
    if isinstance(shape, list) and len(shape) != 3:
        kind = "2-D points" if shape == [2] else f"samples of shape ({', '.join(map(str, shape))})"
        print(
            f"export: the generator draws {kind}, not images, so the default metrics ({DEFAULT_METRICS}, which need "
            "images) are not measured. On the 2-D mixtures, ModeCoverageCallback (_shared/callbacks_2d.yaml) reports "
            "mode coverage at every validation and in `lightning-gans validate`."
        )
        return "none"
    return DEFAULT_METRICS


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
        default=None,
        help=f"measured on the exported weights for the model card, or `none` (default {DEFAULT_METRICS} for image "
        "generators, none for generators of points or vectors, which the image metrics cannot take; translation "
        "models are not measured here: `lightning-gans validate` reports their L1, PSNR and SSIM)",
    )
    parser.add_argument("--n_fake", type=int, default=10_000, help="generated images measured (default 10000)")
    parser.add_argument("--n_real", type=int, default=10_000, help="real images, at most the split (default 10000)")
    parser.add_argument("--feature_network", default="fashion_classifier", help="registry name or import path")
    parser.add_argument("--run_config", default=None, help="the run's config.yaml (default: found from --ckpt)")
    parser.add_argument("--data", default=None, help="data module name or import path instead of the config's")
    parser.add_argument("--data_root", default=None, help="the data module's root folder")
    parser.add_argument("--push_to_hub", default=None, metavar="REPO_ID", help="also upload the folder to the Hub")
    parser.add_argument("--private", action="store_true", help="--push_to_hub: create the repo private")
    parser.add_argument(
        "--license",
        default=DEFAULT_LICENSE,
        help=f"the model card's license, a Hub license id (default {DEFAULT_LICENSE}, the project's)",
    )
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
        config = Path(args.run_config) if args.run_config else run_config_of(ckpt)
        record = training_record(checkpoint, ckpt, config)
        pretrained = pretrained_from_module(
            model, checkpoint.get("hyper_parameters") or {}, record, license=args.license
        )
        metrics = args.metrics if args.metrics is not None else default_metrics(pretrained)
        if isinstance(pretrained, PretrainedGenerator) and metrics.strip().lower() != "none":
            pretrained.config["metrics"] = measure(
                pretrained, metrics, args.n_real, args.n_fake, args.feature_network, config, args.data,
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
        try:
            url = pretrained.push_to_hub(args.push_to_hub, private=args.private or None)
        except Exception as error:  # the Hub client's failures are many (HTTP, connection, auth, offline mode)
            parser.error(upload_failed(args.push_to_hub, out, error))
        pretrained.generate_model_card().save(out / "README.md")  # the usage snippet with the repo id
        print(f"uploaded to the Hub: {url}")
    return 0


def upload_failed(repo_id: str, out: Path, error: BaseException) -> str:
    """One paragraph: which repo, that the folder was written, why the upload failed and how to push it later."""
    reason = " ".join(str(error).split()) or type(error).__name__
    if len(reason) > 300:
        reason = reason[:300] + "..."
    return (
        f"the export in {out}/ was written, but uploading it to the Hub repo {repo_id} failed ({reason}). Push it "
        f"later with `hf upload {repo_id} {out}` (log in first with `hf auth login`)."
    )


def write_onnx(pretrained: Pretrained, out: Path) -> dict[str, Any]:
    """``out/model.onnx`` of the generator (and ``out/model_ba.onnx`` of a CycleGAN's B -> A generator), and what
    ``config.json`` records of them (inputs, dynamic axes, the check). A file whose outputs differ from PyTorch's
    by more than ``ONNX_TOLERANCE`` is refused (``OnnxExportError``)."""
    nets = {"model.onnx": pretrained.generator}
    generator_ba = getattr(pretrained, "generator_ba", None)
    if isinstance(generator_ba, nn.Module):
        nets["model_ba.onnx"] = generator_ba
    records = [onnx_file(net, out / name, pretrained.config) for name, net in nets.items()]
    record = records[0]
    if len(records) > 1:
        record["generator_ba"] = records[1]
    if pretrained.task == "text":
        record["note"] = "the generator only: embed captions with the text encoder in model.safetensors first"
    return record


def onnx_file(generator: nn.Module, path: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """One generator exported to ``path``, checked against PyTorch and labelled; its ``config.json`` record."""
    from lightning_gans.onnx_export import OnnxExportError, dynamic_axes, export_and_check, input_names

    difference = export_and_check(generator, path)
    if not difference <= ONNX_TOLERANCE:  # NaN fails too
        raise OnnxExportError(
            f"the ONNX file's samples differ from PyTorch's by up to {difference:.3g} (more than {ONNX_TOLERANCE}): "
            "not written"
        )
    print(f"{path.name}: max abs difference vs PyTorch on fixed inputs {difference:.3g}")
    axes = dynamic_axes(path)
    label_model_onnx(path, config, axes)
    return {"file": path.name, "inputs": input_names(generator), "output": "images", "dynamic_axes": axes,
            "max_abs_difference_vs_pytorch": difference}  # fmt: skip


def label_model_onnx(path: Path, config: Mapping[str, Any], axes: Mapping[str, list[str]]) -> None:
    """Store what a user of ``model.onnx`` alone needs in its ``metadata_props`` (ONNX's own key-value strings,
    shown by Netron and read with ``onnx.load(path).metadata_props`` or onnxruntime's ``get_modelmeta()``): the
    variant, the task, the latent size, the classes (the labels it accepts), the value range and which input
    axes are free."""
    import onnx

    model = onnx.load(str(path))
    properties = {
        "lightning_gans.variant": str(config.get("variant")),
        "lightning_gans.task": str(config.get("task")),
        "lightning_gans.latent_dim": str(config.get("latent_dim") or 0),
        "lightning_gans.num_classes": str(config.get("num_classes") or 0),
        "lightning_gans.value_range": "[-1, 1]",
        "lightning_gans.dynamic_axes": json.dumps(dict(axes)),
        "lightning_gans.library_version": str(config.get("library_version")),
    }
    onnx.helper.set_model_props(model, properties)
    onnx.save(model, str(path))
