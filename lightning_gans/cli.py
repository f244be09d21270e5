"""``lightning-gans``: LightningCLI for ``fit``/``validate``/``test``, plus ``list``, ``sample``, ``translate``
and ``evaluate``.

Recipes may name a part by registry name wherever LightningCLI expects a ``class_path``
(``class_path: dcgan``, ``--model.generator mlp``). Names are rewritten to the registered class's import
path while the YAML is loaded, through a jsonargparse parser mode, so plugins need no import line anywhere.
"""

from __future__ import annotations

import argparse
import netrc
import os
import pickle
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import get_loader, set_loader
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from lightning_gans import registry
from lightning_gans.callbacks.checkpoint import LAST_NAME, LastCheckpoint
from lightning_gans.checkpoints import TRUST_HELP, UntrustedCheckpointError, check_imports, read_checkpoint
from lightning_gans.registry import Registry, UnknownNameError

PARSER_MODE = "lightning_gans"
DEBUG_ENV = "LIGHTNING_GANS_DEBUG"

# Which registry a registry name refers to, keyed by the config key it stands under.
KEY_KINDS: dict[str, Registry[Any]] = {
    "model": registry.variants,
    "generator": registry.generators,
    "discriminator": registry.discriminators,
    "loss": registry.losses,
    "data": registry.datamodules,
}


def resolve_name(name: str, key: str | None) -> str:
    """A registry name -> ``module.Class``; anything else (an import path, a class name) unchanged."""
    if not name or "." in name:
        return name  # an import path
    kind = KEY_KINDS.get(key or "")
    if kind is not None:
        if name in kind or not name[0].isupper():
            return kind.entry(name).class_path  # unknown lower-case names raise, listing what exists
        return name  # a class name, which jsonargparse resolves among imported subclasses
    holders = [r for r in registry.REGISTRIES.values() if name in r]
    if len(holders) == 1:
        return holders[0].entry(name).class_path
    if len(holders) > 1:
        kinds = ", ".join(r.kind for r in holders)
        raise UnknownNameError(f"{name!r} names a {kinds}; write the full class_path where the kind is not clear")
    return name


def resolve_registry_names(value: Any, key: str | None = None) -> Any:
    """Rewrite registry names in ``class_path`` values (and bare values under part keys) in loaded YAML."""
    if isinstance(value, dict):
        if isinstance(value.get("class_path"), str):
            value["class_path"] = resolve_name(value["class_path"], key)
        for child_key, child in value.items():
            if child_key == "init_args":
                resolve_registry_names(child, None)
            elif child_key != "class_path":
                if isinstance(child, str) and child_key in KEY_KINDS:
                    value[child_key] = resolve_name(child, child_key)
                else:
                    resolve_registry_names(child, child_key)
    elif isinstance(value, list):
        for item in value:
            resolve_registry_names(item, key)
    return value


def _install_parser_mode() -> None:
    yaml_loader = get_loader("yaml")

    def load(text: str) -> Any:
        return resolve_registry_names(yaml_loader(text))

    set_loader(PARSER_MODE, load)


def resolve_argv(argv: Sequence[str]) -> list[str]:
    """Registry names given on the command line: ``--model.generator mlp``, ``--model=dcgan``, ..."""
    out = list(argv)
    for i, token in enumerate(out):
        if not token.startswith("--"):
            continue
        option, eq, value = token[2:].partition("=")
        parts = [p for p in option.split(".") if p not in ("init_args", "class_path")]
        key = parts[-1] if parts else ""
        if key not in KEY_KINDS:
            continue
        if eq:
            out[i] = f"--{option}={resolve_name(value, key)}"
        elif i + 1 < len(out) and not out[i + 1].startswith("-") and not out[i + 1].endswith((".yaml", ".yml")):
            out[i + 1] = resolve_name(out[i + 1], key)
    return out


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


class RunFolderError(ValueError):
    """A fit that would write over an earlier run, or resume one that is not there."""


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
    cli = GANCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=resolve_argv(argv),
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


# -- list ------------------------------------------------------------------------------------------------
def list_command(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="lightning-gans list", description="Registered parts, built-in and from plugins."
    )
    parser.add_argument("kind", nargs="?", choices=sorted(registry.REGISTRIES), help="only this kind")
    args = parser.parse_args(argv)
    rows = [("KIND", "NAME", "CLASS", "DISTRIBUTION", "STATUS")]
    problems = 0
    for plural, reg in registry.REGISTRIES.items():
        if args.kind and plural != args.kind:
            continue
        for entry, problem in reg.check_all():
            problems += problem is not None
            status = "ok" if problem is None else "BROKEN: " + problem
            rows.append((entry.kind, entry.name, entry.target, f"{entry.distribution} {entry.version}", status))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
    if registry.plugins_disabled():
        print(f"(plugins disabled by {registry.DISABLE_PLUGINS_ENV})")
    return 1 if problems else 0


