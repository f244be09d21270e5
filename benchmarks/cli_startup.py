"""How fast the command line answers: ``lightning-gans --help``, ``list`` and ``list --check``.

    python benchmarks/cli_startup.py

Protocol: each command runs as its own process (the installed console script), 9 times after one warm-up,
interleaved pair by pair with a baseline that first imports ``torch`` and ``lightning.pytorch`` and then runs
the same command: what every command cost before the command line imported Lightning only for
fit/validate/test. Wall seconds from process start to exit (``time.perf_counter`` around ``subprocess.run``)
and, from one more run of each in a fresh parent, the child's peak resident memory
(``resource.getrusage(RUSAGE_CHILDREN)``). Reported: the median of each and the median of the
per-pair ratios, on this machine's 2 cores with nothing else running.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from run_folders import report

REPO = Path(__file__).resolve().parents[1]
SCRIPT = str(Path(sys.executable).parent / "lightning-gans")
COMMANDS = {"--help": ["--help"], "list": ["list"], "list --check": ["list", "--check"]}
RUNS = 9
HEAVY = "import torch, lightning.pytorch, sys; from lightning_gans.cli import main; sys.exit(main(sys.argv[1:]))"


def timed(command: list[str]) -> float:
    """Wall seconds of one run of ``command``."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    rows: dict[str, dict[str, float]] = {}
    for name, args in COMMANDS.items():
        ours, baseline = [SCRIPT, *args], [sys.executable, "-c", HEAVY, *args]
        timed(ours), timed(baseline)  # warm-up: file caches
        pairs = [(timed(ours), timed(baseline)) for _ in range(RUNS)]
        rows[name] = {
            "seconds": statistics.median(a for a, _ in pairs),
            "baseline_seconds": statistics.median(b for _, b in pairs),
            "ratio": statistics.median(a / b for a, b in pairs),
        }
    # peak memory per command, each in a fresh interpreter so that the children's maximum is its own
    for name, args in COMMANDS.items():
        code = (  # a fresh parent per measurement: RUSAGE_CHILDREN is then this one command's peak
            "import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
        )
        for key, command in (
            ("peak_mib", [SCRIPT, *args]),
            ("baseline_peak_mib", [sys.executable, "-c", HEAVY, *args]),
        ):
            out = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, check=True)
            rows[name][key] = float(out.stdout.strip())
    report(__doc__ or "", REPO, rows, REPO / "benchmarks/results/cli_startup.json", runs_per_command=RUNS)


if __name__ == "__main__":
    main()
