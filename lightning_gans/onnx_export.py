"""ONNX export of a registered generator, with the dynamo exporter, checked by ONNX Runtime.

``export_onnx`` writes one self-contained ``.onnx`` file whose batch dimension is dynamic, so the same file
serves any batch size; ``export_and_check`` also runs the file in ONNX Runtime on fixed inputs at a batch size
other than the traced one and returns the largest absolute difference from the PyTorch generator in eval mode.

Inputs follow the registry's conventions for generators (``tests/test_nets.py``):

* noise -> image: an int ``latent_dim``; input ``z`` (N, latent_dim);
* class-conditional: also a positive ``num_classes``; inputs ``z`` and int64 ``labels`` (N,);
* text-to-image: also a positive ``text_dim``; inputs ``z`` and float ``text_embedding`` (N, text_dim);
* image -> image: ``in_channels``, ``out_channels`` and ``scale``; input ``image`` (N, in_channels, S, S) in
  [-1, 1], where S is ``image_size // scale`` for a net that says its ``image_size`` (the output side) and
  ``28 // scale`` otherwise (the registry's default data are 28x28 images). Height and width are dynamic too
  (axes ``height`` and ``width``) wherever the net allows: ``dynamic_axes(path)`` says which.

A class-conditional file refuses a label outside ``[0, num_classes)`` in ONNX Runtime ("indices element out of
invalid index found"), as PyTorch does (``CheckedLabels``).

The output is always called ``images``. onnx, onnxscript and onnxruntime are the optional extra ``onnx``; they
are imported only when a function needs them, so that ``import lightning_gans.onnx_export`` works without them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

__all__ = [
    "BATCH_AXIS",
    "HEIGHT_AXIS",
    "WIDTH_AXIS",
    "CheckedLabels",
    "OUTPUT_NAME",
    "TRACE_BATCH",
    "OnnxExportError",
    "OnnxExtraMissingError",
    "example_inputs",
    "export_and_check",
    "export_onnx",
    "dynamic_axes",
    "input_names",
    "max_abs_difference",
    "onnx_outputs",
]

ONNX_EXTRA_HINT = 'ONNX export needs the onnx extra: pip install "lightning-gans[onnx]"'
OUTPUT_NAME = "images"
BATCH_AXIS = "batch"
HEIGHT_AXIS, WIDTH_AXIS = "height", "width"  # an image -> image generator's input sides, where the net frees them
# The batch size export_onnx traces with by default. Not 1: a tracer may treat a size-1 dimension as a
# broadcastable constant, and a check at another size is what proves that the batch dimension stayed dynamic.
TRACE_BATCH = 2
# The registry's convention: a part built with its defaults works on the default data, 1x28x28 images.
DEFAULT_IMAGE_SIDE = 28

GeneratorKind = Literal["noise", "class", "text", "image"]
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # the exporter colours parts of its messages for terminals


class OnnxExtraMissingError(ImportError):
    """onnx, onnxscript or onnxruntime (the ``onnx`` extra) cannot be imported."""


class OnnxExportError(ValueError):
    """The exporter cannot handle a generator; the message names its class and the exporter's first error line.
    A class of its own so that a caller can tell it from the ValueErrors of bad arguments or of a failed check."""


def _import_extra(name: str) -> Any:
    """Import a module of the ``onnx`` extra, or fail with the install command (not a bare ModuleNotFoundError)."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise OnnxExtraMissingError(f"{ONNX_EXTRA_HINT} (cannot import {name}: {error})") from error


