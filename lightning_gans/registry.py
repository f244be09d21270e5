"""One registry mechanism for every kind of part, fed by Python entry points.

Built-in parts are declared as entry points in lightning-gans' own ``pyproject.toml`` and are found exactly
the way a third-party plugin's parts are: by reading distribution metadata. Reading the metadata is cheap and
happens at the first lookup; a part's module is imported (``EntryPoint.load``) only when that part is asked
for, so ``import lightning_gans`` imports no plugin.

Setting ``LIGHTNING_GANS_DISABLE_PLUGIN_AUTOLOAD=1`` keeps only the parts that lightning-gans itself ships,
for exact reproductions that must not depend on what else happens to be installed.

Precedence: a built-in name always means the built-in part. A plugin that registers a name lightning-gans
already ships (a generator called ``dcgan``) is *shadowed*: installing it changes no recipe that worked
before, ``lightning-gans list`` shows both distributions, and the plugin's part is reached by its
``class_path``. Two plugins claiming one name that lightning-gans does not ship are an error on use, naming
both distributions.

Names are resolved here, for every entry point (the CLI, ``evaluate``, checkpoints and the Python API), and
driven by types: a constructor parameter annotated as a part of some kind (``Generator`` from
``lightning_gans.core.parts``, ``AdversarialLoss``, a ``LightningDataModule``, ...) takes that kind's names,
whatever the parameter is called. ``resolve_config`` rewrites names to import paths in a LightningCLI config;
``build`` and ``Registry.create`` construct parts from names in Python.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata as metadata
import inspect
import os
import re
import sys
import types
import typing
import warnings
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, Union, cast

__all__ = [
    "DISABLE_PLUGINS_ENV",
    "DuplicateNameError",
    "Entry",
    "PartKind",
    "PluginLoadError",
    "REGISTRIES",
    "Registry",
    "RegistryError",
    "UnknownNameError",
    "WrongBaseClassError",
    "build",
    "class_at",
    "find_registered",
    "import_class",
    "kind_of",
    "part_parameter",
    "resolve_config",
    "resolve_name",
]

DISABLE_PLUGINS_ENV = "LIGHTNING_GANS_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN_DISTRIBUTION = "lightning-gans"

T = TypeVar("T")


class RegistryError(LookupError):
    """Base class of every error the registry raises."""


class UnknownNameError(RegistryError):
    """A name that no installed distribution registers."""


class DuplicateNameError(RegistryError):
    """Two distributions register different objects under one name."""


class PluginLoadError(RegistryError):
    """A registered entry point could not be imported."""


class WrongBaseClassError(RegistryError, TypeError):
    """A registered entry point resolves to something that is not a subclass of the kind's base class."""


def import_class(path: str) -> Any:
    """The object at a dotted import path (``package.module.Class``): what a ``class_path`` names.

    Raises ``ValueError`` naming the path when it cannot be imported.
    """
    module_name, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"cannot import {path!r}: {error}") from error


@dataclass(frozen=True)
class Entry:
    """What the metadata says about one registered part, known without importing it."""

    kind: str
    name: str
    target: str  # "package.module:Class", exactly as written in the entry point
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return _normalise(self.distribution) == BUILTIN_DISTRIBUTION

    @property
    def class_path(self) -> str:
        """The dotted path LightningCLI/jsonargparse expect in ``class_path``."""
        return self.target.replace(":", ".")

    def describe(self) -> str:
        return f"{self.kind} {self.name!r} ({self.target}, distribution '{self.distribution} {self.version}')"


def _normalise(distribution: str) -> str:
    return distribution.lower().replace("_", "-").replace(".", "-")


def plugins_disabled() -> bool:
    return os.environ.get(DISABLE_PLUGINS_ENV, "").strip().lower() not in ("", "0", "false", "no")


# A distribution as config.json records it ("name version"): a PEP 508 name and a version, nothing else. The record
# comes from whoever wrote the folder, and the errors suggest `pip install <name>`: anything else is not repeated.
RECORDED_DISTRIBUTION = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])? [A-Za-z0-9.!+_-]+")


def recorded_distribution(provided_by: object) -> str | None:
    """``provided_by`` when it is a well-formed ``"name version"`` record, else ``None``."""
    return provided_by if isinstance(provided_by, str) and RECORDED_DISTRIBUTION.fullmatch(provided_by) else None


