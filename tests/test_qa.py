"""Extractive question answering: SQuAD files, windows, span picking, metrics and a short run."""

import dataclasses
import json

import pytest
import torch
from omegaconf import OmegaConf

from llmagentos import LLMAgentOS
from llmagentos.config import TaskConfig, validate_config
from llmagentos.data import hold_out_validation, load_raw_task
from llmagentos.decoder import SpanHead
from llmagentos.errors import ConfigError, DataError
from llmagentos.logger import read_metrics
from llmagentos.metrics import cmrc_f1, qa_scores, squad_f1, squad_normalize
from llmagentos.model import MultiTaskModel
from llmagentos.qa import (
    NO_ANSWER_POSITION,
    SpanCandidate,
    best_window_span,
    encode_windows,
    merge_window_spans,
    pick_best_spans,
)
from llmagentos.squad import read_squad
from llmagentos.tokenizer import pad_inputs, train_tokenizer
from llmagentos.train import train
from tests.conftest import REPO, TINY_ENCODER, TINY_RUN
from tests.squad_data import write_squad

CONTEXT = "Ada Lovelace was born in London in 1815. She wrote the first program for an engine."


def squad_document(answers, context=CONTEXT, question_id="q1"):
    qas = [{"id": question_id, "question": "Where was Ada born?", "answers": answers}]
    return {"data": [{"title": "Ada", "paragraphs": [{"context": context, "qas": qas}]}]}


def write_json(path, document):
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tokenizer():
    texts = [CONTEXT, "Where was Ada born?", "猫坐在门口的垫子上。"] * 20
    return train_tokenizer(texts, vocab_size=300, min_frequency=1)


# -- reading SQuAD files -------------------------------------------------------------------


def test_squad_offsets_recovered_and_counted(tmp_path):
    london = CONTEXT.index("London")
    document = squad_document([
        {"text": "London", "answer_start": london},
        {"text": "London", "answer_start": -1},  # unknown offset: found by search
        {"text": "in London", "answer_start": london},  # wrong offset: found by search
        {"text": "Paris", "answer_start": 3},  # not in the context: dropped
    ])
    second = {"id": "q2", "question": "Who?", "answers": [{"text": "Babbage", "answer_start": -1}]}
    document["data"][0]["paragraphs"][0]["qas"].append(second)

    records, counts = read_squad(write_json(tmp_path / "a.json", document))

    assert (counts.questions, counts.answers) == (2, 5)
    assert counts.recovered == 2
    assert counts.dropped == 2
    assert counts.skipped == 1  # q2 has no usable answer
    assert [r["id"] for r in records] == ["q1"]
    assert records[0]["answers"]["text"] == ["London", "London", "in London"]
    assert records[0]["answers"]["answer_start"] == [london, london, london - 3]
    assert records[0]["article"] == "Ada"


def test_wrong_offset_takes_nearest_occurrence(tmp_path):
    context = "red blue red blue red"
    document = squad_document([{"text": "red", "answer_start": 17}], context=context)

    records, counts = read_squad(write_json(tmp_path / "a.json", document))

    assert records[0]["answers"]["answer_start"] == [18]
    assert counts.recovered == 1


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"data": [\n  {"title": "x",\n}', ":3: invalid JSON"),
        ('{"articles": []}', "data is missing"),
        ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "q", "question": "?", '
         '"answers": [{"text": "a", "answer_start": "0"}]}]}]}]}',
         "data[0].paragraphs[0].qas[0].answers[0].answer_start is '0', expected an integer"),
        ('{"data": [{"paragraphs": [{"context": "  ", "qas": []}]}]}',
         "data[0].paragraphs[0].context is '  ', expected a non-empty string"),
        ('{"data": [{"paragraphs": {"context": "abc"}}]}',
         "data[0].paragraphs is {\"context\": \"abc\"} (dict), expected a list"),
    ],
)
def test_bad_squad_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(DataError) as err:
        read_squad(path)

    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_duplicate_question_id_rejected(tmp_path):
    document = squad_document([{"text": "London", "answer_start": -1}])
    paragraph = document["data"][0]["paragraphs"][0]
    paragraph["qas"].append(dict(paragraph["qas"][0]))

    with pytest.raises(DataError, match=r"qas\[1\].id 'q1' is already used at data\[0\].paragraphs\[0\].qas\[0\]"):
        read_squad(write_json(tmp_path / "a.json", document))


