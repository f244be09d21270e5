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

import difflib
import inspect
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from huggingface_hub import ModelHubMixin, hf_hub_download
from safetensors import safe_open
from safetensors.torch import save_model
from torch import Tensor, nn

from lightning_gans import registry
from lightning_gans.core.guards import non_finite_tensors
from lightning_gans.errors import UntrustedCheckpointError
from lightning_gans.inference import CaptionSampling, LatentSampling, translated
from lightning_gans.nets.progan import set_growth

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

    from lightning_gans.core.module import TrainingModule

# 2: every net described by its registry name and full constructor arguments (presets too), output shape and
# range, parameter counts, the paper; 1 (still read): a preset's net given as "built_by_variant"
FORMAT_VERSION = 2
WEIGHTS_NAME = "model.safetensors"  # huggingface_hub.constants.SAFETENSORS_SINGLE_FILE
CONFIG_NAME = "config.json"
# the nets a folder may hold, and the registry each one's class must be registered in
ROLES = {"generator": "generators", "generator_ba": "generators", "text_encoder": "text_encoders"}
FOLDER_HINT = "An exported folder builds registered lightning-gans parts only, with or without --trust_checkpoint."


def registry_name(class_path: str) -> str:
    """The registry name of a registered class (``lightning_gans.nets.dcgan.DCGANGenerator`` -> ``dcgan``), else
    the class path as given."""
    found = registry.find_registered(class_path)
    return found[1].name if found is not None else class_path


def provider_of(class_path: str) -> str | None:
    """``"distribution version"`` of the installed distribution that registers the class at ``class_path``, or
    ``None`` for a class no registry holds: what ``config.json`` records in ``provided_by``, so that a folder
    opened where that plugin is missing can say what to install."""
    found = registry.find_registered(class_path)
    return None if found is None else f"{found[1].distribution} {found[1].version}"


def registered_class_path(name: Any, plural: str, where: str, provided_by: str | None = None) -> str:
    """The class path of a part registered in the ``plural`` registry, by registry name or class path; anything
    else (an unregistered class, a registered class of another kind) raises ``UntrustedCheckpointError`` before it
    is imported. ``provided_by``: the distribution ``config.json`` says registered it, named in the errors."""
    kind = registry.REGISTRIES[plural]
    provided_by = registry.recorded_distribution(provided_by)  # written by whoever made the folder: checked
    path = registry.resolve_name(str(name), kind, where, provided_by=provided_by)
    found = registry.find_registered(path)
    if found is None or found[0] is not kind:
        install = (
            f"If you trust {provided_by}, the distribution config.json says provided it, install it (pip install "
            f"{provided_by.split()[0]})"
            if provided_by
            else "Install the plugin that registers it"
        )
        raise UntrustedCheckpointError(
            f"{where} names {name!r}, which is not a registered {kind.kind}, so it was not imported. {install} "
            f"(`lightning-gans list` shows what is registered). {FOLDER_HINT}"
        )
    return path


def check_registered_parts(cls: type, arguments: Mapping[str, Any], where: str) -> None:
    """Refuse ``arguments`` for ``cls(...)`` that give a part (by name or ``class_path``, at any depth) which is not
    a registered one, before anything is imported: ``registry.build_arguments`` builds those, and nothing else of
    a value is ever parsed or imported (a string stays a string)."""
    for key, child in arguments.items():
        part = registry.part_parameter(cls, key)
        spec: Any = {"class_path": child} if isinstance(child, str) else child
        if part is None or not isinstance(spec, Mapping) or not isinstance(spec.get("class_path"), str):
            continue  # plain data, handed to the constructor as it is
        kind, annotation = part
        path = registry.resolve_name(spec["class_path"], kind, f"{where}.{key}", annotation)
        found = registry.find_registered(path)
        if found is None or (kind is not None and found[0] is not kind):
            raise UntrustedCheckpointError(
                f"{where}.{key} names {spec['class_path']!r}, which is not a registered "
                f"{kind.kind if kind is not None else 'part'}, so it was not imported. {FOLDER_HINT}"
            )
        check_registered_parts(found[0].load_entry(found[1]), dict(spec.get("init_args") or {}), f"{where}.{key}")


