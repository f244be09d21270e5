"""DDP is exact: 2 CPU processes with batch B/2 each compute what one process with batch B computes (with a
gradient penalty and the EMA; with batch norm under `--trainer.sync_batchnorm true`), and a run killed
mid-epoch under DDP resumes to the uninterrupted run's every tensor.

The one-process run sees each real image the DDP run sees, in the same place (`EpochSeededSampler` splits a
global batch into the ranks' blocks), and `emulated_ranks.EmulateRanks` gives it each rank's noise stream for
that rank's block. The real runs keep their own noise per rank.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "PYTHONPATH": str(REPO / "tests")}
DDP = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]
# In float64, so that "the same" can mean to 1e-12: in float32 the two sides' different summation orders
# (one batch of 16 against two of 8 all-reduced) differ by rounding that Adam magnifies on near-zero gradients
# (1e-4 on a D bias of 7e-4 after 6 steps, measured), which a float32 tolerance could not tell from a defect.
DOUBLE = ["--trainer.precision", "64-true"]
EMULATED = "--trainer.callbacks+=emulated_ranks.EmulateRanks"

RECIPE = """\
seed_everything: 0
trainer:
  default_root_dir: {root}
  max_epochs: {epochs}
  limit_train_batches: {batches}
  limit_val_batches: 0
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  callbacks:
    - class_path: lightning_gans.callbacks.LastCheckpoint
      init_args: {{every_minutes: 0}}
    - rank_weights.SaveRankWeights
model:
{model}
data:
  class_path: fashion_mnist
  init_args: {{batch_size: {batch_size}}}
