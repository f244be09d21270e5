"""Divergence that hides in buffers and optimiser states: a learning rate far too high can leave every loss and
weight finite while batch norm's ``running_var`` overflows (issue 26). Training stops naming it, no checkpoint
holds it, and neither a checkpoint nor an exported folder holding it (or weights of another dtype) is loaded."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import ENV, cli, finished_tiny_run, run_cli, tiny_recipe
from lightning.pytorch import Trainer
from safetensors.torch import load_file, save_file

from lightning_gans.checkpoints import load_variant, state_tensors
from lightning_gans.core.guards import TrainingDiverged, non_finite_tensors
from lightning_gans.variants.dcgan import DCGAN

ABSURD_LR = [
    *("--model.init_args.g_optimizer", "torch.optim.Adam", "--model.init_args.g_optimizer.lr", "1e8"),
    *("--model.init_args.d_optimizer", "torch.optim.Adam", "--model.init_args.d_optimizer.lr", "1e8"),
]


def all_finite(path: Path) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in state_tensors(torch.load(path, weights_only=True)).values()
               if v.is_floating_point())  # fmt: skip


# -- training ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("minutes", "log_every"),
    [(0.0, 50), (60.0, 2)],
    ids=["checkpoint after every batch", "checkpoint at epoch end, logging every 2 steps"],
)
def test_a_learning_rate_of_1e8_stops_naming_the_infinite_batch_norm_buffer_and_writes_no_such_checkpoint(
    minutes: float, log_every: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Adam at lr 1e8 on the tiny DCGAN: after two batches the discriminator's running_var is infinite while the
    losses and weights (about 1e9) are finite; unwatched, fit ended with exit 0 and that in last.ckpt."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "run"
    recipe = tiny_recipe(tmp_path, root, epochs=1, minutes=minutes)
    code, out = run_cli(["fit", "--config", str(recipe), "--trainer.log_every_n_steps", str(log_every), *ABSURD_LR],
                        capsys)  # fmt: skip
    assert code == 1, out
    assert "training diverged: buffers became NaN or infinite (discriminator.net.3.running_var)" in out, out
    assert "generator step 2)" in out, out  # the second batch: caught at its checkpoint, or at its logging step
    assert "Traceback" not in out
    last = root / "checkpoints/last.ckpt"
    if minutes == 0:
        assert torch.load(last, weights_only=True)["global_step"] == 2 and all_finite(last)
    else:
        assert not last.exists()  # caught on a logging step, before the epoch's checkpoint


def attached(model: DCGAN, optimizers: list[torch.optim.Optimizer]) -> DCGAN:
    """``model`` as a fit sees it: attached to a trainer holding ``optimizers``."""
    trainer = Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    model.trainer = trainer
    trainer.optimizers = optimizers
    return model


def adam_states(model: DCGAN) -> list[torch.optim.Optimizer]:
    """The (generator, discriminator) Adam optimisers after one step each, so that they hold states."""
    optimizers: list[torch.optim.Optimizer] = [torch.optim.Adam(model.generator.parameters()),
                                               torch.optim.Adam(model.discriminator.parameters())]  # fmt: skip
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = torch.ones_like(p)
        optimizer.step()
    return optimizers


def test_the_watch_names_an_infinite_buffer_without_a_trainer() -> None:
    model = DCGAN()
    model.raise_if_diverged()  # all finite: nothing
    model.discriminator.net[3].running_var[5] = float("inf")
    with pytest.raises(TrainingDiverged, match=r"buffers became NaN or infinite \(discriminator.net.3.running_var\)"):
        model.raise_if_diverged()


def test_the_watch_names_a_nan_optimiser_state_with_its_optimiser_and_parameter() -> None:
    model = DCGAN()
    optimizers = adam_states(model)
    attached(model, optimizers).raise_if_diverged()  # all finite: nothing
    head = model.discriminator.head.weight
    optimizers[1].state[head]["exp_avg_sq"][0] = float("nan")
    with pytest.raises(TrainingDiverged) as raised:
        model.raise_if_diverged()
    message = str(raised.value)
    assert "optimiser states became NaN or infinite (the discriminator optimiser's exp_avg_sq of " in message
    assert "discriminator.head.weight)" in message and "epoch 0, generator step 0" in message
    assert "--ckpt_path last" in message  # the message keeps its advice


def test_non_finite_tensors_checks_floating_tensors_on_any_device_mix() -> None:
    named = [("a", torch.zeros(3)), ("steps", torch.tensor(4)), ("b", torch.ones(2, dtype=torch.float16))]
    assert non_finite_tensors(named) == []
    named += [("c", torch.tensor([1.0, float("-inf")], dtype=torch.bfloat16)), ("d", torch.full((2,), float("nan")))]
    assert non_finite_tensors(named) == ["c", "d"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_non_finite_tensors_with_weights_on_the_gpu_and_step_counters_on_the_cpu() -> None:
    named = [("w", torch.zeros(3, device="cuda")), ("step", torch.tensor(1.0)), ("v", torch.ones(3, device="cuda"))]
    assert non_finite_tensors(named) == []
    named[2][1][1] = float("inf")
    assert non_finite_tensors(named) == ["v"]


# -- loading ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (1 epoch) and its exported generator folder."""
    folder = tmp_path_factory.mktemp("trained")
    root = finished_tiny_run(folder)
    subprocess.run(cli("export", "--ckpt", str(root / "checkpoints/last.ckpt"), "--out", str(folder / "exported"),
                       "--metrics", "none"), env=ENV, check=True, capture_output=True)  # fmt: skip
    return root


