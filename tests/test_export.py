"""The ``pooling: pooler`` classification head, and the export of one task as a plain
transformers model, checked against the LLMAgentOS model.

Tiny runs of a few steps train the models. The exported folders are loaded with the
transformers Auto classes and EncoderDecoderModel, and compared on logits and on
generated token ids.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DistilBertConfig,
    DistilBertModel,
    EncoderDecoderModel,
)

from llmagentos import LLMAgentOS
from llmagentos.errors import ExportError
from llmagentos.export import DECODER_TOKENIZER_FOLDER, export_task, main as export_main
from llmagentos.model import MultiTaskModel, model_spec
from llmagentos.qa import encode_windows
from llmagentos.tokenizer import load_tokenizer, pad_inputs
from llmagentos.train import CONFIG_DIR, train
from tests.conftest import save_tiny_bert, save_tiny_gpt2, tiny_overrides
from tests.test_pretrained import needs_minilm

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
SOURCES = ["我爱你。", "谢谢！", "我的朋友昨天做了晚饭。"]
# The LSTM has no attention heads or feed-forward layers to size.
LSTM_ENCODER = [
    *(o for o in tiny_overrides(["classification"]) if not o.startswith(("encoder.num_heads", "encoder.inter"))),
    "encoder=lstm",
    "encoder.embedding_size=32",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny run of both shipped tasks, the classifier pooling through a dense layer.

    The decoder is wider than the encoder, so the generator's bridge is a Linear layer.
    """
    folder = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.getbasetemp() / "hf_datasets_cache"))
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            overrides = tiny_overrides(BOTH, POOLER, *QUICK, "task.translation.decoder.hidden_size=48")
            train(compose(config_name="train", overrides=overrides), folder)
    return folder


@pytest.fixture(scope="module")
def model(run_dir):
    return LLMAgentOS.from_pretrained(run_dir)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    """The classification and translation tasks of the tiny run, exported by alias."""
    folder = tmp_path_factory.mktemp("exported")
    return {
        "classification": export_task(model, "文本分类", folder / "classification"),
        "translation": export_task(model, "机器翻译", folder / "translation"),
    }


def head_logits(model: MultiTaskModel, texts: list[str]) -> torch.Tensor:
    """Classification logits (B, labels) of the LLMAgentOS model for raw texts."""
    batch = pad_inputs(model.encode_inputs("classification", texts), model.tokenizer.pad_token_id)
    hidden = model.encoder(batch["input_ids"], batch["attention_mask"])
    return model.router.decoder("classification").logits(hidden, batch["attention_mask"])


def hf_encoder_overrides(folder, *extra: str) -> list[str]:
    overrides = [o for o in tiny_overrides(["classification"]) if not o.startswith("encoder.")]
    return [*overrides, "encoder=hf", f"encoder.name={folder}", *QUICK, *extra]


@torch.no_grad()
def assert_translation_matches(model: MultiTaskModel, task: str, folder) -> None:
    """Compare an exported translation folder with the task's generator: teacher-forced
    logits, greedy and beam-search token ids, and decoded text."""
    exported = EncoderDecoderModel.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    target_folder = folder / DECODER_TOKENIZER_FOLDER
    target_tokenizer = AutoTokenizer.from_pretrained(target_folder) if target_folder.is_dir() else tokenizer
    generator = model.router.decoder(task)
    inputs = tokenizer(SOURCES, padding=True, truncation=True, return_tensors="pt")
    ours = pad_inputs(model.encode_inputs(task, SOURCES), model.tokenizer.pad_token_id)
    assert torch.equal(inputs["input_ids"], ours["input_ids"])

    # Teacher forcing: [BOS] + target, the same sequence for every source.
    target = target_tokenizer("I love you, thank you.", add_special_tokens=False)["input_ids"]
    decoder_input_ids = torch.tensor([[generator.bos_token_id, *target]] * len(SOURCES))
    hidden = model.encoder(inputs["input_ids"], inputs["attention_mask"])
    expected = generator.model(
        input_ids=decoder_input_ids, encoder_hidden_states=generator.bridge(hidden),
        encoder_attention_mask=inputs["attention_mask"],
    ).logits
    actual = exported(**inputs, decoder_input_ids=decoder_input_ids).logits
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)

    for num_beams in (1, 3):
        predicted = generator.predict(hidden, inputs["attention_mask"], num_beams=num_beams, max_new_tokens=8)
        generated = exported.generate(**inputs, num_beams=num_beams, max_new_tokens=8)
        assert (generated[:, 0] == generator.bos_token_id).all()  # the decoder start token
        rows = [row[1:] for row in generated.tolist()]
        rows = [row[: row.index(generator.eos_token_id)] if generator.eos_token_id in row else row for row in rows]
        assert rows == predicted, f"num_beams={num_beams}"
    texts = target_tokenizer.batch_decode(exported.generate(**inputs), skip_special_tokens=True)
    assert [text.strip() for text in texts] == LLMAgentOS(model).predict(task, SOURCES)