class Registry(Generic[T]):
    """The parts of one kind (variants, generators, ...) registered under one entry-point group.

    The base class is given as an import path so that creating a registry imports nothing heavy.
    """

    def __init__(self, kind: str, plural: str, group: str, base: str) -> None:
        self.kind = kind
        self.plural = plural
        self.group = group
        self._base_path = base
        self._entries: dict[str, list[Entry]] | None = None
        self._loaded: dict[str, type[T]] = {}

    # -- metadata (no imports) -------------------------------------------------------------------------
    def _scan(self) -> dict[str, list[Entry]]:
        if self._entries is None:
            skip_plugins = plugins_disabled()
            found: dict[str, list[Entry]] = {}
            for ep in metadata.entry_points(group=self.group):
                dist = ep.dist
                entry = Entry(
                    kind=self.kind,
                    name=ep.name,
                    target=ep.value.strip(),
                    distribution=dist.name if dist is not None else "<unknown>",
                    version=dist.version if dist is not None else "?",
                )
                if skip_plugins and not entry.builtin:
                    continue
                claims = found.setdefault(entry.name, [])
                if all(c.target != entry.target or c.distribution != entry.distribution for c in claims):
                    claims.append(entry)
            self._entries = found
        return self._entries

    def refresh(self) -> None:
        """Forget what was read, e.g. after installing a plugin into the running interpreter."""
        self._entries = None
        self._loaded.clear()

    def names(self) -> list[str]:
        return sorted(self._scan())

    def entries(self) -> list[Entry]:
        """Every claim, by name; under one name the built-in first."""
        return [e for name in self.names() for e in sorted(self._scan()[name], key=lambda e: not e.builtin)]

    def __contains__(self, name: object) -> bool:
        return name in self._scan()

    def entry(self, name: str) -> Entry:
        """The entry ``name`` means: the built-in one if lightning-gans ships the name, else the only claim."""
        claims = self._scan().get(name)
        if not claims:
            raise UnknownNameError(self._unknown_message(name))
        builtin = [c for c in claims if c.builtin]
        if builtin:
            return builtin[0]  # plugins never change what a built-in name means (see the module docstring)
        if len(claims) > 1:
            who = "; ".join(c.describe() for c in claims)
            raise DuplicateNameError(
                f"{self.kind} name {name!r} is claimed by more than one distribution: {who}. "
                "Uninstall one of them, or name the part by its class_path instead."
            )
        return claims[0]

    def shadowed(self) -> dict[Entry, Entry]:
        """Plugin entries hidden by a built-in part of the same name, each mapped to the built-in."""
        hidden: dict[Entry, Entry] = {}
        for claims in self._scan().values():
            builtin = [c for c in claims if c.builtin]
            for claim in claims:
                if builtin and not claim.builtin:
                    hidden[claim] = builtin[0]
        return hidden

    def clashes(self) -> dict[str, list[Entry]]:
        """Names that lightning-gans does not ship and more than one plugin claims, with the claims: using one of
        them raises ``DuplicateNameError``."""
        return {
            name: claims
            for name, claims in self._scan().items()
            if len(claims) > 1 and not any(c.builtin for c in claims)
        }

    def _unknown_message(self, name: str, provided_by: str | None = None) -> str:
        """``provided_by``: the distribution that registered ``name`` where the file naming it was written (an
        exported folder's ``config.json`` records it), named as the one to install."""
        names = self.names()
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        available = ", ".join(names) if names else "none (is lightning-gans installed, e.g. `pip install -e .`?)"
        disabled = f" Plugins are disabled by {DISABLE_PLUGINS_ENV}." if plugins_disabled() else ""
        # a name nothing here registers is most often a plugin's, installed where the file was written
        origin = (
            " It may come from a plugin that is not installed here: install the distribution that provides it "
            "(`lightning-gans list` shows what is installed), or name the part by its class_path."
        )
        provided_by = recorded_distribution(provided_by)
        if provided_by is not None:
            distribution, _, recorded = provided_by.partition(" ")
            try:
                installed: str | None = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                installed = None
            if installed is None:
                origin = (
                    f" It was provided by the distribution '{provided_by}', which is not installed here, says the "
                    f"file naming it: if you trust that package, install it (pip install {distribution})."
                )
            elif installed != recorded:
                origin = (
                    f" It was provided by the distribution '{provided_by}'; {distribution} {installed} is installed "
                    "here, which does not register it."
                )
        return f"unknown {self.kind} {name!r}.{hint}{origin} Registered {self.plural}: {available}.{disabled}"

    # -- loading (imports one part) --------------------------------------------------------------------
    def base(self) -> type:
        module, _, attr = self._base_path.partition(":")
        return getattr(importlib.import_module(module), attr)

    def imported_base(self) -> type | None:
        """The base class if its module is imported already, else ``None``: no class derives from a base that was
        never imported, so a subclass check against it needs no import (checking a net's parameter types does
        not import Lightning for the variants' base)."""
        module, _, attr = self._base_path.partition(":")
        loaded = sys.modules.get(module)
        return getattr(loaded, attr, None) if loaded is not None else None

    def load(self, name: str) -> type[T]:
        """Import and return the class registered as ``name``, checking its base class."""
        return self.load_entry(self.entry(name))

    def load_entry(self, entry: Entry) -> type[T]:
        """Import the class of ``entry``. Every failure is a ``RegistryError`` naming the distribution."""
        if entry.target in self._loaded:
            return self._loaded[entry.target]
        module, _, attr = entry.target.partition(":")
        if not attr:
            raise PluginLoadError(
                f"{entry.describe()} names a module; an entry point must name a class as 'package.module:Class'."
            )
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as error:  # any failure inside third-party code is reported the same way
            raise PluginLoadError(
                f"{entry.describe()} failed to import: {type(error).__name__}: {error}. "
                f"Fix or uninstall the distribution '{entry.distribution}'"
                + ("." if entry.builtin else f", or set {DISABLE_PLUGINS_ENV}=1 to run with built-ins only.")
            ) from error
        base = self.base()
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise WrongBaseClassError(
                f"{entry.describe()} resolves to {obj!r}, which is not a subclass of "
                f"{base.__module__}.{base.__qualname__}; every {self.kind} must be one. Fix or uninstall the "
                f"distribution '{entry.distribution}'."
            )
        cls = cast("type[T]", obj)
        self._loaded[entry.target] = cls
        return cls

    def create(self, name: str, **init_args: Any) -> T:
        """Build the part registered as ``name`` (timm's ``create_model`` shape). Arguments that are parts
        may be given by name or as ``{"class_path": ..., "init_args": {...}}``:
        ``variants.create("gan", generator="dcgan", loss="hinge")``."""
        cls = self.load(name)
        return cls(**build_arguments(cls, init_args, name))

    def check_all(self) -> list[tuple[Entry, str | None]]:
        """Try to load every part; return each entry with ``None`` or the error text. Warns on failures."""
        report: list[tuple[Entry, str | None]] = []
        for entry in self.entries():
            try:
                self.load_entry(entry)
                problem = None
            except RegistryError as error:
                problem = str(error)
                warnings.warn(problem, RuntimeWarning, stacklevel=2)
            report.append((entry, problem))
        return report