def test_load_variant_and_sample_refuse_a_checkpoint_with_an_infinite_running_var(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = torch.load(trained / "checkpoints/last.ckpt", weights_only=True)
    # the EMA generator samples: with this buffer infinite, its samples were all identical (the old behaviour)
    state["state_dict"]["generator_ema.module.net.4.running_var"].fill_(float("inf"))
    path = tmp_path / "inf_buffer.ckpt"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"inf_buffer.ckpt holds NaN or infinite weights or buffers "
                                         r"\(generator_ema.module.net.4.running_var\)"):  # fmt: skip
        load_variant(path)
    png = tmp_path / "x.png"
    code, out = run_cli(["sample", "--ckpt", str(path), "--out", str(png)], capsys)
    assert code != 0 and "inf_buffer.ckpt holds NaN or infinite" in out and "running_var" in out, out
    assert "Traceback" not in out and not png.exists()


def tamper(folder: Path, change: str) -> tuple[Path, str]:
    """``folder``'s weights file rewritten with ``change``; returns it and the name of a tensor changed."""
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    if change == "inf buffer":
        name = "generator.net.4.running_var"
        tensors[name] = torch.full_like(tensors[name], float("inf"))
    else:
        dtype = {"int8 weights": torch.int8, "float16 weights": torch.float16}[change]
        # every weight as a quantising tool would leave them: the first one in sorted order is named
        for key in [k for k, v in tensors.items() if v.is_floating_point() and not k.endswith(("_mean", "_var"))]:
            tensors[key] = (tensors[key] * 100).to(dtype)
        name = sorted(k for k, v in tensors.items() if v.dtype == dtype)[0]
    save_file(tensors, weights)
    return weights, name


@pytest.mark.parametrize("change", ["inf buffer", "int8 weights", "float16 weights"])
def test_an_exported_folder_with_an_infinite_buffer_or_weights_of_another_dtype_is_refused(
    change: str, trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lightning_gans.pretrained import from_pretrained

    folder = tmp_path / "folder"
    shutil.copytree(trained.parent / "exported", folder)
    from_pretrained(folder)  # as exported: loads
    weights, name = tamper(folder, change)
    expected = (
        f"holds NaN or infinite weights or buffers ({name})" if change == "inf buffer"
        else f"holds {name} as torch.{change.split()[0]}, but the nets of config.json are built with torch.float32"
    )  # fmt: skip
    with pytest.raises(ValueError) as raised:
        from_pretrained(folder)
    assert str(raised.value).startswith(str(weights)) and expected in str(raised.value), raised.value
    png = tmp_path / "x.png"
    code, out = run_cli(["sample", "--ckpt", str(folder), "--out", str(png)], capsys)
    assert code == 2 and str(weights) in out and expected in out, out
    assert "Traceback" not in out and not png.exists()
