"""What the benchmarks that measure trained run folders share: finding the runs, writing the report."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch
import yaml


def variant_of(run: Path) -> str | None:
    """The model class name of a finished run folder (``None`` if it is not one)."""
    config = run / "config.yaml"
    if not (run / "checkpoints/last.ckpt").is_file() or not config.is_file():
        return None
    model = (yaml.safe_load(config.read_text()) or {}).get("model") or {}
    return str(model.get("class_path", "")).rsplit(".", 1)[-1] or None


def runs_of(runs: Path, variants: list[str]) -> dict[Path, str]:
    """The finished run folders under ``runs`` whose model is one of ``variants`` (class names)."""
    found = {run: variant_of(run) for run in sorted(runs.iterdir()) if run.is_dir()}
    present = {run: kind for run, kind in found.items() if kind in variants}
    if not present:
        raise SystemExit(f"no runs of {', '.join(variants)} under {runs}: train the recipes first (see the docstring)")
    return present


def report(doc: str, runs: Path, rows: dict[str, Any], out: Path, **extra: Any) -> None:
    """Print the protocol (the part of ``doc`` from "Protocol") and a row per run, and write them as JSON."""
    print("Protocol" + doc.split("Protocol")[1].split("\n\n")[0])
    print("\n| row | result |\n|---|---|")
    for name, row in rows.items():
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if not isinstance(v, list)
        )
        print(f"| {name} | {shown} |")
    result = {
        "protocol": doc.split("Protocol")[1].strip(),
        "runs": str(runs),
        "rows": rows,
        **extra,
        "hardware": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")
