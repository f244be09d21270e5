"""ONNX export of every registered generator (dynamo exporter), checked against PyTorch in ONNX Runtime."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from lightning_gans import registry
from lightning_gans.onnx_export import (
    BATCH_AXIS,
    HEIGHT_AXIS,
    OUTPUT_NAME,
    WIDTH_AXIS,
    OnnxExportError,
    dynamic_axes,
    example_inputs,
    export_and_check,
    export_onnx,
    input_names,
    max_abs_difference,
    onnx_outputs,
)

TOLERANCE = 1e-4
EXTRA_REASON = 'the onnx extra is not installed (pip install "lightning-gans[onnx]")'


@pytest.fixture
def onnx_extra() -> None:
    """Skip (with the install command as the reason) where onnx, onnxscript or onnxruntime is missing. Not a
    module-level skip: the test of the missing-extra error must run exactly there."""
    for module in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(module, reason=EXTRA_REASON)


def exported_or_skip(name: str, generator: nn.Module, path: Path) -> float:
    """``export_and_check``, or a skip that names the part and the exporter's error (never a silent pass)."""
    try:
        return export_and_check(generator, path, batch=3)
    except OnnxExportError as error:  # only the exporter's failures: a failed check must fail the test
        pytest.skip(f"generator {name!r} cannot be exported to ONNX: {error}")


@pytest.mark.usefixtures("onnx_extra")
@pytest.mark.parametrize("name", registry.generators.names())
def test_registered_generator_exports_to_onnx(name: str, tmp_path: Path) -> None:
    """One self-contained file with named inputs and output, traced at batch 2, within 1e-4 of PyTorch in eval
    mode at batch 3, 1 and 5 (the batch dimension is dynamic, down to a single sample); the generator's train
    mode is left as it was."""
    import onnx

    torch.manual_seed(0)
    generator = registry.generators.create(name)
    path = tmp_path / f"{name}.onnx"
    difference = exported_or_skip(name, generator, path)
    assert difference <= TOLERANCE, f"{name}: ONNX Runtime and PyTorch differ by {difference:.3g} at batch 3"
    assert generator.training, "export and check must restore the generator's mode"
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "weights belong in the file, not beside it"
    model = onnx.load(str(path))
    assert [i.name for i in model.graph.input] == input_names(generator)
    assert [o.name for o in model.graph.output] == [OUTPUT_NAME]
    batch_axes = {v.name: v.type.tensor_type.shape.dim[0].dim_param for v in (*model.graph.input, *model.graph.output)}
    assert len(set(batch_axes.values())) == 1 and all(batch_axes.values()), f"batch not dynamic: {batch_axes}"
    if hasattr(torch.onnx.ONNXProgram, "rename_axes"):  # a torch that can name the axis
        assert set(batch_axes.values()) == {BATCH_AXIS}
    # the one file serves other batch sizes than the traced one (cheap: no second export); shapes are checked too
    for batch in (1, 5):
        difference = max_abs_difference(generator, path, batch=batch)
        assert difference <= TOLERANCE, f"{name}: ONNX Runtime and PyTorch differ by {difference:.3g} at batch {batch}"


@pytest.mark.parametrize(
    ("name", "names", "shapes", "dtypes"),
    [
        ("mlp", ["z"], [(3, 64)], [torch.float32]),
        ("biggan", ["z", "labels"], [(3, 120), (3,)], [torch.float32, torch.int64]),
        ("text_dcgan", ["z", "text_embedding"], [(3, 100), (3, 128)], [torch.float32, torch.float32]),
        ("srresnet", ["image"], [(3, 1, 14, 14)], [torch.float32]),  # 28 px out at scale 2
        ("unet", ["image"], [(3, 1, 28, 28)], [torch.float32]),
    ],
)
def test_example_inputs_follow_the_registry_conventions(
    name: str, names: list[str], shapes: list[tuple[int, ...]], dtypes: list[torch.dtype]
) -> None:
    generator = registry.generators.create(name)
    inputs = example_inputs(generator, batch=3)
    assert input_names(generator) == names
    assert [tuple(x.shape) for x in inputs] == shapes and [x.dtype for x in inputs] == dtypes
    again = example_inputs(generator, batch=3)
    assert all(torch.equal(a, b) for a, b in zip(inputs, again)), "fixed inputs for a fixed seed"
    if name in ("srresnet", "unet"):
        assert inputs[0].min() >= -1 and inputs[0].max() <= 1
        assert example_inputs(generator, 1, image_side=8)[0].shape == (1, 1, 8, 8)


