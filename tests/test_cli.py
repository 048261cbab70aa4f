"""The command lines users type, run as subprocesses from the repository root."""

import json
import shutil
import socket
import sys

import pytest
import torch

from tests.conftest import REPO, TINY_ENCODER, TINY_RUN, run_cli, tiny_task
from tests.squad_data import write_squad

BOTH = ["classification", "translation"]


def shrink(tasks):
    out = [*TINY_ENCODER, *TINY_RUN]
    for name in tasks:
        out += tiny_task(name)
    return out


def test_main_command(tmp_path):
    result = run_cli(
        ["task=classification+translation", *shrink(BOTH), f"hydra.run.dir={tmp_path}"], cwd=REPO
    )

    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["tasks"]) == set(BOTH)
    assert (tmp_path / ".hydra" / "config.yaml").is_file()
    assert "1 process(es)" in result.stderr + result.stdout


def test_multirun_starts_three_jobs(tmp_path):
    # Overrides shared by all three jobs must exist in each, so only task-independent ones.
    result = run_cli(
        ["-m", "task=classification,translation,classification+translation",
         *TINY_ENCODER, *TINY_RUN, "trainer.max_steps=2", "trainer.eval_every=1000",
         "trainer.checkpoint_every=1000", f"hydra.sweep.dir={tmp_path}"],
        cwd=REPO, timeout=600,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted(p for p in tmp_path.iterdir() if (p / "results.json").is_file())
    assert len(runs) == 3
    tasks = [set(json.loads((run / "results.json").read_text())["tasks"]) for run in runs]
    assert {"classification"} in tasks
    assert {"translation"} in tasks
    assert set(BOTH) in tasks


def test_unknown_task_lists_available(tmp_path):
    result = run_cli(["task=sentiment", f"hydra.run.dir={tmp_path}"], cwd=REPO)

    assert result.returncode == 1
    assert "Could not find 'task/sentiment'" in result.stderr
    assert "classification+translation" in result.stderr


def test_unknown_task_in_list_lists_available(tmp_path):
    result = run_cli(["task=[classification,sentiment]", f"hydra.run.dir={tmp_path}"], cwd=REPO)

    assert result.returncode == 1
    assert "no task config named 'sentiment'" in result.stderr
    assert "Available tasks: " in result.stderr
    assert "classification+translation" in result.stderr
    assert not any(tmp_path.iterdir())


def test_config_error_is_one_message(tmp_path):
    result = run_cli(
        ["task=classification", "data.sampler=random", "+trainer.max_stesp=3",
         f"hydra.run.dir={tmp_path}"],
        cwd=REPO,
    )

    assert result.returncode == 1
    assert "invalid config, 2 problem(s)" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_data_line_reported(tmp_path):
    data = tmp_path / "data" / "sentiment"
    data.mkdir(parents=True)
    lines = (REPO / "data" / "sentiment" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:20]
    lines[6] = lines[6][:-1]  # drop the closing brace of line 7
    (data / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copy(REPO / "data" / "sentiment" / "validation.jsonl", data / "validation.jsonl")

    result = run_cli(
        ["task=classification", f"data_root={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO,
    )

    assert result.returncode == 1
    assert f"{data / 'train.jsonl'}:7: invalid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def free_port() -> int:
    """Return a TCP port that is free now, so that test suites run side by side never
    join each other's process groups through a shared fixed port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launcher(name: str) -> list[str]:
    if name == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_port", str(free_port()), "-m"]
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_processes", "2", "--main_process_port", str(free_port()), "-m"]


LAUNCHERS = ("torchrun", "accelerate")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU (gloo) path")
@pytest.mark.parametrize("name", LAUNCHERS)
def test_two_processes_on_cpu(tmp_path, name):
    result = run_cli(
        ["task=classification+translation", *shrink(BOTH), f"output_dir={tmp_path}",
         f"hydra.run.dir={tmp_path}"],
        cwd=REPO, timeout=600, launcher=launcher(name),
    )

    output = result.stderr + result.stdout
    assert result.returncode == 0, output[-4000:]
    assert "2 process(es)" in output
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["tasks"]) == set(BOTH)
    # Both processes' batches are counted: 6 steps x 2 processes x 8 examples.
    seen = sum(task["examples_seen"] for task in results["tasks"].values())
    assert seen == 6 * 2 * 8


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU (gloo) path")
def test_two_processes_text_to_text(tmp_path):
    result = run_cli(
        ["task=classification+translation", "router=text_to_text", *shrink(BOTH),
         "router.decoder.hidden_size=32", "router.decoder.num_layers=1", "router.decoder.num_heads=2",
         "router.decoder.intermediate_size=64", f"hydra.run.dir={tmp_path}"],
        cwd=REPO, timeout=300, launcher=launcher("torchrun"),
    )

    output = result.stderr + result.stdout
    assert result.returncode == 0, output[-4000:]
    assert "2 process(es)" in output
    results = json.loads((tmp_path / "results.json").read_text())
    assert {"accuracy", "bleu"} <= set(results["tasks"]["classification"]) | set(results["tasks"]["translation"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU (gloo) path")
def test_two_process_qa_scores_match_one_process(tmp_path):
    from omegaconf import OmegaConf

    from llmagentos.data import load_raw_task
    from llmagentos.metrics import qa_scores
    from llmagentos.model import MultiTaskModel
    from llmagentos.qa import encode_windows, pick_best_spans
    from llmagentos.trainer import pad_inputs

    write_squad(tmp_path / "data" / "squad_v1.1" / "dev-v1.1.json")
    result = run_cli(
        ["task=squad", f"data_root={tmp_path / 'data'}", *TINY_ENCODER, *TINY_RUN,
         "task.squad.max_length=48", "task.squad.stride=16",
         "task.squad.data.validation_fraction=0.25", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO, timeout=600, launcher=launcher("torchrun"),
    )
    output = result.stderr + result.stdout
    assert result.returncode == 0, output[-4000:]
    assert "2 process(es)" in output

    # Score the saved model on the held-out questions in this one process.
    cfg = OmegaConf.load(tmp_path / "run" / "config.yaml")
    examples = load_raw_task("squad", cfg.task.squad, tmp_path / "data")[0]["validation"]
    model = MultiTaskModel.from_pretrained(tmp_path / "run" / "model")
    windows = encode_windows(model.tokenizer, examples["question"], examples["context"], 48, 16)
    batch = pad_inputs(windows["input_ids"], model.tokenizer.pad_token_id)
    logits = model.predict_batch("squad", batch["input_ids"], batch["attention_mask"])
    answers = pick_best_spans(logits, windows, examples["context"], cfg.task.squad.max_answer_length)
    expected = qa_scores([a.text for a in answers], [g["text"] for g in examples["answers"]], "en")
    saved = json.loads((tmp_path / "run" / "predictions" / "squad.json").read_text(encoding="utf-8"))
    assert saved == {id_: answer.text for id_, answer in zip(examples["id"], answers)}
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["tasks"]["squad"]["exact_match"] == pytest.approx(expected["exact_match"])
    assert results["tasks"]["squad"]["f1"] == pytest.approx(expected["f1"])


def test_malformed_squad_file_reported(tmp_path):
    path = tmp_path / "data" / "squad_v1.1" / "dev-v1.1.json"
    write_squad(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["data"][2]["paragraphs"][0]["qas"][1]["answers"][0]["answer_start"] = "12"
    path.write_text(json.dumps(document), encoding="utf-8")

    result = run_cli(
        ["task=squad", f"data_root={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO,
    )

    assert result.returncode == 1
    assert f"{path}: data[2].paragraphs[0].qas[1].answers[0].answer_start is '12'" in result.stderr
    assert "Traceback" not in result.stderr


def test_failed_job_does_not_stop_sweep(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(REPO / "data" / "translation", data / "translation")  # no sentiment data

    result = run_cli(
        ["-m", "task=classification,translation", f"data_root={data}", *TINY_ENCODER, *TINY_RUN,
         "trainer.max_steps=2", "trainer.eval_every=1000",
         f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=REPO,
    )

    assert result.returncode == 1
    assert "sentiment/train.jsonl" in result.stderr
    assert not (tmp_path / "sweep" / "0" / "results.json").exists()
    assert (tmp_path / "sweep" / "1" / "results.json").is_file()
