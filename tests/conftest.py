"""Shared fixtures: compose the real configs, then shrink them to run in seconds on CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from llmagentos.train import CONFIG_DIR

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# A 1-layer, 32-wide model and a handful of steps: enough to exercise every code path.
TINY_ENCODER = [
    "encoder.hidden_size=32",
    "encoder.num_layers=1",
    "encoder.num_heads=2",
    "encoder.intermediate_size=64",
    "encoder.tokenizer.vocab_size=600",
]
TINY_RUN = [
    "trainer.max_steps=6",
    "trainer.log_every=2",
    "trainer.eval_every=3",
    "trainer.checkpoint_every=3",
    "trainer.eval_batch_size=32",
    "data.batch_size=8",
    "data.pool_batches=4",
    "logger=none",
]


def tiny_task(name: str) -> list[str]:
    """Overrides that shrink one task's decoder and validation split."""
    overrides = [f"task.{name}.data.max_train_examples=240", f"task.{name}.data.max_eval_examples=24"]
    if name in ("translation", "tatoeba_zh_en"):
        overrides += [
            f"task.{name}.decoder.hidden_size=32",
            f"task.{name}.decoder.num_layers=1",
            f"task.{name}.decoder.num_heads=2",
            f"task.{name}.decoder.intermediate_size=64",
            f"task.{name}.generation.max_new_tokens=8",
        ]
    return overrides


def tiny_overrides(tasks: list[str], *extra: str) -> list[str]:
    selection = tasks[0] if len(tasks) == 1 else "[" + ",".join(tasks) + "]"
    out = [f"task={selection}", *TINY_ENCODER, *TINY_RUN]
    for name in tasks:
        out += tiny_task(name)
    return [*out, *extra]


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    # One datasets cache per test session, so tests share tokenized data but never the user's.
    cache = tmp_path_factory.getbasetemp() / "hf_datasets_cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setenv("WANDB_MODE", "disabled")


@pytest.fixture
def compose_config():
    """Compose configs/train.yaml with overrides, exactly as the command line would."""

    def _compose(overrides: list[str]):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            return compose(config_name="train", overrides=overrides)

    return _compose


def run_cli(args: list[str], cwd: Path, timeout: int = 300, launcher: list[str] | None = None):
    """Run `python -m llmagentos.train ARGS` (or under a launcher) and capture its output."""
    command = (launcher or [sys.executable, "-m"]) + ["llmagentos.train", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