@pytest.mark.usefixtures("onnx_extra")
@pytest.mark.parametrize(("name", "scale"), [("srresnet", 2), ("unet", 1), ("resnet", 1)])
def test_image_to_image_generators_take_any_height_and_width(name: str, scale: int, tmp_path: Path) -> None:
    """One file for every image size the net takes: traced at 28 px out, run at other, non-square sizes."""
    torch.manual_seed(0)
    generator = registry.generators.create(name).eval()
    path = tmp_path / f"{name}.onnx"
    assert export_and_check(generator, path) <= TOLERANCE
    assert dynamic_axes(path) == {"image": [BATCH_AXIS, HEIGHT_AXIS, WIDTH_AXIS]}
    # sides the nets take (the U-Net and the ResNet halve twice: multiples of 4), neither traced nor square
    image = torch.rand(2, 1, 24, 40, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        expected = generator(image)
    assert expected.shape[-2:] == (24 * scale, 40 * scale)
    torch.testing.assert_close(onnx_outputs(path, (image,)), expected, rtol=0, atol=TOLERANCE)


@pytest.mark.usefixtures("onnx_extra")
@pytest.mark.parametrize("name", ["dcgan", "biggan"])  # a one-hot label (ONNX OneHot) and an embedding (Gather)
def test_a_label_outside_the_classes_is_an_error_in_onnx_runtime_as_in_pytorch(name: str, tmp_path: Path) -> None:
    """Without a check, ONNX's OneHot gives an all-zero row for label 10 of 10 and Gather reads -1 as the last
    class; PyTorch refuses both."""
    generator = registry.generators.create(name, num_classes=10).eval()
    path = tmp_path / f"{name}.onnx"
    assert export_and_check(generator, path) <= TOLERANCE
    z = torch.randn(3, generator.latent_dim, generator=torch.Generator().manual_seed(0))  # type: ignore[arg-type]
    valid = torch.tensor([0, 9, 4])
    with torch.no_grad():
        torch.testing.assert_close(onnx_outputs(path, (z, valid)), generator(z, valid), rtol=0, atol=TOLERANCE)
    for labels in ([0, 9, 10], [-1, 0, 1], [-10, 0, 1], [100, 0, 1]):
        with pytest.raises(Exception, match="invalid index"):  # onnxruntime's InvalidArgument
            onnx_outputs(path, (z, torch.tensor(labels)))
        with pytest.raises((IndexError, RuntimeError, ValueError)):
            generator(z, torch.tensor(labels))


class DataDependentGenerator(nn.Module):
    """Branches on a value of its input, which neither torch.export tracing mode can capture in a graph."""

    latent_dim = 4

    def forward(self, z: Tensor) -> Tensor:
        return z.tanh() if z.sum() > 0 else z


class ZetaGenerator(nn.Module):
    """Traces, but uses an operator that has no ONNX function."""

    latent_dim = 4

    def forward(self, z: Tensor) -> Tensor:
        return torch.special.zeta(z, z)


@pytest.mark.usefixtures("onnx_extra")
@pytest.mark.parametrize(
    ("generator", "reason"),
    [(DataDependentGenerator(), "data-dependent"), (ZetaGenerator(), "No ONNX function found for .*zeta")],
)
def test_a_generator_the_exporter_cannot_handle_is_a_clear_value_error(
    generator: nn.Module, reason: str, tmp_path: Path
) -> None:
    name = type(generator).__name__
    with pytest.raises(OnnxExportError, match=rf"^cannot export {name} to ONNX: .*{reason}"):
        export_onnx(generator, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


@pytest.mark.parametrize("module", ["onnx", "onnxscript"])
def test_export_without_the_onnx_extra_names_it(module: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import <module>` fail
    with pytest.raises(ImportError, match=r'ONNX export needs the onnx extra: pip install "lightning-gans\[onnx\]"'):
        export_onnx(registry.generators.create("mlp"), tmp_path / "mlp.onnx")


def test_running_without_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"lightning-gans\[onnx\]"):
        onnx_outputs(tmp_path / "missing.onnx", (torch.zeros(1, 64),))
