"""Loaders and a short run on the published files in ../shared/data (opt in: -m real_data)."""

import pytest

from llmagentos.data import load_raw_task
from llmagentos.qa import NO_ANSWER_POSITION, encode_windows
from llmagentos.squad import read_squad
from llmagentos.tokenizer import train_tokenizer
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


QA_FILES = {"cmrc2018": "cmrc2018/cmrc2018_dev.json", "squad": "squad_v1.1/dev-v1.1.json"}


@pytest.mark.parametrize(
    "name, counts",
    [
        # 193 CMRC answers have answer_start -1 and texts absent from the context; 7 more
        # have wrong offsets and are found by search. No question loses all its answers.
        ("cmrc2018", (3219, 9657, 7, 193, 0)),
        ("squad", (10570, 34726, 0, 0, 0)),
    ],
)
def test_qa_file_offsets_repaired(name, counts):
    records, found = read_squad(SHARED_DATA / QA_FILES[name])

    assert (found.questions, found.answers, found.recovered, found.dropped, found.skipped) == counts
    assert len(records) == counts[0] - counts[4]
    for record in records:
        for text, start in zip(record["answers"]["text"], record["answers"]["answer_start"]):
            assert record["context"][start : start + len(text)] == text, record["id"]


@pytest.mark.parametrize("name, sizes", [("cmrc2018", (2893, 326)), ("squad", (8988, 1582))])
def test_qa_presets_hold_out_whole_articles(compose_config, name, sizes):
    cfg = compose_config([f"task={name}"])

    splits, _ = load_raw_task(name, cfg.task[name], SHARED_DATA)

    assert (len(splits["train"]), len(splits["validation"])) == sizes
    assert not set(splits["train"]["article"]) & set(splits["validation"]["article"])
    assert not set(splits["train"]["context"]) & set(splits["validation"]["context"])


@pytest.mark.parametrize("name", ["cmrc2018", "squad"])
def test_qa_windows_label_real_answers(name):
    records, _ = read_squad(SHARED_DATA / QA_FILES[name])
    contexts = [r["context"] for r in records]
    texts = list(dict.fromkeys(contexts)) + [r["question"] for r in records]
    tokenizer = train_tokenizer(texts, vocab_size=8000, min_frequency=2)
    answers = [r["answers"]["text"][0] for r in records]

    windows = encode_windows(
        tokenizer, [r["question"] for r in records], contexts, max_length=384, stride=128,
        answer_starts=[r["answers"]["answer_start"][0] for r in records], answer_texts=answers,
    )

    labelled = [w for w, first in enumerate(windows["start_positions"]) if first != NO_ANSWER_POSITION]
    assert {windows["example_index"][w] for w in labelled} == set(range(len(records)))
    matches = 0
    for w in labelled:
        example, offsets = windows["example_index"][w], windows["offsets"][w]
        first, last = windows["start_positions"][w], windows["end_positions"][w]
        matches += contexts[example][offsets[first][0] : offsets[last][1]].strip() == answers[example].strip()
    # A labelled span is wider than its answer where a token runs past the answer's edge:
    # 15 of 10,671 SQuAD windows with this vocabulary, such as "four" inside "fourth".
    assert matches >= 0.998 * len(labelled)


def test_short_qa_run(compose_config, tmp_path):
    overrides = [
        "task=cmrc2018", f"data_root={SHARED_DATA}", *TINY_ENCODER, *TINY_RUN,
        "task.cmrc2018.data.max_train_examples=240", "task.cmrc2018.data.max_eval_examples=24",
        "task.cmrc2018.max_length=128", "task.cmrc2018.stride=32",
    ]

    final = train(compose_config(overrides), tmp_path)

    assert {"exact_match", "f1"} <= set(final["cmrc2018"])