# -- sample ----------------------------------------------------------------------------------------------
def sample_command(argv: Sequence[str]) -> int:
    import torch

    from lightning_gans.checkpoints import load_variant
    from lightning_gans.images import save_samples
    from lightning_gans.sampling import arithmetic_latents, interpolation_latents, latent_sweep, truncated_latents

    parser = argparse.ArgumentParser(
        prog="lightning-gans sample",
        description="Write samples from a checkpoint: a grid, truncated samples, interpolations or latent arithmetic.",
    )
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `lightning-gans fit`")
    parser.add_argument("--trust_checkpoint", action="store_true", help=TRUST_HELP)
    parser.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    parser.add_argument("--out", default="samples.png", help="PNG to write (default samples.png)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--nrow", type=int, default=None, help="images per grid row (default: square)")
    parser.add_argument("--truncation", type=float, default=None, help="truncation psi (default: none)")
    parser.add_argument(
        "--truncation_mode",
        choices=("resample", "scale"),
        default="resample",
        help="resample: redraw |z_i| > psi (BigGAN); scale: z * psi (default resample)",
    )
    parser.add_argument(
        "--interpolate", choices=("linear", "spherical"), default=None, help="rows of latent interpolations"
    )
    parser.add_argument("--rows", type=int, default=8, help="rows of --interpolate or --vary_latent (default 8)")
    parser.add_argument(
        "--steps", type=int, default=10, help="images per row of --interpolate or --vary_latent (default 10)"
    )
    parser.add_argument(
        "--arithmetic",
        default=None,
        metavar="EXPR",
        help="latent vector arithmetic on indices of the grid `sample --n POOL --seed SEED` draws (row-major "
        "from 0), each group averaged: e.g. '0,5,9 - 3,4,12 + 7,20,21'. Output: a row per group (members, "
        "then average), then the result and variations of it",
    )
    parser.add_argument("--pool", type=int, default=64, help="latents the arithmetic indices refer to (64)")
    parser.add_argument(
        "--label", type=int, default=None, help="class to draw, for conditional variants (default: each in turn)"
    )
    parser.add_argument(
        "--vary_latent",
        type=int,
        default=None,
        metavar="I",
        help="rows that sweep latent coordinate I from -2 to 2 over --steps images, the rest fixed (InfoGAN's "
        "continuous codes: the last latent coordinates); a conditional model's row r gets label r mod classes",
    )
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be >= 1, got {args.n}")
    if sum(x is not None for x in (args.interpolate, args.arithmetic, args.vary_latent)) > 1:
        parser.error("choose one of --interpolate, --arithmetic and --vary_latent")
    try:
        model = load_variant(args.ckpt, trust=args.trust_checkpoint)
    except (FileNotFoundError, ValueError, TypeError) as error:
        parser.error(str(error))

    def row_labels(label: int | None) -> torch.Tensor | int | None:
        """Rows of a conditional model's grid keep one class each: row r gets class r mod num_classes."""
        if label is not None or not model.num_classes:
            return label
        return torch.arange(args.rows).repeat_interleave(args.steps) % model.num_classes

    try:
        if args.interpolate:
            latents = interpolation_latents(args.rows, args.steps, model.latent_dim, args.interpolate, args.seed)
            samples, nrow = model.generate(latents, row_labels(args.label)), args.steps
            what = f"{args.rows} {args.interpolate} interpolations of {args.steps} steps"
        elif args.vary_latent is not None:
            latents = latent_sweep(args.rows, args.steps, model.latent_dim, args.vary_latent, seed=args.seed)
            samples, nrow = model.generate(latents, row_labels(args.label)), args.steps
            what = f"{args.rows} rows sweeping latent coordinate {args.vary_latent} from -2 to 2 in {args.steps} steps"
        elif args.arithmetic:
            if model.num_classes and args.label is None:
                raise ValueError("latent arithmetic on a conditional model needs one class: add --label K")
            pool = truncated_latents(args.pool, model.latent_dim, None, seed=args.seed)
            rows = [
                model.generate(row, args.label) for row in arithmetic_latents(pool, args.arithmetic, seed=args.seed)
            ]
            nrow = max(len(row) for row in rows)
            blank = torch.ones_like(rows[0][:1])  # white in the models' [-1, 1] range: pads short rows
            samples = torch.cat([torch.cat([row, *[blank] * (nrow - len(row))]) for row in rows])
            what = f"latent arithmetic {args.arithmetic!r} (a row per group: members, then their average; last "
            what += "row: the result, then variations of it)"
        else:
            latents = truncated_latents(args.n, model.latent_dim, args.truncation, args.truncation_mode, args.seed)
            samples = model.generate(latents, args.label)
            nrow = args.nrow or (model.num_classes if model.num_classes and args.label is None else None)
            what = f"{args.n} samples" + (f" of class {args.label}" if args.label is not None else "")
            if args.truncation is not None:
                what += f" at truncation {args.truncation} ({args.truncation_mode})"
    except ValueError as error:
        parser.error(str(error))
    try:
        path = save_samples(samples, args.out, nrow=nrow)
    except ValueError as error:
        parser.error(f"{args.ckpt}: {error}")
    print(f"wrote {what} to {path}")
    return 0


