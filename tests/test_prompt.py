import dataclasses

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from llmagentos.config import GeneratorDecoderConfig, validate_config, with_defaults
from llmagentos.decoder import Generator
from llmagentos.errors import ConfigError
from llmagentos.prompt import (
    fit_prompts,
    render_prompt,
    task_display_name,
    template_problem,
)
from llmagentos.qa import QuestionTooLong
from llmagentos.tokenizer import train_tokenizer

CLASSIFICATION_ALIASES = ["文本分类", "text classification", "sentiment"]


def test_chinese_template_renders():
    task = task_display_name("classification", CLASSIFICATION_ALIASES, "zh")

    prompt = render_prompt("zh", task, "这部电影太棒了！")

    assert prompt == "任务类型: 文本分类\n输入数据: 这部电影太棒了！\n输出数据:"


def test_english_template_renders():
    task = task_display_name("classification", CLASSIFICATION_ALIASES, "en")

    prompt = render_prompt("en", task, "The food was great.")

    assert prompt == "Task: text classification\nInput: The food was great.\nOutput:"


def test_display_name_fallbacks():
    assert task_display_name("translation", ["机器翻译"], "en") == "机器翻译"
    assert task_display_name("translation", [], "zh") == "translation"
    assert task_display_name("reviews", ["reviews"], "Review: {input}") == "reviews"


def test_input_braces_kept_literally():
    prompt = render_prompt("Q: {input} A:", "qa", "f(x) = {x}")

    assert prompt == "Q: f(x) = {x} A:"


@pytest.mark.parametrize(
    "template, fault",
    [
        ("Review: {text}", "unknown placeholder(s) text"),
        ("Review: {input} {}", "unknown placeholder(s) {}"),
        ("Review: {input", "not a valid format string"),
        ("Classify this review.", "no {input} placeholder"),
        ("Task: {task}", "no {input} placeholder"),
    ],
)
def test_bad_templates_described(template, fault):
    assert fault in template_problem(template)


def test_good_templates_accepted():
    assert template_problem("zh") is None
    assert template_problem("en") is None
    assert template_problem("Review: {input}\nSentiment ({{good or bad}}):") is None


def test_bad_templates_fail_validation(compose_config):
    cfg = compose_config([
        "task=classification+translation", "router=text_to_text",
        "task.classification.prompt_template='Review: {text}'",
        "task.translation.prompt_template='Translate this.'",
        "router.prompt_template='Input: {input'",
    ])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    message = str(err.value)
    assert "3 problem(s)" in message
    assert "task.classification.prompt_template: invalid prompt template 'Review: {text}'" in message
    assert "task.translation.prompt_template: invalid prompt template 'Translate this.'" in message
    assert "router.prompt_template: invalid prompt template 'Input: {input'" in message
    assert "Fix: use zh or en, or a template with an {input} placeholder" in message


def test_text_to_text_needs_shared_generator(compose_config):
    cfg = compose_config(["router.mode=text_to_text"])

    with pytest.raises(ConfigError, match="router.decoder: missing.*Choose router=text_to_text"):
        validate_config(cfg)


@pytest.mark.parametrize(
    "override, message",
    [
        ("router.decoder.freeze=true", "router.decoder.freeze=true: this decoder starts from random weights"),
        ("router.decoder.hidden_size=30", "router.decoder.hidden_size=30 is not divisible by router.decoder.num_heads=4"),
        ("router.decoder.max_positions=16", "need 65 decoder positions, but router.decoder.max_positions=16"),
        ("router.label_scoring=max", "router.label_scoring: invalid value 'max'"),
    ],
)
def test_shared_generator_settings_checked(compose_config, override, message):
    cfg = compose_config(["router=text_to_text", override])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    assert message in str(err.value)


def test_text_to_text_defaults_filled(compose_config):
    cfg = with_defaults(compose_config(["router=text_to_text"]))

    assert cfg.router.mode == "text_to_text"
    assert cfg.router.decoder.architecture == "gpt2"
    assert cfg.router.prompt_template == "zh"
    assert cfg.task.classification.prompt_template is None


def test_long_input_cut_before_template_end():
    texts = ["这部电影太棒了，我非常喜欢。" * 3, "The food was great and the staff were kind."]
    tokenizer = train_tokenizer([render_prompt("zh", "文本分类", t) for t in texts], vocab_size=200, min_frequency=1)
    long_text = "这部电影太棒了，我非常喜欢。" * 20

    prompts = fit_prompts(tokenizer, "zh", "文本分类", [long_text, texts[1]], max_length=40)

    ids = tokenizer(prompts[0])["input_ids"]
    assert len(ids) == 40
    assert prompts[0].endswith("\n输出数据:")
    assert prompts[0].startswith("任务类型: 文本分类\n输入数据: 这部电影太棒了")
    assert prompts[1] == render_prompt("zh", "文本分类", texts[1])


def test_cut_prompts_fit_every_length():
    texts = ["The food was great, and the staff were kind to us.", "这部电影太棒了，我非常喜欢。"]
    tokenizer = train_tokenizer([render_prompt("en", "sentiment", t) for t in texts], vocab_size=150, min_frequency=1)
    overhead = len(tokenizer(render_prompt("en", "sentiment", ""))["input_ids"])

    for max_length in range(overhead + 1, overhead + 30):
        prompts = fit_prompts(tokenizer, "en", "sentiment", texts * 3, max_length)
        for prompt in prompts:
            assert len(tokenizer(prompt)["input_ids"]) <= max_length, (max_length, prompt)
            assert prompt.endswith("\nOutput:")


