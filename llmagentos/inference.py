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

from pathlib import Path
from typing import Any

import torch

from llmagentos.model import CONFIG_FILE, MultiTaskModel
from llmagentos.qa import encode_windows, pick_best_spans

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
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
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

        Aliases and types compare without regard to case. A name shared by several
        tasks (two classification tasks both match ``文本分类``) is rejected.

        Raises:
            KeyError: for an unknown or ambiguous name, listing what each task answers to.
        """
        if name in self.model.task_names:
            return name
        wanted = name.strip().casefold()
        matches = [
            task for task in self.model.task_names
            if wanted in (alias.casefold() for alias in self._names_of(task))
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
            context, and a generated prediction is its text.

        Raises:
            KeyError: for an unknown or ambiguous task.
            ValueError: for an input of the wrong form or an empty text.
        """
        name = self.resolve_task(task)
        spec = self.model.spec["tasks"][name]
        single = isinstance(inputs, (str, dict))
        items = [inputs] if single else list(inputs)
        check_inputs(spec["type"], items)
        if not items:
            return []
        if spec["type"] == "qa":
            predictions = self._answer(name, items, batch_size)
        else:
            generation = {}
            if spec["type"] != "classification":
                generation = dict(spec.get("generation") or {})
                if num_beams is not None:
                    generation["num_beams"] = num_beams
                if max_new_tokens is not None:
                    generation["max_new_tokens"] = max_new_tokens
            sequences = self.model.encode_inputs(name, items)
            raw = self.model.predict_sequences(name, sequences, batch_size, **generation)
            predictions = self.model.decode(name, raw)
        return predictions[0] if single else predictions

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
