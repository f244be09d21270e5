"""LightningCLI for ``lightning-gans fit``/``validate``/``test``: registry names, run folders that are never
overwritten, checkpoints loaded without running code from them, W&B files in the run folder.

Recipes may name a part by registry name wherever LightningCLI expects a ``class_path``
(``class_path: dcgan``, ``--model.generator mlp``, ``--model.generator '{"class_path": "mlp"}'``,
``--model.help gan``). Names are rewritten to the registered class's import path by
``lightning_gans.registry.resolve_config``, driven by the declared type of each constructor parameter: while
YAML documents are loaded (a jsonargparse parser mode) and, for the command line, before LightningCLI sees it.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import inspect
import json
import netrc
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml
from jsonargparse import DefaultHelpFormatter, get_loader, set_loader
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info

from lightning_gans import registry
from lightning_gans.callbacks.checkpoint import LAST_NAME, LastCheckpoint
from lightning_gans.checkpoints import read_checkpoint
from lightning_gans.errors import TRUST_HELP, RunFolderError, UntrustedCheckpointError
from lightning_gans.safety import check_imports, import_paths, parser_imports_only
from lightning_gans.shared_recipes import shared_file, shared_text
from lightning_gans.wandb_run import DiscardFailedStart, describe_run, wandb_loggers, without_anonymous_setting

PARSER_MODE = "lightning_gans"
# LightningCLI's own sections that hold parts, and the kind each one's names are of
SECTION_KINDS = {"model": registry.variants, "data": registry.datamodules}


def resolve_sections(document: Any, classes: dict[str, type] | None = None) -> Any:
    """Registry names in a loaded YAML document: a config's ``model:`` and ``data:`` sections. A document that
    is one part (``--model.generator gen.yaml``) is resolved by ``resolve_command_line``, which knows the type
    of the option it is given to."""
    if isinstance(document, dict) and "class_path" not in document:
        for section, kind in SECTION_KINDS.items():
            if section in document:
                document[section] = registry.resolve_config(document[section], kind, section, classes)
    return document


def _install_parser_mode() -> None:
    yaml_loader = get_loader("yaml")

    def load(text: str) -> Any:  # every config file's text and every value given on the command line
        return resolve_sections(yaml_loader(shared_text(text)))

    set_loader(PARSER_MODE, load)


class RegistryHelpFormatter(DefaultHelpFormatter):
    """jsonargparse lists every imported subclass of a parameter's type in its help: for ``nn.Module`` that
    is hundreds of torch classes per generator or discriminator. Shown instead: the registered names of the
    kind the parameter takes (by its declared type, as names are resolved), which is what a recipe writes."""

    def _get_help_string(self, action: Any) -> str:
        text = super()._get_help_string(action)
        head, found, _ = text.partition(", known subclasses: ")
        if not found:
            return text
        target = [p for p in action.dest.split(".") if p != "init_args"]
        part = option_kind(target, GANArgumentParser.part_classes) if target[0] in SECTION_KINDS else None
        if part is None:  # the trainer's options, or no part here: jsonargparse's own text
            return text
        kinds = [part[0]] if part[0] is not None else [registry.generators, registry.discriminators]
        names = "; ".join(f"{kind.plural}: {', '.join(kind.names())}" for kind in kinds)
        return f"{head}, registered {names}; or any class_path)"


class GANArgumentParser(LightningArgumentParser):
    """LightningCLI's parser with ``RegistryHelpFormatter``; jsonargparse builds the parsers of ``--*.help``
    as ``type(parser)(...)``, so they get it too."""

    part_classes: dict[str, type] = {}  # the class at each config position, as resolve_command_line found them
    reading: str | None = None  # what is being parsed when it is not the user's config (a checkpoint's hparams)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", RegistryHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """jsonargparse prints the usage block (50 lines) and a dump of every union type it tried; the user gets one
        paragraph naming the key, the value and the close matches instead (``condense_parser_error``). Parsers
        that jsonargparse makes for itself (``exit_on_error=False``) raise as before: it catches their errors."""
        if not self.exit_on_error:
            super().error(message, ex)
        text = condense_parser_error(message, option_names(self))
        full = argparse.ArgumentError(None, message)  # the whole dump, for the debug traceback and safety's gate
        full.__cause__ = ex
        raise ConfigError(f"{self.reading}: {text}" if self.reading else text) from full


class ConfigError(ValueError):
    """A config key or value the parser refused: an unknown key, a value of the wrong type."""

    exit_status = 2  # argparse's status for a usage error


def option_names(parser: Any) -> set[str]:
    """Every ``--option`` of ``parser`` and of its subcommands' parsers."""
    names = {s for action in parser._actions for s in action.option_strings if s.startswith("--")}
    subcommands = getattr(parser, "_subcommands_action", None)
    for subparser in subcommands._name_parser_map.values() if subcommands is not None else ():
        names |= option_names(subparser)
    return names


