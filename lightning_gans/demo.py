"""``lightning-gans demo``: a local web page to explore a trained generator (the ``demo`` extra: gradio).

The page draws a grid for a seed (and a class or a caption when the model takes one), with or without
truncation, and interpolates between two seeds; each picture has a download button. Every action is also a
named endpoint of gradio's client API (``/samples``, ``/interpolation``), which is how the tests drive it.
The pictures are made by ``Explorer``, plain PyTorch that needs no gradio.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lightning_gans.cli import CommandParser
from lightning_gans.errors import TRUST_HELP
from lightning_gans.images import save_samples
from lightning_gans.inference import LatentSampling
from lightning_gans.sampling import (
    TruncationMode,
    check_truncation,
    compile_for_sampling,
    slerp,
    truncated_latents,
    truncation_in_w,
)

EACH_CLASS = "each class in turn"
SEED_MAX = 2**63 - 1  # torch.Generator.manual_seed takes at most this
# A page answers anyone who can reach it: every request draws at most this many samples in one forward pass
SAMPLES_MAX = 64
STEPS_MAX = 16
DEMO_EXTRA = 'the demo needs gradio: pip install "lightning-gans[demo]"'
# 28-pixel samples are drawn as large as the box allows, and sharp (not blurred by the browser's smoothing)
PICTURES_KEPT = 64  # the newest pictures stay in the explorer's folder (for download); older ones are deleted
# gradio's own copies of served files: deleted every 10 minutes once 10 minutes old, and when the page closes
GRADIO_CACHE = (600, 600)
PIXELATED = ".samples img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"


@dataclass
class Explorer:
    """Pictures from a sampling model (a training module or an exported generator), written as PNGs to
    ``folder`` so that the page can show and offer them for download."""

    model: LatentSampling
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lightning-gans-demo-")))

    @property
    def takes_captions(self) -> bool:
        return hasattr(self.model, "generate_text")

    @property
    def truncation_mode(self) -> TruncationMode:
        return "w" if self.style_based else "resample"

    @property
    def style_based(self) -> bool:
        """Truncation happens in W for a generator with a mapping network (StyleGAN), in Z otherwise."""
        return hasattr(self.model.sampling_generator, "truncation_psi")

    def label(self, choice: str | None) -> int | None:
        """The class a dropdown choice names, or ``None`` for every class in turn (and for unconditional models)."""
        if not self.model.num_classes or choice in (None, "", EACH_CLASS):
            return None
        label = int(str(choice))
        if not 0 <= label < self.model.num_classes:
            raise ValueError(f"class must lie in 0..{self.model.num_classes - 1}, got {label}")
        return label

    def draw(self, z: Tensor, label: int | None, caption: str, psi: float | None) -> Tensor:
        """Samples for latents ``z``: truncated in W by ``psi`` for a style-based generator."""
        with truncation_in_w(self.model.sampling_generator, psi if self.style_based else None):
            if self.takes_captions:
                if not caption.strip():
                    raise ValueError("this model draws images for captions: write one")
                return self.model.generate_text(z, [caption])  # type: ignore[attr-defined, no-any-return]
            return self.model.generate(z, label)

    def check_psi(self, psi: float | None) -> None:
        """Refuse a truncation ``psi`` this model's truncation mode cannot use, naming the page's field."""
        try:
            check_truncation(psi, self.truncation_mode)
        except ValueError as error:
            raise ValueError(f"truncation ψ: {error}") from error

    def samples(self, seed: int, n: int, label: str | None, caption: str, psi: float | None) -> Path:
        """A grid of ``n`` samples for ``seed``; ``psi`` truncates (BigGAN's resampling in Z, or in W)."""
        check_field("seed", seed, 0, SEED_MAX)
        check_field("samples", n, 1, SAMPLES_MAX)
        self.check_psi(psi)
        z = truncated_latents(int(n), self.model.latent_dim, psi, self.truncation_mode, int(seed))
        picture = self.draw(z, self.label(label), caption, psi)
        nrow = self.model.num_classes if self.model.num_classes and self.label(label) is None else None
        return save_samples(picture, self.unique(f"samples_seed{int(seed)}_n{int(n)}"), nrow=nrow)

    def interpolation(
        self, seed: int, other_seed: int, steps: int, label: str | None, caption: str, psi: float | None
    ) -> Path:
        """A row from the first sample of ``seed`` to that of ``other_seed``, spherically in Z."""
        check_field("seed", seed, 0, SEED_MAX)
        check_field("interpolate to seed", other_seed, 0, SEED_MAX)
        check_field("interpolation steps", steps, 2, STEPS_MAX)
        self.check_psi(psi)
        first = truncated_latents(1, self.model.latent_dim, psi, self.truncation_mode, int(seed))
        last = truncated_latents(1, self.model.latent_dim, psi, self.truncation_mode, int(other_seed))
        z = slerp(first.expand(int(steps), -1), last.expand(int(steps), -1), torch.linspace(0, 1, int(steps))[:, None])
        chosen = self.label(label)
        if self.model.num_classes and chosen is None:
            chosen = 0  # one class for the whole row: the walk is in Z, not across classes
        picture = self.draw(z, chosen, caption, psi)
        return save_samples(picture, self.unique(f"interpolation_{int(seed)}_{int(other_seed)}"), nrow=int(steps))

    def unique(self, stem: str) -> Path:
        """A new file name per picture: two visitors asking at once never overwrite each other's. The oldest
        pictures beyond ``PICTURES_KEPT`` are deleted, so a page that runs for days does not fill the disk."""
        pictures = sorted(self.folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
        for old in pictures[: max(0, len(pictures) - PICTURES_KEPT + 1)]:
            old.unlink(missing_ok=True)
        return self.folder / f"{stem}_{uuid.uuid4().hex[:8]}.png"

    def close(self) -> None:
        """Delete the folder of pictures."""
        shutil.rmtree(self.folder, ignore_errors=True)


def check_field(name: str, value: Any, low: float | None, high: float | None) -> None:
    """Raise ``ValueError`` naming the field ``name`` if ``value`` is no finite number in ``low..high``: a request
    through the API can send anything JSON holds (NaN too), whatever the page's widgets allow."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must lie in {low}..{high}, got {value}")


def build_page(explorer: Explorer, title: str) -> Any:
    """The gradio page (``gradio.Blocks``) of an explorer; imports gradio."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    import gradio as gr

    model = explorer.model
    psi_range = (0.0, 1.0, 0.7) if explorer.style_based else (0.1, 2.0, 0.7)
    classes = [EACH_CLASS, *map(str, range(model.num_classes))]
    captions = list(getattr(model, "grid_captions", []) or [])

    def truncation(truncate: bool, psi: float) -> float | None:
        return float(psi) if truncate else None

    def checked(component: Any) -> Any:
        """``component``, refusing a value sent through the API that is not a finite number in its range with an
        error that names it: gradio lets NaN through, and its own range error names no field."""
        preprocess = component.preprocess

        def preprocess_checked(payload: Any) -> Any:
            try:
                check_field(component.label, payload, component.minimum, component.maximum)
            except ValueError as error:
                raise gr.Error(str(error)) from error
            return preprocess(payload)

        component.preprocess = preprocess_checked
        return component

    def samples(seed: float, n: float, label: str, caption: str, truncate: bool, psi: float) -> tuple[str, str]:
        try:
            path = str(explorer.samples(int(seed), int(n), label, caption, truncation(truncate, psi)))
        except (ValueError, TypeError, RuntimeError) as error:  # a bad value reaches the page as its message
            raise gr.Error(str(error)) from error
        return path, path

    def interpolation(
        seed: float, other_seed: float, steps: float, label: str, caption: str, truncate: bool, psi: float
    ) -> tuple[str, str]:
        try:
            path = str(
                explorer.interpolation(
                    int(seed), int(other_seed), int(steps), label, caption, truncation(truncate, psi)
                )
            )
        except (ValueError, TypeError, RuntimeError) as error:  # a bad value reaches the page as its message
            raise gr.Error(str(error)) from error
        return path, path

    with gr.Blocks(title=title, delete_cache=GRADIO_CACHE) as page:
        gr.Markdown(f"# {title}\nlatent size {model.latent_dim}" + (f", {model.num_classes} classes" if
                    model.num_classes else "") + (", captions" if explorer.takes_captions else ""))  # fmt: skip
        with gr.Row():
            with gr.Column(scale=1):
                seed = checked(gr.Number(value=0, precision=0, minimum=0, maximum=SEED_MAX, label="seed"))
                n = checked(gr.Slider(1, SAMPLES_MAX, value=16, step=1, label="samples"))
                label = gr.Dropdown(classes, value=EACH_CLASS, label="class", visible=bool(model.num_classes))
                caption = gr.Textbox(value=captions[0] if captions else "", label="caption",
                                     visible=explorer.takes_captions)  # fmt: skip
                truncate = gr.Checkbox(value=False, label="truncate" + (" in W" if explorer.style_based else ""))
                psi = checked(gr.Slider(*psi_range[:2], value=psi_range[2], step=0.05, label="truncation ψ"))
                draw = gr.Button("Generate", variant="primary")
                other_seed = checked(
                    gr.Number(value=1, precision=0, minimum=0, maximum=SEED_MAX, label="interpolate to seed")
                )
                steps = checked(gr.Slider(2, STEPS_MAX, value=8, step=1, label="interpolation steps"))
                walk = gr.Button("Interpolate")
            with gr.Column(scale=2):
                picture = gr.Image(
                    type="filepath", label="samples", interactive=False, height=520, elem_classes="samples"
                )
                download = gr.DownloadButton("Download PNG")
        draw.click(samples, [seed, n, label, caption, truncate, psi], [picture, download], api_name="samples")
        walk.click(interpolation, [seed, other_seed, steps, label, caption, truncate, psi], [picture, download],
                   api_name="interpolation")  # fmt: skip
        page.load(samples, [seed, n, label, caption, truncate, psi], [picture, download], api_visibility="private")
    return page


def launch(model: LatentSampling, title: str, host: str, port: int, block: bool = True) -> tuple[Any, str]:
    """Serve the page of ``model`` on ``host:port`` (0: a free port); returns ``(page, url)``. With
    ``block=False`` it serves from a thread until ``page.close()``."""
    explorer = Explorer(model)
    page = build_page(explorer, title)
    close = page.close

    def close_and_clean(*args: Any, **kwargs: Any) -> Any:  # gradio's own signature, passed on as it is
        try:
            return close(*args, **kwargs)
        finally:
            explorer.close()

    page.close = close_and_clean  # the pictures go with the page, whoever closes it
    try:
        _, url, _ = page.launch(
            server_name=host,
            server_port=port or None,
            share=False,
            inbrowser=False,
            prevent_thread_lock=not block,
            quiet=not block,
            footer_links=["api"],
            css=PIXELATED,
        )
    finally:
        if block:  # served until Ctrl+C: the page is done
            explorer.close()
    return page, url


def page_title(variant: str, source: str) -> str:
    """``dcgan generator · dcgan_fashion_mnist/last.ckpt``: the variant, then the run's checkpoint, or the folder
    or Hub id unless it is only the variant's name again."""
    path = Path(source)
    name = f"{path.parent.parent.name}/{path.name}" if path.parent.name == "checkpoints" else source.rstrip("/")
    return f"{variant} generator" + ("" if Path(name).name == variant else f" · {name}")


def demo_command(argv: Sequence[str]) -> int:
    """``lightning-gans demo``: serve the page of a checkpoint, an exported folder or a Hub id until Ctrl+C."""
    from lightning_gans import registry
    from lightning_gans.checkpoints import load_variant

    parser = CommandParser(
        prog="lightning-gans demo",
        description="A local web page to explore a generator: seed, class or caption, truncation, interpolation "
        "between two seeds, download. Needs the demo extra: pip install 'lightning-gans[demo]'.",
    )
    parser.add_argument("--ckpt", required=True, help="a checkpoint, an exported folder or a Hub id")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860; 0: any free one)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the generator first")
    parser.add_argument("--trust_checkpoint", action="store_true", help=TRUST_HELP)
    args = parser.parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        parser.error(DEMO_EXTRA)
    try:
        model = load_variant(args.ckpt, trust=args.trust_checkpoint)
    except registry.RegistryError:
        raise
    except (FileNotFoundError, ValueError, TypeError) as error:
        parser.error(str(error))
    if args.compile:
        compile_for_sampling(model.sampling_generator)
    config = getattr(model, "config", None) or {}
    title = page_title(str(config.get("variant") or type(model).__name__), args.ckpt)
    print(f"serving {args.ckpt} (Ctrl+C stops)")
    launch(model, title, args.host, args.port)  # gradio prints the address it serves on
    return 0
