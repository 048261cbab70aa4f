"""One tiny text-to-text run on the shipped data, shared by the tests of this file."""

import json

import pytest
import torch
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file

from llmagentos.logger import read_metrics
from llmagentos.metrics import classification_scores, translation_scores
from llmagentos.model import MultiTaskModel
from llmagentos.train import CONFIG_DIR, train
from tests.conftest import REPO, tiny_overrides

BOTH = ["classification", "translation"]
TINY_SHARED_GENERATOR = [
    "router=text_to_text",
    "router.decoder.hidden_size=32",
    "router.decoder.num_layers=1",
    "router.decoder.num_heads=2",
    "router.decoder.intermediate_size=64",
]
STEPS = 40


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """Train 40 steps on both shipped tasks in text-to-text mode; returns the run folder."""
    folder = tmp_path_factory.mktemp("text_to_text")
    overrides = tiny_overrides(
        BOTH, *TINY_SHARED_GENERATOR, f"trainer.max_steps={STEPS}", "trainer.log_every=10",
        "trainer.eval_every=1000", "trainer.checkpoint_every=1000", "optimizer.lr=2e-3",
        "scheduler.num_warmup_steps=4", "data.batch_size=16",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.getbasetemp() / "hf_datasets_cache"))
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(config_name="train", overrides=overrides)
        train(cfg, folder)
    return folder


def validation_rows(task: str) -> list[dict]:
    """The first 24 validation rows of a shipped task, as the tiny run keeps them."""
    folder = {"classification": "sentiment", "translation": "translation"}[task]
    lines = (REPO / "data" / folder / "validation.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:24]]


def test_per_task_losses_reported_and_fall(run_dir):
    records = read_metrics(run_dir)

    for task in BOTH:
        losses = [r["loss"] for r in records if r["split"] == "train" and r.get("task") == task]
        assert len(losses) == STEPS // 10
        assert losses == sorted(losses, reverse=True), f"{task} loss did not fall: {losses}"
        assert losses[-1] < 0.9 * losses[0], f"{task} loss fell too little: {losses}"


def test_results_have_accuracy_and_bleu(run_dir):
    results = json.loads((run_dir / "results.json").read_text())

    classification = results["tasks"]["classification"]
    translation = results["tasks"]["translation"]
    assert 0.0 <= classification["accuracy"] <= 1.0
    assert "macro_f1" in classification
    assert 0.0 <= translation["bleu"] <= 100.0
    assert "chrf" in translation
    assert classification["examples_seen"] > 0
    assert translation["examples_seen"] > 0


def test_shared_generator_stored_once(run_dir):
    weights = load_file(run_dir / "model" / "model.safetensors")
    spec = json.loads((run_dir / "model" / "llmagentos.json").read_text())
    model = MultiTaskModel.from_pretrained(run_dir / "model")

    decoder_keys = [k for k in weights if not k.startswith("encoder.")]
    assert decoder_keys
    assert all(k.startswith("router.shared.") for k in decoder_keys)
    assert not list(model.router.decoders)
    assert model.router.decoder("classification") is model.router.decoder("translation")
    assert spec["mode"] == "text_to_text"
    assert spec["shared_decoder"]["hidden_size"] == 32
    assert spec["tasks"]["classification"]["decoder"] is None
    assert spec["tasks"]["classification"]["prompt"] == {
        "template": "任务类型: {task}\n输入数据: {input}\n输出数据:", "task": "文本分类",
    }
    assert spec["tasks"]["translation"]["prompt"]["task"] == "机器翻译"


def test_reloaded_model_reproduces_metrics(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    model = MultiTaskModel.from_pretrained(run_dir / "model")
    sentiment, pairs = validation_rows("classification"), validation_rows("translation")

    reviews = model.prompt_inputs("classification", [row["text"] for row in sentiment])
    labels = model.predict_batch("classification", **reviews)
    sources = model.prompt_inputs("translation", [row["zh"] for row in pairs])
    outputs = model.predict_batch("translation", **sources, max_new_tokens=8)

    names = model.spec["tasks"]["classification"]["labels"]
    expected = [names.index(row["label"]) for row in sentiment]
    accuracy = classification_scores(labels, expected, len(names))["accuracy"]
    hypotheses = [model.tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in outputs]
    bleu = translation_scores(hypotheses, [row["en"] for row in pairs], "en")["bleu"]
    assert accuracy == pytest.approx(results["tasks"]["classification"]["accuracy"])
    assert bleu == pytest.approx(results["tasks"]["translation"]["bleu"])


def test_save_load_round_trip_identical(run_dir, tmp_path):
    model = MultiTaskModel.from_pretrained(run_dir / "model")
    texts = ["这部电影太棒了！", "The service was slow and rude.", "我的朋友昨天做了晚饭。"]

    model.save_pretrained(tmp_path / "copy")
    copy = MultiTaskModel.from_pretrained(tmp_path / "copy")

    for task in BOTH:
        inputs = model.prompt_inputs(task, texts)
        assert torch.equal(copy.prompt_inputs(task, texts)["input_ids"], inputs["input_ids"])
        assert copy.predict_batch(task, **inputs, max_new_tokens=8) == model.predict_batch(
            task, **inputs, max_new_tokens=8
        )
    inputs = model.prompt_inputs("classification", texts)
    torch.testing.assert_close(
        copy.label_scores("classification", **inputs), model.label_scores("classification", **inputs)
    )


def test_label_scores_rank_label_names(run_dir):
    model = MultiTaskModel.from_pretrained(run_dir / "model")
    inputs = model.prompt_inputs("classification", ["这部电影太棒了！", "太差了，不推荐。"])

    scores = model.label_scores("classification", **inputs)

    assert scores.shape == (2, 2)
    assert bool((scores < 0).all())
    assert model.predict_batch("classification", **inputs) == scores.argmax(dim=-1).tolist()


def test_per_task_model_rejects_prompts(compose_config, tmp_path):
    overrides = tiny_overrides(["classification"], "trainer.max_steps=2", "trainer.log_every=1")
    train(compose_config(overrides), tmp_path)
    model = MultiTaskModel.from_pretrained(tmp_path / "model")

    with pytest.raises(ValueError, match="trained with router.mode=per_task"):
        model.prompt_inputs("classification", ["好"])
