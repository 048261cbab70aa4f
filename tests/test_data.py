import json

import pytest
from omegaconf import OmegaConf

from llmagentos.config import TaskConfig, with_defaults
from llmagentos.data import load_raw_task, tokenize_split
from llmagentos.errors import DataError
from llmagentos.tokenizer import train_tokenizer


def task_config(**data):
    return OmegaConf.merge(
        OmegaConf.structured(_plain(TaskConfig)),
        {"type": "classification", "labels": ["正面", "负面"], "decoder": {"type": "classifier"},
         "data": {"format": "jsonl", "train": "train.jsonl", "columns": {"text": "text", "label": "label"}, **data}},
    )


def _plain(schema):
    import dataclasses
    return dataclasses.asdict(schema())


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def good_line(text="这部电影太棒了！", label="正面"):
    return json.dumps({"text": text, "label": label}, ensure_ascii=False)


def test_jsonl_loads_standard_columns(tmp_path):
    write_lines(tmp_path / "train.jsonl", [good_line(), good_line("太差了", "负面")])

    splits, labels = load_raw_task("sentiment", task_config(), tmp_path)

    assert labels == ["正面", "负面"]
    assert splits["train"]["text"] == ["这部电影太棒了！", "太差了"]
    assert splits["train"]["label"] == [0, 1]


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    write_lines(path, [good_line(), good_line(), '{"text": "坏行", "label": "正面"', good_line()])

    with pytest.raises(DataError) as err:
        load_raw_task("sentiment", task_config(), tmp_path)

    assert f"{path}:3: invalid JSON" in str(err.value)


def test_jsonl_line_not_an_object(tmp_path):
    path = tmp_path / "train.jsonl"
    write_lines(path, [good_line(), '["a list"]'])

    with pytest.raises(DataError, match=r"train.jsonl:2: expected a JSON object, got list"):
        load_raw_task("sentiment", task_config(), tmp_path)


def test_tsv_with_extra_field_names_line(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('label\ttext_a\n1\t他说"好"\n0\tbad\textra\n', encoding="utf-8")
    cfg = task_config(format="tsv", train="train.tsv", columns={"text": "text_a", "label": "label"})
    cfg.label_map = {"1": "正面", "0": "负面"}

    with pytest.raises(DataError) as err:
        load_raw_task("sentiment", cfg, tmp_path)

    assert f"{path}:3: 3 fields, but the header has 2" in str(err.value)


def test_tsv_quotes_kept_and_labels_mapped(tmp_path):
    (tmp_path / "train.tsv").write_text('label\ttext_a\n1\t他说"好"\n0\t"bad\n', encoding="utf-8")
    cfg = task_config(format="tsv", train="train.tsv", columns={"text": "text_a", "label": "label"})
    cfg.label_map = {"1": "正面", "0": "负面"}

    splits, _ = load_raw_task("sentiment", cfg, tmp_path)

    assert splits["train"]["text"] == ['他说"好"', '"bad']
    assert splits["train"]["label"] == [0, 1]


def test_missing_file_names_key_and_fix(tmp_path):
    with pytest.raises(DataError) as err:
        load_raw_task("sentiment", task_config(), tmp_path)

    message = str(err.value)
    assert "task.sentiment.data.train: file not found" in message
    assert "data_root=" in message


def test_missing_column_lists_available(tmp_path):
    write_lines(tmp_path / "train.jsonl", [json.dumps({"review": "好", "label": "正面"})])

    with pytest.raises(DataError) as err:
        load_raw_task("sentiment", task_config(), tmp_path)

    message = str(err.value)
    assert "column 'text' not found" in message
    assert "Available columns: review, label" in message
    assert "task.sentiment.data.columns.text=<column>" in message


def test_unknown_label_names_line(tmp_path):
    path = tmp_path / "train.jsonl"
    write_lines(path, [good_line(), "", good_line("一般", "中性")])

    with pytest.raises(DataError) as err:
        load_raw_task("sentiment", task_config(), tmp_path)

    assert f"{path}:3: label '中性' is not one of task.sentiment.labels" in str(err.value)


def test_empty_text_rejected(tmp_path):
    path = tmp_path / "train.jsonl"
    write_lines(path, [good_line(), good_line("   ")])

    with pytest.raises(DataError, match=r"train.jsonl:2: empty 'text'"):
        load_raw_task("sentiment", task_config(), tmp_path)


def test_labels_inferred_when_unlisted(tmp_path):
    write_lines(tmp_path / "train.jsonl", [good_line("a", "pos"), good_line("b", "neg")])
    cfg = task_config()
    cfg.labels = []

    _, labels = load_raw_task("sentiment", cfg, tmp_path)

    assert labels == ["neg", "pos"]


@pytest.mark.parametrize("kind", ["bpe", "wordpiece"])
def test_tokenizer_splits_chinese_and_round_trips(kind):
    texts = ["这部电影太棒了！", "I like apples, and he likes coffee.", "我爱Paris。"] * 20
    tokenizer = train_tokenizer(texts, kind=kind, vocab_size=200, min_frequency=1)

    pieces = tokenizer.tokenize("这部电影")
    assert len(pieces) == 4
    for text in ("I like apples, and he likes coffee.", "我爱Paris。"):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text


def test_tokenized_split_cached(tmp_path):
    write_lines(tmp_path / "train.jsonl", [good_line(), good_line("太差了", "负面")])
    cfg = task_config()
    splits, _ = load_raw_task("sentiment", cfg, tmp_path)
    tokenizer = train_tokenizer(["这部电影太棒了！", "太差了"], vocab_size=100, min_frequency=1)

    first = tokenize_split(splits["train"], cfg, tokenizer, desc="first")
    second = tokenize_split(splits["train"], cfg, tokenizer, desc="second")

    assert first._fingerprint == second._fingerprint
    assert first.cache_files == second.cache_files
    assert first["length"] == [len(ids) for ids in first["input_ids"]]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "the file has no records"),
        ("\n\n  \n", "the file has no records"),
        ('{"text": "a", "text": "b", "label": "正面"}\n', ":1: key 'text' appears twice"),
        ('{"text": {"nested": 1}, "label": "正面"}\n', ":1: 'text' (column 'text') is a dict, not a text"),
    ],
)
def test_bad_jsonl_files(tmp_path, content, message):
    (tmp_path / "train.jsonl").write_text(content, encoding="utf-8")

    with pytest.raises(DataError) as err:
        load_raw_task("sentiment", task_config(), tmp_path)

    assert message in str(err.value)


