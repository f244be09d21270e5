"""What a file from someone else (a checkpoint's hyper-parameters, an exported ``config.json``) may make
lightning-gans import: registered parts, torch optimisers and schedulers, and our own optimiser factories.
Nothing else, at any depth, in any form the config parser accepts.

Loading such a file hands its values to jsonargparse (LightningCLI's parser), which imports and builds what
they name. It reads far more than ``class_path`` entries: a string may hold YAML or JSON that becomes a
``class_path`` (``'{class_path: pkg.Cls}'``), a quoted string may become an import path, a dotted key
(``generator.class_path``) is a nested one, a bare class name is looked up among imported classes, and a
string that names a file is read as a config. Checking a pattern of the values misses the next form, so two
layers check what the parser will actually do:

1. ``check_imports`` reads every value the way jsonargparse may read it (YAML and JSON strings, quoted
   strings, dotted keys, recursively) and refuses any import path among the readings that is not trusted, and
   any string that names a file the parser could read;
2. ``parser_imports_only`` then runs the parse under jsonargparse's own import gate (its import path
   denylist, set to deny everything but the paths the first layer approved), so an import the first layer did
   not foresee is refused at the moment the parser would make it, before the module is imported.

This module imports neither Lightning nor jsonargparse at import time.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lightning_gans import registry
from lightning_gans.errors import TRUST_HINT, UntrustedCheckpointError

# what LightningCLI stores as the checkpoint's instantiator; Lightning imports and calls this path
LIGHTNING_CLI_INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"
IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
# our own modules that hold the variants' default optimiser factories (adam_2e4_beta05, rmsprop_5e5, ...)
FACTORY_MODULES = ("lightning_gans.core.", "lightning_gans.variants.")
# how deep strings inside strings are followed; a file nests them this deep only to hide something
MAX_NESTING = 8
# jsonargparse's message when its import gate refuses a path (jsonargparse._common.check_import_path)
DENIED = re.compile(r"Importing '([^']+)' is not allowed")


def string_readings(text: str) -> list[Any]:
    """What jsonargparse may make of a string value besides the string itself: the YAML or JSON it holds
    (``load_value``, with and without its simple-types rule), when that differs from the string."""
    from jsonargparse import get_loader

    readings: list[Any] = []
    for load in (get_loader("yaml"), json.loads):
        try:
            value = load(text)
        except Exception:  # not YAML or JSON: the parser keeps the string as it is
            continue
        if isinstance(value, (dict, list)) or (isinstance(value, str) and value != text):
            readings.append(value)
    return readings


def config_readings(value: Any, where: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """``(location, value)`` for ``value`` and everything inside it, in every reading the parser may take:
    strings read as YAML or JSON, dotted keys (``{"a.b": v}``, which jsonargparse nests as ``{"a": {"b": v}}``)
    read as nested ones, and so on recursively."""
    if depth > MAX_NESTING:
        raise UntrustedCheckpointError(f"strings nested more than {MAX_NESTING} deep at {where or 'the top'}")
    yield where, value
    if isinstance(value, Mapping):
        for key, child in value.items():
            inner = f"{where}.{key}"
            if isinstance(key, str) and "." in key:
                head, _, rest = key.partition(".")
                yield from config_readings({head: {rest: child}}, where, depth)
            yield from config_readings(child, inner, depth)
    elif isinstance(value, (list, tuple)):
        for i, child in enumerate(value):
            yield from config_readings(child, f"{where}[{i}]", depth)
    elif isinstance(value, str):
        for reading in string_readings(value):
            yield from config_readings(reading, f"{where} (read as YAML/JSON)", depth + 1)


def import_paths(hyper_parameters: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every ``(location, import path)`` among the readings of ``hyper_parameters``: ``class_path`` entries
    (bare class names included: jsonargparse looks them up among every class imported so far) and any other
    string that jsonargparse could import (callables and classes given as strings)."""
    for where, value in config_readings(hyper_parameters):
        if isinstance(value, Mapping):
            class_path = value.get("class_path")
            if isinstance(class_path, str) and not IMPORT_PATH.match(class_path):
                yield f"{where}.class_path", class_path
        elif isinstance(value, str) and IMPORT_PATH.match(value):
            yield where, value


def is_optimizer_factory(obj: Any) -> bool:
    """One of the variants' default optimiser builders (``adam_2e4_beta05``, ``rmsprop_5e5``, ...): a function
    of lightning-gans annotated to return an ``Optimizer``."""
    if not (inspect.isfunction(obj) and obj.__module__.startswith("lightning_gans.")):
        return False
    returns = inspect.signature(obj).return_annotation
    if returns == "Optimizer":
        return True
    from torch.optim import Optimizer

    return returns is Optimizer


def is_trusted_import(path: str) -> bool:
    """A registered part's class or registry name, a torch optimiser or scheduler class, or our default optimiser
    factory."""
    if "." not in path:  # a class_path without a module: only a registry name, never a bare class name
        return any(path in reg for reg in registry.REGISTRIES.values())
    if registry.find_registered(path) is not None:
        return True
    if path.startswith(FACTORY_MODULES):  # our own modules import nothing else; the object is still checked
        try:
            return is_optimizer_factory(registry.import_class(path))
        except ValueError:
            return False
    if path.startswith("torch.optim."):
        from torch.optim import Optimizer
        from torch.optim.lr_scheduler import LRScheduler

        try:
            obj = registry.import_class(path)
        except ValueError:
            return False
        return isinstance(obj, type) and issubclass(obj, (Optimizer, LRScheduler))
    return False