# -- held-out validation -------------------------------------------------------------------


def qa_task_config(**data):
    return OmegaConf.merge(
        OmegaConf.create(dataclasses.asdict(TaskConfig())),
        {"type": "qa", "lang": "en", "decoder": {"type": "span"},
         "data": {"format": "squad", "train": "train.json", **data}},
    )


def test_held_out_split_keeps_articles_apart(tmp_path):
    write_squad(tmp_path / "train.json")
    task = qa_task_config(validation_fraction=0.25, validation_seed=3)

    splits, _ = load_raw_task("toy", task, tmp_path)
    again, _ = load_raw_task("toy", task, tmp_path)

    train_articles = set(splits["train"]["article"])
    validation_articles = set(splits["validation"]["article"])
    assert not train_articles & validation_articles
    assert len(splits["train"]) + len(splits["validation"]) == 36
    assert len(splits["validation"]) == 9  # 3 articles of 3 questions reach 25% of 36
    assert splits["validation"]["id"] == again["validation"]["id"]


def test_held_out_split_needs_two_groups():
    import datasets

    rows = datasets.Dataset.from_dict({"text": ["same", "same", "same"], "label": [0, 1, 0]})

    with pytest.raises(DataError, match="takes all 1 distinct 'text' value"):
        hold_out_validation(rows, "text", 0.2, seed=0)


def test_held_out_limits_apply_after_split(tmp_path):
    write_squad(tmp_path / "train.json")
    task = qa_task_config(validation_fraction=0.25, max_train_examples=5, max_eval_examples=2)

    splits, _ = load_raw_task("toy", task, tmp_path)

    assert (len(splits["train"]), len(splits["validation"])) == (5, 2)
    assert not set(splits["train"]["article"]) & set(splits["validation"]["article"])


def test_toy_qa_preset_loads(compose_config):
    cfg = compose_config(["task=qa"])

    splits, _ = load_raw_task("qa", cfg.task.qa, REPO / "data")

    assert (len(splits["train"]), len(splits["validation"])) == (800, 120)
    assert not set(splits["train"]["article"]) & set(splits["validation"]["article"])
    for record in splits["validation"]:
        start, text = record["answers"]["answer_start"][0], record["answers"]["text"][0]
        assert record["context"][start : start + len(text)] == text


# -- windows and spans ---------------------------------------------------------------------


def window_text(windows, window, context):
    """Context characters covered by a window's labelled answer tokens."""
    offsets = windows["offsets"][window]
    first, last = windows["start_positions"][window], windows["end_positions"][window]
    return context[offsets[first][0] : offsets[last][1]].strip()


def test_windows_cover_long_context(tokenizer):
    context = " ".join([CONTEXT] * 4)
    answer = "first program"
    start = context.index(answer, len(CONTEXT) * 2)  # the occurrence in the third copy

    windows = encode_windows(tokenizer, ["Where was Ada born?"], [context], max_length=40,
                             stride=10, answer_starts=[start], answer_texts=[answer])

    assert len(windows["input_ids"]) > 2
    assert set(windows["example_index"]) == {0}
    assert all(length <= 40 for length in windows["length"])
    labelled = [w for w, first in enumerate(windows["start_positions"]) if first != NO_ANSWER_POSITION]
    assert labelled and labelled[0] >= 1  # not in the first window
    for window in labelled:
        assert window_text(windows, window, context) == answer
    # Question and special tokens have no context offsets.
    assert windows["offsets"][0][0] is None


