"""Predictions from a trained model, by task name or alias:

    from llmagentos import LLMAgentOS
    model = LLMAgentOS.from_pretrained("outputs/2026-12-05/10-00-00")
    model.predict("文本分类", "这部电影太棒了！")            # '正面'
    model.predict("机器翻译", ["我爱你。", "谢谢！"])         # ['I love you.', 'Thank you!']
    model.predict("问答", {"question": "谁写了这本书？", "context": "这本书是鲁迅写的。"})  # '鲁迅'

This module needs only the saved model folder: it imports nothing of the training side
(no Hydra, accelerate or trackers) and writes no files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from llmagentos.model import CONFIG_FILE, MultiTaskModel
from llmagentos.prompt import prompt_overheads
from llmagentos.qa import check_question_room, encode_windows, pick_best_spans

# Names that match every task of a type, besides each task's own name and configured aliases.
TYPE_ALIASES = {
    "classification": ("classification", "文本分类", "text classification"),
    "translation": ("translation", "机器翻译", "machine translation"),
    "qa": ("qa", "问答", "阅读理解", "question answering"),
}
QA_FIELDS = ("question", "context")


class LLMAgentOS:
    """A trained multi-task model, ready to predict.

    Args:
        model: the loaded model; it is put in eval mode.
    """

    def __init__(self, model: MultiTaskModel):
        self.model = model.eval()

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device | None = None) -> "LLMAgentOS":
        """Load from a run folder (its `model/`) or from a saved model folder.

        Args:
            path: the run folder a training run wrote, or the `model/` folder inside it.
            device: where to run; None picks CUDA when available, else CPU.

        Raises:
            FileNotFoundError: when `path` contains no saved model, with the reason.
        """
        folder = Path(path).expanduser()
        if not (folder / CONFIG_FILE).is_file() and (folder / "model" / CONFIG_FILE).is_file():
            folder = folder / "model"
        if not (folder / CONFIG_FILE).is_file():
            hint = ""
            if (folder / "config.yaml").is_file():
                hint = (
                    " It is a run folder whose training has not finished: a model is saved "
                    f"when the run reaches trainer.max_steps (continue it with resume={folder})."
                )
            raise FileNotFoundError(
                f"{folder}: no saved LLMAgentOS model ({CONFIG_FILE} is missing here and in "
                f"{folder / 'model'}). Pass a run folder or its model/ folder.{hint}"
            )
        device = _check_device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return cls(MultiTaskModel.from_pretrained(folder, device=device))

    @property
    def tasks(self) -> dict[str, list[str]]:
        """Each task's name and the other names `predict` accepts for it."""
        return {name: self._names_of(name) for name in self.model.task_names}

    def _names_of(self, task: str) -> list[str]:
        spec = self.model.spec["tasks"][task]
        names = [*spec.get("aliases", []), *TYPE_ALIASES.get(spec["type"], (spec["type"],))]
        return list(dict.fromkeys(names))  # unique, in order

    def resolve_task(self, name: str) -> str:
        """Return the task that `name` means: a task name, an alias or a task type.

        Names, aliases and types compare without regard to case. A name shared by several
        tasks (two classification tasks both match ``文本分类``) is rejected.

        Raises:
            KeyError: for an unknown or ambiguous name, listing the names each task matches.
        """
        if name in self.model.task_names:
            return name
        key = name.strip().casefold()
        matches = [
            task for task in self.model.task_names
            if key in (alias.casefold() for alias in [task, *self._names_of(task)])
        ]
        if len(matches) == 1:
            return matches[0]
        known = "; ".join(f"{task}: {', '.join(names)}" for task, names in self.tasks.items())
        if matches:
            raise KeyError(
                f"task {name!r} is ambiguous: tasks {', '.join(matches)} all match it. "
                f"Use the task name. Tasks and their aliases: {known}"
            )
        raise KeyError(f"unknown task {name!r}. Tasks and their aliases: {known}")

    def predict(
        self, task: str, inputs: Any, *, batch_size: int = 32,
        num_beams: int | None = None, max_new_tokens: int | None = None,
    ) -> Any:
        """Predict for one input or a list of inputs of one task.

        Args:
            task: task name, alias (``文本分类``, ``机器翻译``, ``问答``) or type.
            inputs: one input or a list of them. An input is a text, or for question
                answering a ``{"question": ..., "context": ...}`` dict.
            batch_size: examples (question answering: context windows) per forward pass.
            num_beams, max_new_tokens: override the task's saved generation settings.

        Returns:
            For one input, its prediction; for a list, a list in the same order. A
            classification prediction is the label name, an answer is the span of the
            context (or the generated text, for a model trained in a prompt mode), and a
            translation is its text.

        Raises:
            KeyError: for an unknown or ambiguous task.
            ValueError: for an input of the wrong form, an empty text, or a setting out
                of range.
        """
        _check_count("batch_size", batch_size)
        request = self.prepare(task, inputs, num_beams=num_beams, max_new_tokens=max_new_tokens)
        predictions = self.run(request.task, request.items, request.generation, batch_size)
        return predictions[0] if request.single else predictions

    def prepare(
        self, task: str, inputs: Any, *, num_beams: int | None = None, max_new_tokens: int | None = None,
    ) -> "PreparedRequest":
        """Check a prediction request without running the model.

        The server checks each request this way before batching it with others, so a
        bad request fails alone. Raises the errors that :meth:`predict` lists.
        """
        if not isinstance(task, str):
            raise KeyError(f"the task must be a name (a str), got {type(task).__name__} {task!r}")
        name = self.resolve_task(task)
        spec = self.model.spec["tasks"][name]
        single = isinstance(inputs, (str, dict))
        if not single and not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"inputs must be one input (a text, or a dict for question answering) or a list "
                f"of them, got {type(inputs).__name__}"
            )
        items = [inputs] if single else list(inputs)
        check_inputs(spec["type"], items)
        if spec["type"] == "qa" and self.model.text_to_text:
            # Each prompt must keep some of its context; the error names the question.
            prompt = spec["prompt"]
            readers = [self.model.tokenizer]
            if self.model.reads_prompt:  # the generator cuts its own copy of the prompt
                readers.append(self.model.target_tokenizer(name))
            for reader in readers:
                prompt_overheads(reader, prompt["template"], prompt["task"], items, spec["max_length"])
        elif spec["type"] == "qa":
            check_question_room(
                self.model.tokenizer, [item["question"] for item in items], spec["max_length"], spec["stride"]
            )
        generation = {}
        if spec["type"] == "translation" or (spec["type"] == "qa" and self.model.text_to_text):
            generation = dict(spec.get("generation") or {})
            if num_beams is not None:
                _check_count("num_beams", num_beams)
                generation["num_beams"] = num_beams
            if max_new_tokens is not None:
                _check_count("max_new_tokens", max_new_tokens)
                limit = self._new_token_limit(name)
                if limit < 1:  # saved before the position check at training start existed
                    raise ValueError(
                        f"the decoder of task {name!r} has no positions left to generate into: "
                        f"its prompt or prefix of max_length={spec['max_length']} tokens fills them. "
                        f"Retrain with a lower task.{name}.max_length."
                    )
                if max_new_tokens > limit:
                    raise ValueError(
                        f"max_new_tokens={max_new_tokens} exceeds the {limit} tokens that the "
                        f"decoder of task {name!r} can generate; use at most {limit}"
                    )
                generation["max_new_tokens"] = max_new_tokens
        return PreparedRequest(name, items, single, generation)

    def run(self, task: str, items: list[Any], generation: dict[str, int], batch_size: int) -> list[Any]:
        """Predict for checked inputs of one resolved task (see :meth:`prepare`)."""
        if not items:
            return []
        if self.model.spec["tasks"][task]["type"] == "qa" and not self.model.text_to_text:
            return self._answer(task, items, batch_size)
        sequences = self.model.encode_inputs(task, items)
        raw = self.model.predict_sequences(
            task, sequences, batch_size, generator_prompts=self.model.generator_prompts(task, items), **generation
        )
        return self.model.decode(task, raw)

    def _new_token_limit(self, task: str) -> int:
        """Return the maximum tokens a task's generator can write: its positions, less the
        BOS token or the prompt it reads, and the task's max_length for a prefix."""
        generator = self.model.router.decoder(task)
        config = generator.model.config
        positions = getattr(config, "n_positions", None) or config.max_position_embeddings
        max_length = self.model.spec["tasks"][task]["max_length"]
        if self.model.decoder_only:
            return positions - max_length
        start = max_length if self.model.reads_prompt else 1  # the prompt, or [BOS]
        return positions - start - (max_length if getattr(generator, "prefix", False) else 0)

    def _answer(self, task: str, items: list[dict[str, str]], batch_size: int) -> list[str]:
        """Answer each question with a span of its context, over windows of long contexts."""
        spec = self.model.spec["tasks"][task]
        contexts = [item["context"] for item in items]
        windows = encode_windows(
            self.model.tokenizer, [item["question"] for item in items], contexts,
            spec["max_length"], spec["stride"],
        )
        logits = self.model.predict_sequences(task, windows["input_ids"], batch_size)
        return [answer.text for answer in pick_best_spans(logits, windows, contexts, spec["max_answer_length"])]


