"""``lightning-gans``: ``fit``/``validate``/``test``/``predict`` (LightningCLI, in ``lightning_gans.lightning_cli``),
plus ``list``, ``sample``, ``translate``, ``evaluate``, ``export`` and ``demo``.

This module imports neither torch nor Lightning: ``--help`` and ``list`` answer at once, and each command
imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import difflib
import os
import pickle
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NoReturn, cast

from lightning_gans import registry
from lightning_gans.errors import TRUST_HELP, RunFolderError
from lightning_gans.quiet import quiet_third_party

DEBUG_ENV = "LIGHTNING_GANS_DEBUG"
CKPT_HELP = (
    "a checkpoint written by `lightning-gans fit`, or a generator folder written by `lightning-gans export` (or "
    "save_pretrained), or the Hugging Face Hub id of one (owner/name)"
)


class CommandParser(argparse.ArgumentParser):
    """argparse's parser for the light commands. A mistake in the command line's form (an unknown option, a
    missing one) is shown with the usage block, as argparse does; an error found after parsing (a file that
    cannot be loaded, a value the model cannot take) is one paragraph that names its cause, without it.

    With ``config_file`` (every command but ``list``) it takes the YAML habit of ``fit``: ``--config FILE`` reads
    options from a YAML mapping (keys are the option names without ``--``; later files and the command line
    override earlier ones) and ``--print_config`` prints the resolved options as such a file and exits.
    argparse rather than jsonargparse, so that ``--help`` stays instant: jsonargparse would import typing
    machinery and docstring parsers before the first line of help.
    """

    _parsing = False

    def __init__(self, prog: str, description: str, epilog: str | None = None, config_file: bool = True) -> None:
        super().__init__(prog=prog, description=description, epilog=epilog)
        if config_file:
            self.add_argument("--config", action="append", metavar="FILE", help="a YAML file of these options "
                              "(keys without --, e.g. `n: 64`); the command line overrides it; may repeat")  # fmt: skip
            self.add_argument("--print_config", action="store_true",
                              help="print the resolved options as a --config file and exit")  # fmt: skip

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._parsing = True
        try:
            return super().parse_known_args(args, namespace)
        finally:
            self._parsing = False

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # argparse's own signature
        argv = list(sys.argv[1:] if args is None else args)
        for path in self.config_files(argv):
            self.read_config(path)
        parsed = super().parse_args(argv, namespace)
        if getattr(parsed, "print_config", False):
            import yaml

            shown = {k: v for k, v in vars(parsed).items() if k not in ("config", "print_config")}
            print(yaml.safe_dump(shown, sort_keys=False), end="")
            self.exit(0)
        return parsed

    def config_files(self, argv: list[str]) -> list[str]:
        """The ``--config`` files of ``argv``, in order (``--config F`` and ``--config=F``)."""
        if not any(action.dest == "config" for action in self._actions):
            return []
        files = [token.partition("=")[2] for token in argv if token.startswith("--config=")]
        files += [argv[i + 1] for i, token in enumerate(argv[:-1]) if token == "--config"]
        return files

    def read_config(self, path: str) -> None:
        """Make the options of the YAML file at ``path`` the defaults; an unknown key or a bad value is named."""
        import yaml  # here, not at the top: `--help` imports nothing it does not print

        try:
            values = yaml.safe_load(Path(path).read_text())
        except OSError as error:
            self.error(f"--config {path}: cannot read it ({error.strerror or error})")
        except yaml.YAMLError as error:
            self.error(f"--config {path}: not valid YAML ({' '.join(str(error).split())})")
        if values is None:
            return
        if not isinstance(values, dict):
            self.error(f"--config {path}: expected a mapping of option names to values, got {type(values).__name__}")
        actions = {a.dest: a for a in self._actions if a.dest not in ("help", "config", "print_config")}
        for key, value in values.items():
            action = actions.get(str(key))
            if action is None:
                close = difflib.get_close_matches(str(key), actions, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                self.error(f"--config {path}: unknown option {key!r}.{hint} Options: {', '.join(actions)}")
            if isinstance(value, str) and callable(action.type):
                try:
                    value = action.type(value)
                except (TypeError, ValueError) as error:
                    self.error(f"--config {path}: {key}: {error}")
            if action.choices is not None and value not in action.choices:
                self.error(f"--config {path}: {key}: {value!r} is not one of {', '.join(map(str, action.choices))}")
            if action.nargs == 0 and not isinstance(value, bool):  # a flag: true or false
                self.error(f"--config {path}: {key}: expected true or false, got {value!r}")
            action.required = False  # given by the file; the command line may still override it
            self.set_defaults(**{action.dest: value})

    def error(self, message: str) -> NoReturn:
        if self._parsing:
            super().error(message)
        self.exit(2, f"{self.prog}: error: {message}\n")


# -- list ------------------------------------------------------------------------------------------------
def list_command(argv: Sequence[str]) -> int:
    parser = CommandParser(
        prog="lightning-gans list",
        description="Registered parts, built-in and from plugins, read from package metadata (nothing is imported).",
        config_file=False,
    )
    parser.add_argument("kind", nargs="?", choices=sorted(registry.REGISTRIES), help="only this kind")
    parser.add_argument(
        "--check",
        action="store_true",
        help="also import every part and report the broken ones and the names two plugins claim (exit 1 if any)",
    )
    args = parser.parse_args(argv)
    rows = [("KIND", "NAME", "CLASS", "DISTRIBUTION", "STATUS")]
    problems = 0
    for plural, reg in registry.REGISTRIES.items():
        if args.kind and plural != args.kind:
            continue
        shadowed, clashes = reg.shadowed(), reg.clashes()
        with warnings.catch_warnings():  # check_all warns of each broken part: its BROKEN row says it here
            warnings.simplefilter("ignore", RuntimeWarning)
            checked = dict(reg.check_all()) if args.check else {}
        for entry in reg.entries():
            status = "ok" if args.check else ""
            if entry in shadowed:
                winner = shadowed[entry]
                status = (
                    f"SHADOWED by {winner.distribution} {winner.version}: the name means the built-in; "
                    f"use class_path {entry.class_path}"
                )
            if entry.name in clashes:  # the name cannot be used at all: an error, unlike a shadowed one
                problems += 1
                others = ", ".join(f"{c.distribution} {c.version}" for c in clashes[entry.name] if c != entry)
                status = f"CLASH with {others}: using the name fails; use class_path {entry.class_path}"
            problem = checked.get(entry)
            if problem is not None:
                problems += 1
                status = "BROKEN: " + problem
            rows.append((entry.kind, entry.name, entry.target, f"{entry.distribution} {entry.version}", status))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print(("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4]).rstrip())
    if registry.plugins_disabled():
        print(f"(plugins disabled by {registry.DISABLE_PLUGINS_ENV})")
    return 1 if problems and args.check else 0


# -- sample ----------------------------------------------------------------------------------------------
def sample_command(argv: Sequence[str]) -> int:
    import torch

    from lightning_gans.checkpoints import load_variant
    from lightning_gans.images import check_picture_path, check_picture_size, save_sample_batches
    from lightning_gans.sampling import (
        SAMPLE_BATCH,
        arithmetic_latents,
        check_truncation,
        compile_for_sampling,
        generate_in_chunks,
        interpolation_latents,
        latent_sweep,
        sample_shape,
        style_mixing_grid,
        truncated_latents,
        truncation_in_w,
    )

    parser = CommandParser(
        prog="lightning-gans sample",
        description="Write samples from a checkpoint: a grid, truncated samples, interpolations, latent arithmetic or "
        "style mixing.",
    )
    parser.add_argument("--ckpt", required=True, help=CKPT_HELP)
    parser.add_argument("--trust_checkpoint", action="store_true", help=TRUST_HELP)
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the generator first (the first batch compiles; pays off for many or large batches)",
    )
    parser.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    parser.add_argument(
        "--out", default="samples.png", help="picture to write, an image type by its suffix (default samples.png)"
    )
    parser.add_argument(
        "--batch_size",
        type=int,
        default=SAMPLE_BATCH,
        help=f"latents per forward pass: bounds the memory whatever the number of samples (default {SAMPLE_BATCH})",
    )
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--nrow", type=int, default=None, help="images per grid row (default: square)")
    parser.add_argument(
        "--truncation", type=float, default=None, help="truncation psi (default: none; resample takes psi >= 0.01)"
    )
    parser.add_argument(
        "--truncation_mode",
        choices=("resample", "scale", "w"),
        default="resample",
        help="resample: redraw |z_i| > psi (BigGAN); scale: z * psi; w: w_avg + psi (w - w_avg) in a style-based "
        "generator's W space (StyleGAN) (default resample)",
    )
    parser.add_argument(
        "--interpolate", choices=("linear", "spherical"), default=None, help="rows of latent interpolations"
    )
    parser.add_argument(
        "--style_mixing",
        action="store_true",
        help="a style-mixing grid (StyleGAN): --rows seeds down the side give the coarse styles, --steps seeds "
        "along the top the fine ones",
    )
    parser.add_argument(
        "--crossover",
        type=int,
        default=None,
        metavar="L",
        help="--style_mixing: the first layer whose style comes from the top row (default: half the layers)",
    )
    parser.add_argument(
        "--rows", type=int, default=8, help="rows of --interpolate, --vary_latent or --style_mixing (default 8)"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=10,
        help="images per row of --interpolate or --vary_latent, columns of --style_mixing (default 10)",
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
        "--text",
        action="append",
        default=None,
        metavar="CAPTION",
        help="a caption, for text-to-image models (gan_cls); repeat it for a row per caption (--nrow images each, "
        "default 8). With two captions and --interpolate: rows of fixed noise going from the first caption's "
        "embedding to the second's in --steps",
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
    for option in ("n", "nrow", "pool", "batch_size"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            parser.error(f"--{option} must be >= 1, got {getattr(args, option)}")
    if (
        sum(x not in (None, False) for x in (args.interpolate, args.arithmetic, args.vary_latent, args.style_mixing))
        > 1
    ):
        parser.error("choose one of --interpolate, --arithmetic, --vary_latent and --style_mixing")
    try:
        check_picture_path(args.out)
    except ValueError as error:
        parser.error(f"--out: {error}")
    try:
        check_truncation(args.truncation, args.truncation_mode)
    except ValueError as error:
        parser.error(f"--truncation: {error}")
    w_psi = args.truncation if args.truncation_mode == "w" else None
    nrow: int | None
    try:
        model = load_variant(args.ckpt, trust=args.trust_checkpoint)
    except registry.RegistryError:  # a WrongBaseClassError is a TypeError too: it goes to report()
        raise
    except (FileNotFoundError, ValueError, TypeError) as error:
        parser.error(str(error))
    if args.text is not None and not hasattr(model, "generate_text"):
        parser.error(f"{type(model).__name__} does not take captions: --text is for text-to-image models (gan_cls)")
    try:  # before compiling: one latent would be a batch size of its own to compile for
        shape = sample_shape(model, None if args.text else args.label, args.text[0] if args.text else None)
    except ValueError as error:
        parser.error(str(error))
    if args.compile:
        compile_for_sampling(model.sampling_generator)

    def check_size(n: int, per_row: int | None, asked: str) -> None:
        """Refuse, before any latent is drawn, a picture too large to open (``check_picture_size``)."""
        try:
            check_picture_size(n, shape, per_row)
        except ValueError as error:
            parser.error(
                f"{asked}: {error}. Ask for fewer, or draw several pictures with other --seed values; to score many "
                "samples, `lightning-gans evaluate` draws any number without a picture"
            )

    def chunks(latents: torch.Tensor, labels: torch.Tensor | int | None) -> Iterator[torch.Tensor]:
        return generate_in_chunks(model, latents, labels, batch_size=args.batch_size)

    def row_labels(label: int | None) -> torch.Tensor | int | None:
        """Rows of a conditional model's grid keep one class each: row r gets class r mod num_classes."""
        if label is not None or not model.num_classes:
            return label
        return torch.arange(args.rows).repeat_interleave(args.steps) % model.num_classes

    rows_asked = f"--rows {args.rows} --steps {args.steps}"
    samples: Iterable[torch.Tensor]
    with ExitStack() as scope:  # a plain grid's truncation in W lasts until its samples are drawn
        try:
            if args.text is not None:
                samples, nrow, what = text_samples(model, args, check_size)
            elif args.style_mixing:
                if args.truncation is not None and w_psi is None:
                    raise ValueError("style mixing truncates in W only: use --truncation_mode w")
                if args.rows >= 1 and args.steps >= 1:  # else style_mixing_grid says what is wrong
                    check_size((args.rows + 1) * (args.steps + 1), args.steps + 1, rows_asked)
                grid, nrow = style_mixing_grid(
                    model.sampling_generator,
                    args.rows,
                    args.steps,
                    args.crossover,
                    1.0 if w_psi is None else w_psi,
                    args.seed,
                    args.batch_size,
                )
                samples = [grid]
                what = f"a style-mixing grid: {args.rows} rows of coarse styles x {args.steps} columns of fine styles"
            elif args.interpolate:
                check_size(args.rows * args.steps, args.steps, rows_asked)
                latents = interpolation_latents(args.rows, args.steps, model.latent_dim, args.interpolate, args.seed)
                samples, nrow = chunks(latents, row_labels(args.label)), args.steps
                what = f"{args.rows} {args.interpolate} interpolations of {args.steps} steps"
            elif args.vary_latent is not None:
                check_size(args.rows * args.steps, args.steps, rows_asked)
                latents = latent_sweep(args.rows, args.steps, model.latent_dim, args.vary_latent, seed=args.seed)
                samples, nrow = chunks(latents, row_labels(args.label)), args.steps
                what = f"{args.rows} rows sweeping latent coordinate {args.vary_latent} from -2 to 2 in "
                what += f"{args.steps} steps"
            elif args.arithmetic:
                if model.num_classes and args.label is None:
                    raise ValueError("latent arithmetic on a conditional model needs one class: add --label K")
                check_size(args.pool, None, f"--pool {args.pool} (the grid the indices refer to)")
                pool = truncated_latents(args.pool, model.latent_dim, None, seed=args.seed)
                latent_rows = arithmetic_latents(pool, args.arithmetic, seed=args.seed)
                nrow = max(len(row) for row in latent_rows)
                check_size(len(latent_rows) * nrow, nrow, f"--arithmetic {args.arithmetic!r}")
                rows = [torch.cat(list(chunks(row, args.label))) for row in latent_rows]
                blank = torch.ones_like(rows[0][:1])  # white in the models' [-1, 1] range: pads short rows
                samples = [torch.cat([torch.cat([row, *[blank] * (nrow - len(row))]) for row in rows])]
                what = f"latent arithmetic {args.arithmetic!r} (a row per group: members, then their average; last "
                what += "row: the result, then variations of it)"
            else:
                nrow = args.nrow or (model.num_classes if model.num_classes and args.label is None else None)
                check_size(args.n, nrow, f"--n {args.n}" + (f" --nrow {args.nrow}" if args.nrow else ""))
                latents = truncated_latents(args.n, model.latent_dim, args.truncation, args.truncation_mode, args.seed)
                scope.enter_context(truncation_in_w(model.sampling_generator, w_psi))
                samples = chunks(latents, args.label)
                what = f"{args.n} samples" + (f" of class {args.label}" if args.label is not None else "")
                if args.truncation is not None:
                    what += f" at truncation {args.truncation} ({args.truncation_mode})"
        except ValueError as error:
            parser.error(str(error))
        try:  # the samples are drawn here, a batch at a time, as the picture takes them
            path = save_sample_batches(samples, args.out, nrow=nrow)
        except ValueError as error:  # --out was checked first: what is left is what the checkpoint made
            parser.error(f"{args.ckpt}: {error}")
    print(f"wrote {what} to {path}")
    return 0