variants: Registry[Any] = Registry(
    "variant", "variants", "lightning_gans.variants", "lightning.pytorch:LightningModule"
)
generators: Registry[Any] = Registry("generator", "generators", "lightning_gans.generators", "torch.nn:Module")
discriminators: Registry[Any] = Registry(
    "discriminator", "discriminators", "lightning_gans.discriminators", "torch.nn:Module"
)
losses: Registry[Any] = Registry(
    "loss", "losses", "lightning_gans.losses", "lightning_gans.losses.base:AdversarialLoss"
)
datamodules: Registry[Any] = Registry(
    "datamodule", "datamodules", "lightning_gans.datamodules", "lightning.pytorch:LightningDataModule"
)
feature_networks: Registry[Any] = Registry(
    "feature network",
    "feature_networks",
    "lightning_gans.feature_networks",
    "lightning_gans.metrics.features:FeatureNetwork",
)
text_encoders: Registry[Any] = Registry(
    "text encoder", "text_encoders", "lightning_gans.text_encoders", "lightning_gans.text:TextEncoder"
)

REGISTRIES: dict[str, Registry[Any]] = {
    r.plural: r for r in (variants, generators, discriminators, losses, datamodules, feature_networks, text_encoders)
}


def find_registered(class_path: str) -> tuple[Registry[Any], Entry] | None:
    """The registry and entry whose class is at the dotted ``class_path``, without importing anything."""
    for reg in REGISTRIES.values():
        for entry in reg.entries():
            if entry.class_path == class_path:
                return reg, entry
    return None