def class_parameters(class_path: str | None) -> list[str]:
    """The parameter names of the class at ``class_path`` if it is imported already (the parser imported it to
    check it): nothing is imported here, so a path from an untrusted file stays unimported."""
    module, _, name = (class_path or "").rpartition(".")
    cls = getattr(sys.modules.get(module), name, None)
    if not isinstance(cls, type):
        return []
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def type_text(text: str) -> str:
    """A type as jsonargparse prints it, as a user reads it: ``<class 'int'>`` -> ``int``, ``NoneType`` -> ``null``,
    ``typing.Literal['a', 'b']`` -> ``one of 'a', 'b'``."""
    text = text.strip()
    found = re.fullmatch(r"<class '([\w.]+)'>", text)
    if found:
        name = found.group(1).rsplit(".", 1)[-1]
        return "null" if name == "NoneType" else name
    found = re.fullmatch(r"typing\.Literal\[(.*)\]", text)
    return f"one of {found.group(1)}" if found else text.replace("typing.", "")


@dataclass
class _Level:
    """One level of jsonargparse's nested error text: a key, or the ``init_args`` of a class given there."""

    indent: int
    key: str
    class_path: str | None = None
    expected: list[str] = field(default_factory=list)
    given: str | None = None


_KEY = re.compile(r'^(?:- )?Parser key "([^"]+)":')
_CLASS = re.compile(r"^- Problem with given class_path '([^']+)':")
_NOT_ACCEPTED = re.compile(r"Option '([^']+)' is not accepted")
_GOT = re.compile(r"^Expected an? (.+?)\. Got value: (.*)$")
_UNION_MEMBER = re.compile(r"^Expected an? (<class '[\w.]+'>|typing\.\S.*|[\w.]+\[.*\])$")
_NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value type:")


def condense_parser_error(message: str, options: set[str]) -> str:
    """jsonargparse's error text (usage aside) as one line: the key's dotted path, what is wrong with it, and for an
    unknown key or option the close matches among the valid ones.

    jsonargparse nests an error inside every union it tried (``model`` is ``LightningModule | None``, each part's
    parameter ``Module | None``, ...), so a misspelt ``n_critc`` came with 60 lines; the deepest error in that
    nesting is the one that names the user's mistake."""
    text = message.strip()
    if text.startswith("unrecognized arguments:"):
        return unrecognized_arguments(text.partition(":")[2].split(), options)
    levels: list[_Level] = []
    every: list[_Level] = []
    leaves: list[tuple[int, str, str | None, str]] = []  # depth, dotted key, class there, error text
    for line in text.splitlines():
        if not line.strip():
            continue
        indent, content = len(line) - len(line.lstrip()), line.strip()
        while levels and levels[-1].indent >= indent:
            levels.pop()
        bare = content.removeprefix("- ")
        key, class_path = _KEY.match(content), _CLASS.match(content)
        if key or class_path:
            level = _Level(indent, key.group(1) if key else "init_args", class_path.group(1) if class_path else None)
            levels.append(level)
            every.append(level)
        elif bare.startswith(_NOISE):
            continue
        elif bare.startswith("Given value: ") and levels:
            levels[-1].given = bare.removeprefix("Given value: ")
        elif content.startswith("- ") and _UNION_MEMBER.match(bare) and levels:
            levels[-1].expected.append(type_text(_UNION_MEMBER.match(bare).group(1)))  # type: ignore[union-attr]
        else:
            owner = next((lv.class_path for lv in reversed(levels) if lv.class_path), None)
            leaves.append((len(levels), ".".join(lv.key for lv in levels), owner, bare))
    unknown = [leaf for leaf in leaves if _NOT_ACCEPTED.search(leaf[3])]
    typed = [leaf for leaf in leaves if _GOT.match(leaf[3])]
    if unknown:
        _, path, owner, error = max(unknown, key=lambda leaf: leaf[0])
        name = _NOT_ACCEPTED.search(error).group(1)  # type: ignore[union-attr]
        if "expects a function or a callable class" in error:  # an optimiser given as a function takes no options
            return (
                f"{path}.{name}: {path} is a function here, which takes no options: name a class first (--{path} "
                f"CLASS, e.g. torch.optim.Adam), then --{path}.{name} VALUE"
            )
        valid = class_parameters(owner)
        owner_name = (owner or "this part").rsplit(".", 1)[-1]
        close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        if valid and not close:
            hint = f" Its parameters: {', '.join(valid)}."
        return f"unknown key {path}.{name}: {owner_name} has no parameter {name!r}.{hint}"
    if typed:
        _, path, owner, error = max(typed, key=lambda leaf: leaf[0])
        wanted, value = _GOT.match(error).groups()  # type: ignore[union-attr]
        where = f" ({owner.rsplit('.', 1)[-1]})" if owner else ""
        return f"{path}{where}: expected {type_text(wanted)}, got {value!r}"
    abstract = [leaf for leaf in leaves if re.search(r"but (\S+) is abstract", leaf[3])]
    if abstract:  # options given to a part whose class is not chosen (the default None)
        _, path, _, error = max(abstract, key=lambda leaf: leaf[0])
        base = re.search(r"but (\S+) is abstract", error).group(1).rsplit(".", 1)[-1]  # type: ignore[union-attr]
        return (
            f"{path}: options given, but no class is chosen there ({base} is abstract): name one first, e.g. "
            f"--{path} NAME (`lightning-gans list` shows the registered names)"
        )
    if leaves:
        depth = max(leaf[0] for leaf in leaves)
        deepest = [leaf for leaf in leaves if leaf[0] == depth]
        path = deepest[0][1]
        errors = "; ".join(dict.fromkeys(leaf[3] for leaf in deepest))
        return f"{path}: {errors}" if path else errors
    unions = [level for level in every if level.expected]
    if unions:
        level = unions[-1]  # the innermost union
        path = ".".join(lv.key for lv in every[: every.index(level) + 1] if lv.indent <= level.indent)
        got = f", got {level.given!r}" if level.given is not None else ""
        return f"{path}: expected {' or '.join(dict.fromkeys(level.expected))}{got}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def unrecognized_arguments(tokens: list[str], options: set[str]) -> str:
    """``unknown option --trainer.max_epohcs. Did you mean --trainer.max_epochs?``"""
    unknown = [t.partition("=")[0] for t in tokens if t.startswith("--")]
    if not unknown:
        return f"unexpected argument(s): {' '.join(tokens)}"
    parts = []
    for option in unknown:
        close = difflib.get_close_matches(option, options, n=3, cutoff=0.6)
        if not close:  # a misspelt section (--modle.n_critic): match its first part
            head, dot, rest = option.partition(".")
            heads = {o.partition(".")[0] for o in options}
            close = [f"{h}{dot}{rest}" for h in difflib.get_close_matches(head, heads, n=1, cutoff=0.6)]
        parts.append(f"unknown option {option}." + (f" Did you mean {' or '.join(close)}?" if close else ""))
    return " ".join(parts) + " (`lightning-gans fit --help` lists the options)"