def build_net(spec: Mapping[str, Any], role: str, variants: dict[str, nn.Module]) -> nn.Module:
    """The net a ``config.json`` entry describes: a registered class and its constructor arguments, built
    directly (torch only). ``variants`` caches the variants built for a format-1 entry or a plugin preset whose
    arguments could not be recorded (``"built_by_variant"``): that builds the variant with LightningCLI's own
    builder, the only place where loading a folder imports Lightning and jsonargparse."""
    where = f"{CONFIG_NAME}: nets.{role}"
    built_by = spec.get("built_by_variant")
    net: Any
    if isinstance(built_by, Mapping):
        net = built_by_variant(built_by, role, variants, where)
    else:
        cls = registry.class_at(registered_class_path(spec.get("class_path"), ROLES[role], where), where)
        arguments = dict(spec.get("init_args") or {})
        check_registered_parts(cls, arguments, where)
        built = registry.build_arguments(cls, arguments, where)
        try:
            net = cls(**built)
        except (TypeError, ValueError) as error:  # an edited file or one of another version of the part
            accepted = ", ".join(list(inspect.signature(registry.constructor(cls)).parameters)[1:]) or "nothing"
            raise ValueError(
                f"{where}: {spec.get('class_path')} cannot be built from its init_args ({error}); it takes "
                f"{accepted}. Export the folder again, or fix the values in {CONFIG_NAME}."
            ) from error
    growth = spec.get("growth")
    if isinstance(growth, Mapping):  # a growing net (ProGAN) exported before it was fully grown
        set_growth(int(growth["level"]), float(growth["alpha"]), net)
    return net  # type: ignore[no-any-return]


def built_by_variant(built_by: Mapping[str, Any], role: str, variants: dict[str, nn.Module], where: str) -> nn.Module:
    """The ``role`` net of the variant ``built_by`` names, built from its recipe arguments: LightningCLI's builder
    parses them into the constructor's types, under jsonargparse's import gate (``safety.parser_imports_only``)
    after every reading of them was checked (``safety.check_imports``)."""
    from lightning.pytorch.cli import instantiate_module

    from lightning_gans.safety import check_imports, parser_imports_only

    path = registered_class_path(built_by.get("class_path"), "variants", where)
    arguments = dict(built_by.get("init_args") or {})
    approved = check_imports({"nets": {role: {"class_path": path, "init_args": arguments}}}, CONFIG_NAME,
                             hint=FOLDER_HINT)  # fmt: skip
    key = json.dumps([path, arguments], sort_keys=True)
    if key not in variants:
        cls = registry.class_at(path, where)
        with parser_imports_only(approved, CONFIG_NAME, hint=FOLDER_HINT):
            variants[key] = instantiate_module(cls, arguments)
    net = getattr(variants[key], role, None)
    if not isinstance(net, nn.Module):
        raise ValueError(f"{where}: the variant {built_by.get('class_path')} has no {role}")
    return net