# -- translate -------------------------------------------------------------------------------------------
def translate_command(argv: Sequence[str]) -> int:
    from torchvision.datasets.folder import default_loader

    from lightning_gans.checkpoints import load_translation
    from lightning_gans.data.pairs import image_files
    from lightning_gans.data.vision import image_transform
    from lightning_gans.images import save_picture, to_uint8

    parser = argparse.ArgumentParser(
        prog="lightning-gans translate",
        description="Apply an image-to-image checkpoint (pix2pix, cyclegan, srgan) to an image or a folder of them.",
    )
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `lightning-gans fit`")
    parser.add_argument("--input", required=True, help="an image file, or a folder searched recursively")
    parser.add_argument(
        "--out", default="translated", help="folder for the PNGs, same relative names (default translated)"
    )
    parser.add_argument(
        "--image_size",
        type=int,
        default=None,
        help="resize (short side) and centre-crop to this first (default: as is)",
    )
    parser.add_argument("--reverse", action="store_true", help="translate B -> A (CycleGAN's second generator)")
    parser.add_argument("--trust_checkpoint", action="store_true", help=TRUST_HELP)
    args = parser.parse_args(argv)
    try:
        model = load_translation(args.ckpt, trust=args.trust_checkpoint)
    except (FileNotFoundError, ValueError, TypeError) as error:
        parser.error(str(error))
    translate = getattr(model, "translate_back", None) if args.reverse else model.translate
    if translate is None:
        parser.error(f"{type(model).__name__} translates one way only: drop --reverse")
    generator = getattr(model, "generator_ba", None) if args.reverse else model.generator
    transform = image_transform(args.image_size, getattr(generator, "in_channels", 3))
    source = Path(args.input)
    try:
        files = {source.stem: source} if source.is_file() else image_files(source)
    except FileNotFoundError as error:
        parser.error(str(error))
    for name, path in files.items():
        try:
            output = translate(transform(default_loader(str(path)))[None])[0]
        except (RuntimeError, ValueError) as error:
            parser.error(f"{path}: {error} (--image_size resizes the inputs)")
        save_picture(to_uint8(output).expand(3, -1, -1), Path(args.out) / f"{name}.png")
    print(f"wrote {len(files)} translated image(s) to {args.out}")
    return 0


USAGE = """usage: lightning-gans {fit,validate,test,predict,list,sample,translate,evaluate} ...

  fit --config recipes/NAME.yaml      train (LightningCLI; also validate, test, --print_config)
  list [KIND]                         registered variants, generators, discriminators, losses, datamodules,
                                      feature networks
  sample --ckpt FILE --n 64 --out grid.png
                                      samples from a trained checkpoint (also --label K, --truncation,
                                      --interpolate spherical, --arithmetic '0,1,2 - 3,4,5 + 6,7,8',
                                      --vary_latent I)
  translate --ckpt FILE --input DIR --out DIR
                                      apply an image-to-image checkpoint (pix2pix, cyclegan, srgan) to your
                                      images (also --reverse for CycleGAN's B -> A, --image_size)
  evaluate --ckpt FILE --metrics fid,kid,is,prdc,classes,knn,birthday
                                      sample-quality table and JSON with its protocol

`lightning-gans COMMAND --help` describes each command.
"""


def report(error: BaseException) -> int:
    """One paragraph naming the cause, no traceback (unless LIGHTNING_GANS_DEBUG=1); the exit status."""
    debugging = os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")
    if debugging:
        traceback.print_exception(error)
    message = str(error).strip() or type(error).__name__
    if "Original Traceback" in message:  # an error in a DataLoader worker: its first line and the error itself
        lines = [line for line in message.splitlines() if line.strip()]
        message = f"{lines[0]} {lines[-1].strip()}"
    if isinstance(error, pickle.UnpicklingError) and "weights only" in message.lower():
        message = (
            "the checkpoint holds pickled objects other than tensors and plain values, which could run code, so it "
            "was not loaded. If you trust its source, add --trust_checkpoint"
        )
    elif not isinstance(error, (registry.RegistryError, ValueError, FileNotFoundError, RuntimeError, TypeError)):
        message = f"{type(error).__name__}: {message}"
    print(f"lightning-gans: error: {message}", file=sys.stderr)
    if not debugging:
        print(f"(set {DEBUG_ENV}=1 to see the traceback)", file=sys.stderr)
    return 2 if isinstance(error, (registry.RegistryError, RunFolderError)) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    try:
        if args[0] == "list":
            return list_command(args[1:])
        if args[0] == "sample":
            return sample_command(args[1:])
        if args[0] == "translate":
            return translate_command(args[1:])
        if args[0] == "evaluate":
            from lightning_gans.evaluate import evaluate_command  # imported on use: keeps `list` fast

            return evaluate_command(args[1:])
        run_lightning_cli(args)
    except KeyboardInterrupt:
        print("lightning-gans: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure reaches the user as one paragraph; see report()
        return report(error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