def test_pooler_head_trains_and_reloads(run_dir, model):
    weights = load_file(run_dir / "model" / "model.safetensors")
    head = "router.decoders.classification"
    assert weights[f"{head}.pooler_dense.weight"].shape == (32, 32)
    assert not any(key.startswith("router.decoders.translation.pooler") for key in weights)
    reloaded = MultiTaskModel.from_pretrained(run_dir / "model")
    torch.testing.assert_close(head_logits(reloaded, TEXTS), head_logits(model.model, TEXTS), atol=0, rtol=0)
    assert model.predict("文本分类", TEXTS[0]) in ("正面", "负面")


def test_pooler_starts_from_encoder_pooler(compose_config, tmp_path):
    folder = save_tiny_bert(tmp_path / "tiny-bert")
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


def test_classification_logits_match(model, exported):
    folder = exported["classification"]
    classifier = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    inputs = tokenizer(TEXTS, padding=True, truncation=True, return_tensors="pt")

    with torch.no_grad():
        logits = classifier(**inputs).logits
        expected = head_logits(model.model, TEXTS)

    assert type(classifier).__name__ == "BertForSequenceClassification"
    assert inputs["input_ids"].size(1) == model.model.spec["tasks"]["classification"]["max_length"]
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    labels = [classifier.config.id2label[i] for i in logits.argmax(dim=-1).tolist()]
    assert labels == model.predict("文本分类", TEXTS)
    assert classifier.config.label2id == {"正面": 0, "负面": 1}


def test_translation_logits_and_greedy_match(model, exported):
    folder = exported["translation"]
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["EncoderDecoderModel"]
    assert config["decoder"]["model_type"] == "gpt2"
    assert not (folder / DECODER_TOKENIZER_FOLDER).exists()  # the run's own vocabulary decodes
    assert load_file(folder / "model.safetensors")["enc_to_dec_proj.weight"].shape == (48, 32)
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["max_new_tokens"] == 8  # the task's generation settings

    assert_translation_matches(model.model, "translation", folder)