def check_nets(nets: Any, provided_by: Any = None) -> None:
    """Refuse a nets section that is not lightning-gans', or that names anything but registered parts of the
    right kind, before anything is imported or built. ``provided_by``: ``config.json``'s record of the distribution
    of each part (``{"variant": ..., "generator": ...}``), named in the errors."""
    providers = {str(k): str(v) for k, v in provided_by.items()} if isinstance(provided_by, Mapping) else {}
    if not isinstance(nets, Mapping) or "generator" not in nets:
        raise ValueError(f"{CONFIG_NAME} has no nets.generator: it was not written by lightning-gans")
    unknown = sorted(set(nets) - set(ROLES))
    if unknown:
        raise ValueError(f"{CONFIG_NAME}: unknown nets {unknown}; a folder holds {', '.join(ROLES)}")
    for role, spec in nets.items():
        where = f"{CONFIG_NAME}: nets.{role}"
        if not isinstance(spec, Mapping):
            raise ValueError(f"{where} must be an object with a class_path")
        built_by = spec.get("built_by_variant")
        if isinstance(built_by, Mapping):
            registered_class_path(built_by.get("class_path"), "variants", where, providers.get("variant"))
        else:
            registered_class_path(spec.get("class_path"), ROLES[role], where, providers.get(role))


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
        check_nets(nets, config.get("provided_by"))  # the config may come from anyone
        assert isinstance(nets, Mapping)
        self.config = config
        self.hub_repo_id: str | None = None  # the Hub repo it was loaded from or pushed to: the card's usage
        variants: dict[str, nn.Module] = {}
        for role, spec in nets.items():
            self.add_module(role, build_net(spec, role, variants))
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
        """The exportable generator of a trained variant (``lightning_gans.export.pretrained_from_module``,
        imported only now: it needs the training stack, which loading a folder does not)."""
        from lightning_gans.export import pretrained_from_module

        return pretrained_from_module(model, hyper_parameters, training, metrics)

    # -- ModelHubMixin -----------------------------------------------------------------------------------------
    def _save_pretrained(self, save_directory: Path) -> None:
        config_file = save_directory / CONFIG_NAME
        config = dict(self.config)
        onnx = config.get("onnx")
        if isinstance(onnx, Mapping):
            second = onnx.get("generator_ba")
            files = [onnx.get("file"), *([second.get("file")] if isinstance(second, Mapping) else [])]
            if not all((save_directory / str(name)).is_file() for name in files):
                del config["onnx"]  # a folder saved again from the loaded model: its ONNX files were not copied
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        weights = save_directory / WEIGHTS_NAME
        save_model(self, str(weights), metadata={"format": "pt"})
        shutil.copymode(config_file, weights)  # safetensors writes 0600; the folder's files share one mode
        if self.draws_sample_grid:
            from lightning_gans.images import save_samples
            from lightning_gans.model_card import SAMPLES_NAME

            images, nrow = self.sample_grid()
            save_samples(images, save_directory / SAMPLES_NAME, nrow=nrow)
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
        model.hub_repo_id = None if local else model_id
        return model.to(map_location).eval()

    def generate_model_card(self, repo_id: str | None = None) -> ModelCard:
        """The model card (``lightning_gans.model_card``): the Hub's metadata, then what the model is, how it was
        trained and measured, and how to use it (from ``repo_id``, or the Hub repo it was loaded from or pushed
        to)."""
        from lightning_gans.model_card import model_card

        return model_card(self.config, repo_id or self.hub_repo_id, has_samples=self.draws_sample_grid)

    @property
    def draws_sample_grid(self) -> bool:
        """Whether ``save_pretrained`` writes a grid of samples for the card (generators from a latent space)."""
        return False

    def sample_grid(self) -> tuple[Tensor, int | None]:
        """The card's grid of samples (seed 0) and its images per row."""
        raise NotImplementedError

    def push_to_hub(self, repo_id: str, **hub_arguments: Any) -> Any:  # the mixin's own keyword arguments
        """``ModelHubMixin.push_to_hub``, with ``repo_id`` in the card's usage snippet."""
        self.hub_repo_id = repo_id
        return super().push_to_hub(repo_id, **hub_arguments)


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

    @property
    def draws_sample_grid(self) -> bool:
        return True

    def sample_grid(self) -> tuple[Tensor, int | None]:
        """8 rows of 8, or of every class in turn (a class per column) for a conditional generator."""
        per_row = self.num_classes if 0 < self.num_classes <= 16 else 8
        return self.sample(8 * per_row, seed=0), per_row


class PretrainedTextGenerator(CaptionSampling, PretrainedGenerator):
    """A text-to-image generator with its text encoder: ``generate_text(z, captions)`` besides the rest."""

    task = "text"

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.grid_captions = list(config.get("grid_captions") or [])

    @property
    def draws_sample_grid(self) -> bool:
        return bool(self.grid_captions)  # the grid draws the grid captions in turn


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


def missing_folder(source: str | Path) -> str | None:
    """Why ``source``, which is no folder here, is a mistyped local folder rather than a Hub id, or ``None``: a Hub
    id is ``owner/name`` exactly, so a path that starts with ``.``, ``/`` or ``~``, holds a backslash or more than
    one ``/``, or whose first part is a folder here, is a local one (and the Hub is not asked for 30 seconds)."""
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        return None
    parent = path.parent
    local = (text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1
             or (text.count("/") == 1 and parent.is_dir()))  # fmt: skip
    if not local:
        return None
    message = f"no folder at {text}"
    if parent.is_dir():
        close = difflib.get_close_matches(path.name, [p.name for p in parent.iterdir() if p.is_dir()], n=3)
        message += f" ({parent}/ holds {', '.join(close)}: did you mean one?)" if close else f" ({parent}/ exists)"
    return message + ": give an exported folder (`lightning-gans export`) or a Hub id owner/name"


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

    missing = missing_folder(source)
    if missing is not None:
        raise FileNotFoundError(missing)
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
        if offline_hub():
            raise ValueError(offline_message(source)) from error
        raise ValueError(f"could not load {source} from the Hugging Face Hub: {error}") from error
    except ValueError as error:
        if offline_hub() and "could not fetch" in str(error):
            raise ValueError(offline_message(source)) from error
        raise
    except json.JSONDecodeError as error:  # a Hub repo's config.json
        raise ValueError(f"{source}: {CONFIG_NAME} is not valid JSON: {error}") from error


def offline_message(source: str | Path) -> str:
    """Not "check your connection": the user turned the Hub off."""
    return (
        f"{source} is not in the local Hugging Face cache, and HF_HUB_OFFLINE is set, so the Hub was not asked: "
        "unset HF_HUB_OFFLINE to download it, or give an exported folder"
    )


def offline_hub() -> bool:
    """Whether ``HF_HUB_OFFLINE`` turns the Hub client off (the values huggingface_hub reads as true)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