@dataclass
class PreparedRequest:
    """A checked prediction request: the resolved task, its inputs as a list, whether one
    input was given (not a list), and the generation settings to use."""

    task: str
    items: list[Any]
    single: bool
    generation: dict[str, int]


def _check_device(device: str | torch.device) -> torch.device:
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"invalid device {str(device)!r} ({err}); use cpu, cuda or cuda:<index>") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested, but no CUDA device is available; use cpu")
    return device


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")


def check_inputs(task_type: str, items: list[Any]) -> None:
    """Raise ValueError naming the first input that does not fit the task type.

    Question answering takes dicts with non-empty "question" and "context" texts; every
    other task type takes non-empty texts.
    """
    for index, item in enumerate(items):
        if task_type == "qa":
            if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in QA_FIELDS):
                raise ValueError(
                    f'input {index} must be a {{"question": ..., "context": ...}} object of texts '
                    f"for a question-answering task, got {str(item)[:60]}"
                )
            texts = [(f"input {index} {field}", item[field]) for field in QA_FIELDS]
        elif not isinstance(item, str):
            raise ValueError(f"input {index} is a {type(item).__name__}, not a text: {str(item)[:60]}")
        else:
            texts = [(f"input {index}", item)]
        for where, text in texts:
            if not text.strip():
                raise ValueError(f"{where} is empty; give each input some text")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as err:  # a lone surrogate, which JSON can carry
                raise ValueError(f"{where} is not valid Unicode ({err.reason} at character {err.start})") from None
