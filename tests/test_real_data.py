"""Loaders and a short run on the published files in ../shared/data (opt in: -m real_data)."""

import pytest

from llmagentos.data import load_raw_task
from llmagentos.train import train
from tests.conftest import SHARED_DATA, TINY_ENCODER, TINY_RUN, tiny_task

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} not found"),
]


def test_chnsenticorp_reads_both_headers(compose_config):
    cfg = compose_config(["task=chnsenticorp"])

    splits, labels = load_raw_task("chnsenticorp", cfg.task.chnsenticorp, SHARED_DATA)

    assert labels == ["正面", "负面"]
    assert len(splits["train"]) == 9600
    assert len(splits["validation"]) == 1200
    # Label "1" (positive) maps to 正面, index 0: 4,799 positive and 4,801 negative reviews.
    assert splits["train"]["label"].count(0) == 4799
    assert splits["train"]["label"].count(1) == 4801


def test_tatoeba_keeps_quotes(compose_config):
    cfg = compose_config(["task=tatoeba_zh_en"])

    splits, _ = load_raw_task("tatoeba_zh_en", cfg.task.tatoeba_zh_en, SHARED_DATA)

    assert len(splits["train"]) == 26155
    assert len(splits["validation"]) == 1500
    assert any('"' in text for text in splits["train"]["target"])


def test_short_mixed_run(compose_config, tmp_path):
    overrides = ["task=chnsenticorp+tatoeba_zh_en", f"data_root={SHARED_DATA}", *TINY_ENCODER, *TINY_RUN]
    for name in ("chnsenticorp", "tatoeba_zh_en"):
        overrides += tiny_task(name)

    final = train(compose_config(overrides), tmp_path)

    assert set(final) == {"chnsenticorp", "tatoeba_zh_en"}
