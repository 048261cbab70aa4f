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
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise ConfigError(
            f"resume={run_dir}: {saved.name} not found there, so it is not an LLMAgentOS run "
            "folder. Point resume= at a folder that a training run wrote."
        )
    cfg = OmegaConf.load(saved)
    # A stop_after_steps that ended the earlier invocation would end this one at once.
    cfg.trainer.stop_after_steps = None
    before = {key: OmegaConf.select(cfg, key) for key in _input_keys(cfg)}
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key == "resume":
            continue
        if key in CONFIG_GROUPS or "@" in key or override.package is not None:
            raise ConfigError(
                f"resume: cannot change the config group {override.input_line!r} of an existing "
                "run. Resume with plain key overrides (e.g. trainer.max_steps=2000), or start a "
                "new run."
            )
        OmegaConf.update(cfg, key, override.value(), merge=True)
    for key, value in before.items():
        if OmegaConf.select(cfg, key) != value:
            raise ConfigError(
                f"resume: {key}={OmegaConf.select(cfg, key)!r} changes how the model reads its "
                f"inputs, which the checkpoint was trained with {key}={value!r}. Start a new run "
                "to change it."
            )
    cfg.resume = str(run_dir)
    return cfg


def _input_keys(cfg: DictConfig) -> list[str]:
    """Keys that set what the model reads: a checkpoint may fit after a change of these,
    but it was trained on other inputs."""
    keys = ["router.mode", "router.prompt_template", "router.decoder.reads_prompt"]
    return keys + [f"task.{name}.prompt_template" for name in cfg.get("task", {})]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    run_dir = cfg.output_dir or hydra_cfg.runtime.output_dir
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
        plain = "=" in arg and not arg.startswith(("-", "+", "~")) and "@" not in key
        if plain and key not in ("resume", *CONFIG_GROUPS) and not key.startswith("hydra."):
            arg = f"++{arg}"
        marked.append(arg)
    return marked


if __name__ == "__main__":
    problem = _unknown_task_in_list(sys.argv[1:])
    if problem is not None:
        print(problem, file=sys.stderr)
        sys.exit(1)
    sys.argv[1:] = _resume_overrides(sys.argv[1:])
    main()
