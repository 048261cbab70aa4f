"""The training loop: mixed-task batches through one model, run by accelerate.

:func:`run_training` is the whole pipeline for a composed and validated config. It sets
up accelerate, loads and tokenizes every task and builds the model. It then trains for
``trainer.max_steps`` optimizer steps with periodic evaluation and checkpoints, and saves
the model and ``results.json`` in the run folder.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import hydra
import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.state import AcceleratorState, GradientState, PartialState
from accelerate.utils import (
    ProjectConfiguration,
    broadcast_object_list,
    gather_object,
    send_to_device,
    set_seed,
)
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from llmagentos.config import generator_positions, text_to_text
from llmagentos.data import (
    TEXT_COLUMNS,
    TaskData,
    TaskPrompt,
    check_prompt_fits,
    load_raw_task,
    output_texts,
    prompt_inputs,
    resolve_data_root,
    split_source,
    task_prompt,
    tokenize_split,
)
from llmagentos.errors import ConfigError, DataError, RunFolderError
from llmagentos.llm import is_pretrained, resolve_pretrained
from llmagentos.logger import MetricLogger, tracker_init_kwargs
from llmagentos.metrics import classification_scores, qa_scores, translation_scores
from llmagentos.model import MultiTaskModel, model_spec
from llmagentos.prompt import render_prompt
from llmagentos.qa import best_window_span, merge_window_spans
from llmagentos.sampler import MixedBatchSampler, task_weights
from llmagentos.tokenizer import (
    generation_ids, join_prompts, load_tokenizer, pad_inputs, tokenizer_from_json, train_tokenizer,
)

log = get_logger(__name__)

# accelerate logs every file of a checkpoint at INFO. It also warns on each save that the
# GPT-2 output layer shares its tensor with the input embedding. load_state ties the two
# again (the resume test compares every weight), so that warning is noise here.
logging.getLogger("accelerate.checkpointing").setLevel(logging.WARNING)
logging.getLogger("accelerate.accelerator").setLevel(logging.WARNING)
logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)

CHECKPOINT_PATTERN = re.compile(r"checkpoint_(\d+)$")
# Files a run writes into its folder. They are written only once training starts, so a
# run that fails on its config or data leaves the folder free for the next attempt.
RUN_FILES = (
    "config.yaml", "tokenizer", "metrics.jsonl", "checkpoints", "model", "results.json", "predictions",
)
# Target columns that collate reads: label (classification), target_ids (translation),
# start_positions and end_positions (qa).
TARGET_COLUMNS = ("label", "target_ids", "generator_prompt_ids", "start_positions", "end_positions")


@dataclass
class TrainState:
    """The loop counters saved in every checkpoint beside model and optimizer."""

    step: int = 0

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step = int(state["step"])


def run_training(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train on every task in `cfg.task`; returns the final per-task metrics."""
    trainer = Trainer(cfg, run_dir)
    try:
        results = trainer.fit()
        # The other processes wait while the main one writes the model and results, so
        # that none tears down the process group while another still uses it: a process
        # that left early made the main one hang at exit.
        trainer.accelerator.wait_for_everyone()
        return results
    finally:
        trainer.close()


