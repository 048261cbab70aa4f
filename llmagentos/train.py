"""Train one model on several tasks:

    python -m llmagentos.train task=classification+translation
    python -m llmagentos.train -m task=classification,translation seed=1,2,3
    accelerate launch --multi_gpu --num_processes 2 -m llmagentos.train task=...

Hydra composes configs/train.yaml with the chosen groups; the run folder (Hydra's,
unless output_dir= is set) receives config.yaml, metrics.jsonl, checkpoints/, model/
and results.json.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import OverrideParseException
from hydra.types import RunMode
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from llmagentos.config import validate_config, with_defaults
from llmagentos.errors import ConfigError, DataError, RunFolderError


CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")
# Data, resume and output paths are relative to the folder the command starts in.
CHDIR_ERROR = (
    "error: hydra.job.chdir=true is not supported: LLMAgentOS resolves relative paths against "
    "the launch folder. Set output_dir=<folder> to choose the run folder."
)
CONFIG_GROUPS = ("task", "encoder", "router", "data", "trainer", "optimizer", "scheduler", "logger")


def train(cfg: DictConfig, run_dir: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Validate `cfg`, then train in `run_dir`; returns the final metrics per task.

    With ``resume=<run folder>`` set, the run folder's saved config is used instead,
    with plain key `overrides` (such as ``trainer.max_steps=2000``) applied on top.

    Raises:
        ConfigError: for invalid keys or values, all listed at once.
        DataError: for missing files, malformed lines or unknown labels.
    """
    if cfg.get("resume"):
        run_dir = Path(cfg.resume).expanduser().resolve()
        cfg = _resumed_config(run_dir, overrides or [])
    run_dir = Path(run_dir).resolve()
    validate_config(cfg)
    cfg = with_defaults(cfg)

    # Imported here so that a config error is reported without loading torch.
    from llmagentos.trainer import run_training

    return run_training(cfg, run_dir)


def _resumed_config(run_dir: Path, overrides: list[str]) -> DictConfig:
    problem = _not_a_run_folder(run_dir)
    if problem:
        raise ConfigError(problem)
    cfg = OmegaConf.load(run_dir / "config.yaml")
    # A stop_after_steps that ended the earlier invocation would end this one at once.
    cfg.trainer.stop_after_steps = None
    before = {key: OmegaConf.select(cfg, key) for key in _input_keys(cfg)}
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key == "resume" or key.startswith(("hydra.", "hydra/")):
            continue
        if key in CONFIG_GROUPS or "@" in key or override.package is not None:
            raise ConfigError(
                f"resume: cannot change the config group {override.input_line!r} of an existing "
                "run. Resume with plain key overrides (e.g. trainer.max_steps=2000), or start a "
                "new run."
            )
        if key == "output_dir":
            raise ConfigError(_resume_with_output_dir(run_dir, override.value()))
        if override.is_delete():  # back to the default, which with_defaults fills in
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if isinstance(node, DictConfig) and leaf in node:
                del node[leaf]
            continue
        OmegaConf.update(cfg, key, override.value(), merge=True)
    for key, value in before.items():
        if OmegaConf.select(cfg, key) != value:
            raise ConfigError(
                f"resume: {key}={_yaml(OmegaConf.select(cfg, key))} changes how the model reads "
                f"its inputs, which the checkpoint was trained with {key}={_yaml(value)}. Start a "
                "new run to change it."
            )
    cfg.resume = str(run_dir)
    return cfg


def _not_a_run_folder(run_dir: Path) -> str | None:
    """Return the error for a resume= folder without a saved config, else None."""
    saved = run_dir / "config.yaml"
    if saved.is_file():
        return None
    return (f"resume={run_dir}: {saved} not found, so it is not an LLMAgentOS run folder. "
            "Point resume= at a folder that a training run wrote.")


def _resume_with_output_dir(run_dir: Any, output_dir: Any) -> str:
    return (f"resume={run_dir} output_dir={output_dir}: a resumed run continues in its own "
            "folder. Drop output_dir, or copy that folder and resume the copy.")


def _input_keys(cfg: DictConfig) -> list[str]:
    """Keys that set what the model reads: a checkpoint may fit after a change of these,
    but it was trained on other inputs (the vocabulary is also fixed once trained)."""
    keys = [
        "router.mode", "router.prompt_template", "router.decoder.reads_prompt",
        "encoder.tokenizer.kind", "encoder.tokenizer.vocab_size", "encoder.tokenizer.min_frequency",
    ]
    return keys + [f"task.{name}.prompt_template" for name in cfg.get("task", {})]


