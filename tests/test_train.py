import json

import pytest
import torch
from safetensors.torch import load_file

from llmagentos.logger import read_metrics
from llmagentos.model import MultiTaskModel
from llmagentos.train import train
from tests.conftest import REPO, save_tiny_bert, save_tiny_gpt2, tiny_overrides

BOTH = ["classification", "translation"]


def test_metrics_and_results_cover_every_task(compose_config, tmp_path):
    cfg = compose_config(tiny_overrides(BOTH))

    final = train(cfg, tmp_path)

    records = read_metrics(tmp_path)
    for task in BOTH:
        train_records = [r for r in records if r["split"] == "train" and r.get("task") == task]
        eval_records = [r for r in records if r["split"] == "validation" and r.get("task") == task]
        assert [r["step"] for r in train_records] == [2, 4, 6]
        assert all(r["examples_seen"] > 0 for r in train_records)
        assert [r["step"] for r in eval_records] == [3, 6]
    assert {"accuracy", "macro_f1"} <= set(final["classification"])
    assert {"bleu", "chrf"} <= set(final["translation"])

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["step"] == 6
    assert results["tasks"]["classification"]["accuracy"] == final["classification"]["accuracy"]
    assert results["tasks"]["translation"]["bleu"] == final["translation"]["bleu"]
    assert results["tasks"]["translation"]["examples_seen"] > 0

    summary = [r for r in records if r["split"] == "train" and "task" not in r]
    assert all(0.0 <= r["padding_fraction"] < 1.0 for r in summary)
    assert (tmp_path / "config.yaml").is_file()
    assert (tmp_path / "tokenizer" / "tokenizer.json").is_file()


def test_saved_model_reloads_and_predicts(compose_config, tmp_path):
    train(compose_config(tiny_overrides(BOTH)), tmp_path)

    model = MultiTaskModel.from_pretrained(tmp_path / "model")
    encoded = model.tokenizer(["这部电影太棒了！"], return_tensors="pt")
    labels = model.predict_batch("classification", encoded["input_ids"], encoded["attention_mask"])
    tokens = model.predict_batch(
        "translation", encoded["input_ids"], encoded["attention_mask"], max_new_tokens=4
    )

    assert model.task_names == BOTH
    assert labels[0] in (0, 1)
    assert len(tokens[0]) <= 4


def test_loss_falls_on_fixed_seed(compose_config, tmp_path):
    cfg = compose_config(tiny_overrides(
        BOTH, "trainer.max_steps=150", "trainer.log_every=30", "trainer.eval_every=1000",
        "trainer.checkpoint_every=1000", "optimizer.lr=2e-3", "scheduler.num_warmup_steps=10",
        "data.batch_size=16",
    ))

    train(cfg, tmp_path)

    records = read_metrics(tmp_path)
    for task in BOTH:
        losses = [r["loss"] for r in records if r["split"] == "train" and r.get("task") == task]
        assert len(losses) == 5
        assert losses[-1] < 0.8 * losses[0], f"{task} loss did not fall: {losses}"


def test_resumed_run_matches_uninterrupted(compose_config, tmp_path):
    overrides = tiny_overrides(
        BOTH, "trainer.max_steps=8", "trainer.checkpoint_every=4", "trainer.eval_every=1000",
        "trainer.log_every=4",
    )
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    train(compose_config(overrides), whole)
    train(compose_config([*overrides, "trainer.stop_after_steps=4"]), parts)
    assert not (parts / "results.json").exists()

    train(compose_config([*overrides, f"resume={parts}"]), parts)

    expected = load_file(whole / "model" / "model.safetensors")
    actual = load_file(parts / "model" / "model.safetensors")
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], msg=name)
    losses = {
        run: [(r["step"], r["task"], r["loss"]) for r in read_metrics(run)
              if r["split"] == "train" and "task" in r and r["step"] == 8]
        for run in (whole, parts)
    }
    assert losses[parts] == losses[whole]