def text_samples(
    model: Any, args: argparse.Namespace, check_size: Callable[[int, int | None, str], None]
) -> tuple[Iterator[Any], int, str]:
    """``sample --text``: a row per caption, or text interpolations (``--interpolate`` with two captions), as batches
    of at most ``--batch_size`` samples drawn when iterated; ``check_size(n, per_row, asked)`` refuses too many."""
    import torch

    from lightning_gans.sampling import generate_in_chunks

    texts: list[str] = args.text
    if args.arithmetic or args.vary_latent is not None or args.style_mixing or args.truncation is not None:
        raise ValueError("--text combines with --n, --nrow, --seed and --interpolate only")
    if args.interpolate:
        if len(texts) != 2:
            raise ValueError(f"--interpolate with --text goes between two captions; got {len(texts)}")
        check_size(args.rows * args.steps, args.steps, f"--rows {args.rows} --steps {args.steps}")
        z = torch.randn(args.rows, model.latent_dim, generator=torch.Generator().manual_seed(args.seed))
        # whole rows per batch (one row at least): interpolate_text draws a row per latent
        rows = z.split(max(1, args.batch_size // args.steps))
        interpolations = (model.interpolate_text(part, texts[0], texts[1], args.steps) for part in rows)
        return interpolations, args.steps, f"{args.rows} rows from {texts[0]!r} to {texts[1]!r} in {args.steps} steps"
    nrow = args.nrow or 8
    n = max(args.n, nrow) if len(texts) == 1 else nrow * len(texts)
    check_size(n, nrow, f"--n {args.n} --nrow {nrow}" if len(texts) == 1 else f"--nrow {nrow} x {len(texts)} captions")
    captions = [texts[(i // nrow) % len(texts)] for i in range(n)]
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(args.seed))
    samples = generate_in_chunks(model, z, captions=captions, batch_size=args.batch_size)
    return samples, nrow, f"{n} samples for {len(texts)} caption(s), a row of {nrow} each"


# -- translate -------------------------------------------------------------------------------------------
def translate_command(argv: Sequence[str]) -> int:
    from torchvision.datasets.folder import default_loader

    from lightning_gans.checkpoints import load_translation
    from lightning_gans.data.pairs import image_files
    from lightning_gans.data.vision import image_transform
    from lightning_gans.images import save_picture, to_uint8
    from lightning_gans.sampling import compile_for_sampling

    parser = CommandParser(
        prog="lightning-gans translate",
        description="Apply an image-to-image checkpoint (pix2pix, cyclegan, srgan) to an image or a folder of them.",
    )
    parser.add_argument("--ckpt", required=True, help=CKPT_HELP)
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
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the generator first (the first batch compiles; pays off for many or large batches)",
    )
    parser.add_argument("--trust_checkpoint", action="store_true", help=TRUST_HELP)
    args = parser.parse_args(argv)
    try:
        model = load_translation(args.ckpt, trust=args.trust_checkpoint)
    except registry.RegistryError:  # a WrongBaseClassError is a TypeError too: it goes to report()
        raise
    except (FileNotFoundError, ValueError, TypeError) as error:
        parser.error(str(error))
    generator = getattr(model, "generator_ba", None) if args.reverse else model.generator
    if generator is None:
        parser.error(f"{args.ckpt} translates one way only: drop --reverse")
    if args.compile:
        compile_for_sampling(generator)
    translate = cast(Any, model).translate_back if args.reverse else model.translate
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


USAGE = """usage: lightning-gans {fit,validate,test,predict,list,sample,translate,evaluate,export,demo} ...

  fit --config recipes/NAME.yaml      train (LightningCLI; also validate, test, --print_config)
  list [KIND] [--check]               registered variants, generators, discriminators, losses, datamodules,
                                      feature networks (--check imports each and reports broken ones)
  sample --ckpt FILE --n 64 --out grid.png
                                      samples from a trained checkpoint (also --label K, --truncation,
                                      --interpolate spherical, --arithmetic '0,1,2 - 3,4,5 + 6,7,8',
                                      --vary_latent I, --style_mixing, --truncation_mode w)
  translate --ckpt FILE --input DIR --out DIR
                                      apply an image-to-image checkpoint (pix2pix, cyclegan, srgan) to your
                                      images (also --reverse for CycleGAN's B -> A, --image_size)
  evaluate --ckpt FILE --metrics fid,kid,is,prdc,classes,knn,birthday
                                      sample-quality table and JSON with its protocol
  export --ckpt FILE --out DIR        the generator as a folder to share: model.safetensors, config.json and a
                                      model card with its metrics (also --format onnx, --push_to_hub ID);
                                      sample, evaluate, translate and demo take the folder or Hub id as --ckpt
  demo --ckpt FILE_OR_DIR             a local web page to explore a generator (pip install lightning-gans[demo])

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
    status = getattr(error, "exit_status", None)  # an error may say its own (a config key refused: 2, as argparse)
    if isinstance(status, int):
        return status
    return 2 if isinstance(error, (registry.RegistryError, RunFolderError)) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    quiet_third_party()
    try:
        return run_command(args)
    except BrokenPipeError:  # `lightning-gans --help | head -1`: the reader has gone, which is no error of ours
        # Python would report the pipe again when it flushes stdout at exit: point stdout at /dev/null first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run_command(args: list[str]) -> int:
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
            from lightning_gans.evaluate import evaluate_command

            return evaluate_command(args[1:])
        if args[0] == "export":
            from lightning_gans.export import export_command

            return export_command(args[1:])
        if args[0] == "demo":
            from lightning_gans.demo import demo_command

            return demo_command(args[1:])
        from lightning_gans.lightning_cli import run_lightning_cli  # torch and Lightning: only for these commands

        run_lightning_cli(args)
    except KeyboardInterrupt:
        print("lightning-gans: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except Exception as error:  # every failure reaches the user as one paragraph; see report()
        return report(error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
