"""What loading an exported generator costs: ``from_pretrained`` and one ``sample`` against ``import torch``.

    python benchmarks/pretrained_load.py                # 6 rounds
    python benchmarks/pretrained_load.py --rounds 11

Protocol: a folder is exported once from the default recipe's DCGAN (latent 100, width 64, 28x28, random weights:
loading does not depend on what the weights learnt). Each round runs three fresh interpreters, in an order that
rotates every round: `import torch` (the baseline), `import lightning_gans; lightning_gans.from_pretrained(folder)
.sample(16, seed=0)` (ours), and plain torch + safetensors + the net class built by hand (the floor: what any
loader must do). Wall seconds from process start to exit (``time.perf_counter`` around the child) and the child's
own peak resident memory (``os.wait4``'s rusage, read by a lean parent that has not imported torch),
OMP_NUM_THREADS=1. Reported: the medians, and the median over
rounds of ours / baseline for time and ours - baseline for memory, against the targets of issue 27 (at most 1.3x
the time, at most +100 MiB); a row over its target prints FAIL. One such process at a time, on this machine's
cores with nothing else running.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from run_folders import report

REPO = Path(__file__).resolve().parents[1]
TIME_RATIO_MAX = 1.3
MEMORY_EXTRA_MAX_MIB = 100.0
BASELINE = "import torch"
OURS = "import lightning_gans; lightning_gans.from_pretrained({folder!r}).sample(16, seed=0)"
FLOOR = (
    "import json, torch; from safetensors.torch import load_file; from lightning_gans.nets.dcgan import "
    "DCGANGenerator; net = DCGANGenerator(**json.load(open({config!r}))['nets']['generator']['init_args']); "
    "net.load_state_dict({{k[len('generator.'):]: v for k, v in load_file({weights!r}).items()}}); net.eval(); "
    "torch.no_grad()(net)(torch.randn(16, 100))"
)


# measured from a lean intermediate interpreter (no torch): a child's peak RSS counts the memory of the process that
# spawned it, and this script's own process holds torch and the exported model
MEASURE = (
    "import os, subprocess, sys, time; start = time.perf_counter(); "
    "child = subprocess.Popen([sys.executable, '-c', sys.argv[1]], stdout=subprocess.DEVNULL); "
    "_, status, usage = os.wait4(child.pid, 0); "
    "print(time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))"
)


def run(code: str) -> tuple[float, float]:
    """Wall seconds and peak resident MiB (Linux reports KiB) of ``python -c code``, in a child of its own."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", MEASURE, code], env=env, capture_output=True, text=True)
    fields = result.stdout.split()
    if result.returncode != 0 or len(fields) != 3 or fields[2] != "0":
        raise RuntimeError(f"{code!r} failed: {result.stderr[-2000:]}")
    return float(fields[0]), float(fields[1])


def export_folder(folder: Path) -> None:
    from lightning_gans import registry
    from lightning_gans.pretrained import Pretrained
    from lightning_gans.variants.dcgan import DCGAN

    Pretrained.from_module(DCGAN(), {"_class_path": registry.variants.entry("dcgan").class_path}).save_pretrained(
        folder
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/pretrained_load.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dcgan"
        export_folder(folder)
        codes = {
            "import torch": BASELINE,
            "from_pretrained + sample": OURS.format(folder=str(folder)),
            "torch + safetensors by hand": FLOOR.format(
                config=str(folder / "config.json"), weights=str(folder / "model.safetensors")
            ),
        }
        for code in codes.values():  # warm-up: file caches, and a check that each runs
            run(code)
        measured: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
        names = list(codes)
        for round_index in range(args.rounds):
            for name in names[round_index % 3 :] + names[: round_index % 3]:
                measured[name].append(run(codes[name]))
    baseline = measured["import torch"]
    rows: dict[str, dict[str, float | str]] = {}
    for name, values in measured.items():
        ratio = statistics.median(s / b for (s, _), (b, _) in zip(values, baseline))
        extra = statistics.median(m - bm for (_, m), (_, bm) in zip(values, baseline))
        rows[name] = {
            "seconds": statistics.median(s for s, _ in values),
            "peak_mib": statistics.median(m for _, m in values),
            "time_ratio_vs_import_torch": ratio,
            "extra_mib_vs_import_torch": extra,
        }
    ours = rows["from_pretrained + sample"]
    ours["verdict"] = (
        "ok"
        if float(ours["time_ratio_vs_import_torch"]) <= TIME_RATIO_MAX
        and float(ours["extra_mib_vs_import_torch"]) <= MEMORY_EXTRA_MAX_MIB
        else "FAIL"
    )
    report(
        __doc__ or "",
        folder,
        rows,
        Path(args.out),
        rounds=args.rounds,
        targets={"time_ratio_max": TIME_RATIO_MAX, "extra_mib_max": MEMORY_EXTRA_MAX_MIB},
    )


if __name__ == "__main__":
    main()
