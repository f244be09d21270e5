"""LightningCLI for ``lightning-gans fit``/``validate``/``test``: registry names, run folders that are never
overwritten, checkpoints loaded without running code from them, W&B files in the run folder.

Recipes may name a part by registry name wherever LightningCLI expects a ``class_path``
(``class_path: dcgan``, ``--model.generator mlp``, ``--model.generator '{"class_path": "mlp"}'``,
``--model.help gan``). Names are rewritten to the registered class's import path by
``lightning_gans.registry.resolve_config``, driven by the declared type of each constructor parameter: while
YAML documents are loaded (a jsonargparse parser mode) and, for the command line, before LightningCLI sees it.
"""

from __future__ import annotations

import json
import netrc
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import DefaultHelpFormatter, get_loader, set_loader
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from lightning_gans import registry
from lightning_gans.callbacks.checkpoint import LAST_NAME, LastCheckpoint
from lightning_gans.checkpoints import check_imports, read_checkpoint
from lightning_gans.errors import TRUST_HELP, RunFolderError, UntrustedCheckpointError

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

    def load(text: str) -> Any:
        return resolve_sections(yaml_loader(text))

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", RegistryHelpFormatter)
        super().__init__(*args, **kwargs)


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


def choose_wandb_mode() -> str:
    """Online when logged in; otherwise offline, so a run never stops to ask for an API key."""
    if "WANDB_MODE" not in os.environ and not wandb_has_credentials():
        os.environ["WANDB_MODE"] = "offline"
        print("lightning-gans: no W&B credentials found, logging offline (sync later with `wandb sync`).")
    return os.environ.get("WANDB_MODE", "online")


class SaveConfigToRunDir(SaveConfigCallback):
    """The resolved config as ``<default_root_dir>/config.yaml``, beside the run's checkpoints and samples.

    Lightning's default writes to ``trainer.log_dir`` (for W&B the shared ``save_dir``) as soon as the trainer
    is set up, so a fit that then failed had already replaced the run's config. This writes when training
    starts: after the checks, the checkpoint restore and the sanity validation have passed. A resumed fit
    rewrites it with the settings it now trains with.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        pass  # see on_train_start

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.already_saved and trainer.is_global_zero:
            self.save_config(trainer, pl_module, "fit")
        self.already_saved = True

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        path = Path(trainer.default_root_dir) / self.config_filename
        path.parent.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, str(path), skip_none=False, overwrite=True, multifile=self.multifile)


RUN_FILES = ("config.yaml", "checkpoints/*.ckpt", "samples/*.png")


def earlier_run_files(root: Path) -> list[str]:
    """What an earlier ``lightning-gans fit`` left in the run folder ``root``."""
    return sorted(str(p.relative_to(root)) for pattern in RUN_FILES for p in root.glob(pattern))


class GANCLI(LightningCLI):
    """LightningCLI with registry names, run folders that are never overwritten, checkpoints that are loaded
    without running code from them, and W&B files in the run folder."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--trust_checkpoint", type=bool, default=False, help=TRUST_HELP)

    def _parse_ckpt_path(self) -> None:
        # LightningCLI reads a local --ckpt_path here, before any hook, and puts the model class its
        # hyper-parameters name into the config, which jsonargparse then imports: check the file first.
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path is not None and Path(str(ckpt_path)).is_file():
            trust = bool(self.config[subcommand].get("trust_checkpoint"))
            checkpoint = read_checkpoint(str(ckpt_path), trust)
            if not trust:
                check_imports(checkpoint.get("hyper_parameters") or {}, ckpt_path)
            self.read_ckpt_path = str(ckpt_path)  # checked_checkpoint need not read it again
        super()._parse_ckpt_path()

    def before_instantiate_classes(self) -> None:
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

    def before_fit(self) -> None:
        config = self.config_init["fit"]
        root = Path(self.trainer.default_root_dir)
        if config.get("ckpt_path") == "last":
            last = self.last_checkpoint_path()
            if not last.is_file():
                raise RunFolderError(
                    f"--ckpt_path last: there is nothing to resume, {last} does not exist (a run writes it at the "
                    "end of its first epoch and every few minutes of training). Check --trainer.default_root_dir, "
                    "or drop --ckpt_path to start a new run."
                )
            config["ckpt_path"] = str(last)
        elif config.get("ckpt_path") is None:
            found = earlier_run_files(root)
            if found:
                shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
                raise RunFolderError(
                    f"{root} already holds a run ({shown}), and a new fit never writes over one. Resume it with "
                    "--ckpt_path last, train into another folder with --trainer.default_root_dir, or delete the "
                    "folder first."
                )
        self.checked_checkpoint("fit")

    def before_validate(self) -> None:
        self.checked_checkpoint("validate")

    def before_test(self) -> None:
        self.checked_checkpoint("test")


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
        included = path.parent / name
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
    choose_wandb_mode()
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