def test_span_head_exports_as_question_answering(compose_config, tmp_path):
    train(compose_config(tiny_overrides(["qa"], "task.qa.max_length=48", "task.qa.stride=16", *QUICK)), tmp_path / "run")
    model = LLMAgentOS.from_pretrained(tmp_path / "run")

    folder = export_task(model, "问答", tmp_path / "qa")

    exported = AutoModelForQuestionAnswering.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert type(exported).__name__ == "BertForQuestionAnswering"
    question, context = "高静敏毕业于哪所大学？", "高静敏毕业于四川大学，后来成为一名飞行员。" * 6
    # The windows a transformers user cuts, as the question-answering pipeline does.
    windows = tokenizer(
        question, context, truncation="only_second", stride=16, return_overflowing_tokens=True,
        padding=True, return_tensors="pt",
    )
    ours = encode_windows(model.model.tokenizer, [question], [context], 48, 16)
    assert len(ours["input_ids"]) > 1  # the context spans several windows
    assert [row[:length] for row, length in zip(windows["input_ids"].tolist(), ours["length"])] == ours["input_ids"]
    batch = pad_inputs(ours["input_ids"], model.model.tokenizer.pad_token_id)
    with torch.no_grad():
        hidden = model.model.encoder(batch["input_ids"], batch["attention_mask"])
        start, end = model.model.router.decoder("qa").logits(hidden, batch["attention_mask"])
        # Segment 1 for every token: the exported model ignores segments, as LLMAgentOS does.
        output = exported(input_ids=windows["input_ids"], attention_mask=windows["attention_mask"],
                          token_type_ids=torch.ones_like(windows["input_ids"]))
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(output.start_logits[real], start[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(output.end_logits[real], end[real], atol=1e-5, rtol=1e-5)


def test_export_command_resolves_alias(run_dir, tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()  # an empty folder is accepted

    code = export_main([str(run_dir), "--task", "Text Classification", "--output", str(output)])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"Exported task classification to {output}" in out
    config = json.loads((output / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert {p.name for p in output.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_existing_folder_not_overwritten(run_dir, model, tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    (output / "notes.txt").write_text("keep me")

    code = export_main([str(run_dir), "--task", "文本分类", "--output", str(output)])

    _, err = capsys.readouterr()
    assert code == 2
    assert f"{output} already exists and is not empty" in err
    with pytest.raises(FileExistsError, match="export into a new or empty folder"):
        export_task(model, "translation", output)
    assert [p.name for p in output.iterdir()] == ["notes.txt"]


def test_export_through_link_to_empty_folder(model, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)

    export_task(model, "文本分类", link)

    assert (target / "config.json").is_file()
    assert link.is_symlink()
    assert (link / "model.safetensors").is_file()


def test_unknown_task_lists_tasks(run_dir, tmp_path, capsys):
    code = export_main([str(run_dir), "--task", "问答", "--output", str(tmp_path / "out")])

    _, err = capsys.readouterr()
    assert code == 2
    assert "unknown task '问答'" in err
    assert not (tmp_path / "out").exists()


def test_exported_folder_loads_without_llmagentos(model, exported, tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, EncoderDecoderModel
        folders = {json.dumps({k: str(v) for k, v in exported.items()})}
        tokenizer = AutoTokenizer.from_pretrained(folders["classification"])
        classifier = AutoModelForSequenceClassification.from_pretrained(folders["classification"])
        inputs = tokenizer({TEXTS!r}, padding=True, truncation=True, return_tensors="pt")
        labels = [classifier.config.id2label[i] for i in classifier(**inputs).logits.argmax(-1).tolist()]
        tokenizer = AutoTokenizer.from_pretrained(folders["translation"])
        translator = EncoderDecoderModel.from_pretrained(folders["translation"])
        inputs = tokenizer({SOURCES!r}, padding=True, truncation=True, return_tensors="pt")
        texts = tokenizer.batch_decode(translator.generate(**inputs), skip_special_tokens=True)
        assert not [name for name in sys.modules if name.startswith("llmagentos")]
        print(json.dumps({{"labels": labels, "texts": [text.strip() for text in texts]}}))
    """)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["HF_HUB_OFFLINE"] = "1"  # everything comes from the exported folders

    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["labels"] == model.predict("文本分类", TEXTS)
    assert output["texts"] == model.predict("机器翻译", SOURCES)


def test_hf_bert_encoder_exports(compose_config, tmp_path):
    folder = save_tiny_bert(tmp_path / "tiny-bert")
    train(compose_config(hf_encoder_overrides(folder, POOLER)), tmp_path / "run")
    model = LLMAgentOS.from_pretrained(tmp_path / "run")

    export_task(model, "classification", tmp_path / "out")

    classifier = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    with torch.no_grad():
        logits = classifier(**tokenizer(TEXTS, padding=True, truncation=True, return_tensors="pt")).logits
        expected = head_logits(model.model, TEXTS)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    # BERT's pooler is the head's trained dense layer, not the encoder's unused one.
    head = model.model.router.decoder("classification")
    assert torch.equal(classifier.bert.pooler.dense.weight, head.pooler_dense.weight)


@needs_minilm
def test_minilm_pooler_copied_and_exported(compose_config, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # any attempt to reach the hub fails the test
    cfg = compose_config(["task=classification", "encoder=minilm", POOLER])
    spec = model_spec(cfg, {"classification": ["负面", "正面"]})
    model = MultiTaskModel(spec, load_tokenizer(cfg.encoder.name)).eval()
    head = model.router.decoder("classification")
    assert torch.equal(head.pooler_dense.weight, model.encoder.model.pooler.dense.weight)

    export_task(model, "classification", tmp_path / "out")

    classifier = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    inputs = tokenizer(TEXTS, padding=True, truncation=True, return_tensors="pt")
    assert "token_type_ids" in inputs  # BERT's own tokenizer, as the checkpoint ships it
    with torch.no_grad():
        torch.testing.assert_close(classifier(**inputs).logits, head_logits(model, TEXTS), atol=1e-5, rtol=1e-5)


def test_bert_generation_decoder_exports(compose_config, tmp_path):
    overrides = tiny_overrides(["translation"], "decoder@task.translation.decoder=bert_generator", *QUICK)
    overrides += [f"task.translation.decoder.{key}" for key in
                  ("hidden_size=32", "num_layers=1", "num_heads=2", "intermediate_size=64")]
    train(compose_config(overrides), tmp_path / "run")
    model = LLMAgentOS.from_pretrained(tmp_path / "run")

    export_task(model, "translation", tmp_path / "out")

    assert json.loads((tmp_path / "out" / "config.json").read_text())["decoder"]["model_type"] == "bert-generation"
    assert_translation_matches(model.model, "translation", tmp_path / "out")


def test_lora_gpt2_merged_on_export(compose_config, tmp_path):
    pytest.importorskip("peft")
    folder = tmp_path / "tiny-gpt2"
    target_tokenizer = save_tiny_gpt2(folder, width=48)  # wider than the encoder: a Linear bridge
    overrides = tiny_overrides(["translation"], f"task.translation.decoder.pretrained={folder}",
                               "task.translation.decoder.lora.enabled=true", *QUICK)
    train(compose_config(overrides), tmp_path / "run")
    model = LLMAgentOS.from_pretrained(tmp_path / "run")
    # A few steps leave lora_B near its zero start, where an unmerged adapter would go
    # unnoticed, so give the adapters large weights.
    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)

    export_task(model, "translation", tmp_path / "out")

    weights = load_file(tmp_path / "out" / "model.safetensors")
    assert not [key for key in weights if "lora" in key or "base_layer" in key]
    assert len(AutoTokenizer.from_pretrained(tmp_path / "out" / DECODER_TOKENIZER_FOLDER)) == len(target_tokenizer)
    assert_translation_matches(model.model, "translation", tmp_path / "out")


@pytest.fixture
def distilbert_folder(tmp_path):
    folder = tmp_path / "tiny-distilbert"
    tokenizer = AutoTokenizer.from_pretrained(save_tiny_bert(tmp_path / "tiny-bert"))
    tokenizer.save_pretrained(folder)
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=1, n_heads=2, hidden_dim=64)
    DistilBertModel(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    "overrides, task, messages",
    [
        pytest.param(
            tiny_overrides(["classification"]), "文本分类",
            ["task 'classification' cannot be exported, 1 problem(s)",
             "task.classification.decoder.pooling=mean has no counterpart in BertForSequenceClassification",
             "Retrain with task.classification.decoder.pooling=pooler"],
            id="mean pooling",
        ),
        pytest.param(
            [*LSTM_ENCODER, "task.classification.decoder.pooling=cls"],
            "classification",
            ["2 problem(s)", "encoder.type=lstm has no transformers model class",
             "Retrain with encoder=transformer or encoder=hf",
             "task.classification.decoder.pooling=cls has no counterpart"],
            id="lstm encoder and cls pooling",
        ),
        pytest.param(
            tiny_overrides(["qa"], "task.qa.max_length=48", "task.qa.stride=16", "router=text_to_text",
                           "router.decoder.hidden_size=32", "router.decoder.num_layers=1",
                           "router.decoder.num_heads=2", "router.decoder.intermediate_size=64",
                           "task.qa.max_target_length=16", "task.qa.generation.max_new_tokens=8"),
            "问答",
            ["task 'qa' cannot be exported", "router.mode=text_to_text trains one generator"],
            id="generative qa",
        ),
        pytest.param(
            tiny_overrides(BOTH, "router=text_to_text", "router.decoder.hidden_size=32",
                           "router.decoder.num_layers=1", "router.decoder.num_heads=2",
                           "router.decoder.intermediate_size=64"),
            "机器翻译",
            ["task 'translation' cannot be exported", "router.mode=text_to_text trains one generator",
             "Retrain with router=task (router.mode=per_task, the default)"],
            id="text_to_text",
        ),
        pytest.param(
            tiny_overrides(["translation"], "task.translation.decoder.bridge=prefix",
                           "task.translation.max_length=32", "task.translation.max_target_length=32",
                           "task.translation.decoder.max_positions=72"),
            "translation",
            ["task.translation.decoder.bridge=prefix prepends the encoder states",
             "Retrain with task.translation.decoder.bridge=cross_attention"],
            id="prefix bridge",
        ),
    ],
)
def test_unsupported_task_rejected(compose_config, tmp_path, overrides, task, messages):
    train(compose_config([*overrides, *QUICK]), tmp_path / "run")
    model = LLMAgentOS.from_pretrained(tmp_path / "run")

    with pytest.raises(ExportError) as caught:
        export_task(model, task, tmp_path / "out")

    for message in messages:
        assert message in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_non_bert_encoder_rejected(compose_config, distilbert_folder, tmp_path):
    train(compose_config(hf_encoder_overrides(distilbert_folder, POOLER)), tmp_path / "run")
    model = LLMAgentOS.from_pretrained(tmp_path / "run")

    with pytest.raises(ExportError, match=f"encoder.name={distilbert_folder} is a distilbert model"):
        export_task(model, "classification", tmp_path / "out")
    assert not (tmp_path / "out").exists()