def test_resume_rejects_group_change(compose_config, tmp_path):
    overrides = tiny_overrides(["classification"], "trainer.max_steps=2", "trainer.log_every=1")
    train(compose_config(overrides), tmp_path)

    from llmagentos.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot change the config group 'encoder=lstm'"):
        train(compose_config([*overrides, f"resume={tmp_path}"]), tmp_path, ["encoder=lstm"])


def test_resume_overrides_marked_forced():
    from llmagentos.train import _resume_overrides

    argv = ["resume=outputs/run", "router.label_scoring=mean", "+seed=3", "encoder=lstm",
            "decoder@task.t.decoder=span", "hydra.run.dir=x", "--cfg", "job"]

    assert _resume_overrides(argv) == [
        "resume=outputs/run", "++router.label_scoring=mean", "+seed=3", "encoder=lstm",
        "decoder@task.t.decoder=span", "hydra.run.dir=x", "--cfg", "job",
    ]
    assert _resume_overrides(["task=classification", "trainer.max_steps=3"]) == [
        "task=classification", "trainer.max_steps=3",
    ]


def test_resume_applies_key_of_prompt_mode(tmp_path):
    """`resume=<run> router.label_scoring=mean` on the command line, which the default
    (per_task) composition lacks, reaches the saved config of a text_to_text run."""
    import subprocess
    import sys

    overrides = tiny_overrides(
        ["classification"], "router=text_to_text", "router.decoder.hidden_size=32",
        "router.decoder.num_layers=1", "router.decoder.num_heads=2", "router.decoder.intermediate_size=64",
        "trainer.max_steps=2", "trainer.stop_after_steps=1", "trainer.checkpoint_every=1",
        "trainer.eval_every=1000",
    )
    command = [
        sys.executable, "-m", "llmagentos.train", *overrides, f"output_dir={tmp_path}",
        f"hydra.run.dir={tmp_path / 'hydra'}",
    ]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr

    resumed = subprocess.run(
        [sys.executable, "-m", "llmagentos.train", f"resume={tmp_path}", "router.label_scoring=mean",
         f"hydra.run.dir={tmp_path / 'hydra2'}"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    saved = (tmp_path / "config.yaml").read_text()
    assert "label_scoring: mean" in saved
    assert (tmp_path / "config.before_step_1.yaml").is_file()

    mistyped = subprocess.run(
        [sys.executable, "-m", "llmagentos.train", f"resume={tmp_path}", "router.label_scorin=mean",
         f"hydra.run.dir={tmp_path / 'hydra3'}"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert mistyped.returncode == 1
    assert "router.label_scorin" in mistyped.stderr
    assert "Traceback" not in mistyped.stderr


@pytest.mark.parametrize(
    "override, message",
    [
        ("router.decoder.reads_prompt=true", "resume: router.decoder.reads_prompt=true changes how the model reads"),
        ("router.prompt_template=en", "resume: router.prompt_template=en changes how the model reads"),
        ("encoder.tokenizer.vocab_size=100", "resume: encoder.tokenizer.vocab_size=100 changes how the model reads"),
    ],
)
def test_resume_rejects_input_change(compose_config, tmp_path, override, message):
    overrides = tiny_overrides(
        ["classification"], "router=text_to_text", "router.decoder.hidden_size=32",
        "router.decoder.num_layers=1", "router.decoder.num_heads=2", "router.decoder.intermediate_size=64",
        "trainer.max_steps=2", "trainer.stop_after_steps=1", "trainer.checkpoint_every=1",
    )
    train(compose_config(overrides), tmp_path)
    saved = (tmp_path / "config.yaml").read_text()

    from llmagentos.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        train(compose_config([*overrides, f"resume={tmp_path}"]), tmp_path, [override])

    assert message in str(err.value)
    assert "Start a new run to change it" in str(err.value)
    assert (tmp_path / "config.yaml").read_text() == saved


def test_run_folder_arguments_checked_before_hydra(tmp_path):
    from llmagentos.train import _run_folder_problem

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("seed: 0\n")
    empty = tmp_path / "empty"

    assert _run_folder_problem([f"output_dir={empty}", "seed=1"]) is None
    assert _run_folder_problem([f"resume={run}", "trainer.max_steps=9"]) is None
    assert _run_folder_problem(["output_dir=" + str(tmp_path / "${seed}"), "-m", "seed=1,2"]) is None
    cases = [
        ([f"output_dir={run}"], f"{run} already contains config.yaml"),
        ([f"resume={empty}"], "config.yaml not found, so it is not an LLMAgentOS run folder"),
        ([f"resume={run}", f"output_dir={empty}"], "a resumed run continues in its own folder"),
        (["-m", f"resume={run}", "seed=1,2"], "with --multirun would continue one run folder in every job"),
        (["-m", f"output_dir={empty}", "seed=1,2"], "names one folder for every job of the sweep"),
        (["output_dir=''"], "output_dir is empty"),
        ([f"resume={run}", "hydra.job.chdir=true"], "hydra.job.chdir=true is not supported"),
        ([f"output_dir={run / 'config.yaml'}"], "config.yaml is a file. Name a new or empty folder"),
    ]
    for argv, message in cases:
        problem = _run_folder_problem(argv)
        assert problem is not None and message in problem, (argv, problem)


def test_resumed_run_keeps_hydra_files_apart(tmp_path):
    from hydra import compose, initialize_config_dir

    from llmagentos.train import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"resume={tmp_path}"], return_hydra_config=True)

    assert cfg.hydra.run.dir.startswith(str(tmp_path / "resumed") + "/")


def test_resume_deletes_key_back_to_default(compose_config, tmp_path):
    overrides = tiny_overrides(["classification"], "trainer.max_steps=2", "trainer.stop_after_steps=1",
                               "trainer.log_every=1", "trainer.checkpoint_every=1")
    train(compose_config(overrides), tmp_path)

    train(compose_config([*overrides, f"resume={tmp_path}"]), tmp_path, ["~trainer.log_every"])

    saved = (tmp_path / "config.yaml").read_text()
    assert "log_every: 20" in saved  # the schema default, not null


def test_resume_of_finished_run_does_nothing(compose_config, tmp_path):
    overrides = tiny_overrides(["classification"], "trainer.max_steps=2", "trainer.checkpoint_every=2")
    final = train(compose_config(overrides), tmp_path)
    records = (tmp_path / "metrics.jsonl").read_text()

    again = train(compose_config([*overrides, f"resume={tmp_path}"]), tmp_path)

    assert again == final
    assert (tmp_path / "metrics.jsonl").read_text() == records


def test_resume_rejects_architecture_change(compose_config, tmp_path):
    overrides = tiny_overrides(["classification"], "trainer.max_steps=4", "trainer.stop_after_steps=2")
    train(compose_config(overrides), tmp_path)

    from llmagentos.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        train(compose_config([*overrides, f"resume={tmp_path}"]), tmp_path, ["encoder.hidden_size=64"])

    message = str(err.value)
    assert "does not fit the model built from the config" in message
    assert "resume with overrides of training settings only" in message


@pytest.mark.parametrize("encoder", ["lstm"])
def test_other_encoder_trains(compose_config, tmp_path, encoder):
    overrides = tiny_overrides(BOTH, f"encoder={encoder}")
    overrides = [o for o in overrides if not o.startswith(("encoder.num_heads", "encoder.intermediate_size"))]
    overrides.append("encoder.embedding_size=32")

    final = train(compose_config(overrides), tmp_path)

    assert set(final) == set(BOTH)


def test_bert_generation_decoder_trains(compose_config, tmp_path):
    overrides = tiny_overrides(["translation"], "decoder@task.translation.decoder=bert_generator")

    final = train(compose_config(overrides), tmp_path)

    assert "bleu" in final["translation"]


def test_token_budget_and_accumulation(compose_config, tmp_path):
    overrides = tiny_overrides(
        BOTH, "data.max_tokens=256", "trainer.gradient_accumulation_steps=2", "scheduler=cosine"
    )

    train(compose_config(overrides), tmp_path)

    records = read_metrics(tmp_path)
    assert max(r["step"] for r in records) == 6


def test_tensorboard_tracker_writes_events(compose_config, tmp_path):
    cfg = compose_config(tiny_overrides(["classification"], "logger=tensorboard"))

    train(cfg, tmp_path)

    assert list(tmp_path.rglob("events.out.tfevents.*"))


def test_wandb_offline_without_api_key(compose_config, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    cfg = compose_config(tiny_overrides(["classification"], "logger=wandb"))

    train(cfg, tmp_path)

    assert list((tmp_path / "wandb").glob("offline-run-*"))


def test_hf_encoder_from_saved_folder(compose_config, tmp_path):
    folder = save_tiny_bert(tmp_path / "tiny-bert")
    overrides = [o for o in tiny_overrides(BOTH) if not o.startswith("encoder.")]

    train(compose_config([*overrides, "encoder=hf", f"encoder.name={folder}"]), tmp_path / "run")

    model = MultiTaskModel.from_pretrained(tmp_path / "run" / "model")
    assert model.encoder.hidden_size == 32


def test_hub_format_reads_dataset_folder(compose_config, tmp_path):
    # load_dataset(<folder>) is the same call as for a hub name, without the network.
    folder = tmp_path / "sentiment"
    folder.mkdir()
    for split in ("train", "validation"):
        source = (REPO / "data" / "sentiment" / f"{split}.jsonl").read_text(encoding="utf-8")
        (folder / f"{split}.jsonl").write_text(source, encoding="utf-8")
    overrides = tiny_overrides(
        ["classification"], "task.classification.data.format=hub",
        f"task.classification.data.path={folder}", "task.classification.data.train=train",
        "task.classification.data.validation=validation",
    )

    final = train(compose_config(overrides), tmp_path / "run")

    assert "accuracy" in final["classification"]


def test_bf16_beam_search_wordpiece(compose_config, tmp_path):
    overrides = tiny_overrides(
        ["translation"], "trainer.mixed_precision=bf16", "task.translation.generation.num_beams=3",
        "encoder.tokenizer.kind=wordpiece",
    )

    final = train(compose_config(overrides), tmp_path)

    assert "bleu" in final["translation"]


def test_existing_run_folder_not_overwritten(compose_config, tmp_path):
    from llmagentos.errors import RunFolderError

    overrides = tiny_overrides(["classification"], "trainer.max_steps=2", "trainer.log_every=1")
    train(compose_config(overrides), tmp_path)
    before = (tmp_path / "results.json").read_text()

    with pytest.raises(RunFolderError, match="already contains config.yaml, tokenizer"):
        train(compose_config(overrides), tmp_path)

    assert (tmp_path / "results.json").read_text() == before


def test_user_files_not_overwritten(compose_config, tmp_path):
    from llmagentos.errors import RunFolderError

    (tmp_path / "results.json").write_text("mine")

    with pytest.raises(RunFolderError, match="already contains results.json"):
        train(compose_config(tiny_overrides(["classification"])), tmp_path)

    assert (tmp_path / "results.json").read_text() == "mine"


def test_failed_run_leaves_folder_usable(compose_config, tmp_path):
    from llmagentos.errors import DataError

    overrides = tiny_overrides(["classification"], "trainer.max_steps=2", "trainer.log_every=1")
    with pytest.raises(DataError):
        train(compose_config([*overrides, f"data_root={tmp_path / 'missing'}"]), tmp_path / "run")

    train(compose_config(overrides), tmp_path / "run")

    assert (tmp_path / "run" / "results.json").is_file()


def test_pretrained_generator_uses_own_vocabulary(compose_config, tmp_path):
    folder = tmp_path / "tiny-gpt2"
    target_tokenizer = save_tiny_gpt2(folder)
    overrides = tiny_overrides(["translation"], f"task.translation.decoder.pretrained={folder}")

    final = train(compose_config(overrides), tmp_path / "run")

    assert "bleu" in final["translation"]
    model = MultiTaskModel.from_pretrained(tmp_path / "run" / "model")
    generator = model.router.decoders["translation"].model
    assert generator.config.vocab_size == len(target_tokenizer)
    assert len(model.target_tokenizer("translation")) == len(target_tokenizer)
    assert len(model.tokenizer) != len(target_tokenizer)
