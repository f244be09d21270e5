"""Reading checkpoints safely, and rebuilding a trained variant from one written by ``lightning-gans fit``.

A checkpoint may come from someone else, so by default nothing in it runs code:

* it is unpickled with ``weights_only=True``: tensors and plain values only, never arbitrary objects;
* the classes its hyper-parameters name (the variant, its nets, its loss, ...) are imported only when
  they are registered lightning-gans parts (built-in or from an installed plugin) or torch optimisers and
  schedulers, and so is any other dotted import path among its values.

``trust=True`` (the command line's ``--trust_checkpoint``) lifts both rules: the file may then run any
code on this machine, so it is only for files from a source you trust.
"""

from __future__ import annotations

import inspect
import io
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import Optimizer

from lightning_gans import registry
from lightning_gans.core.guards import non_finite_parameters
from lightning_gans.core.module import GenerativeModule, LatentSampling, TrainingModule
from lightning_gans.core.translation import TranslationModule
from lightning_gans.errors import TRUST_HINT, UntrustedCheckpointError

if TYPE_CHECKING:
    from lightning_gans.pretrained import PretrainedTranslator

# what LightningCLI stores as the checkpoint's instantiator; Lightning imports and calls this path
LIGHTNING_CLI_INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"
TRUSTED_MODULES = ("torch.optim.",)  # optimisers and learning-rate schedulers, named by class_path in configs
IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
# a Hugging Face Hub model id: "owner/name", without a file suffix (a missing local file stays "not found")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth", ".safetensors", ".json", ".yaml")


def is_pretrained_source(source: str | Path) -> bool:
    """Whether ``source`` names an exported generator folder or a Hub model id (``lightning_gans.pretrained``)
    rather than a checkpoint file."""
    path = Path(source)
    if path.is_dir():
        return True
    text = str(source)
    return not path.exists() and HUB_ID.match(text) is not None and not text.endswith(CHECKPOINT_SUFFIXES)