def test_answer_straddling_window_edge(tokenizer):
    context = " ".join([CONTEXT] * 3)
    question = "Where was Ada born?"
    probe = encode_windows(tokenizer, [question], [context], max_length=32, stride=8)
    first_window = [span for span in probe["offsets"][0] if span is not None]
    # An answer from the last context token of window 0 into the first one past it.
    edge = first_window[-1][0]
    answer_end = probe["offsets"][1][[i for i, s in enumerate(probe["offsets"][1]) if s][0] + 8][1]
    answer = context[edge:answer_end].strip()
    start = context.index(answer, edge - 1)

    windows = encode_windows(tokenizer, [question], [context], max_length=32, stride=8,
                             answer_starts=[start], answer_texts=[answer])

    assert windows["start_positions"][0] == NO_ANSWER_POSITION
    assert windows["end_positions"][0] == NO_ANSWER_POSITION
    assert windows["start_positions"][1] != NO_ANSWER_POSITION
    assert window_text(windows, 1, context) == answer


def test_question_too_long_for_window(tokenizer):
    with pytest.raises(ValueError, match="train with a larger max_length or a smaller stride"):
        encode_windows(tokenizer, ["Where was Ada born? " * 10], [CONTEXT], max_length=32, stride=8)


def test_best_window_span_by_hand():
    offsets = [None, None, [0, 3], [4, 8], [9, 12], None]
    start_logits = [9.0, 0.0, 1.0, 3.0, 0.0, 9.0]
    end_logits = [9.0, 0.0, 0.0, 1.0, 2.5, 9.0]

    best = best_window_span(start_logits, end_logits, offsets, max_answer_length=5)
    short = best_window_span(start_logits, end_logits, offsets, max_answer_length=1)

    # Tokens 3..4 score 3.0 + 2.5; the [CLS] and [SEP] scores are never picked.
    assert best == SpanCandidate(5.5, 4, 12)
    assert short == SpanCandidate(4.0, 4, 8)  # one token: 3.0 + 1.0
    assert best_window_span([1.0, 2.0], [1.0, 2.0], [None, None], 5) is None


def test_merge_takes_best_window_per_example():
    contexts = ["  alpha beta", "gamma"]
    candidates = [SpanCandidate(1.0, 2, 7), SpanCandidate(2.0, 1, 12), None]

    answers = merge_window_spans(candidates, [0, 0, 1], contexts)

    assert (answers[0].text, answers[0].start, answers[0].score) == ("alpha beta", 2, 2.0)
    assert (answers[1].text, answers[1].start) == ("", -1)


def test_pick_best_spans_maps_back_to_characters(tokenizer):
    contexts = [" ".join([CONTEXT] * 3), CONTEXT]
    windows = encode_windows(tokenizer, ["Where was Ada born?"] * 2, contexts, max_length=40, stride=10)
    target = "London"
    logits = []
    for window, offsets in enumerate(windows["offsets"]):
        # Peak on "London" in the last window of example 0 and the only one of example 1.
        start, end = [0.0] * len(offsets), [0.0] * len(offsets)
        example = windows["example_index"][window]
        last_of_example = window == max(i for i, e in enumerate(windows["example_index"]) if e == example)
        for position, span in enumerate(offsets):
            if last_of_example and span and contexts[example][span[0] : span[1]].strip() == target:
                start[position], end[position] = 10.0, 10.0
        logits.append((start, end))

    answers = pick_best_spans(logits, windows, contexts, max_answer_length=8)

    assert [answer.text for answer in answers] == [target, target]
    assert answers[0].start == contexts[0].rindex(target)
    assert answers[1].start == CONTEXT.index(target)


def test_span_head_loss_and_predict():
    torch.manual_seed(0)
    head = SpanHead(OmegaConf.create({"dropout": 0.0}), hidden_size=4)
    hidden = torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])

    loss = head.loss(hidden, mask, torch.tensor([1, 2]), torch.tensor([3, 2]))
    predicted = head.predict(hidden, mask)

    assert loss.ndim == 0
    assert loss.item() > 0
    assert [len(start) for start, _ in predicted] == [5, 3]
    start, end = head.logits(hidden, mask)
    expected = (torch.nn.functional.cross_entropy(start, torch.tensor([1, 2]))
                + torch.nn.functional.cross_entropy(end, torch.tensor([3, 2]))) / 2
    assert loss.item() == pytest.approx(expected.item())


# -- metrics -------------------------------------------------------------------------------


