import dataclasses
import json

import pytest
import torch
from omegaconf import OmegaConf

from llmagentos.config import GeneratorDecoderConfig, validate_config
from llmagentos.data import TaskData, TaskPrompt
from llmagentos.decoder import DecoderOnlyGenerator
from llmagentos.errors import ConfigError
from llmagentos.model import MultiTaskModel
from llmagentos.train import train
from llmagentos.trainer import collate
from llmagentos.tokenizer import train_tokenizer
from tests.conftest import tiny_overrides

BOS, EOS, PAD = 1, 2, 0


def tiny_generator() -> DecoderOnlyGenerator:
    torch.manual_seed(0)
    sizes = OmegaConf.create(dataclasses.asdict(GeneratorDecoderConfig(
        hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, max_positions=32, dropout=0.0,
    )))
    return DecoderOnlyGenerator(sizes, vocab_size=20, bos_token_id=BOS, eos_token_id=EOS,
                                pad_token_id=PAD).eval()


def right_padded(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(p) for p in prompts)
    ids = torch.tensor([p + [PAD] * (longest - len(p)) for p in prompts])
    mask = torch.tensor([[1] * len(p) + [0] * (longest - len(p)) for p in prompts])
    return ids, mask


def test_candidate_scores_match_sequence_loss():
    generator = tiny_generator()
    prompts = [[3, 4, 5, 6], [7, 8]]
    candidates = [[9, 10], [11]]

    scores = generator.score_candidates(*right_padded(prompts), candidates)

    assert scores.shape == (2, 2)
    for i, prompt in enumerate(prompts):
        for j, candidate in enumerate(candidates):
            sequence = torch.tensor([prompt + candidate + [EOS]])
            labels = torch.tensor([[-100] * len(prompt) + candidate + [EOS]])
            mean_loss = generator.loss(None, None, sequence, torch.ones_like(sequence), labels)
            expected = -mean_loss * (len(candidate) + 1)
            torch.testing.assert_close(scores[i, j], expected)


def test_batched_generation_matches_single():
    generator = tiny_generator()
    prompts = [[3, 4, 5, 6, 7], [8, 9]]

    batched = generator.predict(*right_padded(prompts), max_new_tokens=5)

    for prompt, output in zip(prompts, batched):
        single = generator.predict(*right_padded([prompt]), max_new_tokens=5)
        assert output == single[0]


def test_collate_joins_prompt_and_output():
    tokenizer = train_tokenizer(["任务类型 输入数据 输出数据 正面 负面"], vocab_size=100, min_frequency=1)
    task = TaskData("classification", "classification", None, None, ["正面", "负面"],
                    prompt=TaskPrompt("zh", "文本分类", ("正面", "负面")))
    examples = [{"input_ids": [5, 6, 7], "label": 0, "target_ids": [8, 9]},
                {"input_ids": [5, 6], "label": 1, "target_ids": [10]}]
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id

    batch = collate([(0, e) for e in examples], [task], tokenizer, decoder_only=True)

    targets = batch["targets"]["classification"]
    assert targets["input_ids"].tolist() == [[5, 6, 7, 8, 9, eos], [5, 6, 10, eos, pad, pad]]
    assert targets["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]
    assert targets["labels"].tolist() == [[-100, -100, -100, 8, 9, eos], [-100, -100, 10, eos, -100, -100]]


def test_positions_cover_prompt_and_output(compose_config):
    cfg = compose_config(["router=decoder_only", "router.decoder.max_positions=150"])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    message = str(err.value)
    assert "task.classification: max_length=128, max_target_length=64" in message
    assert "need 192 decoder positions, but router.decoder.max_positions=150" in message


def test_decoder_only_gpt2_only(compose_config):
    cfg = compose_config(["router=decoder_only", "router.decoder.architecture=bert_generation"])

    with pytest.raises(ConfigError, match="decoder_only mode builds gpt2 generators only"):
        validate_config(cfg)


def test_decoder_only_run_and_reload(compose_config, tmp_path):
    overrides = tiny_overrides(
        ["classification", "translation"], "router=decoder_only", "router.decoder.hidden_size=32",
        "router.decoder.num_layers=1", "router.decoder.num_heads=2", "router.decoder.intermediate_size=64",
        "trainer.max_steps=4", "trainer.eval_every=1000", "trainer.checkpoint_every=1000",
    )

    final = train(compose_config(overrides), tmp_path)

    assert {"accuracy", "macro_f1"} <= set(final["classification"])
    assert {"bleu", "chrf"} <= set(final["translation"])
    spec = json.loads((tmp_path / "model" / "llmagentos.json").read_text())
    assert spec["mode"] == "decoder_only"
    model = MultiTaskModel.from_pretrained(tmp_path / "model")
    assert model.encoder is None
    inputs = model.prompt_inputs("classification", ["这部电影太棒了！"])
    assert model.predict_batch("classification", **inputs)[0] in (0, 1)
    inputs = model.prompt_inputs("translation", ["我的朋友昨天做了晚饭。"])
    assert len(model.predict_batch("translation", **inputs, max_new_tokens=4)[0]) <= 4