def check_imports(
    hyper_parameters: Mapping[str, Any], name: str | Path, hint: str = TRUST_HINT, parsed: bool = True
) -> set[str]:
    """Refuse hyper-parameters that would make the parser import anything but trusted paths
    (``is_trusted_import``) or read a file, in any reading of any value (``config_readings``); ``hint`` ends the
    message (by default: how to trust the file). ``parsed=False``: the values are handed to constructors as they
    are, not to the parser, so a string naming a file is no config (a data module's ``captions`` file). Returns
    the import paths found, all trusted: what ``parser_imports_only`` lets the parser import."""
    instantiator = hyper_parameters.get("_instantiator")
    if instantiator is not None and instantiator != LIGHTNING_CLI_INSTANTIATOR:
        raise UntrustedCheckpointError(
            f"{name} asks to be built by {instantiator!r}, not by LightningCLI's instantiator. {hint}"
        )
    values = {k: v for k, v in hyper_parameters.items() if k != "_instantiator"}
    try:
        readings = list(config_readings(values))
    except UntrustedCheckpointError as error:
        raise UntrustedCheckpointError(f"{name} holds {error}, so it was not loaded. {hint}") from None
    for where, value in readings:
        if parsed and isinstance(value, str) and value.strip() and _names_a_file(value):
            raise UntrustedCheckpointError(
                f"{name} names the file {value!r} (hyper_parameters{where}), which the config parser would read: a "
                f"file from elsewhere never makes lightning-gans read files on this machine, so it was not loaded. "
                f"{hint}"
            )
    approved: set[str] = set()
    for where, path in import_paths(values):
        if not is_trusted_import(path):
            raise UntrustedCheckpointError(
                f"{name} names {path!r} (hyper_parameters{where}), which is neither a registered lightning-gans "
                "part nor a torch optimiser, so it was not imported. Install the plugin that registers it (`"
                f"lightning-gans list` shows what is registered). {hint}"
            )
        approved.add(path)
    return approved


def _names_a_file(text: str) -> bool:
    try:
        return Path(text).expanduser().is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte: no file
        return False


def _load(path: str) -> Any:
    """The object at an approved ``path``; a registered part through its registry, so that a broken plugin is named
    with its distribution."""
    found = registry.find_registered(path)
    return found[0].load_entry(found[1]) if found is not None else registry.import_class(path)


def _canonical_paths(path: str) -> set[str]:
    """``path`` and where its object is defined, which jsonargparse's gate checks too (``torch.optim.Adam`` is
    ``torch.optim.adam.Adam``). A registered part is loaded through its registry, so that a broken plugin is
    named with its distribution."""
    if "." not in path:
        return set()  # a registry name: the parser resolves no import from it
    obj = _load(path)
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return {path, f"{module}.{qualname}"} if module and qualname else {path}


def declared_classes(obj: Any, seen: set[type] | None = None) -> set[type]:
    """The classes that ``obj``'s constructor declares as parameter types (inside ``X | None``, ``list[X]``, ...),
    and theirs in turn: code, not values. jsonargparse imports such a class by its path when a value for it is a
    mapping without ``class_path`` (``regularisation: {r1_gamma: 0.05}`` becomes ``Regularisation(...)``)."""
    import typing

    seen = set() if seen is None else seen
    if not isinstance(obj, type) or obj in seen or obj.__module__ == "builtins":
        return seen
    seen.add(obj)
    try:
        hints = typing.get_type_hints(registry.constructor(obj))
    except Exception:  # an annotation that names what is only imported for type checkers: jsonargparse skips it too
        return seen
    pending = [hint for name, hint in hints.items() if name != "return"]
    while pending:
        hint = pending.pop()
        pending.extend(typing.get_args(hint))
        declared_classes(hint, seen)
    return seen


@contextmanager
def parser_imports_only(approved: Iterable[str], name: str | Path, hint: str = TRUST_HINT) -> Iterator[None]:
    """Within the block, jsonargparse imports nothing from a value but the ``approved`` paths (and where their
    objects are defined); a refused import becomes an ``UntrustedCheckpointError`` naming ``name``.

    This is jsonargparse's own import gate (``set_parsing_settings(import_path_denylist=...)``), set for the
    block only: a user's own recipe, parsed outside it, may still name any class.
    """
    from jsonargparse import set_parsing_settings
    from jsonargparse._common import parsing_settings  # the gate's state: jsonargparse has no public way to restore it

    paths = {p for path in approved for p in _canonical_paths(path)}
    # the types that approved classes declare for their parameters are code: jsonargparse may import them by path
    declared: set[type] = set()
    for path in approved:
        if "." in path:
            declared_classes(_load(path), declared)
    paths |= {f"{cls.__module__}.{cls.__qualname__}" for cls in declared}
    allowed = sorted(p for p in paths if IMPORT_PATH.match(p))
    saved = parsing_settings["import_path_verdicts"], parsing_settings["import_paths_enforced"]
    parsing_settings["import_path_verdicts"] = {}
    set_parsing_settings(import_path_denylist=["*"], import_path_allowlist=allowed)
    try:
        yield
    except Exception as error:
        denied = _denied_import(error)
        if denied is None:
            raise
        raise UntrustedCheckpointError(
            f"{name} makes the config parser import {denied!r}, which is neither a registered lightning-gans part "
            f"nor a torch optimiser, so it was not imported. {hint}"
        ) from error
    finally:
        parsing_settings["import_path_verdicts"], parsing_settings["import_paths_enforced"] = saved


def _denied_import(error: BaseException) -> str | None:
    """The import path jsonargparse's gate refused somewhere in ``error`` or its causes, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = DENIED.search(str(current))
        if found:
            return found.group(1)
        current = current.__cause__ or current.__context__
    return None
