"""One registry mechanism for every kind of part, fed by Python entry points.

Built-in parts are declared as entry points in lightning-gans' own ``pyproject.toml`` and are found exactly
the way a third-party plugin's parts are: by reading distribution metadata. Reading the metadata is cheap and
happens at the first lookup; a part's module is imported (``EntryPoint.load``) only when that part is asked
for, so ``import lightning_gans`` imports no plugin.

Setting ``LIGHTNING_GANS_DISABLE_PLUGIN_AUTOLOAD=1`` keeps only the parts that lightning-gans itself ships,
for exact reproductions that must not depend on what else happens to be installed.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as metadata
import os
import warnings
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

__all__ = [
    "DISABLE_PLUGINS_ENV",
    "import_class",
    "DuplicateNameError",
    "Entry",
    "find_registered",
    "PluginLoadError",
    "REGISTRIES",
    "Registry",
    "RegistryError",
    "UnknownNameError",
    "WrongBaseClassError",
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
        return [e for name in self.names() for e in self._scan()[name]]

    def __contains__(self, name: object) -> bool:
        return name in self._scan()

    def entry(self, name: str) -> Entry:
        claims = self._scan().get(name)
        if not claims:
            raise UnknownNameError(self._unknown_message(name))
        if len(claims) > 1:
            who = "; ".join(c.describe() for c in claims)
            raise DuplicateNameError(
                f"{self.kind} name {name!r} is claimed by more than one distribution: {who}. "
                "Uninstall one of them, or name the part by its class_path instead."
            )
        return claims[0]

    def _unknown_message(self, name: str) -> str:
        names = self.names()
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        available = ", ".join(names) if names else "none (is lightning-gans installed, e.g. `pip install -e .`?)"
        disabled = f" Plugins are disabled by {DISABLE_PLUGINS_ENV}." if plugins_disabled() else ""
        return f"unknown {self.kind} {name!r}.{hint} Registered {self.plural}: {available}.{disabled}"

    # -- loading (imports one part) --------------------------------------------------------------------
    def base(self) -> type:
        module, _, attr = self._base_path.partition(":")
        return getattr(importlib.import_module(module), attr)

    def load(self, name: str) -> type[T]:
        """Import and return the class registered as ``name``, checking its base class."""
        if name in self._loaded:
            return self._loaded[name]
        entry = self.entry(name)
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
                f"{base.__module__}.{base.__qualname__}; every {self.kind} must be one."
            )
        cls = cast("type[T]", obj)
        self._loaded[name] = cls
        return cls

    def create(self, name: str, **init_args: Any) -> T:
        """Build the part registered as ``name`` (timm's ``create_model`` shape)."""
        return self.load(name)(**init_args)

    def check_all(self) -> list[tuple[Entry, str | None]]:
        """Try to load every part; return each entry with ``None`` or the error text. Warns on failures."""
        report: list[tuple[Entry, str | None]] = []
        for entry in self.entries():
            try:
                self.load(entry.name)
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

REGISTRIES: dict[str, Registry[Any]] = {
    r.plural: r for r in (variants, generators, discriminators, losses, datamodules, feature_networks)
}


def find_registered(class_path: str) -> tuple[Registry[Any], Entry] | None:
    """The registry and entry whose class is at the dotted ``class_path``, without importing anything."""
    for reg in REGISTRIES.values():
        for entry in reg.entries():
            if entry.class_path == class_path:
                return reg, entry
    return None