# -- names, driven by types --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PartKind:
    """Marks a type as "a part of this registry kind", for the parameters whose class alone does not say it:
    generators and discriminators are both ``nn.Module``, so ``Annotated[nn.Module, PartKind("generators")]``
    (``lightning_gans.core.parts.Generator``) is how a constructor says that it takes generator names."""

    plural: str


def kind_of(annotation: Any) -> Registry[Any] | None:
    """The registry whose names a parameter of this type takes, or ``None``.

    ``Annotated[..., PartKind(k)]`` names it; otherwise a class that is a subclass of a kind's own base class
    (``AdversarialLoss``, ``LightningDataModule``, ...) does. ``X | None`` is ``X``.
    """
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, PartKind):
                return REGISTRIES[meta.plural]
        return kind_of(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {k.plural: k for a in typing.get_args(annotation) if (k := kind_of(a)) is not None}
        return next(iter(kinds.values())) if len(kinds) == 1 else None
    if isinstance(annotation, type) and annotation is not Any:
        for reg in REGISTRIES.values():
            # generators' and discriminators' base, nn.Module, says nothing by itself: they need PartKind
            base = reg.imported_base()
            if reg not in (generators, discriminators) and base is not None and _is_subclass(annotation, base):
                return reg
    return None


def _is_subclass(cls: type, base: type) -> bool:
    try:
        return issubclass(cls, base)
    except TypeError:
        return False


def _classes_in(annotation: Any) -> list[type]:
    """The classes a type admits (``nn.Module | None`` -> ``[nn.Module]``)."""
    if typing.get_origin(annotation) is Annotated:
        return _classes_in(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [c for a in typing.get_args(annotation) for c in _classes_in(a)]
    plain = isinstance(annotation, type) and annotation not in (Any, type(None), object)
    return [annotation] if plain else []


@functools.cache  # read once per class: resolving a config asks for each argument of each part
def constructor(cls: type) -> Any:
    """The ``__init__`` function that ``cls(...)`` runs: its own or the nearest base's (``object`` has one)."""
    return next(vars(base)["__init__"] for base in cls.__mro__ if "__init__" in vars(base))


def parameter_types(cls: type) -> dict[str, Any]:
    """The declared type of each constructor parameter of ``cls`` (``Any`` where it has none or it cannot be
    evaluated)."""
    init = constructor(cls)
    try:
        hints = typing.get_type_hints(init, include_extras=True)
    except Exception as error:  # an annotation naming something missing at run time (a TYPE_CHECKING import)
        warnings.warn(
            f"cannot read the parameter types of {cls.__module__}.{cls.__qualname__} ({type(error).__name__}: "
            f"{error}): registry names among its arguments are not resolved; give class_paths there",
            RuntimeWarning,
            stacklevel=2,
        )
        hints = {}
    try:
        parameters = inspect.signature(init).parameters
    except (TypeError, ValueError):
        return {}
    return {name: hints.get(name, Any) for name in parameters if name != "self"}


def resolve_name(
    name: str, kind: Registry[Any] | None, where: str = "", annotation: Any = Any, provided_by: str | None = None
) -> str:
    """A registry name -> the registered class's import path; an import path (or a capitalised class name,
    which jsonargparse resolves among imported classes) unchanged.

    ``kind`` is the registry the position takes names of. Without one, a name is resolved only where
    ``annotation`` admits parts (e.g. a plain ``nn.Module``) and exactly one such registry has it.
    ``provided_by`` (``"name version"``): the distribution that registered the name where it was written, which
    an unknown name's error then says to install.
    """
    at = f" (at {where})" if where else ""
    if not name or "." in name or name[0] in "{[" or name[0].isupper():
        return name
    if kind is not None:
        if name not in kind:
            raise UnknownNameError(kind._unknown_message(name, provided_by) + at)
        return kind.entry(name).class_path
    admitted = _classes_in(annotation)
    holders = [
        r
        for r in REGISTRIES.values()
        if name in r and (annotation is Any or any(r.base() is c or _is_subclass(c, r.base()) for c in admitted))
    ]
    if len(holders) == 1:
        return holders[0].entry(name).class_path
    if len(holders) > 1:
        kinds = " and a ".join(r.kind for r in holders)
        raise UnknownNameError(
            f"{name!r} names a {kinds}{at}, and the parameter's type does not say which: write the class_path "
            f"({', '.join(r.entry(name).class_path for r in holders)})"
        )
    return name


def class_at(path: str, where: str = "") -> type:
    """The class at import path ``path``; a registered one is loaded through its registry, so that a broken
    plugin is reported with its distribution."""
    found = find_registered(path)
    if found is not None:
        return found[0].load_entry(found[1])
    try:
        cls = import_class(path)
    except ValueError as error:
        raise ValueError(f"{error}{f' (at {where})' if where else ''}") from error
    if not isinstance(cls, type):
        raise TypeError(f"{path} is not a class{f' (at {where})' if where else ''}")
    return cls


def resolve_config(
    value: Any, kind: Registry[Any] | None, where: str, classes: dict[str, type] | None = None, annotation: Any = Any
) -> Any:
    """Rewrite registry names to import paths in a LightningCLI config value that stands where a part of
    ``kind`` is expected: a bare name, or ``class_path`` and, by the declared types of that class's
    constructor, every part among its ``init_args``. ``classes`` collects the class found at each dotted
    position (``model``, ``model.generator``), for options given later on the command line."""
    if isinstance(value, str):
        resolved = resolve_name(value, kind, where, annotation)
        # a name, or an import path given as such (not a number such as 0.1 or a file name at a position
        # whose type is unknown, e.g. a field of a dataclass argument)
        if classes is not None and all(piece.isidentifier() for piece in resolved.split(".")) and "." in resolved:
            classes[where] = class_at(resolved, where)
        return resolved
    if isinstance(value, dict) and isinstance(value.get("class_path"), str):
        value["class_path"] = path = resolve_name(value["class_path"], kind, where, annotation)
        if "." in path:
            cls = class_at(path, where)
            if classes is not None:
                classes[where] = cls
            arguments = value.get("init_args")
            if isinstance(arguments, dict):
                resolve_arguments(cls, arguments, where, classes)
    return value


def part_parameter(cls: type, name: str) -> tuple[Registry[Any] | None, Any] | None:
    """``(kind, type)`` of ``cls``'s constructor parameter ``name`` when its type admits parts (``kind`` is
    ``None`` for a plain ``nn.Module``, whose names may be a generator's or a discriminator's); ``None`` for
    any other parameter (``int``, ``str``, ...), or no such parameter."""
    annotation = parameter_types(cls).get(name)
    if annotation is None:
        return None
    kind = kind_of(annotation)
    module = generators.base()  # torch.nn.Module, imported only now
    admits_modules = any(_is_subclass(c, module) for c in _classes_in(annotation))
    return (kind, annotation) if kind is not None or admits_modules else None


def resolve_arguments(cls: type, arguments: dict[str, Any], where: str, classes: dict[str, type] | None) -> None:
    """``resolve_config`` on each argument of ``cls`` whose declared type admits parts."""
    for key, child in arguments.items():
        part = part_parameter(cls, key)
        if part is not None:
            arguments[key] = resolve_config(child, part[0], f"{where}.{key}", classes, part[1])


def build(value: Any, kind: Registry[Any] | None, annotation: Any, where: str) -> Any:
    """A part built from a name or a ``{"class_path", "init_args"}`` dict, for a parameter of type
    ``annotation`` (that takes names of ``kind``); any other value unchanged."""
    if isinstance(value, str):
        path = resolve_name(value, kind, where, annotation)
        if "." not in path:
            what = f"registered {kind.kind} name" if kind is not None else "registry name"
            raise UnknownNameError(f"{value!r} (at {where}) is neither a {what} nor a full class_path")
        return class_at(path, where)()
    if isinstance(value, dict) and isinstance(value.get("class_path"), str):
        path = resolve_name(value["class_path"], kind, where, annotation)
        cls = class_at(path, where)
        return cls(**build_arguments(cls, dict(value.get("init_args") or {}), where))
    return value


def build_arguments(cls: type, arguments: dict[str, Any], where: str) -> dict[str, Any]:
    """``arguments`` for ``cls(...)`` with every part given by name or class_path dict built: what
    ``Registry.create`` does."""
    built = dict(arguments)
    for key, child in arguments.items():
        part = part_parameter(cls, key)
        if part is not None:
            built[key] = build(child, part[0], part[1], f"{where}.{key}")
    return built
