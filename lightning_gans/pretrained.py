"""Trained generators outside training: a self-describing folder that is a normal Hugging Face Hub model repo.

``lightning-gans export`` (or ``save_pretrained``) writes three files, the layout of ``huggingface_hub``'s
``ModelHubMixin`` (so ``push_to_hub`` uploads the folder as it is and ``from_pretrained`` takes a Hub id):

* ``model.safetensors``: the generator's weights (the EMA generator when the run kept one), plus the text encoder
  of a text-to-image model or the second generator of a CycleGAN;
* ``config.json``: what rebuilds the nets, by registry names (``{"class_path": "dcgan", "init_args": {...}}``),
  and what the model is: its variant, task, latent size and classes, how long it trained on which data, and the
  metrics measured at export with their protocol;
* ``README.md``: the model card, written from ``config.json``.

Loading never unpickles anything: the weights are safetensors and the config is JSON, and the nets it names are
built only when they are registered lightning-gans parts (built-in or from an installed plugin).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

import torch
from huggingface_hub import ModelCard, ModelCardData, ModelHubMixin, hf_hub_download
from lightning.pytorch.cli import instantiate_module
from safetensors import safe_open
from safetensors.torch import save_model
from torch import Tensor, nn

from lightning_gans import registry
from lightning_gans.core.guards import non_finite_tensors
from lightning_gans.core.module import GenerativeModule, TrainingModule
from lightning_gans.core.translation import TranslationModule
from lightning_gans.errors import UntrustedCheckpointError
from lightning_gans.inference import CaptionSampling, LatentSampling, translated
from lightning_gans.nets.progan import growing_nets, set_growth
from lightning_gans.safety import IMPORT_PATH, check_imports, parser_imports_only

FORMAT_VERSION = 1
WEIGHTS_NAME = "model.safetensors"  # huggingface_hub.constants.SAFETENSORS_SINGLE_FILE
CONFIG_NAME = "config.json"
PIPELINE_TAGS = {"latent": "unconditional-image-generation", "text": "text-to-image", "translation": "image-to-image"}
# the nets a folder may hold, and the registry each one's class must be registered in
ROLES = {"generator": "generators", "generator_ba": "generators", "text_encoder": "text_encoders"}
FOLDER_HINT = "An exported folder builds registered lightning-gans parts only, with or without --trust_checkpoint."


def registry_name(class_path: str) -> str:
    """The registry name of a registered class (``lightning_gans.nets.dcgan.DCGANGenerator`` -> ``dcgan``), else
    the class path as given."""
    found = registry.find_registered(class_path)
    return found[1].name if found is not None else class_path


def net_spec(hyper_parameters: Mapping[str, Any], role: str, variant: str) -> dict[str, Any]:
    """How ``config.json`` rebuilds the net a checkpoint's hyper-parameters hold as ``role``: its registry name
    and arguments when the recipe gave them, else (a preset's default net, e.g. ACGAN's generator) the variant
    that builds it, by registry name with the recipe's arguments (optimiser factories left out: no net
    depends on them)."""
    spec = hyper_parameters.get(role)
    if isinstance(spec, Mapping) and isinstance(spec.get("class_path"), str):
        return {"class_path": registry_name(spec["class_path"]), "init_args": dict(spec.get("init_args") or {})}
    arguments = {
        key: value
        for key, value in hyper_parameters.items()
        if not key.startswith("_") and not (isinstance(value, str) and IMPORT_PATH.match(value))
    }
    return {"built_by_variant": {"class_path": variant, "init_args": arguments}}


def registered_class_path(name: Any, plural: str, where: str) -> str:
    """The class path of a part registered in the ``plural`` registry, by registry name or class path; anything
    else (an unregistered class, a registered class of another kind) raises ``UntrustedCheckpointError`` before it
    is imported."""
    kind = registry.REGISTRIES[plural]
    path = registry.resolve_name(str(name), kind, where)
    found = registry.find_registered(path)
    if found is None or found[0] is not kind:
        raise UntrustedCheckpointError(
            f"{where} names {name!r}, which is not a registered {kind.kind}, so it was not imported. Install the "
            f"plugin that registers it (`lightning-gans list` shows what is registered). {FOLDER_HINT}"
        )
    return path


def build_net(spec: Mapping[str, Any], role: str, variants: dict[str, nn.Module], approved: set[str]) -> nn.Module:
    """The net a ``config.json`` entry describes (see ``net_spec``); ``variants`` caches the variants built. The
    classes it names have been checked (``check_config_imports``, which approved the import paths ``approved``)."""
    where = f"{CONFIG_NAME}: nets.{role}"
    built_by = spec.get("built_by_variant")
    net: Any
    if isinstance(built_by, Mapping):
        key = json.dumps(built_by, sort_keys=True)
        if key not in variants:
            cls = registry.class_at(registered_class_path(built_by.get("class_path"), "variants", where), where)
            # LightningCLI's own builder, as for a checkpoint: it parses the recipe's values into the constructor's
            # types (dataclasses such as Regularisation, parts given by class_path), all checked already; the parse
            # may import the approved paths only
            with parser_imports_only(approved, CONFIG_NAME, hint=FOLDER_HINT):
                variants[key] = instantiate_module(cls, dict(built_by.get("init_args") or {}))
        net = getattr(variants[key], role, None)
        if not isinstance(net, nn.Module):
            raise ValueError(f"{where}: the variant {built_by.get('class_path')} has no {role}")
    else:
        cls = registry.class_at(registered_class_path(spec.get("class_path"), ROLES[role], where), where)
        net = cls(**registry.build_arguments(cls, dict(spec.get("init_args") or {}), where))
    growth = spec.get("growth")
    if isinstance(growth, Mapping):  # a growing net (ProGAN) exported before it was fully grown
        set_growth(int(growth["level"]), float(growth["alpha"]), net)
    return net  # type: ignore[no-any-return]


def check_config_imports(nets: Any) -> set[str]:
    """Refuse a nets section that names anything but registered parts of the right kind, nested arguments
    included in every reading the config parser may take (``safety.check_imports``), before anything is
    imported or built; returns the import paths approved."""
    if not isinstance(nets, Mapping) or "generator" not in nets:
        raise ValueError(f"{CONFIG_NAME} has no nets.generator: it was not written by lightning-gans")
    unknown = sorted(set(nets) - set(ROLES))
    if unknown:
        raise ValueError(f"{CONFIG_NAME}: unknown nets {unknown}; a folder holds {', '.join(ROLES)}")
    resolved: dict[str, Any] = {}
    for role, spec in nets.items():
        where = f"{CONFIG_NAME}: nets.{role}"
        if not isinstance(spec, Mapping):
            raise ValueError(f"{where} must be an object with a class_path")
        built_by = spec.get("built_by_variant")
        if isinstance(built_by, Mapping):
            path = registered_class_path(built_by.get("class_path"), "variants", where)
            resolved[role] = {"built_by_variant": {**built_by, "class_path": path}}
        else:
            resolved[role] = {**spec, "class_path": registered_class_path(spec.get("class_path"), ROLES[role], where)}
    return check_imports({"nets": resolved}, CONFIG_NAME, hint=FOLDER_HINT)


class Pretrained(
    nn.Module,
    ModelHubMixin,
    library_name="lightning-gans",
    tags=["lightning-gans", "gan"],
):
    """A trained generator rebuilt from ``config.json`` and ``model.safetensors``, in eval mode.

    ``Pretrained.from_pretrained(folder_or_hub_id)`` returns the subclass the folder's task asks for:
    ``PretrainedGenerator`` (noise, optionally a class, to images), ``PretrainedTextGenerator`` (captions too) or
    ``PretrainedTranslator`` (images to images). ``save_pretrained(folder)`` and ``push_to_hub(repo_id)`` are
    ``huggingface_hub.ModelHubMixin``'s.

    Args:
        config: the content of ``config.json``; ``config["nets"]`` maps each net's attribute name to its registry
            name (or registered class path) and constructor arguments.
    """

    task: ClassVar[str] = ""
    generator: nn.Module

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        nets = config.get("nets")
        approved = check_config_imports(nets)  # the config may come from anyone
        assert isinstance(nets, Mapping)
        self.config = config
        variants: dict[str, nn.Module] = {}
        for role, spec in nets.items():
            self.add_module(role, build_net(spec, role, variants, approved))
        self.requires_grad_(False)
        self.eval()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- from a trained module -------------------------------------------------------------------------------
    @staticmethod
    def from_module(
        model: TrainingModule,
        hyper_parameters: Mapping[str, Any],
        training: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> Pretrained:
        """The exportable generator of a trained variant: the EMA generator when there is one.

        ``hyper_parameters`` are its checkpoint's (``read_checkpoint(path)["hyper_parameters"]``): the recipe's
        config, whose ``class_path``/``init_args`` entries name the nets. ``training`` (data, steps) and
        ``metrics`` (an ``evaluate`` report) go into the config and the model card."""
        hparams = dict(hyper_parameters)
        variant = registry_name(hparams.get("_class_path") or f"{type(model).__module__}.{type(model).__qualname__}")
        nets = {"generator": net_spec(hparams, "generator", variant)}
        weights: dict[str, nn.Module]
        config: dict[str, Any] = {"format_version": FORMAT_VERSION, "library_version": version("lightning-gans")}
        if isinstance(model, TranslationModule):
            weights = {"generator": model.generator}
            second = getattr(model, "generator_ba", None)  # CycleGAN's B -> A generator
            if isinstance(second, nn.Module):
                nets["generator_ba"] = net_spec(hparams, "generator_ba", variant)
                weights["generator_ba"] = second
            config.update(task="translation")
        elif isinstance(model, GenerativeModule):
            weights = {"generator": model.sampling_generator}
            config.update(task="latent", latent_dim=model.latent_dim, num_classes=model.num_classes)
            if isinstance(model, CaptionSampling):
                nets["text_encoder"] = net_spec(hparams, "text_encoder", variant)
                weights["text_encoder"] = model.text_encoder
                config.update(task="text", grid_captions=list(model.grid_captions))
        else:
            raise TypeError(f"{type(model).__name__} has no generator to export")
        config.update(
            variant=variant,
            weights="exponential moving average of the generator"
            if getattr(model, "generator_ema", None) is not None
            else "the trained generator (the run kept no EMA)",
            nets=nets,
            training=training or {},
            metrics=metrics,
        )
        for role, net in weights.items():
            grown = growing_nets(net)  # ProGAN: the resolution it samples at is not in its state_dict
            if grown:
                nets[role]["growth"] = {"level": grown[0].level, "alpha": grown[0].alpha}
        pretrained = TASK_CLASSES[config["task"]](config)
        for role, net in weights.items():
            getattr(pretrained, role).load_state_dict(net.state_dict())
        return pretrained

    # -- ModelHubMixin -----------------------------------------------------------------------------------------
    def _save_pretrained(self, save_directory: Path) -> None:
        save_model(self, str(save_directory / WEIGHTS_NAME), metadata={"format": "pt"})
        (save_directory / CONFIG_NAME).write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n")
        # written here, not left to the mixin (which keeps an existing README.md): card and config always agree
        self.generate_model_card().save(save_directory / "README.md")

    @classmethod
    def _from_pretrained(  # type: ignore[override]  # the mixin's **model_kwargs: config and map_location here
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        config: dict[str, Any] | None = None,
        map_location: str = "cpu",
        proxies: dict[str, str] | None = None,  # passed by huggingface_hub < 1.0 only, and not needed here
        resume_download: bool | None = None,  # likewise (downloads always resume now)
    ) -> Pretrained:
        local = Path(model_id).is_dir()
        if not isinstance(config, dict):
            if local:
                raise ValueError(f"{model_id} has no {CONFIG_NAME}: it is not a generator folder of lightning-gans")
            raise ValueError(
                f"could not fetch {CONFIG_NAME} of {model_id} from the Hugging Face Hub: the repo does not exist, is "
                "private (log in with `hf auth login`), or was not written by lightning-gans"
            )
        version_read = config.get("format_version", 0)
        if not isinstance(version_read, int) or version_read > FORMAT_VERSION:
            raise ValueError(
                f"{model_id}/{CONFIG_NAME} has format_version {version_read!r}; this lightning-gans reads "
                f"{FORMAT_VERSION} and older: upgrade lightning-gans"
            )
        target = TASK_CLASSES.get(str(config.get("task")))
        if target is None:
            raise ValueError(f"{model_id}/{CONFIG_NAME}: unknown task {config.get('task')!r}")
        if not issubclass(target, cls):
            raise TypeError(f"{model_id} holds a {target.__name__}, not a {cls.__name__}")
        model = target(config)
        if local:
            weights = Path(model_id) / WEIGHTS_NAME
            if not weights.is_file():
                raise FileNotFoundError(f"{model_id} has no {WEIGHTS_NAME}")
        else:
            weights = Path(hf_hub_download(model_id, WEIGHTS_NAME, revision=revision, cache_dir=cache_dir,
                                           force_download=force_download, token=token,
                                           local_files_only=local_files_only))  # fmt: skip
        try:
            with safe_open(str(weights), framework="pt") as file:  # the header and the data's extent, checked
                names = set(file.keys())
                tensors = {name: file.get_tensor(name) for name in names}
        except Exception as error:  # safetensors reports a damaged file as SafetensorError, a bad header as others
            raise ValueError(f"{weights} is not a safetensors file, or it is damaged: {error}") from error
        expected = set(model.state_dict())
        if names != expected:
            raise ValueError(
                f"{weights} does not fit the nets of {CONFIG_NAME}: missing {sorted(expected - names)[:4]}, "
                f"unexpected {sorted(names - expected)[:4]}"
            )
        # load_state_dict casts into the built nets' dtypes without a word: int8 or float16 weights would load as
        # float32 rounded or truncated (all-zero samples), so a tensor must already have the dtype it is built with
        built = model.state_dict()
        retyped = [(name, tensors[name].dtype, built[name].dtype) for name in sorted(names)
                   if tensors[name].dtype != built[name].dtype]  # fmt: skip
        if retyped:
            name, found, wanted = retyped[0]
            others = f" (and {len(retyped) - 1} more tensors)" if len(retyped) > 1 else ""
            raise ValueError(
                f"{weights} holds {name} as {found}, but the nets of {CONFIG_NAME} are built with {wanted}{others}: "
                "the file was converted or altered after export. Export it again from the checkpoint (`lightning-gans "
                "export`)."
            )
        broken = non_finite_tensors((name, tensors[name]) for name in sorted(names))
        if broken:
            raise ValueError(
                f"{weights} holds NaN or infinite weights or buffers ({', '.join(broken[:3])}"
                f"{', ...' if len(broken) > 3 else ''}): the training that wrote it had diverged"
            )
        try:
            model.load_state_dict(tensors)
        except RuntimeError as error:  # a size mismatch: the config describes other nets than the file holds
            raise ValueError(f"{weights} does not fit the nets of {CONFIG_NAME}: {error}") from error
        return model.to(map_location).eval()

    def generate_model_card(self, license: str | None = None) -> ModelCard:  # noqa: A002 (the Hub's field name)
        """The model card: YAML metadata the Hub reads, then the variant, data, steps and metrics in prose."""
        config = self.config
        data = ModelCardData(
            library_name="lightning-gans",
            tags=sorted({"lightning-gans", "gan", config.get("variant", "")} - {""}),
            pipeline_tag=PIPELINE_TAGS.get(config.get("task", "")),
            license=license,
        )
        return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{model_card_body(config)}")


def model_card_body(config: dict[str, Any]) -> str:
    """The model card's text from ``config.json``: what the model is, how it was trained and measured, how to use
    it."""
    variant, task = config.get("variant", "?"), config.get("task", "")
    training = config.get("training") or {}
    lines = [f"# {variant} generator (lightning-gans)", ""]
    what = {"latent": "draws images from noise", "text": "draws images for captions",
            "translation": "translates images"}.get(task, "generates images")  # fmt: skip
    if config.get("num_classes"):
        what += f", one of {config['num_classes']} classes each"
    lines += [f"A model of the `{variant}` variant, trained with lightning-gans, that {what}. Weights: "
              f"{config.get('weights', 'the generator')}.", ""]  # fmt: skip
    lines += ["## Training", "", "| | |", "|---|---|", f"| variant | `{variant}` |"]
    for role, spec in (config.get("nets") or {}).items():
        if "built_by_variant" in spec:
            lines.append(f"| {role} | the default {role} of `{variant}` |")
        else:
            lines.append(f"| {role} | `{spec['class_path']}` {json.dumps(spec.get('init_args') or {})} |")
    data = training.get("data")
    if data:
        lines.append(f"| data | `{data.get('class_path')}` {json.dumps(data.get('init_args') or {})} |")
    for key in ("generator_steps", "discriminator_steps", "epochs", "checkpoint"):
        if training.get(key) is not None:
            lines.append(f"| {key.replace('_', ' ')} | {training[key]} |")
    lines += ["", "## Metrics", ""]
    metrics = config.get("metrics")
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        for name, value in metrics.get("results", {}).items():
            values = value if isinstance(value, list) else [value]  # "inf" and "nan" arrive as strings (strict JSON)
            lines.append(f"| {name} | {', '.join(f'{v:.4g}' if isinstance(v, float) else str(v) for v in values)} |")
        protocol = metrics.get("protocol", {})
        lines += ["", "Protocol: " + "; ".join(f"{k}: {v}" for k, v in protocol.items()) + "."]
    else:
        lines.append("Not measured at export (`lightning-gans export --metrics none`, or a translation model: "
                     "`lightning-gans validate` reports its L1, PSNR and SSIM).")  # fmt: skip
    lines += ["", "## Use", "", "```bash", "pip install lightning-gans"]
    if task == "translation":
        lines.append("lightning-gans translate --ckpt THIS_FOLDER_OR_HUB_ID --input photos/ --out translated/")
    elif task == "text":
        lines.append("lightning-gans sample --ckpt THIS_FOLDER_OR_HUB_ID --text 'a dark pullover' --out samples.png")
    else:
        lines.append("lightning-gans sample --ckpt THIS_FOLDER_OR_HUB_ID --n 64 --out samples.png")
    lines += ["```", "", "```python", "from lightning_gans import from_pretrained", "",
              "model = from_pretrained('THIS_FOLDER_OR_HUB_ID')"]  # fmt: skip
    if task == "translation":
        lines.append("images = model.translate(batch)  # (N, C, H, W) in [-1, 1]")
    else:
        lines.append("images = model.sample(16, seed=0)  # (16, C, H, W) in [-1, 1]")
    lines += ["```", "", "Loading reads JSON and safetensors only: nothing is unpickled, and only registered "
              "lightning-gans parts are built.", ""]  # fmt: skip
    return "\n".join(lines)


class PretrainedGenerator(Pretrained, LatentSampling):
    """A generator from a latent space (optionally class-conditional): ``generate``, ``sample`` and
    ``generate_labelled`` as on the training module."""

    task = "latent"

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        latent_dim, num_classes = config.get("latent_dim"), config.get("num_classes") or 0
        if not isinstance(latent_dim, int) or latent_dim < 1 or not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(f"{CONFIG_NAME} needs a positive integer latent_dim and an integer num_classes")
        self.latent_dim, self.num_classes = latent_dim, num_classes

    @property
    def sampling_generator(self) -> nn.Module:
        return self.generator


class PretrainedTextGenerator(CaptionSampling, PretrainedGenerator):
    """A text-to-image generator with its text encoder: ``generate_text(z, captions)`` besides the rest."""

    task = "text"

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.grid_captions = list(config.get("grid_captions") or [])


class PretrainedTranslator(Pretrained):
    """An image-to-image generator: ``translate(a)``, and ``translate_back(b)`` for a CycleGAN."""

    task = "translation"

    def translate(self, a: Tensor) -> Tensor:
        """Domain-B images for domain-A images ``a`` in [-1, 1], clamped to [-1, 1]."""
        return translated(self.generator, a, self.device)

    def translate_back(self, b: Tensor) -> Tensor:
        """Domain-A images for domain-B images ``b`` (CycleGAN's second generator)."""
        generator_ba = getattr(self, "generator_ba", None)
        if generator_ba is None:
            raise ValueError(f"{self.config.get('variant')} translates one way only")
        return translated(generator_ba, b, self.device)


TASK_CLASSES: dict[str, type[Pretrained]] = {
    "latent": PretrainedGenerator,
    "text": PretrainedTextGenerator,
    "translation": PretrainedTranslator,
}


def from_pretrained(
    source: str | Path,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    map_location: str = "cpu",
) -> Pretrained:
    """The generator in an exported folder or a Hub model repo (``Pretrained.from_pretrained``), with the Hub
    client's failures (not found, offline, no network) as one ``ValueError`` naming the source."""
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, HFValidationError

    config = Path(source) / CONFIG_NAME
    if config.is_file():  # read here first: the Hub mixin's own reading names no file when it fails
        try:
            content = json.loads(config.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{config} is not valid JSON: {error}") from error
        if not isinstance(content, dict):
            raise ValueError(f"{config} holds a JSON {type(content).__name__}, not the object lightning-gans writes")
    try:
        return Pretrained.from_pretrained(
            source,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
            map_location=map_location,
        )
    except (HfHubHTTPError, EntryNotFoundError, HFValidationError, ConnectionError) as error:
        raise ValueError(f"could not load {source} from the Hugging Face Hub: {error}") from error
    except json.JSONDecodeError as error:  # a Hub repo's config.json
        raise ValueError(f"{source}: {CONFIG_NAME} is not valid JSON: {error}") from error
