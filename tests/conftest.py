"""Shared fixtures: compose the real configs, then shrink them to run in seconds on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# The tests use no network. Without these, datasets and huggingface_hub may contact the
# hub, and both read them when first imported, so they are set before any import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

from llmagentos.train import CONFIG_DIR  # noqa: E402

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


def save_tiny_gpt2(folder: Path, width: int = 32):
    """Save a randomly initialized 1-layer GPT-2 with an English vocabulary of the shipped
    translations, standing in for a pretrained checkpoint. Returns its tokenizer."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from llmagentos.tokenizer import train_tokenizer

    lines = (REPO / "data" / "translation" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    english = [json.loads(line)["en"] for line in lines[:300]]
    tokenizer = train_tokenizer(english, vocab_size=300, min_frequency=1)
    tokenizer.save_pretrained(folder)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=width, n_layer=1, n_head=2, n_positions=128)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return tokenizer


def save_tiny_bert(folder: Path) -> Path:
    """Save a randomly initialized 1-layer BERT, pooler included as in BERT checkpoints,
    with a vocabulary of the shipped sentiment texts. Returns `folder`."""
    from transformers import BertConfig, BertModel

    from llmagentos.tokenizer import train_tokenizer

    lines = (REPO / "data" / "sentiment" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    tokenizer = train_tokenizer([json.loads(line)["text"] for line in lines], vocab_size=400, min_frequency=1)
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64)
    BertModel(config).save_pretrained(folder)
    return folder


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