def test_squad_normalization():
    assert squad_normalize("The  Denver Broncos!") == "denver broncos"
    assert squad_normalize("an apple, a pear") == "apple pear"


def test_squad_scores_by_hand():
    predictions = ["Denver Broncos", "the Carolina Panthers team", "1815"]
    references = [["The Denver Broncos", "Broncos"], ["Carolina Panthers"], ["1816"]]

    scores = qa_scores(predictions, references, "en")

    # F1: 1.0; precision 2/3, recall 1 -> 0.8; 0. EM: 1, 0, 0.
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1.0 + 0.8 + 0.0) / 3)


def test_squad_f1_multiset_overlap():
    # Shared tokens as a multiset: "red" twice in the prediction, once in the gold answer.
    assert squad_f1("red red car", "red car") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))


def test_cmrc_scores_by_hand():
    predictions = ["光荣和ω公司", "1815年，", "北京"]
    references = [["光荣和ω-force"], ["1815年"], ["上海", "北京市"]]

    scores = qa_scores(predictions, references, "zh")

    # 1: segments 光 荣 和 ωforce vs 光 荣 和 ω 公 司: run of 3, p 3/6, r 3/4 -> 0.6.
    # 2: "，" is removed, so both are 1815 年: EM and F1 1.
    # 3: 北 京 vs 北 京 市: p 1, r 2/3 -> 0.8, and 0 against 上海.
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (0.6 + 1.0 + 0.8) / 3)


def test_cmrc_f1_uses_longest_contiguous_run():
    # 甲乙丙丁 against 甲乙X丙丁: the longest shared run is 甲乙 (2), not all 4 characters.
    assert cmrc_f1("甲乙X丙丁", "甲乙丙丁") == pytest.approx(2 * (2 / 5) * (2 / 4) / (2 / 5 + 2 / 4))


def test_qa_scores_reject_question_without_gold():
    with pytest.raises(ValueError, match="question 0 has no gold answer"):
        qa_scores(["a"], [[]], "en")


# -- config --------------------------------------------------------------------------------


def test_qa_config_problems_listed(compose_config):
    cfg = compose_config([
        "task=squad", "task.squad.lang=null", "task.squad.stride=400",
        "task.squad.data.validation=x.json", "task.squad.data.validation_fraction=1.5",
    ])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    message = str(err.value)
    assert "task.squad.lang: missing" in message
    assert "task.squad.stride=400 must be below task.squad.max_length=384" in message
    assert "validation_fraction: must be between 0 and 1, got 1.5" in message
    assert "is set together with task.squad.data.validation='x.json'" in message


def test_squad_format_only_for_qa(compose_config):
    cfg = compose_config(["task=classification", "task.classification.data.format=squad"])

    with pytest.raises(ConfigError, match="a qa task reads SQuAD-format JSON files"):
        validate_config(cfg)


# -- training ------------------------------------------------------------------------------


def squad_run_overrides(data_root, *extra):
    return [
        "task=squad", f"data_root={data_root}", *TINY_ENCODER, *TINY_RUN,
        "task.squad.max_length=48", "task.squad.stride=16",
        "task.squad.data.validation_fraction=0.25", *extra,
    ]


