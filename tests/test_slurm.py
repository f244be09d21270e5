"""`recipes/slurm_2_nodes.sbatch` on a real SLURM cluster: 2 nodes (two slurmd daemons) on this one host.

Needs Debian's `slurmd slurmctld slurm-client munge` and root (slurmd starts the job's tasks as the user);
.ci/run installs them and sets LIGHTNING_GANS_REQUIRE_SLURM=1, so that in CI a missing cluster fails the test
rather than skipping it. The job is the script as shipped, with the GPU request overridden on sbatch's command
line (`--gpus-per-node=0 --ntasks-per-node=1`) and ACCELERATOR=cpu.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import REPO
from test_multinode import free_port

DAEMONS = ("munge", "unmunge", "munged", "slurmctld", "slurmd", "sbatch", "sinfo")
MISSING = [name for name in DAEMONS if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
if (MISSING or os.geteuid() != 0) and os.environ.get("LIGHTNING_GANS_REQUIRE_SLURM") != "1":
    pytest.skip(f"needs root and SLURM + munge (missing: {MISSING})", allow_module_level=True)

CONFIG = """\
ClusterName=lightning-gans-test
SlurmctldHost=localhost
SlurmctldPort={controller_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool-%n
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd-%n.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
NodeName=node1 NodeHostname={host} NodeAddr=127.0.0.1 Port={node1_port} CPUs=1 RealMemory=2000 State=UNKNOWN
NodeName=node2 NodeHostname={host} NodeAddr=127.0.0.1 Port={node2_port} CPUs=1 RealMemory=2000 State=UNKNOWN
PartitionName=test Nodes=node1,node2 Default=YES MaxTime=30 State=UP
"""


def sbin(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def munge_works() -> bool:
    encoded = subprocess.run(["munge", "-n"], capture_output=True)
    return (
        encoded.returncode == 0
        and subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True).returncode == 0
    )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, str]]:
    folder = tmp_path / "slurm"
    (folder / "state").mkdir(parents=True)
    config = folder / "slurm.conf"
    config.write_text(CONFIG.format(folder=folder, host=os.uname().nodename, controller_port=free_port(),
                                    node1_port=free_port(), node2_port=free_port()))  # fmt: skip
    started_munge = None
    if not munge_works():  # the munge key is made by Debian's package; the daemon runs as user munge
        Path("/run/munge").mkdir(exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        started_munge = subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", sbin("munged")], check=True)
        assert munge_works(), "munged did not start"
    env = {**os.environ, "SLURM_CONF": str(config)}
    subprocess.run([sbin("slurmctld"), "-f", str(config)], env=env, check=True)
    for node in ("node1", "node2"):
        subprocess.run([sbin("slurmd"), "-f", str(config), "-N", node], env=env, check=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], env=env, capture_output=True, text=True).stdout
        if states.split() == ["idle", "idle"]:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the 2 SLURM nodes did not come up: {states!r}\n" + (folder / "slurmctld.log").read_text()[-2000:])
    yield env
    for pid_file in folder.glob("*.pid"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
    munged_pid = Path("/run/munge/munged.pid")  # the daemon this fixture started, not any other munged
    if started_munge is not None and munged_pid.exists():
        try:
            os.kill(int(munged_pid.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


def sbatch(env: dict[str, str], out: Path, *extra: str, resume: bool = False) -> str:
    job_env = {**env, "RECIPE": "recipes/dcgan_fashion_mnist.yaml", "RUN": str(out / "run"), "ACCELERATOR": "cpu",
               "LIGHTNING_GANS": f"{sys.executable} -m lightning_gans", "MASTER_ADDR": "127.0.0.1",
               "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}  # fmt: skip
    if resume:
        job_env["RESUME"] = "1"
    log = out / f"job{'-resumed' if resume else ''}.log"
    result = subprocess.run(
        ["sbatch", "--wait", f"--output={log}", "--ntasks-per-node=1", "--cpus-per-task=1", "--gpus-per-node=0",
         "--time=10", str(REPO / "recipes/slurm_2_nodes.sbatch"), *extra],
        cwd=REPO, env=job_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = log.read_text() if log.exists() else ""
    assert result.returncode == 0, result.stdout + result.stderr + output[-4000:]
    return output


def test_the_sbatch_script_trains_on_two_slurm_nodes_and_resumes(cluster: dict[str, str], tmp_path: Path) -> None:
    caps = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "1",
            "--model.generator.init_args.width", "8", "--model.discriminator.init_args.width", "8",
            "--trainer.logger", "false"]  # fmt: skip
    output = sbatch(cluster, tmp_path, *caps)
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in output and "Starting with 2 processes" in output, output[-3000:]
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir() if p.suffix == ".yaml") == ["config.yaml"]
    checkpoint = torch.load(run / "checkpoints/last.ckpt", weights_only=True)
    assert checkpoint["lightning_gans"]["generator_steps"] == 4  # 4 batches on each node: one step of both
    assert len(checkpoint["lightning_gans"]["noise_states"]) == 2  # each node's noise, for an exact resume
    assert (run / "samples/last.png").is_file()

    caps[1] = "2"  # resumed by the script's RESUME=1 (--ckpt_path last) for a second epoch, on both nodes
    sbatch(cluster, tmp_path, *caps, resume=True)
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=True)["lightning_gans"]["generator_steps"] == 8