def option_kind(target: list[str], classes: dict[str, type]) -> tuple[registry.Registry[Any] | None, Any] | None:
    """What the option at dotted ``target`` (``["model", "generator_ba"]``) takes: ``(kind, type)``, or
    ``None`` when it is no part. Without a known class above it, only a name that one registry holds is
    resolved."""
    if len(target) == 1:
        return SECTION_KINDS[target[0]], Any
    parent = classes.get(".".join(target[:-1]))
    return (None, Any) if parent is None else registry.part_parameter(parent, target[-1])


def resolve_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with registry names resolved; see ``resolve_command_line``."""
    return resolve_command_line(argv)[0]


def resolve_command_line(argv: Sequence[str]) -> tuple[list[str], dict[str, type]]:
    """Registry names on the command line: ``--model.generator mlp``, ``--model=dcgan``,
    ``--model.generator_ba.class_path dcgan``, ``--model.help gan``, and inside jsonargparse's inline forms
    (``--model.generator '{"class_path": "mlp"}'``). Types come from the classes the ``--config`` files and
    earlier options name; returned too, by dotted position (``model``, ``model.generator``)."""
    out = list(argv)
    classes: dict[str, type] = {}
    for i, token in enumerate(out):
        if not token.startswith("--"):
            continue
        option, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 >= len(out) or out[i + 1].startswith("--"):
                continue
            value = out[i + 1]
        if option == "config":
            if Path(value).is_file():
                resolve_sections(yaml.safe_load(Path(value).read_text()), classes)  # for the types only
            continue
        parts = [p for p in option.split(".") if p != "init_args"]
        if parts[0] not in SECTION_KINDS:
            continue
        target = parts[:-1] if parts[-1] in ("class_path", "help") and len(parts) > 1 else parts
        part = option_kind(target, classes)
        if part is None:
            continue
        where = ".".join(target)
        if value.endswith((".yaml", ".yml")) and Path(value).is_file():  # one part in a file: passed on inline
            document = yaml.safe_load(Path(value).read_text())
        elif value.lstrip().startswith(("{", "[")):
            document = yaml.safe_load(value)
        else:
            document = None
        if document is None:
            resolved = registry.resolve_config(value, part[0], where, classes, part[1])
        else:
            resolved = json.dumps(registry.resolve_config(document, part[0], where, classes, part[1]))
        if eq:
            out[i] = f"--{option}={resolved}"
        else:
            out[i + 1] = resolved
    return out, classes


def wandb_has_credentials() -> bool:
    """Whether wandb could log in without asking: an API key in the environment or in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1].split("/")[0]
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def choose_wandb_mode(announce: bool = True) -> str:
    """Online when logged in; otherwise offline, so a run never stops to ask for an API key (said, with
    ``announce``: not on ``--help``, which logs nothing)."""
    if "WANDB_MODE" not in os.environ and not wandb_has_credentials():
        os.environ["WANDB_MODE"] = "offline"
        if announce:
            print("lightning-gans: no W&B credentials found, logging offline (sync later with `wandb sync`).")
    return os.environ.get("WANDB_MODE", "online")