def test_tsv_header_only_rejected(tmp_path):
    (tmp_path / "train.tsv").write_text("label\ttext_a\n", encoding="utf-8")
    cfg = task_config(format="tsv", train="train.tsv", columns={"text": "text_a", "label": "label"})

    with pytest.raises(DataError, match="the file has a header and no rows"):
        load_raw_task("sentiment", cfg, tmp_path)


def test_unicode_line_separator_inside_text(tmp_path):
    write_lines(tmp_path / "train.jsonl", [good_line("第一句\u2028第二句"), good_line()])

    splits, _ = load_raw_task("sentiment", task_config(), tmp_path)

    assert splits["train"]["text"][0] == "第一句\u2028第二句"


def test_byte_order_mark_accepted(tmp_path):
    (tmp_path / "train.jsonl").write_text("\ufeff" + good_line() + "\n", encoding="utf-8")

    splits, _ = load_raw_task("sentiment", task_config(), tmp_path)

    assert splits["train"]["text"] == ["这部电影太棒了！"]


def test_csv_line_after_multiline_field(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\n"two\nlines",1\nok,0\nbad,1,extra\n', encoding="utf-8")
    cfg = task_config(format="csv", train="train.csv", columns={"text": "text", "label": "label"})

    with pytest.raises(DataError) as err:
        load_raw_task("sentiment", cfg, tmp_path)

    assert f"{path}:5: 3 fields" in str(err.value)


def test_numeric_labels_work(tmp_path):
    write_lines(tmp_path / "train.jsonl", ['{"text": "a", "label": 1}', '{"text": "b", "label": 0}'])
    cfg = task_config()
    cfg.labels = [0, 1]

    splits, labels = load_raw_task("sentiment", cfg, tmp_path)

    assert labels == ["0", "1"]
    assert splits["train"]["label"] == [1, 0]


def test_json_list_of_records(tmp_path):
    records = [{"text": "这部电影太棒了！", "label": "正面"}, {"text": "太差了", "label": "负面"}]
    (tmp_path / "train.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")

    splits, _ = load_raw_task("sentiment", task_config(format="json", train="train.json"), tmp_path)

    assert splits["train"]["text"] == ["这部电影太棒了！", "太差了"]
    assert splits["train"]["label"] == [0, 1]


def test_held_out_validation_keeps_equal_texts_together(tmp_path):
    texts = [f"评论{i % 10}" for i in range(40)]  # every text occurs four times
    write_lines(tmp_path / "train.jsonl", [good_line(t, "正面" if i % 2 else "负面") for i, t in enumerate(texts)])
    cfg = task_config(validation=None, validation_fraction=0.2, validation_seed=1)

    splits, _ = load_raw_task("sentiment", cfg, tmp_path)

    assert len(splits["validation"]) == 8  # two texts of four rows each reach 20% of 40
    assert len(splits["train"]) == 32
    assert not set(splits["train"]["text"]) & set(splits["validation"]["text"])