def test_qa_run_scores_and_reloads(compose_config, tmp_path):
    write_squad(tmp_path / "data" / "squad_v1.1" / "dev-v1.1.json")

    final = train(compose_config(squad_run_overrides(tmp_path / "data")), tmp_path / "run")

    records = read_metrics(tmp_path / "run")
    evaluations = [r for r in records if r["split"] == "validation" and r.get("task") == "squad"]
    assert [r["step"] for r in evaluations] == [3, 6]
    assert {"exact_match", "f1"} <= set(evaluations[-1])
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["tasks"]["squad"]["f1"] == final["squad"]["f1"]
    assert 0.0 <= final["squad"]["exact_match"] <= final["squad"]["f1"] <= 100.0
    predictions = json.loads((tmp_path / "run" / "predictions" / "squad.json").read_text(encoding="utf-8"))
    assert len(predictions) == 9  # the held-out questions, by id
    assert all(isinstance(text, str) for text in predictions.values())

    # The saved model rebuilds its span head and answers raw questions.
    model = MultiTaskModel.from_pretrained(tmp_path / "run" / "model")
    spec = model.spec["tasks"]["squad"]
    assert isinstance(model.router.decoders["squad"], SpanHead)
    assert (spec["lang"], spec["max_length"], spec["stride"]) == ("en", 48, 16)
    contexts = [" ".join([CONTEXT] * 3)]
    windows = encode_windows(model.tokenizer, ["Where was Ada born?"], contexts,
                             spec["max_length"], spec["stride"])
    batch = pad_inputs(windows["input_ids"], model.tokenizer.pad_token_id)
    logits = model.predict_batch("squad", batch["input_ids"], batch["attention_mask"])
    answers = pick_best_spans(logits, windows, contexts, spec["max_answer_length"])
    assert len(windows["input_ids"]) > 1
    assert len(answers) == 1
    assert answers[0].text and answers[0].text in contexts[0]
    assert contexts[0][answers[0].start :].startswith(answers[0].text)

    # The public API gives the same answer, by alias, for one input or a list.
    api = LLMAgentOS.from_pretrained(tmp_path / "run")
    question = {"question": "Where was Ada born?", "context": contexts[0]}
    assert api.predict("问答", question) == answers[0].text
    assert api.predict("question answering", [question, question]) == [answers[0].text] * 2
    with pytest.raises(ValueError, match=r'input 0 must be a \{"question": ..., "context": ...\} object'):
        api.predict("squad", "Where was Ada born?")
    with pytest.raises(ValueError, match="input 1 context is empty"):
        api.predict("squad", [question, {"question": "Who?", "context": " "}])
    with pytest.raises(ValueError, match="Shorten the question to at most"):
        api.predict("squad", {"question": "Where was Ada born? " * 20, "context": contexts[0]})


def test_qa_loss_falls_on_fixed_seed(compose_config, tmp_path):
    write_squad(tmp_path / "data" / "squad_v1.1" / "dev-v1.1.json")
    overrides = squad_run_overrides(
        tmp_path / "data", "trainer.max_steps=30", "trainer.log_every=10", "trainer.eval_every=1000",
        "trainer.checkpoint_every=1000", "optimizer.lr=2e-3", "scheduler.num_warmup_steps=5",
    )

    train(compose_config(overrides), tmp_path / "run")

    losses = [r["loss"] for r in read_metrics(tmp_path / "run")
              if r["split"] == "train" and r.get("task") == "squad"]
    assert len(losses) == 3
    assert losses[-1] < 0.8 * losses[0], f"loss did not fall: {losses}"


# -- generative question answering in the prompt modes ------------------------------------


@pytest.mark.parametrize(
    "mode, extra",
    [("text_to_text", []), ("text_to_text", ["router.decoder.reads_prompt=true"]), ("decoder_only", [])],
    ids=["text_to_text", "reads_prompt", "decoder_only"],
)
def test_generative_qa_run_scores_and_predicts(compose_config, tmp_path, caplog, mode, extra):
    caplog.set_level("INFO", logger="llmagentos.trainer")
    overrides = [
        "task=qa", f"router={mode}", *extra, *TINY_ENCODER, *TINY_RUN,
        "router.decoder.hidden_size=32", "router.decoder.num_layers=1", "router.decoder.num_heads=2",
        "router.decoder.intermediate_size=64", "router.decoder.max_positions=200",
        "task.qa.max_length=64", "task.qa.max_target_length=16", "task.qa.generation.max_new_tokens=8",
        "task.qa.data.max_train_examples=200", "task.qa.data.max_eval_examples=12",
    ]

    final = train(compose_config(overrides), tmp_path / "run")

    assert 0.0 <= final["qa"]["exact_match"] <= final["qa"]["f1"] <= 100.0
    predictions = json.loads((tmp_path / "run" / "predictions" / "qa.json").read_text(encoding="utf-8"))
    assert len(predictions) == 12
    assert "training questions dropped, because their answer lies beyond" in caplog.text
    spec = json.loads((tmp_path / "run" / "model" / "llmagentos.json").read_text(encoding="utf-8"))
    assert "{context}" in spec["tasks"]["qa"]["prompt"]["template"]

    api = LLMAgentOS.from_pretrained(tmp_path / "run")
    question = {"question": "高静敏毕业于哪所大学？", "context": "高静敏毕业于四川大学，后来成为一名飞行员。"}
    answer = api.predict("问答", question, max_new_tokens=4)
    assert isinstance(answer, str)
    assert api.predict("qa", [question, question], max_new_tokens=4) == [answer, answer]
    with pytest.raises(ValueError, match="leaves no room for the context within max_length=64"):
        api.predict("qa", {"question": "高静敏毕业于哪所大学？" * 8, "context": "四川大学。"})


