"""The ``pooling: pooler`` classification head, trained from config sizes or started
from a pretrained encoder's pooler."""

import json

import pytest
import torch
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file
from transformers import AutoTokenizer, BertConfig, BertModel

from llmagentos import LLMAgentOS
from llmagentos.model import MultiTaskModel, model_spec
from llmagentos.tokenizer import pad_inputs, train_tokenizer
from llmagentos.train import CONFIG_DIR, train
from tests.conftest import REPO, tiny_overrides

BOTH = ["classification", "translation"]
# No evaluation or checkpoint before the end: these runs only need trained weights.
QUICK = ["trainer.max_steps=4", "trainer.eval_every=1000", "trainer.checkpoint_every=1000"]
POOLER = "task.classification.decoder.pooling=pooler"
TEXTS = [
    "这部电影太棒了！",
    "这部电影太让人失望了，真后悔。",
    "I really loved this book, it was wonderful.",
    "我的朋友昨天做了晚饭。" * 20,  # longer than max_length, so truncation takes part
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny run of both shipped tasks, the classifier pooling through a dense layer."""
    folder = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.getbasetemp() / "hf_datasets_cache"))
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            train(compose(config_name="train", overrides=tiny_overrides(BOTH, POOLER, *QUICK)), folder)
    return folder


@pytest.fixture(scope="module")
def model(run_dir):
    return LLMAgentOS.from_pretrained(run_dir)


def head_logits(model: MultiTaskModel, texts: list[str]) -> torch.Tensor:
    """Classification logits (B, labels) of the LLMAgentOS model for raw texts."""
    batch = pad_inputs(model.encode_inputs("classification", texts), model.tokenizer.pad_token_id)
    hidden = model.encoder(batch["input_ids"], batch["attention_mask"])
    return model.router.decoder("classification").logits(hidden, batch["attention_mask"])


def tiny_bert_folder(folder):
    """A randomly initialized BERT with a vocabulary of the shipped text, saved like a checkpoint."""
    lines = (REPO / "data" / "sentiment" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    tokenizer = train_tokenizer([json.loads(line)["text"] for line in lines], vocab_size=400, min_frequency=1)
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64)
    BertModel(config).save_pretrained(folder)  # with a pooler, as BERT checkpoints have
    return folder


def hf_encoder_overrides(folder, *extra: str) -> list[str]:
    overrides = [o for o in tiny_overrides(["classification"]) if not o.startswith("encoder.")]
    return [*overrides, "encoder=hf", f"encoder.name={folder}", *QUICK, *extra]


def test_pooler_head_trains_and_reloads(run_dir, model):
    weights = load_file(run_dir / "model" / "model.safetensors")
    head = "router.decoders.classification"
    assert weights[f"{head}.pooler_dense.weight"].shape == (32, 32)
    assert not any(key.startswith("router.decoders.translation.pooler") for key in weights)
    reloaded = MultiTaskModel.from_pretrained(run_dir / "model")
    torch.testing.assert_close(head_logits(reloaded, TEXTS), head_logits(model.model, TEXTS), atol=0, rtol=0)
    assert model.predict("文本分类", TEXTS[0]) in ("正面", "负面")


def test_pooler_starts_from_encoder_pooler(compose_config, tmp_path):
    folder = tiny_bert_folder(tmp_path / "tiny-bert")
    spec = model_spec(compose_config(hf_encoder_overrides(folder, POOLER)), {"classification": ["负面", "正面"]})
    model = MultiTaskModel(spec, AutoTokenizer.from_pretrained(folder))
    pooler = model.encoder.model.pooler.dense
    head = model.router.decoder("classification")
    assert torch.equal(head.pooler_dense.weight, pooler.weight)
    assert torch.equal(head.pooler_dense.bias, pooler.bias)
    assert head.pooler_dense.weight is not pooler.weight  # a copy that trains on its own

    mean_spec = model_spec(compose_config(hf_encoder_overrides(folder)), {"classification": ["负面", "正面"]})
    mean_head = MultiTaskModel(mean_spec, AutoTokenizer.from_pretrained(folder)).router.decoder("classification")
    assert mean_head.pooler_dense is None
    assert not any("pooler" in name for name, _ in mean_head.named_parameters())