"""

# WGAN-GP (its penalty draws an interpolation weight per sample from the training noise), n_critic 2 so that
# there are several D and G steps, EMA on; R3GAN's nets have no normalisation layer.
NO_BATCH_NORM = """\
  class_path: wgan_gp
  init_args:
    n_critic: 2
    generator: {class_path: r3gan, init_args: {latent_dim: 16, widths: [16, 16, 16], group_size: 8}}
    discriminator: {class_path: r3gan, init_args: {widths: [16, 16, 16], group_size: 8}}
    ema_decay: 0.9"""
# DCGAN's nets: batch norm in G and D
BATCH_NORM = """\
  class_path: dcgan
  init_args:
    generator: {class_path: dcgan, init_args: {latent_dim: 16, width: 8}}
    discriminator: {class_path: dcgan, init_args: {width: 8}}
    ema_decay: 0.9"""


def fit(tmp_path: Path, name: str, model: str, batch_size: int, *extra: str, epochs: int = 1, batches: int = 6,
        resume: bool = False) -> Path:  # fmt: skip
    root = tmp_path / name
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(RECIPE.format(root=root, model=model, batch_size=batch_size, epochs=epochs, batches=batches))
    command = [sys.executable, "-m", "lightning_gans", "fit", "--config", str(recipe), *extra]
    result = subprocess.run(command + (["--ckpt_path", "last"] if resume else []), env=ENV, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "cannot skip" not in result.stderr
    return root


def weights(root: Path, rank: int) -> dict[str, torch.Tensor]:
    state = torch.load(root / f"rank{rank}.pt")
    return {k: v for k, v in state.items() if k.startswith(("generator", "discriminator")) and v.is_floating_point()}


def assert_close(expected: dict[str, torch.Tensor], actual: dict[str, torch.Tensor]) -> None:
    assert expected.keys() == actual.keys()
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-9, atol=1e-12, msg=key)


def steps(root: Path) -> dict[str, int]:
    state = torch.load(root / "checkpoints/last.ckpt", weights_only=True)["lightning_gans"]
    return {"generator": state["generator_steps"], "discriminator": state["discriminator_steps"]}


def test_two_ddp_processes_compute_what_one_process_with_the_summed_batch_computes(tmp_path: Path) -> None:
    ddp = fit(tmp_path, "ddp", NO_BATCH_NORM, 8, *DDP, *DOUBLE)
    one = fit(tmp_path, "one", NO_BATCH_NORM, 16, EMULATED, *DOUBLE)
    assert steps(ddp) == steps(one) == {"generator": 3, "discriminator": 6}
    assert_close(weights(ddp, 0), weights(ddp, 1))  # the ranks agree ...
    assert_close(weights(one, 0), weights(ddp, 0))  # ... and with one process: the nets, the EMA, to float rounding
    # The check has teeth: one process drawing its own noise (the same real images) ends elsewhere.
    own_noise = fit(tmp_path, "own_noise", NO_BATCH_NORM, 16, *DOUBLE)
    with pytest.raises(AssertionError):
        assert_close(weights(own_noise, 0), weights(ddp, 0))


def test_batch_norm_statistics_are_synchronised_across_processes_with_sync_batchnorm(tmp_path: Path) -> None:
    synchronised = fit(tmp_path, "sync", BATCH_NORM, 8, *DDP, *DOUBLE, "--trainer.sync_batchnorm", "true")
    plain = fit(tmp_path, "plain", BATCH_NORM, 8, *DDP, *DOUBLE)
    statistic = "discriminator.net.3.running_mean"  # D's first batch norm
    ranks = [torch.load(root / f"rank{rank}.pt") for root in (synchronised, plain) for rank in (0, 1)]
    assert all(statistic in state for state in ranks)
    assert torch.equal(ranks[0][statistic], ranks[1][statistic])  # with sync_batchnorm: one batch of 16
    assert not torch.allclose(ranks[2][statistic], ranks[3][statistic])  # without: each rank's own 8 images
    # and with it, 2 processes of 8 are one process of 16, batch norm included
    one = fit(tmp_path, "one", BATCH_NORM, 16, EMULATED, *DOUBLE)
    assert_close(
        {k: v for k, v in torch.load(one / "rank0.pt").items() if v.is_floating_point()},
        {k: v for k, v in ranks[0].items() if v.is_floating_point()},
    )


def test_a_ddp_run_killed_mid_epoch_resumes_to_the_uninterrupted_runs_every_tensor(tmp_path: Path) -> None:
    from lightning_gans.checkpoints import read_checkpoint, state_tensors

    whole = fit(tmp_path, "whole", BATCH_NORM, 8, *DDP, epochs=2, batches=8)
    killed = tmp_path / "killed"
    recipe = tmp_path / "killed.yaml"
    recipe.write_text(RECIPE.format(root=killed, model=BATCH_NORM, batch_size=8, epochs=2, batches=8))
    command = [sys.executable, "-m", "lightning_gans", "fit", "--config", str(recipe), *DDP]
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    last = killed / "checkpoints/last.ckpt"
    deadline, step_at_kill = time.monotonic() + 300, -1
    while process.poll() is None and time.monotonic() < deadline:
        if last.is_file():
            try:
                step_at_kill = torch.load(last, weights_only=True)["global_step"]
            except (EOFError, RuntimeError):  # replaced while read
                continue
            # inside epoch 1 of 2, not at its start (16 steps per epoch: 8 batches of a D and a G step)
            if step_at_kill > 16 and step_at_kill % 16 != 0:
                os.killpg(process.pid, signal.SIGKILL)  # the launcher and the second process with it
                break
        time.sleep(0.01)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert 16 < step_at_kill < 32

    fit(tmp_path, "killed", BATCH_NORM, 8, *DDP, epochs=2, batches=8, resume=True)
    expected = state_tensors(read_checkpoint(whole / "checkpoints/last.ckpt"))
    resumed = state_tensors(read_checkpoint(last))
    assert resumed.keys() == expected.keys()
    different = [k for k in expected if not torch.equal(expected[k], resumed[k])]
    assert not different, f"the resumed DDP run differs from the uninterrupted one in {different[:5]}"
    for rank in (0, 1):  # on both ranks
        for key, value in torch.load(whole / f"rank{rank}.pt").items():
            assert torch.equal(value, torch.load(killed / f"rank{rank}.pt")[key]), (rank, key)