def test_repeated_placeholder_keeps_input():
    text = "The food was great, and the staff were kind to us. " * 4
    template = "{input} | {input} | END"
    tokenizer = train_tokenizer([template.format(input=text)], vocab_size=200, min_frequency=1)

    prompt = fit_prompts(tokenizer, template, "sentiment", [text], max_length=40)[0]

    assert len(tokenizer(prompt)["input_ids"]) <= 40
    first, second, end = prompt.split(" | ")
    assert first == second
    assert first.startswith("The food was great")
    assert end == "END"


def test_template_too_long_for_max_length():
    tokenizer = train_tokenizer(["任务类型 输入数据 输出数据"], vocab_size=100, min_frequency=1)

    with pytest.raises(ValueError, match="leaves no room for the input within max_length=8"):
        fit_prompts(tokenizer, "zh", "文本分类", ["好"], max_length=8)


def test_qa_template_renders_question_and_context():
    item = {"question": "高静敏毕业于哪所大学？", "context": "高静敏毕业于四川大学。"}

    assert render_prompt("zh", "阅读理解", item) == (
        "任务类型: 阅读理解\n上下文: 高静敏毕业于四川大学。\n问题: 高静敏毕业于哪所大学？\n输出数据:"
    )
    assert render_prompt("en", "question answering", {"question": "Who?", "context": "Ada."}) == (
        "Task: question answering\nContext: Ada.\nQuestion: Who?\nOutput:"
    )


@pytest.mark.parametrize(
    "template, task_type, fault",
    [
        ("Q: {question}", "qa", "no {context} placeholder"),
        ("{input} {question} {context}", "qa", "unknown placeholder(s) input for a qa task"),
        ("{context}: {input}", "classification", "unknown placeholder(s) context for a classification task"),
    ],
)
def test_templates_checked_per_task_type(template, task_type, fault):
    assert fault in template_problem(template, task_type)


def test_qa_template_defaults_valid():
    assert template_problem("zh", "qa") is None
    assert template_problem("Context: {context}\nQ: {question}\nA:", "qa") is None


def test_qa_prompt_cuts_context_keeps_question():
    context = "高静敏出生于1973年，家乡在南京。" * 10
    question = "高静敏出生于哪一年？"
    item = {"question": question, "context": context}
    tokenizer = train_tokenizer([render_prompt("zh", "阅读理解", item)], vocab_size=200, min_frequency=1)

    prompt = fit_prompts(tokenizer, "zh", "阅读理解", [item], max_length=64)[0]

    assert len(tokenizer(prompt)["input_ids"]) <= 64
    assert prompt.startswith("任务类型: 阅读理解\n上下文: 高静敏出生于1973年")
    assert prompt.endswith(f"\n问题: {question}\n输出数据:")
    assert len(prompt) < len(render_prompt("zh", "阅读理解", item))


def test_qa_prompt_question_too_long():
    item = {"question": "高静敏出生于哪一年？" * 10, "context": "高静敏出生于1973年。"}
    tokenizer = train_tokenizer([render_prompt("zh", "阅读理解", item)], vocab_size=200, min_frequency=1)
    short = {"question": "哪一年？", "context": "1973年。"}

    with pytest.raises(QuestionTooLong, match="leaves no room for the context within max_length=40") as err:
        fit_prompts(tokenizer, "zh", "阅读理解", [short, item], max_length=40)

    assert err.value.index == 1


def test_qa_task_with_input_template_rejected(compose_config):
    cfg = compose_config(["task=qa", "router=text_to_text", "router.prompt_template='Text: {input}'"])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    message = str(err.value)
    assert "router.prompt_template: invalid prompt template 'Text: {input}'" in message
    assert "a template with {context} and {question} and optionally {task}" in message


def test_candidate_scores_match_teacher_forcing():
    torch.manual_seed(0)
    sizes = OmegaConf.create(dataclasses.asdict(GeneratorDecoderConfig(
        hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, max_positions=32,
    )))
    generator = Generator(sizes, encoder_size=8, vocab_size=20, bos_token_id=1, eos_token_id=2,
                          pad_token_id=0).eval()
    hidden, mask = torch.randn(3, 5, 8), torch.ones(3, 5, dtype=torch.long)
    candidates = [[5, 6, 7], [9]]

    scores = generator.score_candidates(hidden, mask, candidates)
    mean_scores = generator.score_candidates(hidden, mask, candidates, length_normalize=True)

    assert scores.shape == (3, 2)
    for column, candidate in enumerate(candidates):
        inputs = torch.tensor([[1, *candidate]] * 3)
        labels = torch.tensor([[*candidate, 2]] * 3)
        logits = generator.model(input_ids=inputs, encoder_hidden_states=generator.bridge(hidden),
                                 encoder_attention_mask=mask).logits
        expected = -F.cross_entropy(logits.transpose(1, 2), labels, reduction="none").sum(dim=1)
        torch.testing.assert_close(scores[:, column], expected)
        torch.testing.assert_close(mean_scores[:, column], expected / (len(candidate) + 1))