def read_checkpoint(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """The checkpoint at ``path`` as a dict, unpickled with ``weights_only=True`` unless ``trust``.

    Raises ``FileNotFoundError``, ``UntrustedCheckpointError`` or ``ValueError``, each naming the file.
    """
    return read_checkpoint_bytes(_file_bytes(path), path, trust)


def _file_bytes(path: str | Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return path.read_bytes()


def read_checkpoint_bytes(data: bytes, name: str | Path, trust: bool = False) -> dict[str, Any]:
    try:
        checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower() or "weights_only" in str(error):
            raise UntrustedCheckpointError(
                f"{name} holds pickled objects other than tensors and plain values, which could run code when "
                f"loaded, so it was not loaded. {TRUST_HINT}"
            ) from error
        raise ValueError(f"{name} is not a PyTorch checkpoint, or it is damaged: {error}") from error
    except Exception as error:  # torch's reader fails in many ways on a damaged file (IndexError on text)
        raise ValueError(f"{name} is not a PyTorch checkpoint, or it is damaged: {error}") from error
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{name} holds a {type(checkpoint).__name__}, not a Lightning checkpoint (a dict)")
    return checkpoint


def state_tensors(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Every tensor a resumed run must reproduce, flat: the module's state (weights, EMA, batch-norm buffers)
    and the optimisers' states, plus the step counters; for checking that a resume was exact."""
    flat = {f"model.{k}": v for k, v in checkpoint["state_dict"].items()}
    for i, optimizer in enumerate(checkpoint.get("optimizer_states", [])):
        for param, values in optimizer["state"].items():
            flat.update({f"optimizer{i}.{param}.{k}": torch.as_tensor(v) for k, v in values.items()})
    flat["global_step"] = torch.tensor(checkpoint["global_step"])
    flat.update({k: torch.tensor(v) for k, v in checkpoint.get("lightning_gans", {}).items() if k.endswith("_steps")})
    return flat


def _import_paths(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every ``(location, dotted import path)`` among the values: ``class_path`` entries and any other
    string that jsonargparse could import (callables and classes given as strings)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "class_path" and isinstance(child, str) and not IMPORT_PATH.match(child):
                # a bare class name: jsonargparse would look it up among every class imported so far
                yield f"{where}.{key}", child
                continue
            yield from _import_paths(child, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, child in enumerate(value):
            yield from _import_paths(child, f"{where}[{i}]")
    elif isinstance(value, str) and IMPORT_PATH.match(value):
        yield where, value


def is_optimizer_factory(obj: Any) -> bool:
    """One of the variants' default optimiser builders (``adam_2e4_beta05``, ``rmsprop_5e5``, ...): a function
    of lightning-gans annotated to return an ``Optimizer``."""
    if not (inspect.isfunction(obj) and obj.__module__.startswith("lightning_gans.")):
        return False
    returns = inspect.signature(obj).return_annotation
    return returns in ("Optimizer", Optimizer)


def is_trusted_import(path: str) -> bool:
    """A registered part's class or registry name, a torch optimiser or scheduler class, or our default optimiser
    factory."""
    if "." not in path:  # a class_path without a module: only a registry name, never a bare class name
        return any(path in reg for reg in registry.REGISTRIES.values())
    if registry.find_registered(path) is not None:
        return True
    if path.startswith("lightning_gans."):  # our own modules import nothing else; their objects still checked
        try:
            return is_optimizer_factory(registry.import_class(path))
        except ValueError:
            return False
    if path.startswith(TRUSTED_MODULES):
        from torch.optim.lr_scheduler import LRScheduler

        try:
            obj = registry.import_class(path)
        except ValueError:
            return False
        return isinstance(obj, type) and issubclass(obj, (Optimizer, LRScheduler))
    return False


def check_imports(hyper_parameters: dict[str, Any], name: str | Path, hint: str = TRUST_HINT) -> None:
    """Refuse hyper-parameters that would make loading import anything but registered parts and optimisers;
    ``hint`` ends the message (by default: how to trust the file)."""
    instantiator = hyper_parameters.get("_instantiator")
    if instantiator is not None and instantiator != LIGHTNING_CLI_INSTANTIATOR:
        raise UntrustedCheckpointError(
            f"{name} asks to be built by {instantiator!r}, not by LightningCLI's instantiator. {hint}"
        )
    for where, path in _import_paths({k: v for k, v in hyper_parameters.items() if k != "_instantiator"}, ""):
        if not is_trusted_import(path):
            raise UntrustedCheckpointError(
                f"{name} names {path!r} (hyper_parameters{where}), which is neither a registered lightning-gans "
                "part nor a torch optimiser, so it was not imported. Install the plugin that registers it (`"
                f"lightning-gans list` shows what is registered). {hint}"
            )


def load_module(path: str | Path, map_location: str = "cpu", trust: bool = False) -> TrainingModule:
    """The module saved in ``path`` by ``lightning-gans fit``, in eval mode, loaded without running code
    from the file (see the module docstring; ``trust=True`` lifts that).

    The CLI stores the recipe's model config (``class_path``/``init_args``) as the checkpoint's
    hyper-parameters; Lightning rebuilds the nets from it, so this works for plugin parts too.
    """
    data = _file_bytes(path)
    hparams = read_checkpoint_bytes(data, path, trust).get("hyper_parameters") or {}
    class_path = hparams.get("_class_path")
    if not class_path:
        raise ValueError(
            f"{path} has no model class_path in its hyper-parameters: it was not written by `lightning-gans "
            "fit`. Load it in Python with YourVariant.load_from_checkpoint(path, generator=..., discriminator=...)."
        )
    if not trust:
        check_imports(hparams, path)
    for _, part in _import_paths(hparams, ""):
        if registry.find_registered(part) is not None:
            registry.class_at(part)  # a plugin that fails to import is named with its distribution, here
    cls = registry.class_at(class_path)
    if not (isinstance(cls, type) and issubclass(cls, TrainingModule)):
        raise TypeError(f"{path}: {class_path} is not a lightning-gans variant")
    model = cls.load_from_checkpoint(io.BytesIO(data), map_location=map_location, weights_only=not trust)
    broken = non_finite_parameters(model.named_parameters())
    if broken:
        raise ValueError(
            f"{path} holds NaN or infinite weights ({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}): "
            "the training that wrote it had diverged. Use an earlier checkpoint."
        )
    return model.eval()


def load_variant(path: str | Path, map_location: str = "cpu", trust: bool = False) -> LatentSampling:
    """The generative variant (one that samples) saved in ``path``, in eval mode; or the generator of an exported
    folder or Hub model repo (``lightning_gans.pretrained``), which is never unpickled."""
    if is_pretrained_source(path):
        from lightning_gans.pretrained import PretrainedGenerator, from_pretrained

        pretrained = from_pretrained(path, map_location=map_location)
        if not isinstance(pretrained, PretrainedGenerator):
            raise TypeError(
                f"{path} holds an image-to-image generator: `lightning-gans translate --ckpt {path}` applies it"
            )
        return pretrained
    model = load_module(path, map_location, trust)
    if isinstance(model, TranslationModule):
        raise TypeError(
            f"{type(model).__name__} translates images rather than sampling them: `lightning-gans translate --ckpt "
            f"{path}` applies it to your images, and `lightning-gans validate --config RUN/config.yaml --ckpt_path "
            f"{path}` reports its validation metrics"
        )
    if not isinstance(model, GenerativeModule):
        raise TypeError(f"{type(model).__name__} is not a GenerativeModule with a generator to sample from")
    return model


def load_translation(
    path: str | Path, map_location: str = "cpu", trust: bool = False
) -> TranslationModule | PretrainedTranslator:
    """The image-to-image variant (pix2pix, cyclegan, srgan, ...) saved in ``path``, in eval mode; or the
    generator of an exported folder or Hub model repo."""
    if is_pretrained_source(path):
        from lightning_gans.pretrained import PretrainedTranslator, from_pretrained

        pretrained = from_pretrained(path, map_location=map_location)
        if not isinstance(pretrained, PretrainedTranslator):
            raise TypeError(f"{path} holds a generator that samples, not one that translates images")
        return pretrained
    model = load_module(path, map_location, trust)
    if not isinstance(model, TranslationModule):
        raise TypeError(f"{type(model).__name__} is not an image-to-image variant (it has no translate)")
    return model