class Trainer:
    def __init__(self, cfg: DictConfig, run_dir: Path):
        self.cfg = cfg
        # Each launched process composes its own Hydra run folder, named by the time it
        # started. Those times can differ by a second, so all use the main process's folder.
        PartialState(cpu=use_cpu(cfg))
        self.run_dir = Path(broadcast_object_list([str(run_dir)])[0])
        self.accelerator = make_accelerator(cfg, self.run_dir)

        # Files of an earlier run, or of the user, are never overwritten: a run folder is
        # only continued with resume=.
        occupied = None if cfg.resume else occupied_folder_problem(self.run_dir)
        self.accelerator.wait_for_everyone()  # every process has looked before any writes
        if occupied:
            raise RunFolderError(occupied)
        self.started = time.perf_counter()
        self.state = TrainState()
        self.grad_norm: torch.Tensor | None = None
        # QA only: per task, question id -> answer text of the latest evaluation.
        self.answers: dict[str, dict[str, str]] = {}

    # -- the pipeline ------------------------------------------------------------------

    def fit(self) -> dict[str, Any]:
        cfg, accelerator = self.cfg, self.accelerator
        set_seed(cfg.seed)
        log.info(
            f"Device {accelerator.device}, {accelerator.num_processes} process(es), "
            f"mixed precision {accelerator.mixed_precision}. Run folder: {self.run_dir}",
            main_process_only=True,
        )

        # Data: every task loaded and tokenized.
        self.tasks, self.tokenizer = prepare_data(cfg, self.run_dir, accelerator)
        self.sampler = self._make_sampler()
        for task in self.tasks:
            if task.prompt is not None:
                sample = {"question": "<question>", "context": "<context>"} if task.type == "qa" else "<input>"
                example = render_prompt(task.prompt.template, task.prompt.task, sample)
                log.info(f"Task {task.name} prompt ({cfg.router.mode} mode): {example!r}", main_process_only=True)

        # Model, optimizer and schedule.
        spec = model_spec(cfg, {t.name: t.labels for t in self.tasks}, {t.name: t.prompt for t in self.tasks})
        target_tokenizers = {t.name: t.target_tokenizer for t in self.tasks if t.target_tokenizer}
        model = MultiTaskModel(spec, self.tokenizer, target_tokenizers)
        _check_encoder_positions(cfg, model)
        _check_pretrained_generators(cfg, model)
        _check_label_tokens(model)
        for component, (trainable, total) in model.parameter_counts().items():
            log.info(f"Parameters of {component}: {trainable:,} trainable of {total:,}", main_process_only=True)
        # Frozen weights get no optimizer state: AdamW would hold two zero tensors for each.
        trainable = [p for p in model.parameters() if p.requires_grad]
        warmup = cfg.scheduler.get("num_warmup_steps")
        if warmup is not None and warmup >= cfg.trainer.max_steps:
            log.warning(
                f"scheduler.num_warmup_steps={warmup} is not below trainer.max_steps="
                f"{cfg.trainer.max_steps}: the learning rate never leaves warmup.",
                main_process_only=True,
            )
        optimizer = hydra.utils.instantiate(cfg.optimizer)(trainable)
        scheduler = hydra.utils.instantiate(cfg.scheduler)(
            optimizer, num_training_steps=cfg.trainer.max_steps
        )
        self.model, self.optimizer, self.scheduler = accelerator.prepare(model, optimizer, scheduler)
        accelerator.register_for_checkpointing(self.sampler, self.state)

        if cfg.resume:
            self._resume()
            finished = self._finished_results()
            if finished is not None:
                return finished
        if accelerator.is_main_process:
            self._write_run_config()
        accelerator.init_trackers(
            cfg.logger.project,
            config=_flat_config(cfg),
            init_kwargs=tracker_init_kwargs(cfg, self.run_dir),
        )
        self.metrics = MetricLogger(accelerator, self.run_dir)

        self._train()
        if self.state.step < cfg.trainer.max_steps:
            log.info(
                f"Stopped at step {self.state.step} of {cfg.trainer.max_steps} "
                f"(trainer.stop_after_steps). Continue with resume={self.run_dir}",
                main_process_only=True,
            )
            return {}

        # Final evaluation, model and results, written by the main process.
        final = self.evaluate()
        if accelerator.is_main_process:
            self.unwrapped.save_pretrained(self.run_dir / "model")
            results = {
                "step": self.state.step,
                # Seconds of the invocation that finished the run, start-up included.
                "wall_time_s": round(time.perf_counter() - self.started, 1),
                "tasks": {
                    t.name: {**final.get(t.name, {}), "examples_seen": self._examples_seen(i)}
                    for i, t in enumerate(self.tasks)
                },
            }
            (self.run_dir / "results.json").write_text(
                json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
            self._write_predictions()
            log.info(f"Saved the model to {self.run_dir / 'model'} and results.json", main_process_only=True)
        return final

    def _write_run_config(self) -> None:
        """Save config.yaml and the trained vocabulary, which resume= reads back."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "config.yaml"
        if self.cfg.resume:
            saved = OmegaConf.load(path)
            if saved == self.cfg:
                return
            # Keep the config the run started with; config.yaml describes how it continues.
            backup = self.run_dir / f"config.before_step_{self.state.step}.yaml"
            path.rename(backup)
            log.info(f"Config changed on resume; the previous one is now {backup.name}", main_process_only=True)
        OmegaConf.save(self.cfg, path, resolve=True)
        if self.cfg.encoder.type != "hf" and not self.cfg.resume:
            self.tokenizer.save_pretrained(self.run_dir / "tokenizer")

    def _write_predictions(self) -> None:
        """Save each QA task's final answers as predictions/<task>.json, {question id: text}.

        That is the prediction file the official SQuAD v1.1 and CMRC 2018 evaluation
        scripts read, so they can score the same answers.
        """
        for name, answers in self.answers.items():
            folder = self.run_dir / "predictions"
            folder.mkdir(exist_ok=True)
            (folder / f"{name}.json").write_text(
                json.dumps(answers, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )

    def close(self) -> None:
        self.accelerator.end_training()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        # accelerate keeps its state in process-wide singletons; clear them so that the
        # next job of a Hydra multirun builds a fresh Accelerator.
        AcceleratorState._reset_state(True)
        GradientState._reset_state()
        PartialState._reset_state()

    @property
    def unwrapped(self) -> MultiTaskModel:
        return self.accelerator.unwrap_model(self.model)

    # -- setup helpers -----------------------------------------------------------------

    def _make_sampler(self) -> MixedBatchSampler:
        cfg = self.cfg
        sizes = [len(t.train) for t in self.tasks]
        multipliers = [cfg.task[t.name].sampling_weight for t in self.tasks]
        weights = task_weights(sizes, cfg.data.sampler, cfg.data.temperature, multipliers)
        for task, size, weight in zip(self.tasks, sizes, weights):
            # A QA example is cut into windows of max_length tokens; the sampler draws windows.
            unit = "windows" if task.type == "qa" and task.prompt is None else "examples"
            log.info(
                f"Task {task.name} ({task.type}): {size} training {unit}, "
                f"{len(task.validation) if task.validation is not None else 0} validation, "
                f"sampling weight {weight:.3f}",
                main_process_only=True,
            )
        self.train_rows = [
            {key: t.train[key] for key in ("input_ids", *TARGET_COLUMNS) if key in t.train.column_names}
            for t in self.tasks
        ]
        return MixedBatchSampler(
            lengths=[t.train["length"] for t in self.tasks],
            weights=weights,
            batch_size=cfg.data.batch_size,
            max_tokens=cfg.data.max_tokens,
            group_by_length=cfg.data.group_by_length,
            pool_batches=cfg.data.pool_batches,
            seed=cfg.seed,
            num_processes=self.accelerator.num_processes,
            process_index=self.accelerator.process_index,
        )

    def _resume(self) -> None:
        checkpoint = latest_checkpoint(Path(self.cfg.resume))
        if checkpoint is None:
            raise FileNotFoundError(
                f"resume={self.cfg.resume}: no checkpoints/checkpoint_<n> folder inside it. "
                "Point resume= at a run folder that saved a checkpoint."
            )
        try:
            self.accelerator.load_state(str(checkpoint))
        except RuntimeError as err:  # torch's message for a state dict of another model
            first = str(err).splitlines()[0]
            raise ConfigError(
                f"resume={self.cfg.resume}: {checkpoint} does not fit the model built from the "
                f"config ({first}). An override changed the model's architecture; resume with "
                "overrides of training settings only, or start a new run."
            ) from None
        # The next automatically named checkpoint must not reuse an existing folder name.
        number = int(CHECKPOINT_PATTERN.search(checkpoint.name).group(1))
        self.accelerator.project_configuration.iteration = number + 1
        log.info(f"Resumed from {checkpoint} at step {self.state.step}", main_process_only=True)

    def _finished_results(self) -> dict[str, dict[str, float]] | None:
        """Return the saved final metrics of a resumed run that had already reached
        trainer.max_steps, or None when it has steps left.

        Evaluating and saving again would only append the same records to metrics.jsonl.
        """
        results_file = self.run_dir / "results.json"
        if self.state.step < self.cfg.trainer.max_steps or not results_file.is_file():
            return None
        log.info(
            f"The run already finished at step {self.state.step} (trainer.max_steps="
            f"{self.cfg.trainer.max_steps}), so there is nothing to do. Raise trainer.max_steps "
            "to train further.",
            main_process_only=True,
        )
        saved = json.loads(results_file.read_text(encoding="utf-8"))
        return {
            task: {name: value for name, value in metrics.items() if name != "examples_seen"}
            for task, metrics in saved["tasks"].items()
        }

    # -- training ----------------------------------------------------------------------

    def _train(self) -> None:
        cfg, accelerator = self.cfg, self.accelerator
        trainer_cfg = cfg.trainer
        stop_at = trainer_cfg.max_steps
        if trainer_cfg.stop_after_steps is not None:
            stop_at = min(stop_at, trainer_cfg.stop_after_steps)
        totals = torch.zeros(len(self.tasks), 2, device=accelerator.device)  # (loss sum, batches)
        tokens = torch.zeros(2, device=accelerator.device)  # (real tokens, padded tokens)
        window_start, window_examples = time.perf_counter(), self._examples_drawn()
        progress = tqdm(
            total=trainer_cfg.max_steps, initial=self.state.step, desc="train",
            disable=not accelerator.is_main_process, dynamic_ncols=True,
        )
        self.model.train()
        while self.state.step < stop_at:
            for _ in range(trainer_cfg.gradient_accumulation_steps):
                batch = self._next_batch()
                tokens += torch.tensor(
                    [batch["attention_mask"].sum().item(), batch["attention_mask"].numel()],
                    device=accelerator.device,
                )
                with accelerator.accumulate(self.model):
                    loss, task_losses = self.model(batch)
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and trainer_cfg.max_grad_norm is not None:
                        self.grad_norm = accelerator.clip_grad_norm_(
                            self.model.parameters(), trainer_cfg.max_grad_norm
                        )
                    self.optimizer.step()
                    if accelerator.sync_gradients:  # one schedule step per optimizer step
                        self.scheduler.step()
                    self.optimizer.zero_grad()
                for name, value in task_losses.items():
                    index = self.unwrapped.task_names.index(name)
                    totals[index] += torch.stack([value.detach().float(), value.new_ones(())])

            self.state.step += 1
            progress.update(1)
            step = self.state.step

            if step % trainer_cfg.log_every == 0 or step == stop_at:
                totals, tokens = self._log_train(totals, tokens, window_start, window_examples, progress)
                window_start, window_examples = time.perf_counter(), self._examples_drawn()
            if step % trainer_cfg.eval_every == 0 and step < trainer_cfg.max_steps:
                self.evaluate()
                self.model.train()
            if step % trainer_cfg.checkpoint_every == 0 or step == stop_at:
                folder = accelerator.save_state()
                log.info(f"Saved checkpoint at step {step} to {folder}", main_process_only=True)
        progress.close()

    def _next_batch(self) -> dict[str, Any]:
        items = [
            (task, {key: column[index] for key, column in self.train_rows[task].items()})
            for task, index in self.sampler.next_batch()
        ]
        batch = collate(items, self.tasks, self.tokenizer, self.cfg.router.mode == "decoder_only")
        return send_to_device(batch, self.accelerator.device)

    def _log_train(self, totals, tokens, window_start, window_examples, progress):
        """Reduce the window's losses over processes, write the records, reset the window."""
        accelerator = self.accelerator
        totals = accelerator.reduce(totals, reduction="sum")
        tokens = accelerator.reduce(tokens, reduction="sum")
        elapsed = max(time.perf_counter() - window_start, 1e-9)
        step = self.state.step
        summary = {}
        for index, task in enumerate(self.tasks):
            loss_sum, count = totals[index].tolist()
            if count == 0:
                continue
            summary[task.name] = loss_sum / count
            self.metrics.log({
                "step": step, "split": "train", "task": task.name,
                "examples_seen": self._examples_seen(index), "loss": summary[task.name],
            })
        real, padded = tokens.tolist()
        grad_norm = self.grad_norm
        self.metrics.log({
            "step": step, "split": "train",
            "examples_seen": sum(self._examples_drawn()),
            "lr": self.scheduler.get_last_lr()[0],
            "grad_norm": float(grad_norm) if grad_norm is not None else None,
            "examples_per_second": (sum(self._examples_drawn()) - sum(window_examples)) / elapsed,
            "tokens_per_second": real / elapsed,
            "padding_fraction": 1.0 - real / max(padded, 1.0),
        })
        progress.set_postfix({name: f"{value:.3f}" for name, value in summary.items()})
        return torch.zeros_like(totals), torch.zeros_like(tokens)

    def _examples_drawn(self) -> list[int]:
        return list(self.sampler.examples_drawn)

    def _examples_seen(self, task_index: int) -> int:
        return int(self.sampler.examples_drawn[task_index])

    # -- evaluation --------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> dict[str, dict[str, float]]:
        """Score every task's validation split; each process predicts a share of it."""
        accelerator = self.accelerator
        model = self.unwrapped
        model.eval()
        results: dict[str, dict[str, float]] = {}
        for index, task in enumerate(self.tasks):
            if task.validation is None:
                continue
            mine = list(range(accelerator.process_index, len(task.validation), accelerator.num_processes))
            predictions = self._predict_rows(model, task, mine)
            if task.type == "qa" and task.prompt is None:
                # Reduce each window's logits to its best span here, so that only small
                # (score, characters) records are gathered across processes.
                predictions = self._window_spans(task, mine, predictions)
            # gather_object concatenates the processes' lists: every index appears once.
            gathered = dict(gather_object(list(zip(mine, predictions))))
            ordered = [gathered[i] for i in range(len(task.validation))]
            results[task.name] = self._score(task, ordered)
            self.metrics.log({
                "step": self.state.step, "split": "validation", "task": task.name,
                "examples_seen": self._examples_seen(index), **results[task.name],
            })
            scores = ", ".join(f"{k} {v:.4f}" for k, v in results[task.name].items())
            log.info(f"step {self.state.step} | {task.name} | {scores}", main_process_only=True)
        return results

    def _predict_rows(self, model: MultiTaskModel, task: TaskData, rows: list[int]) -> list:
        if not rows:
            return []
        generation = {}
        if task.type == "translation" or task.prompt is not None:  # a generated output
            generation = dict(self.cfg.task[task.name].generation)
        selected = task.validation.select(rows)
        return model.predict_sequences(
            task.name, selected["input_ids"], self.cfg.trainer.eval_batch_size,
            autocast=self.accelerator.autocast,
            generator_prompts=selected["generator_prompt_ids"] if model.reads_prompt else None,
            **generation,
        )

    def _window_spans(self, task: TaskData, rows: list[int], logits: list) -> list:
        """Return the best span candidate of each of these validation windows."""
        if not rows:
            return []
        offsets = task.validation.select(rows)["offsets"]
        max_answer_length = self.cfg.task[task.name].max_answer_length
        return [
            best_window_span(start, end, window_offsets, max_answer_length)
            for (start, end), window_offsets in zip(logits, offsets)
        ]

    def _score(self, task: TaskData, predictions: list) -> dict[str, float]:
        """Compute the metrics the task config lists (all of its type's when it lists none)."""
        task_cfg = self.cfg.task[task.name]
        if task.type == "classification":
            scores = classification_scores(predictions, task.validation["label"], len(task.labels))
        elif task.type == "qa":
            examples = task.validation_examples
            if task.prompt is None:
                answers = merge_window_spans(predictions, task.validation["example_index"], examples["context"])
                texts = [answer.text for answer in answers]
            else:  # generated answers, one validation row per question
                texts = self.unwrapped.decode(task.name, predictions)
            self.answers[task.name] = dict(zip(examples["id"], texts))
            references = [gold["text"] for gold in examples["answers"]]
            scores = qa_scores(texts, references, task_cfg.lang)
        else:
            hypotheses = self.unwrapped.decode(task.name, predictions)
            scores = translation_scores(hypotheses, task.validation["target"], task_cfg.target_lang)
        selected = set(task_cfg.metrics) or set(scores)
        return {name: value for name, value in scores.items() if name in selected}


# -- pieces used by the trainer and the tests ------------------------------------------


def make_accelerator(cfg: DictConfig, run_dir: Path) -> Accelerator:
    """Create the Accelerator for this run.

    On a machine without CUDA, accelerate joins the processes that a launcher started
    into one gloo group only when created with ``cpu=True``. Without it, each process
    would train alone.
    """
    project = ProjectConfiguration(
        project_dir=str(run_dir),
        automatic_checkpoint_naming=True,
        total_limit=cfg.trainer.keep_checkpoints,
    )
    return Accelerator(
        cpu=use_cpu(cfg),
        mixed_precision=cfg.trainer.mixed_precision,
        gradient_accumulation_steps=cfg.trainer.gradient_accumulation_steps,
        log_with=list(cfg.logger.trackers) or None,
        project_config=project,
        step_scheduler_with_optimizer=False,
    )


def _check_encoder_positions(cfg: DictConfig, model: MultiTaskModel) -> None:
    """Compare each task's max_length with a pretrained encoder's position limit, which
    is known only once the model is loaded (config checks cover encoders built here)."""
    config = getattr(getattr(model.encoder, "model", None), "config", None)
    limit = getattr(config, "max_position_embeddings", None)
    if cfg.encoder.type != "hf" or limit is None:
        return
    too_long = [f"task.{n}.max_length={t.max_length}" for n, t in cfg.task.items() if t.max_length > limit]
    if too_long:
        raise ConfigError(
            f"{', '.join(too_long)} exceeds the {limit} positions of encoder {cfg.encoder.name}. "
            f"Lower max_length to {limit} or less."
        )


def _check_pretrained_generators(cfg: DictConfig, model: MultiTaskModel) -> None:
    """Compare each task's lengths with the positions of a pretrained generator, and its
    tokenizer with its vocabulary, both known only once the model is loaded (config checks
    cover generators built here)."""
    mode = cfg.router.get("mode")
    problems = []
    for name, task in cfg.task.items():
        decoder, key = task.decoder, f"task.{name}.decoder"
        if text_to_text(cfg):
            decoder, key = cfg.router.decoder, "router.decoder"
        if decoder.type != "generator" or not is_pretrained(decoder):
            continue
        config = model.router.decoder(name).model.config
        limit = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
        needed, lengths = generator_positions(task, decoder, mode)
        if limit is not None and needed > limit:
            problems.append(
                f"task.{name}: {lengths} need {needed} positions, but the checkpoint of "
                f"{key}.pretrained has {limit}. Lower the lengths."
            )
        tokens = len(model.target_tokenizer(name))
        if tokens > config.vocab_size:
            problems.append(
                f"{key}.pretrained: its tokenizer has {tokens} tokens but the model's vocabulary "
                f"{config.vocab_size}, so some token ids have no embedding. Resize the model's "
                "embeddings to the tokenizer (resize_token_embeddings) and save it again."
            )
    if problems:
        raise ConfigError(" ".join(dict.fromkeys(problems)))


def _check_label_tokens(model: MultiTaskModel) -> None:
    """Reject label names that a generator cannot tell apart. Ranking scores token ids, so
    two labels with the same ids always tie, and a label with none is scored by the
    end-of-sequence token alone."""
    problems = []
    for name, candidates in getattr(model, "label_token_ids", {}).items():
        labels = model.spec["tasks"][name]["labels"]
        for label, ids in zip(labels, candidates):
            if not ids:
                problems.append(f"task.{name}: label {label!r} encodes to no tokens.")
        seen: dict[tuple[int, ...], str] = {}
        for label, ids in zip(labels, candidates):
            if ids and tuple(ids) in seen:
                problems.append(
                    f"task.{name}: labels {seen[tuple(ids)]!r} and {label!r} encode to the same tokens."
                )
            seen.setdefault(tuple(ids), label)
    if problems:
        raise ConfigError(
            " ".join(problems) + " The generator could not tell these labels apart; rename them "
            "(task.<name>.label_map) so that each reads differently."
        )


def occupied_folder_problem(folder: Path) -> str | None:
    """Return the error for a folder that already contains a run's files, else None."""
    existing = [name for name in RUN_FILES if (folder / name).exists()]
    if not existing:
        return None
    return (
        f"{folder} already contains {', '.join(existing)}. Continue that run with "
        f"resume={folder}, or choose another folder with output_dir=<folder>."
    )


def use_cpu(cfg: DictConfig) -> bool:
    return bool(cfg.trainer.cpu) or not torch.cuda.is_available()


def latest_checkpoint(run_dir: Path) -> Path | None:
    """Return the checkpoint folder with the highest number under <run>/checkpoints, if any."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return None
    numbered = [
        (int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT_PATTERN.search(p.name))
    ]
    return max(numbered)[1] if numbered else None


def prepare_data(cfg: DictConfig, run_dir: Path, accelerator: Accelerator) -> tuple[list[TaskData], Any]:
    """Load every task, build or load the tokenizer, and tokenize all splits.

    The main process goes first through loading and tokenization, so that the other
    processes read its datasets cache instead of writing the same files at once.
    """
    data_root = resolve_data_root(cfg.data_root)
    datasets.disable_progress_bars()  # one log line per task instead of a bar per split
    with accelerator.main_process_first():
        raw = {name: load_raw_task(name, task, data_root, cfg.data.cache_dir) for name, task in cfg.task.items()}

    prompts = {}
    shared_tokenizer = None  # the vocabulary of a pretrained shared generator
    if text_to_text(cfg):
        prompts = {
            name: task_prompt(name, cfg.task[name], cfg.router.prompt_template, labels)
            for name, (_, labels) in raw.items()
        }
        if is_pretrained(cfg.router.decoder):
            with accelerator.main_process_first():
                shared_tokenizer = _generator_tokenizer("router.", cfg.router.decoder)
    if cfg.router.mode == "decoder_only" and shared_tokenizer is not None:
        # The pretrained generator reads the prompts too, in its own vocabulary.
        tokenizer, shared_tokenizer = shared_tokenizer, None
    else:
        tokenizer = _build_tokenizer(cfg, raw, prompts, run_dir, accelerator)
    generation_ids(tokenizer)  # fails early if the vocabulary cannot mark target ends

    # text_to_text mode: the shared generator reads the prompt too, in its own vocabulary.
    reads_prompt = cfg.router.get("mode") == "text_to_text" and bool(cfg.router.decoder.get("reads_prompt"))
    tasks = []
    with accelerator.main_process_first():
        for name, (splits, labels) in raw.items():
            task = cfg.task[name]
            prompt = prompts.get(name)
            target_tokenizer = shared_tokenizer
            if prompt is not None:
                check_prompt_fits(name, prompt, tokenizer, task.max_length)
                if reads_prompt and shared_tokenizer is not None:
                    check_prompt_fits(name, prompt, shared_tokenizer, task.max_length)
            elif task.decoder.type == "generator" and is_pretrained(task.decoder):
                target_tokenizer = _generator_tokenizer(f"task.{name}.", task.decoder)
            tokenized = {
                split: tokenize_split(
                    dataset, task, tokenizer, desc=f"Tokenizing {name}/{split}",
                    target_tokenizer=target_tokenizer, prompt=prompt, reads_prompt=reads_prompt,
                    where=split_source(name, task, split, data_root),
                )
                for split, dataset in splits.items()
            }
            if task.type == "qa" and prompt is not None:
                tokenized["train"] = _drop_lost_answers(name, tokenized["train"], task.max_length)
            examples = splits.get("validation") if task.type == "qa" else None
            tasks.append(TaskData(
                name, task.type, tokenized["train"], tokenized.get("validation"), labels,
                target_tokenizer=target_tokenizer, validation_examples=examples, prompt=prompt,
            ))
    return tasks, tokenizer


def _drop_lost_answers(name: str, train: datasets.Dataset, max_length: int) -> datasets.Dataset:
    """Drop the training questions whose answer was cut off with the end of their context.

    A generator trained on them would learn to write answers that its prompt does not
    contain. Validation keeps every question, so that its scores count them as missed.
    """
    kept = train.filter(lambda row: row["answer_in_prompt"], desc=f"Dropping lost answers of {name}")
    if len(kept) < len(train):
        log.info(
            f"Task {name}: {len(train) - len(kept)} of {len(train)} training questions dropped, "
            "because their answer lies beyond the part of the context that fits in max_length",
            main_process_only=True,
        )
    if len(kept) == 0:
        raise DataError(
            f"task.{name}: every training answer lies beyond the part of its context that fits "
            f"in max_length={max_length} tokens of prompt. Raise task.{name}.max_length."
        )
    return kept


def _generator_tokenizer(key_prefix: str, decoder: DictConfig) -> Any:
    """Load the tokenizer of a pretrained generator, which its targets must be written in.

    A GGUF checkpoint is converted here, once, and the model later reads the same folder.
    A vocabulary without a padding token pads with its EOS token. `key_prefix` (such as
    ``task.<name>.``) completes the config key in error messages.
    """
    try:
        source = resolve_pretrained(decoder.pretrained, decoder.gguf_file)
    except ConfigError as err:  # its message names decoder.<key>, without the prefix
        raise ConfigError(f"{key_prefix}{err}") from err
    tokenizer = load_tokenizer(source, key=f"{key_prefix}decoder.pretrained")
    try:
        generation_ids(tokenizer)
    except ValueError as err:
        raise ConfigError(
            f"{key_prefix}decoder.pretrained={decoder.pretrained!r}: {err}. Use a checkpoint whose "
            "tokenizer defines an eos_token (or sep_token)."
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _build_tokenizer(
    cfg: DictConfig, raw: dict, prompts: dict[str, TaskPrompt], run_dir: Path, accelerator: Accelerator,
) -> Any:
    if cfg.encoder.type == "hf":
        with accelerator.main_process_first():  # one download, then the others read its cache
            return load_tokenizer(cfg.encoder.name, cfg.encoder.revision)
    if cfg.resume:
        folder = run_dir / "tokenizer"
        if not (folder / "tokenizer.json").is_file():
            raise RunFolderError(f"resume={run_dir}: {folder} is missing, so the run cannot continue.")
        return load_tokenizer(str(folder))
    # Only the main process trains the vocabulary and sends it to the others, so that all
    # of them use the same one even if training it is not deterministic.
    state = [None]
    if accelerator.is_main_process:
        trained = train_tokenizer(
            _training_texts(cfg, raw, prompts), cfg.encoder.tokenizer.kind,
            cfg.encoder.tokenizer.vocab_size, cfg.encoder.tokenizer.min_frequency,
        )
        state = [trained.backend_tokenizer.to_str()]
    return tokenizer_from_json(broadcast_object_list(state)[0])


def _training_texts(cfg: DictConfig, raw: dict, prompts: dict[str, TaskPrompt]) -> list[str]:
    """Collect the text the vocabulary is trained on: what the encoder and generator read.

    In the prompt modes that is each rendered prompt, whose template words then get
    their own tokens, and each output text, label names included.
    """
    texts = []
    for name, (splits, _) in raw.items():
        task_type = cfg.task[name].type
        train = splits["train"]
        prompt = prompts.get(name)
        if prompt is None:
            for column in TEXT_COLUMNS[task_type]:
                values = train[column]
                if column == "context":
                    # Several questions share one context, which is counted once.
                    values = list(dict.fromkeys(values))
                texts.extend(values)
            continue
        inputs = prompt_inputs(task_type, train)
        texts.extend(render_prompt(prompt.template, prompt.task, item) for item in inputs)
        texts.extend(output_texts(task_type, train.to_dict(), prompt))
    return texts


def collate(
    items: list[tuple[int, dict]], tasks: list[TaskData], tokenizer: Any, decoder_only: bool = False,
) -> dict[str, Any]:
    """Build one mixed batch from (task index, example) pairs.

    Returns the padded encoder inputs, ``task_ids`` (B,) and, per task present, the
    targets of its rows in batch order. Classification targets are ``labels`` (N,).
    Translation targets are ``decoder_input_ids`` ([BOS] + target),
    ``decoder_attention_mask`` and ``labels`` (target + [EOS], -100 on padding), each (N, L).
    QA targets are ``start_positions`` and ``end_positions`` (N,), token positions in
    each window (0, the [CLS] token, where the window lacks the answer). In text-to-text
    mode, classification targets take the generator's form too, with the label's name as
    the target, and with ``router.decoder.reads_prompt`` the decoder inputs start with the
    prompt (in the generator's vocabulary) instead of [BOS]. With `decoder_only`, every
    task's targets are whole prompt + output sequences instead (see
    llmagentos.tokenizer.join_prompts).
    """
    batch = pad_inputs([example["input_ids"] for _, example in items], tokenizer.pad_token_id)
    batch["task_ids"] = torch.tensor([task for task, _ in items], dtype=torch.long)
    batch["targets"] = {}
    for index, task in enumerate(tasks):
        examples = [example for t, example in items if t == index]
        if not examples:
            continue
        if decoder_only:
            _, eos, pad = generation_ids(tokenizer)
            batch["targets"][task.name] = join_prompts(
                [e["input_ids"] for e in examples], [e["target_ids"] for e in examples], eos, pad
            )
            continue
        if task.type == "classification" and task.prompt is None:
            batch["targets"][task.name] = {"labels": torch.tensor([e["label"] for e in examples])}
            continue
        if task.type == "qa" and task.prompt is None:
            batch["targets"][task.name] = {
                key: torch.tensor([e[key] for e in examples]) for key in ("start_positions", "end_positions")
            }
            continue
        bos, eos, pad = generation_ids(task.target_tokenizer or tokenizer)
        if "generator_prompt_ids" in examples[0]:  # router.decoder.reads_prompt: the prompt leads
            prompts = [e["generator_prompt_ids"] for e in examples]
        else:
            prompts = [[bos]] * len(examples)
        joined = join_prompts(prompts, [e["target_ids"] for e in examples], eos, pad)
        batch["targets"][task.name] = {  # inputs and labels aligned, as the generator takes them
            "decoder_input_ids": joined["input_ids"][:, :-1],
            "decoder_attention_mask": joined["attention_mask"][:, :-1],
            "labels": joined["labels"][:, 1:],
        }
    return batch


def _flat_config(cfg: DictConfig) -> dict[str, Any]:
    """Flatten the config to dotted keys, the form trackers display best."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, list):
            flat[prefix] = str(node)
        else:
            flat[prefix] = node

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat
