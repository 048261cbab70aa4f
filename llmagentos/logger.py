"""Metric records: one JSON line per record in <run>/metrics.jsonl, and the trackers.

Records are written by the main process only. Every record carries ``step``, and every
per-task record also carries ``task`` and that task's ``examples_seen``, so curves of
tasks sampled at different rates can be compared by examples as well as by steps.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from omegaconf import DictConfig


def tracker_init_kwargs(cfg: DictConfig, run_dir: Path) -> dict[str, dict[str, Any]]:
    """Arguments for accelerate's init_trackers: wandb runs offline when no API key is set."""
    kwargs: dict[str, dict[str, Any]] = {}
    if "wandb" in cfg.logger.trackers:
        mode = cfg.logger.wandb_mode or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        kwargs["wandb"] = {"mode": mode, "dir": str(run_dir), "name": run_dir.name}
    return kwargs


class MetricLogger:
    """Append records to metrics.jsonl and forward them to accelerate's trackers."""

    def __init__(self, accelerator: Accelerator, run_dir: Path):
        self.accelerator = accelerator
        self.path = run_dir / "metrics.jsonl"

    def log(self, record: dict[str, Any]) -> None:
        if not self.accelerator.is_main_process:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(_finite(record), ensure_ascii=False) + "\n")
        step = record["step"]
        prefix = f"{record['split']}/{record['task']}" if record.get("task") else record["split"]
        values = {
            f"{prefix}/{key}": value
            for key, value in record.items()
            if key not in ("step", "split", "task") and isinstance(value, (int, float))
        }
        self.accelerator.log(values, step=step)


def _finite(record: dict[str, Any]) -> dict[str, Any]:
    # JSON has no NaN or Infinity; write null so that every line stays parseable.
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
    }


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Read every record of a run's metrics.jsonl."""
    lines = Path(run_dir, "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