@pytest.mark.parametrize("reads_prompt", [False, True])
def test_answer_cut_off_found_only_in_context(tokenizer, reads_prompt):
    """An answer beyond the cut counts as lost even where the question or the template
    contain the same words."""
    import datasets

    from llmagentos.data import TaskPrompt, tokenize_split
    from llmagentos.prompt import resolve_template

    filler = "The museum opened in spring. " * 8
    late = filler + CONTEXT + " Its Output was a table."  # every answer lies past the filler
    rows = [  # (question, context, answer)
        ("Was Ada born in London?", late, "London"),  # also in the question
        ("What was its product?", late, "Output"),  # also in the template
        ("Where was Ada born?", late, "London"),  # nowhere else
        ("Who was born in London?", CONTEXT + " " + filler, "Ada"),  # at the start: kept
    ]
    starts = [context.index(answer, len(filler) if context is late else 0) for _, context, answer in rows]
    dataset = datasets.Dataset.from_dict({
        "id": [f"q{row}" for row in range(4)],
        "question": [question for question, _, _ in rows],
        "context": [context for _, context, _ in rows],
        "answers": [{"text": [answer], "answer_start": [start]} for (_, _, answer), start in zip(rows, starts)],
    })
    task = OmegaConf.create({"type": "qa", "max_length": 96, "max_target_length": 8, "stride": 16})
    prompt = TaskPrompt(resolve_template("en", "qa"), "Question Answering")

    tokenized = tokenize_split(dataset, task, tokenizer, "test", prompt=prompt, reads_prompt=reads_prompt)

    assert tokenized["answer_in_prompt"] == [False, False, False, True]
    assert ("generator_prompt_ids" in tokenized.column_names) == reads_prompt


def test_long_question_error_names_file(compose_config, tmp_path):
    document = squad_document([{"text": "London", "answer_start": CONTEXT.index("London")}])
    document["data"][0]["paragraphs"][0]["qas"][0]["question"] = "Where was Ada born? " * 30
    path = write_json(tmp_path / "long.json", document)
    overrides = ["task=qa", *TINY_ENCODER, *TINY_RUN, f"data_root={tmp_path}", "task.qa.data.train=long.json",
                 "task.qa.data.validation=long.json", "task.qa.max_length=48", "task.qa.stride=16"]

    with pytest.raises(DataError) as err:
        train(compose_config(overrides), tmp_path / "run")

    assert f"task.qa.data.train ({path})" in str(err.value)
    assert "question id 'q1'" in str(err.value)


def test_generative_qa_loss_falls(compose_config, tmp_path):
    overrides = [
        "task=qa", "router=text_to_text", *TINY_ENCODER, *TINY_RUN,
        "router.decoder.hidden_size=32", "router.decoder.num_layers=1", "router.decoder.num_heads=2",
        "router.decoder.intermediate_size=64", "task.qa.max_length=128", "task.qa.max_target_length=16",
        "trainer.max_steps=40", "trainer.log_every=10", "trainer.eval_every=1000",
        "trainer.checkpoint_every=1000", "optimizer.lr=2e-3", "scheduler.num_warmup_steps=4",
    ]

    train(compose_config(overrides), tmp_path / "run")

    losses = [r["loss"] for r in read_metrics(tmp_path / "run") if r["split"] == "train" and r.get("task") == "qa"]
    assert len(losses) == 4
    assert losses[-1] < 0.8 * losses[0], f"loss did not fall: {losses}"