def _yaml(value: Any) -> str:
    """Write a config value as YAML spells it (null, true), for messages."""
    return OmegaConf.to_yaml({"v": value}).strip()[3:]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.job.chdir:  # set in a config file rather than on the command line
        print(CHDIR_ERROR, file=sys.stderr)
        sys.exit(1)
    run_dir = Path(cfg.output_dir).expanduser() if cfg.output_dir else hydra_cfg.runtime.output_dir
    try:
        # Unresolved: an override may itself hold an interpolation, such as ${package_path:...}.
        overrides = OmegaConf.to_container(hydra_cfg.overrides.task, resolve=False)
        train(cfg, run_dir, overrides)
    except (ConfigError, DataError, RunFolderError) as err:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            # Raised, Hydra marks this job failed and goes on with the rest of the sweep.
            raise
        # A message the user acts on, without a traceback.
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


def _unknown_task_in_list(argv: list[str]) -> str | None:
    """Return an error for a ``task=[...]`` list that names a missing task config, else None.

    For ``task=nope`` Hydra lists the available tasks itself, but for a list it reports only
    the file it could not load.
    """
    available = sorted(path.stem for path in (Path(CONFIG_DIR) / "task").glob("*.yaml"))
    for arg in argv:
        if not arg.startswith("task=["):
            continue
        try:
            (override,) = OverridesParser.create().parse_overrides([arg])
            names = override.value()
        except OverrideParseException:  # a malformed override is Hydra's to report
            continue
        unknown = [str(name) for name in names if str(name) not in available]
        if unknown:
            return (
                f"error: {arg}: no task config named {', '.join(map(repr, unknown))} in "
                f"{Path(CONFIG_DIR) / 'task'}. Available tasks: {', '.join(available)}."
            )
    return None


def _run_folder_problem(argv: list[str]) -> str | None:
    """Return an error for a run folder argument that is wrong before Hydra writes into it.

    Hydra creates its run folder and writes ``.hydra/`` there before LLMAgentOS reads the
    config, so an occupied ``output_dir`` or a wrong ``resume`` path is caught here, where
    it can be (values with ``${...}`` are left to the later checks).
    """
    values = {}
    for arg in argv:
        if arg.startswith(("resume=", "output_dir=")):
            try:
                (override,) = OverridesParser.create().parse_overrides([arg])
            except OverrideParseException:  # a malformed override is Hydra's to report
                continue
            values[override.key_or_group] = override.value()
    resume, output = values.get("resume"), values.get("output_dir")
    sweep = any(arg in ("-m", "--multirun") for arg in argv)
    if any(arg.lower() == "hydra.job.chdir=true" for arg in argv):
        return CHDIR_ERROR
    if resume is not None and sweep:
        return (f"error: resume={resume} with --multirun would continue one run folder in every "
                "job. Resume without -m.")
    if resume is not None and output is not None:
        return f"error: {_resume_with_output_dir(resume, output)}"
    if output == "":
        return "error: output_dir is empty. Name a folder, or leave output_dir unset for outputs/<date>/<time>."
    literal = {key: value for key, value in values.items() if isinstance(value, str) and "${" not in value}
    if "resume" in literal and _not_a_run_folder(Path(resume).expanduser()):
        return f"error: {_not_a_run_folder(Path(resume).expanduser())}"
    if "output_dir" in literal and sweep:
        return (f"error: output_dir={output} names one folder for every job of the sweep. Leave it "
                "unset (each job gets multirun/<date>/<time>/<job number>/), or interpolate a swept "
                "key, such as output_dir='<folder>/${seed}'.")
    if "output_dir" in literal:
        from llmagentos.trainer import occupied_folder_problem

        folder = Path(output).expanduser()
        if folder.exists() and not folder.is_dir():
            return f"error: output_dir={output}: {folder} is a file. Name a new or empty folder."
        occupied = occupied_folder_problem(folder)
        if occupied:
            return f"error: {occupied}"
    return None


def _resume_overrides(argv: list[str]) -> list[str]:
    """Mark the plain key overrides of a ``resume=`` command as ``++key=value``.

    Hydra checks every override against the default composition, which a resumed run
    then discards for its saved config. A key that only the run's own groups have (such
    as ``router.label_scoring`` of a text_to_text run) would fail that check. Forced, it
    reaches :func:`_resumed_config`, which applies it to the saved config, where
    validation still rejects an unknown key. Group overrides are left for
    :func:`_resumed_config` to reject.
    """
    if not any(arg.startswith("resume=") for arg in argv):
        return argv
    marked = []
    for arg in argv:
        key = arg.partition("=")[0]
        plain = "=" in arg and not arg.startswith(("-", "+", "~")) and "@" not in key and "/" not in key
        if plain and key not in ("resume", *CONFIG_GROUPS) and not key.startswith("hydra."):
            arg = f"++{arg}"
        marked.append(arg)
    return marked


if __name__ == "__main__":
    problem = _unknown_task_in_list(sys.argv[1:]) or _run_folder_problem(sys.argv[1:])
    if problem is not None:
        print(problem, file=sys.stderr)
        sys.exit(1)
    sys.argv[1:] = _resume_overrides(sys.argv[1:])
    main()