def _int_attribute(generator: nn.Module, name: str) -> int | None:
    """``generator.<name>`` when it is an int (not a bool), else None."""
    value = getattr(generator, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _positive_int(generator: nn.Module, name: str) -> int:
    """``generator.<name>`` when it is a positive int, else 0 (DCGAN's generator has ``num_classes = 0``)."""
    value = _int_attribute(generator, name)
    return value if value is not None and value > 0 else 0


def _kind(generator: nn.Module) -> GeneratorKind:
    if _int_attribute(generator, "latent_dim") is not None:
        if _positive_int(generator, "text_dim"):
            return "text"
        return "class" if _positive_int(generator, "num_classes") else "noise"
    if all(_int_attribute(generator, a) is not None for a in ("in_channels", "out_channels", "scale")):
        return "image"
    raise ValueError(
        f"{type(generator).__name__} says neither kind of generator: a noise -> image generator has an int "
        "latent_dim, an image -> image one has int in_channels, out_channels and scale"
    )


def input_names(generator: nn.Module) -> list[str]:
    """The names of the exported model's inputs, in ``forward``'s order: ["z"], ["z", "labels"],
    ["z", "text_embedding"] or ["image"]."""
    return {
        "noise": ["z"],
        "class": ["z", "labels"],
        "text": ["z", "text_embedding"],
        "image": ["image"],
    }[_kind(generator)]


def _float_dtype_and_device(generator: nn.Module) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of the generator's first floating-point tensor (float32 on the CPU if it has none),
    so that the inputs match a generator that was moved or converted."""
    for tensor in (*generator.parameters(), *generator.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype, tensor.device
    return torch.float32, torch.device("cpu")


def example_inputs(
    generator: nn.Module, batch: int = TRACE_BATCH, seed: int = 0, image_side: int | None = None
) -> tuple[Tensor, ...]:
    """Fixed inputs for ``generator`` (the same for the same ``seed``): N(0, I) latents, labels
    ``arange(batch) % num_classes`` (int64), N(0, I) text embeddings, or uniform images in [-1, 1] with side
    ``image_side`` (default: ``image_size // scale`` where the net says ``image_size``, else ``28 // scale``).

    Drawn from their own random generator, so calling this leaves torch's global random state alone.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    kind = _kind(generator)
    dtype, device = _float_dtype_and_device(generator)
    rng = torch.Generator().manual_seed(seed)
    if kind == "image":
        scale = _positive_int(generator, "scale")
        if not scale:
            raise ValueError(f"{type(generator).__name__}.scale must be >= 1, got {getattr(generator, 'scale', None)}")
        if image_side is None:
            output_side = _positive_int(generator, "image_size") or DEFAULT_IMAGE_SIDE
            image_side = output_side // scale
        if image_side < 1:
            raise ValueError(f"image_side must be >= 1, got {image_side}")
        shape = (batch, _positive_int(generator, "in_channels"), image_side, image_side)
        return ((torch.rand(shape, generator=rng, dtype=dtype) * 2 - 1).to(device),)
    z = torch.randn(batch, _positive_int(generator, "latent_dim"), generator=rng, dtype=dtype).to(device)
    if kind == "class":
        labels = torch.arange(batch, dtype=torch.int64) % _positive_int(generator, "num_classes")
        return z, labels.to(device)
    if kind == "text":
        text = torch.randn(batch, _positive_int(generator, "text_dim"), generator=rng, dtype=dtype)
        return z, text.to(device)
    return (z,)


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """``module`` in eval mode inside the block; afterwards every submodule's own mode is restored (a plain
    ``train(was_training)`` would also switch parts that were deliberately left in eval mode)."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for submodule, training in modes:
            submodule.training = training


def _first_line(error: BaseException) -> str:
    """The first non-empty line of the innermost cause of ``error``: the exporter wraps the real reason (say, an
    operator with no ONNX function) in a generic "Failed to convert..." message."""
    while error.__cause__ is not None:
        error = error.__cause__
    for line in _ANSI_ESCAPE.sub("", str(error)).splitlines():
        if line.strip():
            return f"{type(error).__name__}: {line.strip()}"
    return type(error).__name__


class CheckedLabels(nn.Module):
    """A class-conditional generator whose labels outside ``[0, num_classes)`` are an error in ONNX Runtime as in
    PyTorch. ONNX's Gather (an embedding) reads a negative index from the end and OneHot gives an all-zero row for
    an index past the end, so without this a file would accept label 10 of 10 classes, or -1 as the last class.

    Two Gathers from ``arange(num_classes)``, at ``labels`` and at ``num_classes - 1 - labels``: both in range only
    for a label in ``[0, num_classes)`` (a negative label sends the second one past the end), and the label is
    computed back from both, so that no optimiser can drop either.
    """

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        self.latent_dim = _positive_int(generator, "latent_dim")
        self.num_classes = _positive_int(generator, "num_classes")
        self.classes: Tensor
        self.register_buffer("classes", torch.arange(self.num_classes), persistent=False)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        last = self.num_classes - 1
        checked = (self.classes[labels] - self.classes[last - labels] + last) // 2  # = labels
        return self.generator(z, checked)  # type: ignore[no-any-return]


def _capture(generator: nn.Module, inputs: tuple[Tensor, ...]) -> torch.export.ExportedProgram:
    """The generator's graph with a dynamic batch dimension shared by every input, and for an image -> image
    generator a dynamic height and width wherever the net allows (``Dim.AUTO``: a net that fixes them keeps
    them fixed; one that needs a multiple of 4 gets that as a constraint).

    torch.export is called here rather than left to ``torch.onnx.export``: when the batch cannot stay dynamic,
    the ONNX exporter silently narrows it to the traced size, and the file would then refuse any other batch.
    Non-strict tracing is tried first (it is what the ONNX exporter prefers, with fewer TorchDynamo limits);
    it specialises ``len(tensor)`` to a constant (``len`` must return a Python int), which ProGAN, StyleGAN,
    R3GAN and BigGAN use, so strict (TorchDynamo) tracing, which keeps ``len`` symbolic, is tried next.
    """
    batch = torch.export.Dim(BATCH_AXIS, min=1)  # from a single sample up: the file may be run on one image
    dynamic_shapes: tuple[dict[int, Any], ...] = tuple({0: batch} for _ in inputs)
    if _kind(generator) == "image":
        dynamic_shapes = ({0: batch, 2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO},)
    errors: list[str] = []
    for strict in (False, True):
        try:
            return torch.export.export(generator, inputs, dynamic_shapes=dynamic_shapes, strict=strict)
        except Exception as error:  # torch.export raises many unrelated types (UserError, Unsupported, ...)
            errors.append(_first_line(error))
    reasons = errors[0] if errors[0] == errors[1] else f"{errors[0]} (strict tracing: {errors[1]})"
    raise OnnxExportError(f"cannot export {type(generator).__name__} to ONNX: {reasons}")


def export_onnx(
    generator: nn.Module, path: str | Path, batch: int = TRACE_BATCH, *, image_side: int | None = None
) -> Path:
    """Export ``generator`` in eval mode to a single ONNX file at ``path`` and return the path.

    The dynamo exporter (``torch.onnx.export(..., dynamo=True)``) at its default opset; inputs named as
    ``input_names(generator)``, the output ``images``; the batch dimension (axis 0, named ``batch``, of every
    input and of the output) is dynamic, traced with ``batch`` (>= 2) samples of ``example_inputs``. Weights are stored
    in the file itself, not as external data. The generator's train/eval modes are restored afterwards.

    Raises:
        OnnxExtraMissingError: onnx or onnxscript is not installed.
        OnnxExportError: (a ValueError) the exporter cannot handle the generator; the message names its class
            and the exporter's first error line.
    """
    _import_extra("onnx")
    _import_extra("onnxscript")
    if batch < 2:
        # torch.export treats a dimension of size 1 as a constant, so a single-sample trace cannot keep it dynamic
        raise ValueError(f"export_onnx traces with at least 2 samples to keep the batch dynamic, got batch={batch}")
    path = Path(path)
    names = input_names(generator)
    inputs = example_inputs(generator, batch, image_side=image_side)
    traced = CheckedLabels(generator) if _kind(generator) == "class" else generator
    with _eval_mode(generator):
        program = _capture(traced, inputs)
        try:
            onnx_program = torch.onnx.export(
                program, inputs, dynamo=True, input_names=names, output_names=[OUTPUT_NAME], verbose=False
            )
        except Exception as error:  # ConversionError for an operator with no ONNX function, and others
            raise OnnxExportError(f"cannot export {type(generator).__name__} to ONNX: {_first_line(error)}") from error
    if onnx_program is None:  # only the TorchScript exporter (dynamo=False) returns None
        raise OnnxExportError(f"cannot export {type(generator).__name__} to ONNX: the exporter returned no program")
    graph = onnx_program.model.graph
    # Axis 0 of every input and of the output must be one and the same named symbol: a static size (an int) or an
    # anonymous dimension would mean that the batch did not stay dynamic through the conversion.
    batch_symbols = {getattr(v.shape[0], "value", None) if v.shape else None for v in (*graph.inputs, *graph.outputs)}
    symbol = batch_symbols.pop() if len(batch_symbols) == 1 else None
    if not isinstance(symbol, str):
        shapes = ", ".join(f"{v.name} {v.shape}" for v in (*graph.inputs, *graph.outputs))
        raise OnnxExportError(f"cannot export {type(generator).__name__} to ONNX with a dynamic batch: {shapes}")
    # torch.export calls the symbol s0, s27, ...; ONNXProgram.rename_axes gives it a readable name; in an older
    # torch, which lacks it, the file still serves any batch size, only under the exporter's name for the axis
    axes = {symbol: BATCH_AXIS}
    image = graph.inputs[0].shape if _kind(generator) == "image" else None
    for axis, name in ((2, HEIGHT_AXIS), (3, WIDTH_AXIS)):
        spatial = getattr(image[axis], "value", None) if image is not None else None
        if isinstance(spatial, str):
            axes[spatial] = name
    rename_axes = getattr(onnx_program, "rename_axes", None)
    if rename_axes is not None:
        rename_axes(axes)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx_program.save(path, external_data=False)
    return path


def dynamic_axes(path: str | Path) -> dict[str, list[str]]:
    """The named (dynamic) axes of each input of the ONNX file at ``path``, in order: ``{"z": ["batch"]}``, or
    ``{"image": ["batch", "height", "width"]}`` for an image -> image generator whose sides are free."""
    onnx = _import_extra("onnx")
    model = onnx.load(str(path), load_external_data=False)
    return {
        value.name: [d.dim_param for d in value.type.tensor_type.shape.dim if d.dim_param]
        for value in model.graph.input
    }


def onnx_outputs(path: str | Path, inputs: tuple[Tensor, ...]) -> Tensor:
    """Run the ONNX file at ``path`` in ONNX Runtime (CPUExecutionProvider) on ``inputs``, in the order of the
    model's inputs, and return its output as a CPU tensor.

    Raises:
        OnnxExtraMissingError: onnxruntime is not installed.
    """
    onnxruntime = _import_extra("onnxruntime")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model_inputs = session.get_inputs()
    if len(model_inputs) != len(inputs):
        names = [i.name for i in model_inputs]
        raise ValueError(f"{path} takes {len(model_inputs)} inputs {names}, got {len(inputs)}")
    feed = {spec.name: tensor.detach().cpu().numpy() for spec, tensor in zip(model_inputs, inputs)}
    (output,) = session.run([OUTPUT_NAME], feed)
    return torch.from_numpy(output)


def max_abs_difference(
    generator: nn.Module, path: str | Path, batch: int = TRACE_BATCH + 1, seed: int = 1, image_side: int | None = None
) -> float:
    """The largest absolute difference between ONNX Runtime running ``path`` and ``generator`` in eval mode, on
    ``example_inputs(generator, batch, seed)``. The default seed differs from the export's, so the check does not
    reuse the traced inputs."""
    inputs = example_inputs(generator, batch, seed, image_side)
    with _eval_mode(generator), torch.no_grad():
        expected = generator(*inputs).detach().cpu()
    actual = onnx_outputs(path, inputs)
    if actual.shape != expected.shape:
        raise ValueError(f"{path} gives shape {tuple(actual.shape)}, PyTorch {tuple(expected.shape)}")
    return (actual.to(expected.dtype) - expected).abs().max().item()


def export_and_check(
    generator: nn.Module, path: str | Path, batch: int = TRACE_BATCH + 1, *, image_side: int | None = None
) -> float:
    """Export ``generator`` to ``path`` (traced with ``TRACE_BATCH`` = 2 samples) and return the largest absolute
    difference from PyTorch at ``batch`` samples (default 3: another size than the traced one, which shows that
    the one file serves any batch size). The command line prints it as "max abs difference vs PyTorch on fixed
    latents".
    """
    export_onnx(generator, path, TRACE_BATCH, image_side=image_side)
    difference = max_abs_difference(generator, path, batch, image_side=image_side)
    if _kind(generator) == "image" and HEIGHT_AXIS in next(iter(dynamic_axes(path).values())):
        # free sides: also checked at twice the traced side (a multiple of whatever the net divides by)
        side = example_inputs(generator, 1, image_side=image_side)[0].shape[-1]
        difference = max(difference, max_abs_difference(generator, path, batch, image_side=2 * side))
    return difference
