"""More than one node, on loopback: 2 nodes x 1 process through `torchrun`, as a cluster runs the CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from conftest import REPO
from test_scale import SMALL_DCGAN, assert_sample_quality_is_the_single_process_value

TORCHRUN = str(Path(sys.executable).parent / "torchrun")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fit_on_two_nodes(root: Path, *extra: str) -> None:
    """Both nodes' torchrun at once (node 0 hosts the rendezvous), each with one CPU process."""
    port = free_port()
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "tests")}
    nodes = [
        subprocess.Popen(
            [
                TORCHRUN,
                "--nnodes",
                "2",
                "--nproc-per-node",
                "1",
                "--node-rank",
                str(rank),
                "--master-addr",
                "127.0.0.1",
                "--master-port",
                str(port),
                "-m",
                "lightning_gans",
                "fit",
                *SMALL_DCGAN,
                "--trainer.num_nodes",
                "2",
                "--trainer.devices",
                "1",
                "--trainer.strategy",
                "ddp",
                "--trainer.accelerator",
                "cpu",
                "--trainer.check_val_every_n_epoch",
                "1",
                "--trainer.logger",
                "false",
                "--trainer.callbacks+=rank_weights.SaveRankWeights",
                "--trainer.default_root_dir",
                str(root),
                *extra,
            ],
            cwd=root.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    for rank, (node, output) in enumerate(zip(nodes, outputs)):
        assert node.returncode == 0, f"node {rank}:\n{output[-3000:]}"


def test_two_nodes_write_one_run_and_resume_across_both(tmp_path: Path) -> None:
    root = tmp_path / "run"
    fit_on_two_nodes(root)
    # one run folder, written by rank 0: one config, one set of checkpoints and grids (the nodes share a disk here,
    # as a cluster's run folder must be on a shared file system)
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert written == ["checkpoints/best-fid-epoch=000.ckpt", "checkpoints/last.ckpt", "config.yaml",
                       "rank0.pt", "rank0_metrics.pt", "rank1.pt", "rank1_metrics.pt",
                       "samples/epoch=000.png", "samples/last.png"], written  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing beside it (lightning_logs, wandb, ...)
    checkpoint = torch.load(root / "checkpoints/last.ckpt", weights_only=True)
    assert checkpoint["lightning_gans"]["generator_steps"] == 4  # 4 batches per process, all-reduced
    ranks = [torch.load(root / f"rank{r}.pt") for r in (0, 1)]
    for key in ranks[0]:
        if key.startswith(("generator.", "discriminator.")) and "running" not in key and "num_batches" not in key:
            assert torch.allclose(ranks[0][key], ranks[1][key], atol=1e-6), key
    # the metrics gathered over the two nodes are those of one process scoring everything
    assert_sample_quality_is_the_single_process_value(root)
    # `--ckpt_path last` on both nodes continues the run
    fit_on_two_nodes(root, "--ckpt_path", "last", "--trainer.max_epochs", "2")
    resumed = torch.load(root / "checkpoints/last.ckpt", weights_only=True)
    assert resumed["epoch"] == 1 and resumed["lightning_gans"]["generator_steps"] == 8