class SaveConfigToRunDir(SaveConfigCallback):
    """The resolved config as ``<default_root_dir>/config.yaml``, beside the run's checkpoints and samples.

    Lightning's default writes to ``trainer.log_dir`` (for W&B the shared ``save_dir``) as soon as the trainer
    is set up, so a fit that then failed had already replaced the run's config. A new run's config is written
    when training starts: after the checks and the sanity validation have passed. A resumed fit rewrites it with
    the settings it now trains with only once it has written a checkpoint (``LastCheckpoint`` calls
    ``on_last_checkpoint_written``), or, without one, when training ends: a resume that fails (diverges at once)
    leaves ``config.yaml`` matching the ``last.ckpt`` it did not replace.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        pass  # see on_train_start

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.ckpt_path is None:
            self.save_once(trainer, pl_module)

    def on_last_checkpoint_written(self, trainer: Trainer, path: Path) -> None:
        self.save_once(trainer, trainer.lightning_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.save_once(trainer, pl_module)  # a resumed run without a LastCheckpoint, once it has trained

    def save_once(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.already_saved and trainer.is_global_zero:
            self.save_config(trainer, pl_module, "fit")
        self.already_saved = True

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        path = Path(trainer.default_root_dir) / self.config_filename
        path.parent.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, str(path), skip_unset=False, overwrite=True, multifile=self.multifile)
        recipes = self.config.get("config") or []  # the --config files, in the order given
        recipe = str(recipes[-1]) if recipes else None
        describe_run(trainer, yaml.safe_load(path.read_text()), path, recipe)


RUN_FILES = ("config.yaml", "checkpoints/*.ckpt", "samples/*.png")


def earlier_run_files(root: Path) -> list[str]:
    """What an earlier ``lightning-gans fit`` left in the run folder ``root``."""
    return sorted(str(p.relative_to(root)) for pattern in RUN_FILES for p in root.glob(pattern))


RESTART_HELP = (
    "fit only: start again, in place, a run whose earlier start stopped before writing any checkpoint: the "
    "config.yaml and sample grids it left are removed first. Refused when the run folder holds a checkpoint."
)

# What a resume may not change (see GANCLI.check_resume_settings): besides the variant and its nets, the
# parameters of the built-in variants that size the nets or decide what they are fed.
SHAPES_THE_NETS = frozenset(
    {"num_classes", "latent_dim", "noise_dim", "categorical", "continuous", "conditioning", "pack"}
)
# Parameters that hold parts (a class_path) and that a resume may change: how the nets train, not what they are.
PARTS_A_RESUME_MAY_CHANGE = frozenset({"loss", "content_loss", "regularisation", "orthogonal_regularisation"})


class ResumeConflictError(ValueError):
    """Settings given with ``--ckpt_path`` that describe other nets than the checkpoint holds."""

    exit_status = 2


def _is_part(value: Any) -> bool:
    return isinstance(value, Mapping) and ("class_path" in value or "init_args" in value)


def _plain(value: Any) -> Any:
    """``value`` in a form that compares equal however it was read: tuples as lists, functions and classes as
    their import paths (a parsed config holds the objects, a checkpoint's hyper-parameters the paths)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{value.__module__}.{value.__qualname__}"
    return value


def _shown(value: Any) -> str:
    if _is_part(value):
        return str(value.get("class_path") or "a part").rsplit(".", 1)[-1]
    return "null" if value is None else repr(_plain(value))


def part_conflicts(option: str, given: Any, saved: Any) -> list[str]:
    """Where the part ``given`` for ``option`` differs from the checkpoint's: its class, or a value given for one
    of its parameters (parameters not given keep the checkpoint's value and are not compared)."""
    differs = [f"{option}: {_shown(given)} given, the checkpoint has {_shown(saved)}"]
    if not (_is_part(given) and _is_part(saved)):
        return [] if _plain(given) == _plain(saved) else differs
    if given.get("class_path") and saved.get("class_path") and given["class_path"] != saved["class_path"]:
        return differs
    conflicts = []
    saved_args = saved.get("init_args") or {}
    for name, value in (given.get("init_args") or {}).items():
        if name in saved_args and _plain(value) != _plain(saved_args[name]):
            conflicts += part_conflicts(f"{option}.init_args.{name}", value, saved_args[name])
    return conflicts


def resume_conflicts(given: Mapping[str, Any], hyper_parameters: Mapping[str, Any]) -> list[str]:
    """The options in ``given`` (the model config the user gave, as ``{class_path, init_args}``, without defaults)
    that describe other nets than the checkpoint's ``hyper_parameters``; see ``GANCLI.check_resume_settings``."""
    saved_class = hyper_parameters.get("_class_path")
    if given.get("class_path") and saved_class and given["class_path"] != saved_class:
        return [f"--model: {_shown(given)} given, the checkpoint is a {saved_class.rsplit('.', 1)[-1]} run"]
    conflicts = []
    for name, value in (given.get("init_args") or {}).items():
        if name not in hyper_parameters:
            continue
        saved = hyper_parameters[name]
        if _is_part(value) or _is_part(saved):
            if name not in PARTS_A_RESUME_MAY_CHANGE and not name.endswith(("optimizer", "scheduler")):
                conflicts += part_conflicts(f"--model.{name}", value, saved)
        elif name == "ema_decay":  # its value may change; whether there is an EMA generator (weights) may not
            if (value is None) != (saved is None):
                conflicts.append(f"--model.ema_decay: {_shown(value)} given, the checkpoint has {_shown(saved)}")
        elif name in SHAPES_THE_NETS and _plain(value) != _plain(saved):
            conflicts.append(f"--model.{name}: {_shown(value)} given, the checkpoint has {_shown(saved)}")
    return conflicts


def setting_change(new: Any, old: Any) -> tuple[str, str]:
    """``new`` and ``old`` as a report shows them: a part by its class, and by the parameters that differ when
    the class is the same."""
    new_d, old_d = (v.as_dict() if hasattr(v, "as_dict") else v for v in (new, old))
    if _is_part(new_d) and _is_part(old_d) and new_d.get("class_path") == old_d.get("class_path"):
        new_args, old_args = new_d.get("init_args") or {}, old_d.get("init_args") or {}
        keys = [k for k in {**old_args, **new_args} if _plain(new_args.get(k)) != _plain(old_args.get(k))]
        name = _shown(new_d)

        def show(args: Mapping[str, Any]) -> str:
            return f"{name}({', '.join(f'{k}={_shown(args.get(k))}' for k in keys)})"

        return show(new_args), show(old_args)
    return _shown(new_d), _shown(old_d)


def user_import_paths(config: Any) -> set[str]:
    """The import paths the user's own config (recipes and command line, already parsed) names: trusted, since the
    user chose them, and imported already by that parse."""
    values = config.as_dict() if hasattr(config, "as_dict") else config
    return {path for _, path in import_paths(values)} if isinstance(values, Mapping) else set()


class GANCLI(LightningCLI):
    """LightningCLI with registry names, run folders that are never overwritten, checkpoints that are loaded
    without running code from them, and W&B files in the run folder."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--trust_checkpoint", type=bool, default=False, help=TRUST_HELP)
        parser.add_argument("--restart", type=bool, default=False, help=RESTART_HELP)

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> Any:
        # LightningCLI's one place to add options to a single subcommand: predict's, which fit has no use for
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand == "predict":
            parser.add_argument("--out", type=str | None, default=None, help="folder for the samples (new or empty)")
            parser.add_argument("--num_samples", type=int, default=10_000, help="samples a generator draws")
            parser.add_argument("--latent_seed", type=int, default=0, help="seed of the latents (sample i: seed, i)")
            parser.add_argument("--npz", type=bool, default=False, help="also write every sample in samples.npz")
            parser.add_argument("--png", type=bool, default=True, help="write each sample as DIR/<index>.png")
            parser.add_argument("--predict_batch_size", type=int, default=500, help="samples per generator call")
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        self.cli_args = args  # parsed again without defaults by check_resume_settings, to know what was given
        super().parse_arguments(parser, args)

    def _parse_ckpt_path(self) -> None:
        # LightningCLI reads a local --ckpt_path here, before any hook, and puts the model class its
        # hyper-parameters name into the config, which jsonargparse then imports: check the file first.
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path is None or not Path(str(ckpt_path)).is_file():
            super()._parse_ckpt_path()
            return
        trust = bool(self.config[subcommand].get("trust_checkpoint"))
        checkpoint = read_checkpoint(str(ckpt_path), trust)
        self.read_ckpt_path = str(ckpt_path)  # checked_checkpoint need not read it again
        if trust:
            self.check_resume_settings(checkpoint)
            super()._parse_ckpt_path()
            return
        approved = check_imports(checkpoint.get("hyper_parameters") or {}, ckpt_path)
        self.check_resume_settings(checkpoint)
        # LightningCLI parses the file's hyper-parameters into the config, and validates the user's own config (the
        # recipe's data module, callbacks, ...) again with them: that parse may import the file's approved paths
        # and what the user's config names, nothing else
        with parser_imports_only(approved | user_import_paths(self.config[subcommand]), ckpt_path):
            super()._parse_ckpt_path()

    def given_config(self) -> Any:
        """The config as the user gave it (recipes and command line, no defaults); ``None`` if unknown."""
        if not isinstance(getattr(self, "cli_args", None), list):
            return None
        try:
            return self.parser.parse_args(self.cli_args, defaults=False)
        except (ConfigError, SystemExit):
            return None

    def check_resume_settings(self, checkpoint: Mapping[str, Any]) -> None:
        """Refuse model settings given with ``--ckpt_path FILE`` that describe other nets than the checkpoint holds,
        and keep the others that differ from it: the user's values, applied and reported.

        LightningCLI parses the checkpoint's hyper-parameters over the user's config, so a recipe's or command
        line's model settings were silently replaced by the checkpoint's (``--model.generator.init_args.width 32``
        resumed the checkpoint's width 64). Now:

        * refused, naming each option: another variant; another class for, or a value given for a parameter of,
          any net (generator, discriminator, encoder, ...: every parameter that holds a part, but those below); a
          parameter that sizes the nets or what they are fed (``SHAPES_THE_NETS``: ``num_classes``, ``latent_dim``,
          ``pack``, ...); an EMA generator where the checkpoint has none, or the reverse. The checkpoint's
          weights are those nets: they cannot change on resume. Train the new settings as a new run instead.
        * the user's value applied (the checkpoint's replaced, and reported): the optimisers and schedulers
          (``reapply_optimizer_settings`` applies their settings to the restored states), the loss, the
          regularisation (a gradient penalty added after a divergence, ...), ``n_critic``, loss weights, the EMA
          decay and every other scalar: how the nets train from here, as ``--ckpt_path last`` already did. A
          change that alters the weights' layout all the same (spectral norm on or off) is refused when the
          weights are loaded.

        Only what the user gave is compared: a recipe's value equal to the checkpoint's is fine, and what the
        user did not set comes from the checkpoint, as before."""
        subcommand = self.config["subcommand"]
        ckpt_path = self.config[subcommand].get("ckpt_path")
        hyper_parameters = checkpoint.get("hyper_parameters") or {}
        self.model_before_checkpoint = copy.deepcopy(self.config[subcommand].get("model"))
        self.given_model_keys: set[str] = set()
        given = self.given_config()
        given_model = (given if given is not None else self.config).get(f"{subcommand}.model")
        given_model = given_model.as_dict() if hasattr(given_model, "as_dict") else given_model
        if not isinstance(given_model, dict) or not hyper_parameters:
            return
        conflicts = resume_conflicts(given_model, hyper_parameters)
        if conflicts:
            raise ResumeConflictError(
                f"{ckpt_path} holds other nets than the settings given: {'; '.join(conflicts)}. A run resumed from "
                "a checkpoint (or one validated or tested) has the checkpoint's nets, so these cannot change: drop "
                f"the option{'s' if len(conflicts) > 1 else ''} to use the checkpoint, or train the new settings as "
                "a new run into another folder (--trainer.default_root_dir DIR, without --ckpt_path)."
            )
        self.given_model_keys = set(given_model.get("init_args") or {})
        if isinstance(self.parser, GANArgumentParser):  # named if LightningCLI's parse of them fails
            self.parser.reading = f"the hyper-parameters of {ckpt_path}"

    def keep_given_settings(self) -> None:
        """After LightningCLI has parsed the checkpoint's hyper-parameters over the config: the model settings the
        user gave win again (``check_resume_settings`` refused those that may not change), each change reported."""
        if isinstance(self.parser, GANArgumentParser):
            self.parser.reading = None
        before = getattr(self, "model_before_checkpoint", None)
        keys: set[str] = getattr(self, "given_model_keys", set())
        after = self.config[self.subcommand].get("model") if self.subcommand else None
        if before is None or after is None or not keys or before.get("class_path") != after.get("class_path"):
            return
        for name in sorted(keys):
            new, old = before.get(f"init_args.{name}"), after.get(f"init_args.{name}")
            if _plain(new.as_dict() if hasattr(new, "as_dict") else new) == _plain(
                old.as_dict() if hasattr(old, "as_dict") else old
            ):
                continue
            after[f"init_args.{name}"] = copy.deepcopy(new)
            if not name.endswith(("optimizer", "scheduler")):  # the module reports the settings that changed
                shown_new, shown_old = setting_change(new, old)
                rank_zero_info(f"resumed with --model.{name} = {shown_new} (the checkpoint had {shown_old})")

    def before_instantiate_classes(self) -> None:
        self.keep_given_settings()
        config = self.config[self.subcommand] if self.subcommand else self.config
        root = config.trainer.default_root_dir or os.getcwd()
        loggers = config.trainer.logger
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            class_path = getattr(logger, "class_path", None) or ""
            init = getattr(logger, "init_args", None)
            # W&B's files belong to the run they log, not to wherever the command was started
            if class_path.endswith("WandbLogger") and init is not None:
                if init.get("save_dir") in (None, ".") and init.get("dir") is None:
                    init.save_dir = str(root)

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        trainer = super().instantiate_trainer(**kwargs)
        for logger in wandb_loggers(trainer):
            without_anonymous_setting(logger)
        trainer.callbacks.append(DiscardFailedStart())  # type: ignore[attr-defined]  # set by its callback connector
        # Checkpoints go to <default_root_dir>/checkpoints rather than into a per-run W&B folder, so that
        # `--ckpt_path last` finds the previous run's last.ckpt.
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, (ModelCheckpoint, LastCheckpoint)) and callback.dirpath is None:
                callback.dirpath = str(Path(trainer.default_root_dir) / "checkpoints")
        return trainer

    def last_checkpoint_path(self) -> Path:
        for callback in self.trainer.checkpoint_callbacks:
            if isinstance(callback, LastCheckpoint):
                return callback.path
        return Path(self.trainer.default_root_dir) / "checkpoints" / LAST_NAME

    def checked_checkpoint(self, subcommand: str) -> None:
        """Checkpoints are loaded with ``weights_only=True`` unless ``--trust_checkpoint``; a local one is read
        here first (``last`` is resolved by now), so that a missing, damaged or unsafe file is named before
        anything starts."""
        config = self.config_init[subcommand]
        trust = bool(config.get("trust_checkpoint"))
        if config.get("weights_only") is False and not trust:
            raise UntrustedCheckpointError(f"--weights_only false unpickles arbitrary objects: {TRUST_HELP}")
        config["weights_only"] = not trust
        ckpt_path = config.get("ckpt_path")
        ckpt_path = None if ckpt_path is None else str(ckpt_path)  # jsonargparse may give a Path object
        local = ckpt_path is not None and "://" not in ckpt_path and ckpt_path not in ("last", "best", "hpc")
        if local and ckpt_path != getattr(self, "read_ckpt_path", None):
            read_checkpoint(str(ckpt_path), trust)

    def run_checkpoints(self, root: Path) -> list[Path]:
        """Every checkpoint of the run, oldest first: in its folder and wherever its checkpoint callbacks write."""
        dirpaths = (getattr(callback, "dirpath", None) for callback in self.trainer.checkpoint_callbacks)
        folders = {root, *(Path(d) for d in dirpaths if d)}
        found = {p for folder in folders if folder.is_dir() for p in folder.rglob("*.ckpt") if p.is_file()}
        return sorted(found, key=lambda p: (p.stat().st_mtime, str(p)))

    def resume_advice(self, root: Path, found: list[str], resuming: bool) -> str:
        """What to do with the run in ``root`` (which left ``found``), for a fit that would write over it (or, with
        ``resuming``, one given ``--ckpt_path last`` where there is no ``last.ckpt``). Never advice that the other
        command then refuses: a run with no checkpoint at all is started again, not resumed."""
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        last = self.last_checkpoint_path()
        checkpoints = self.run_checkpoints(root)
        if not checkpoints:
            return (
                f"{root} holds a run that stopped before writing its first checkpoint ({shown}; {last} is written at "
                "the end of the first epoch and every few minutes of training), so there is nothing to resume. Start "
                f"it again in place with --restart true{' instead of --ckpt_path last' if resuming else ''} (it "
                "removes those files first, and refuses a folder that holds a checkpoint), or train into another "
                "folder with --trainer.default_root_dir."
            )
        resume = "--ckpt_path last" if last.is_file() else f"--ckpt_path {checkpoints[-1]} (its newest checkpoint)"
        if resuming:
            return f"--ckpt_path last: {last} does not exist, but the run has checkpoints: resume with {resume}."
        return (
            f"{root} already holds a run ({shown}), and a new fit never writes over one. Resume it with {resume}, "
            "train into another folder with --trainer.default_root_dir, or delete the folder first."
        )

    def restart_in_place(self, root: Path) -> None:
        """``--restart``: remove what a start that wrote no checkpoint left (``config.yaml``, sample grids), so that
        the run starts again in its folder. A folder with any checkpoint is refused: nothing resumable is removed."""
        checkpoints = self.run_checkpoints(root)
        if checkpoints:
            resume = "last" if self.last_checkpoint_path().is_file() else str(checkpoints[-1])
            raise RunFolderError(
                f"--restart starts again only a run that wrote no checkpoint, and {root} has {len(checkpoints)} (the "
                f"newest: {checkpoints[-1]}), so nothing was removed. Resume it with --ckpt_path {resume}, or train "
                "into another folder with --trainer.default_root_dir."
            )
        found = earlier_run_files(root)
        for name in found:
            (root / name).unlink()
        if found:
            print(f"lightning-gans: --restart: removed {', '.join(found)} from {root} (a start with no checkpoint)")

    def before_fit(self) -> None:
        config = self.config_init["fit"]
        root = Path(self.trainer.default_root_dir)
        if config.get("ckpt_path") == "last":
            last = self.last_checkpoint_path()
            if not last.is_file():
                found = earlier_run_files(root)
                if found:
                    raise RunFolderError(self.resume_advice(root, found, resuming=True))
                raise RunFolderError(
                    f"--ckpt_path last: there is nothing to resume, {last} does not exist (a run writes it at the "
                    "end of its first epoch and every few minutes of training). Check --trainer.default_root_dir, "
                    "or drop --ckpt_path to start a new run."
                )
            config["ckpt_path"] = str(last)
        elif config.get("ckpt_path") is None:
            if config.get("restart"):  # ignored with --ckpt_path: "the same command plus --ckpt_path last" resumes
                self.restart_in_place(root)
            found = earlier_run_files(root)
            if found:
                raise RunFolderError(self.resume_advice(root, found, resuming=False))
        self.checked_checkpoint("fit")
        # W&B starts its run in this folder next; made now (the checks have passed), W&B finds it and does not
        # warn that "git root ... does not exist"
        root.mkdir(parents=True, exist_ok=True)

    def before_validate(self) -> None:
        self.checked_checkpoint("validate")

    def trained_checkpoint(self, subcommand: str, what: str) -> None:
        """``test`` and ``predict`` need a checkpoint; ``last`` is the run's ``last.ckpt`` (as for ``fit``)."""
        config = self.config_init[subcommand]
        if not config.get("ckpt_path"):
            raise ConfigError(f"{subcommand} {what} a trained model: give --ckpt_path (a checkpoint file, or last)")
        if config["ckpt_path"] == "last":
            last = self.last_checkpoint_path()
            if not last.is_file():
                raise RunFolderError(f"--ckpt_path last: {last} does not exist (check --trainer.default_root_dir)")
            config["ckpt_path"] = str(last)
        self.checked_checkpoint(subcommand)

    def before_test(self) -> None:
        self.trained_checkpoint("test", "measures")
        split = getattr(self.datamodule, "test_split", None)
        if split:
            print(f"lightning-gans: test split of {type(self.datamodule).__name__}: {split}")

    def before_predict(self) -> None:
        """Samples (or translations) of the checkpoint written by a ``SampleWriter`` into ``--out``, drawn from a
        ``PredictionData`` around the recipe's data module (``lightning_gans.predict``)."""
        from lightning_gans.predict import PredictionData, SampleWriter

        config = self.config_init["predict"]
        if not config.get("out"):
            raise ConfigError("predict writes its samples into a new folder: give --out DIR")
        writer = SampleWriter(config["out"], npz=config["npz"], png=config["png"])  # refuses a folder with files
        self.trained_checkpoint("predict", "draws from")
        self.datamodule = PredictionData(
            self.datamodule, config["num_samples"], config["latent_seed"], config["predict_batch_size"]
        )
        self.trainer.callbacks.append(writer)  # type: ignore[attr-defined]
        self.trainer.loggers = []  # nothing is logged, and a logger would open a W&B run for nothing
        config["return_predictions"] = False  # the writer has them: 50k samples need not pile up in memory


def check_yaml_file(path: Path, seen: set[Path]) -> None:
    """Parse ``path`` and the YAML files it includes by relative path (``logger: _shared/wandb.yaml``), so
    that a syntax error is reported with the file, line and column instead of as a parser dump."""
    if path.resolve() in seen:
        return
    seen.add(path.resolve())
    if not path.is_file():
        raise FileNotFoundError(f"no such config file: {path}")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
        raise ValueError(f"{path}: invalid YAML at {where}: {error.problem or error.context}") from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable YAML file: {error}") from error

    def includes(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for child in value.values():
                yield from includes(child)
        elif isinstance(value, list):
            for child in value:
                yield from includes(child)
        elif isinstance(value, str) and value.endswith((".yaml", ".yml")):
            yield value

    for name in includes(content):
        shipped = shared_file(name)  # `lightning-gans:<file>`: an unknown name is refused here, listing the real ones
        included = Path(str(shipped)) if shipped is not None else path.parent / name
        if included.is_file():
            check_yaml_file(included, seen)


def check_yaml_files(argv: Sequence[str]) -> None:
    """Check every YAML file named on the command line (``--config`` ones must exist)."""
    seen: set[Path] = set()
    args = list(argv)
    for i, token in enumerate(args):
        option, _, value = token.partition("=") if token.startswith("--") else ("", "", token)
        if not value.endswith((".yaml", ".yml")):
            continue
        if Path(value).is_file() or option == "--config" or (i > 0 and args[i - 1] == "--config"):
            check_yaml_file(Path(value), seen)


def run_lightning_cli(argv: Sequence[str]) -> GANCLI:
    """Run ``fit``/``validate``/``test``/... as LightningCLI would; returns the CLI (its model, trainer)."""
    _install_parser_mode()
    # We hand LightningCLI an argv with registry names resolved, which it warns about when sys.argv is set too.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    choose_wandb_mode(announce=not {"-h", "--help", "--print_config"} & {a.split("=")[0] for a in argv})
    check_yaml_files(argv)
    args, GANArgumentParser.part_classes = resolve_command_line(argv)
    cli = GANCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=args,
        parser_class=GANArgumentParser,
        parser_kwargs={"parser_mode": PARSER_MODE},
        save_config_callback=SaveConfigToRunDir,
        save_config_kwargs={"save_to_log_dir": False},
        auto_configure_optimizers=False,  # variants build their own (generator, discriminator) optimisers
    )
    for logger in cli.trainer.loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            # Lightning leaves the run open; close it so a second fit in this process starts a new one.
            logger.experiment.finish()
    return cli
