import io
import json
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

from llmagentos import LLMAgentOS
from llmagentos.predict import main as predict_main
from llmagentos.train import CONFIG_DIR, train
from tests.conftest import REPO, TINY_ENCODER, TINY_RUN, tiny_task


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run on the shipped data, trained long enough to get the easy sentences right."""
    folder = tmp_path_factory.mktemp("run")
    overrides = [
        "task=classification+translation", *TINY_ENCODER, *TINY_RUN, *tiny_task("translation"),
        "encoder.hidden_size=64", "encoder.num_layers=2", "encoder.intermediate_size=128",
        "trainer.max_steps=400", "trainer.eval_every=1000", "trainer.checkpoint_every=1000",
        "optimizer.lr=2e-3", "scheduler.num_warmup_steps=10", "data.batch_size=16",
        "task.classification.data.max_eval_examples=24",
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.getbasetemp() / "hf_datasets_cache"))
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            train(compose(config_name="train", overrides=overrides), folder)
    return folder


@pytest.fixture(scope="module")
def model(run_dir):
    return LLMAgentOS.from_pretrained(run_dir)


def test_predicts_by_alias_and_by_name(model):
    assert model.predict("文本分类", "这部电影太棒了！") == "正面"
    assert model.predict("classification", ["这部电影太让人失望了。", "I really loved this book."]) == [
        "负面", "正面",
    ]
    translations = model.predict("机器翻译", ["我爱你。", "谢谢！"], max_new_tokens=8)
    assert len(translations) == 2
    assert all(isinstance(t, str) for t in translations)
    assert model.predict("translation", "我爱你。", max_new_tokens=8) == translations[0]


def test_lists_come_back_in_input_order(model):
    texts = ["这部电影太让人失望了，真后悔。", "好", "The room was not disappointing at all, I liked it a lot."]
    one_by_one = [model.predict("文本分类", text) for text in texts]
    assert model.predict("文本分类", texts, batch_size=2) == one_by_one
    assert model.predict("文本分类", []) == []


def test_task_names_are_listed_and_checked(model):
    assert "文本分类" in model.tasks["classification"]
    assert "机器翻译" in model.tasks["translation"]
    assert model.resolve_task("Text Classification") == "classification"
    assert model.resolve_task("Translation") == "translation"
    with pytest.raises(KeyError, match=r"unknown task '问答'.*classification: "):
        model.predict("问答", "text")
    with pytest.raises(ValueError, match="input 1 is empty"):
        model.predict("文本分类", ["好", " "])
    with pytest.raises(ValueError, match="input 0 is a int"):
        model.predict("文本分类", [3])


def test_shared_alias_is_ambiguous(model):
    spec = model.model.spec["tasks"]
    spec["translation"]["aliases"] = [*spec["translation"]["aliases"], "sentiment"]
    try:
        with pytest.raises(KeyError, match="ambiguous: tasks classification, translation"):
            model.predict("sentiment", "好")
    finally:
        spec["translation"]["aliases"].remove("sentiment")


def test_unfinished_run_folder_is_explained(tmp_path):
    (tmp_path / "config.yaml").write_text("seed: 0\n")
    with pytest.raises(FileNotFoundError, match="training has not finished"):
        LLMAgentOS.from_pretrained(tmp_path)


def predict_cli(capsys, monkeypatch, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run the predict command in this process (a subprocess would reload torch each time)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8"))
    code = predict_main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_command_runs_as_a_module(run_dir):
    result = subprocess.run(
        [sys.executable, "-m", "llmagentos.predict", str(run_dir), "--task", "文本分类", "--text", "这部电影太棒了！"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"text": "这部电影太棒了！", "prediction": "正面"}


def test_predict_command_reads_file_and_stdin(run_dir, tmp_path, capsys, monkeypatch):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"text": "我爱你。", "id": 7}\n\n"谢谢！"\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, _, err = predict_cli(capsys, monkeypatch, str(run_dir / "model"), "--task", "机器翻译",
                               "--input", str(inputs), "--output", str(out), "--max-new-tokens", "8")
    assert code == 0, err
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in records] == ["我爱你。", "谢谢！"]
    assert records[0]["id"] == 7
    assert all(isinstance(r["prediction"], str) for r in records)

    code, piped, err = predict_cli(capsys, monkeypatch, str(run_dir), "--task", "translation",
                                   "--max-new-tokens", "8", stdin=inputs.read_text(encoding="utf-8"))
    assert code == 0, err
    assert [json.loads(line) for line in piped.splitlines()] == records

    code, _, err = predict_cli(capsys, monkeypatch, str(run_dir), "--task", "机器翻译",
                               "--input", str(inputs), "--output", str(out))
    assert code == 2
    assert "already exists" in err


def test_predict_command_reports_bad_input(run_dir, tmp_path, capsys, monkeypatch):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"text": "好"}\n{"text": 5}\n', encoding="utf-8")
    code, _, err = predict_cli(capsys, monkeypatch, str(run_dir), "--task", "文本分类", "--input", str(inputs))
    assert code == 2
    assert f'{inputs}:2: expected a JSON object with non-empty text in "text"' in err

    code, _, err = predict_cli(capsys, monkeypatch, str(run_dir), "--task", "问答", "--text", "好")
    assert code == 2
    assert "unknown task '问答'" in err

    code, _, err = predict_cli(capsys, monkeypatch, str(tmp_path), "--task", "文本分类", "--text", "好")
    assert code == 2
    assert "no saved LLMAgentOS model" in err


def test_inference_imports_nothing_of_training():
    code = (
        "import sys; from llmagentos import LLMAgentOS; "
        "print(sorted(m for m in ('hydra', 'wandb', 'tensorboard', 'llmagentos.trainer', "
        "'llmagentos.train', 'llmagentos.data') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_server_answers_and_survives_bad_requests(model):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from llmagentos.serve import create_app

    with TestClient(create_app(model)) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok"
        assert "文本分类" in health["tasks"]["classification"]

        one = client.post("/predict", json={"task": "文本分类", "inputs": "这部电影太棒了！"})
        assert one.status_code == 200
        assert one.json() == {"task": "classification", "predictions": "正面"}
        many = client.post("/predict", json={"task": "机器翻译", "inputs": ["我爱你。"], "max_new_tokens": 8})
        assert many.status_code == 200
        assert len(many.json()["predictions"]) == 1

        unknown = client.post("/predict", json={"task": "问答", "inputs": "好"})
        assert unknown.status_code == 400
        assert "unknown task '问答'" in unknown.json()["detail"]
        empty = client.post("/predict", json={"task": "文本分类", "inputs": ["好", ""]})
        assert empty.status_code == 400
        assert "input 1 is empty" in empty.json()["detail"]
        beams = client.post("/predict", json={"task": "机器翻译", "inputs": "我爱你。", "num_beams": 9})
        assert beams.status_code == 400
        assert "num_beams=9 exceeds this server's maximum of 8" in beams.json()["detail"]
        huge = client.post("/predict", json={"task": "文本分类", "inputs": ["好" * 60_000, "差" * 60_000]})
        assert huge.status_code == 400
        assert "the inputs hold 120000 characters, more than this server's maximum of 100000" in huge.json()["detail"]
        malformed = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
        assert malformed.status_code == 422
        missing = client.post("/predict", json={"inputs": "好"})
        assert missing.status_code == 422
        assert "task" in str(missing.json()["detail"])

        again = client.post("/predict", json={"task": "classification", "inputs": ["这部电影太棒了！"]})
        assert again.status_code == 200
        assert again.json()["predictions"] == ["正面"]


def test_concurrent_requests_share_a_batch(model):
    pytest.importorskip("fastapi")
    import asyncio

    from llmagentos.serve import Batcher

    texts = ["这部电影太棒了！", "这部电影太让人失望了。", "I really loved this book."]

    async def scenario():
        batcher = Batcher(model, max_batch_size=8, max_wait_s=0.5)
        worker = asyncio.create_task(batcher.run())
        answers = await asyncio.gather(*(batcher.predict(model.prepare("classification", [t])) for t in texts))
        translation = await batcher.predict(model.prepare("translation", ["我爱你。"], max_new_tokens=8))
        worker.cancel()
        return answers, translation, batcher.batches

    answers, translation, batches = asyncio.run(scenario())
    assert answers == [[model.predict("classification", t)] for t in texts]
    assert len(translation) == 1
    assert batches == 2  # the three classification requests ran as one batch


class FailsOnMarker:
    """Wraps a model so that a batch holding the text "boom" fails, as a bad input the
    checks could not catch would."""

    def __init__(self, model):
        self.model = model

    def run(self, task, items, generation, batch_size):
        if "boom" in items:
            raise ValueError("boom cannot be predicted")
        return self.model.run(task, items, generation, batch_size)


def test_failing_request_fails_alone(model):
    pytest.importorskip("fastapi")
    import asyncio

    from llmagentos.serve import Batcher

    async def scenario():
        batcher = Batcher(FailsOnMarker(model), max_batch_size=8, max_wait_s=0.5)
        worker = asyncio.create_task(batcher.run())
        outcomes = await asyncio.gather(
            batcher.predict(model.prepare("classification", ["这部电影太棒了！"])),
            batcher.predict(model.prepare("classification", ["boom"])),
            return_exceptions=True,
        )
        worker.cancel()
        return outcomes

    good, bad = asyncio.run(scenario())
    assert good == ["正面"]
    assert isinstance(bad, ValueError)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.predict("机器翻译", "我爱你。", num_beams=0), "num_beams must be a whole number of at least 1"),
    (lambda m: m.predict("机器翻译", "我爱你。", max_new_tokens=100000), "exceeds the 255 tokens"),
    (lambda m: m.predict("文本分类", "好", batch_size=0), "batch_size must be a whole number"),
    (lambda m: m.predict("文本分类", 5), "inputs must be one input"),
    (lambda m: m.predict("文本分类", b"abc"), "inputs must be one input"),
    (lambda m: m.predict("文本分类", "\ud800"), "input 0 is not valid Unicode"),
])
def test_bad_settings_and_inputs_are_value_errors(model, call, message):
    with pytest.raises(ValueError, match=message):
        call(model)


def test_task_must_be_a_name(model):
    with pytest.raises(KeyError, match="the task must be a name"):
        model.predict(None, "好")


def test_server_rejects_settings_it_cannot_run(model):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from llmagentos.serve import create_app

    with TestClient(create_app(model)) as client:
        too_long = client.post("/predict", json={"task": "机器翻译", "inputs": "我爱你", "max_new_tokens": 100000})
        # A lone surrogate written as a JSON escape, which is valid JSON but not valid text.
        surrogate = client.post("/predict", content=b'{"task": "translation", "inputs": "\\ud800"}',
                                headers={"content-type": "application/json"})
        fine = client.post("/predict", json={"task": "文本分类", "inputs": "这部电影太棒了！"})
        as_text = client.post("/predict", json={"task": "机器翻译", "inputs": "我爱你", "num_beams": "4"})

    assert too_long.status_code == 400
    assert as_text.status_code == 422
    assert "max_new_tokens=100000 exceeds" in too_long.json()["detail"]
    assert surrogate.status_code == 400
    assert fine.json()["predictions"] == "正面"


def test_predict_command_input_problems(run_dir, tmp_path, capsys, monkeypatch):
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"text": "ok"}\n\xff\xfe bad bytes\n')
    code, _, err = predict_cli(capsys, monkeypatch, str(run_dir), "--task", "文本分类", "--input", str(binary))
    assert code == 2
    assert f"{binary}:2: not valid UTF-8" in err

    monkeypatch.setattr(sys, "stdin", None)
    code = predict_main([str(run_dir), "--task", "文本分类"])
    assert code == 2
    assert "no input" in capsys.readouterr().err

    blocked = tmp_path / "file"
    blocked.write_text("")
    code, _, err = predict_cli(capsys, monkeypatch, str(run_dir), "--task", "文本分类", "--text", "好",
                               "--output", str(blocked / "out.jsonl"))
    assert code == 2
    assert "error:" in err

    with pytest.raises(SystemExit):
        predict_main([str(run_dir), "--task", "文本分类", "--text", "好", "--batch-size", "0"])
    assert "out of range" in capsys.readouterr().err
