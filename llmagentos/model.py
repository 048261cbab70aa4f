"""The multi-task model: one shared encoder and a router over per-task decoders.

A trained model is saved as a folder holding ``model.safetensors``, ``llmagentos.json``
(the architecture and task settings it was built from) and the tokenizer files, and
:meth:`MultiTaskModel.from_pretrained` rebuilds it from that folder alone.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from transformers import PreTrainedTokenizerBase

from llmagentos.decoder import build_decoder
from llmagentos.encoder import TransformerEncoder, build_encoder
from llmagentos.errors import ConfigError
from llmagentos.llm import count_parameters, freeze
from llmagentos.router import TaskRouter
from llmagentos.tokenizer import generation_ids, load_tokenizer, pad_inputs

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "llmagentos.json"
TARGET_TOKENIZER_PREFIX = "target_tokenizer_"  # + task name: a pretrained generator's vocabulary


class MultiTaskModel(nn.Module):
    """Encoder plus task router.

    Args:
        spec: ``{"encoder": {...}, "tasks": {name: {...}}}``, plain dicts. Each task
            contains its ``type``, ``decoder`` config, ``labels`` and ``loss_weight``.
        tokenizer: the encoder's tokenizer, also used for generator targets.
        target_tokenizers: per task, the tokenizer of a pretrained generator, which
            brings its own vocabulary.
    """

    def __init__(
        self, spec: dict[str, Any], tokenizer: PreTrainedTokenizerBase,
        target_tokenizers: dict[str, PreTrainedTokenizerBase] | None = None,
    ):
        super().__init__()
        self.spec = spec
        self.tokenizer = tokenizer
        self.target_tokenizers = dict(target_tokenizers or {})
        vocab_size = len(tokenizer)
        encoder_cfg = OmegaConf.create(spec["encoder"])
        if spec.get("encoder_model_config") is not None:
            # Loading a saved run: the architecture comes from the saved transformers
            # config and the weights from model.safetensors, with no download.
            self.encoder = TransformerEncoder.from_model_config(spec["encoder_model_config"])
        else:
            self.encoder = build_encoder(encoder_cfg, vocab_size, tokenizer.pad_token_id)
        if encoder_cfg.get("freeze"):
            freeze(self.encoder)
        decoders = {}
        for name, task in spec["tasks"].items():
            target_tokenizer = self.target_tokenizer(name)
            try:
                decoders[name] = build_decoder(
                    OmegaConf.create(task["decoder"]), self.encoder.hidden_size,
                    len(task.get("labels") or []), generation_ids(target_tokenizer),
                    len(target_tokenizer), task.get("decoder_model_config"),
                )
            except ConfigError as err:  # its message names decoder.<key>, without the task
                raise ConfigError(f"task.{name}.{err}") from err
        weights = {name: float(task.get("loss_weight", 1.0)) for name, task in spec["tasks"].items()}
        self.router = TaskRouter(decoders, weights)

    def target_tokenizer(self, task: str) -> PreTrainedTokenizerBase:
        """Return the tokenizer of a task's generator targets."""
        return self.target_tokenizers.get(task, self.tokenizer)

    @property
    def task_names(self) -> list[str]:
        return self.router.task_names

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        hidden = self.encoder(batch["input_ids"], batch["attention_mask"])  # (B, T, H)
        return self.router(hidden, batch["attention_mask"], batch["task_ids"], batch["targets"])

    @torch.no_grad()
    def predict_batch(self, task: str, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      **generation) -> list:
        """Predict for a batch of one task: label indices, generated token ids, or per
        window the start and end logits of a span head (see llmagentos.qa)."""
        hidden = self.encoder(input_ids, attention_mask)
        return self.router.decoders[task].predict(hidden, attention_mask, **generation)

    @torch.no_grad()
    def predict_sequences(
        self, task: str, sequences: list[list[int]], batch_size: int,
        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
        **generation,
    ) -> list:
        """Predict for encoder input ids of any number of examples of one task.

        Examples are batched in order of length, so that each batch pads little, and the
        predictions come back in the order of `sequences`. `autocast` wraps each forward
        pass (the trainer passes accelerate's mixed-precision context).
        """
        device = next(self.parameters()).device
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        predictions: list = [None] * len(sequences)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = pad_inputs([sequences[i] for i in chunk], self.tokenizer.pad_token_id)
            with autocast():
                output = self.predict_batch(
                    task, batch["input_ids"].to(device), batch["attention_mask"].to(device), **generation
                )
            for i, prediction in zip(chunk, output):
                predictions[i] = prediction
        return predictions

    def decode(self, task: str, predictions: list) -> list[str]:
        """Turn raw predictions into text: label names, or detokenized generated ids."""
        if self.spec["tasks"][task]["type"] == "classification":
            labels = self.spec["tasks"][task]["labels"]
            return [labels[index] for index in predictions]
        tokenizer = self.target_tokenizer(task)
        return [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in predictions]

    def parameter_counts(self) -> dict[str, tuple[int, int]]:
        """Return (trainable, total) parameter counts of the encoder and of each decoder."""
        counts = {"encoder": count_parameters(self.encoder)}
        for name, decoder in self.router.decoders.items():
            counts[f"decoder[{name}]"] = count_parameters(decoder)
        return counts

    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        spec = copy.deepcopy(self.spec)
        if spec["encoder"]["type"] == "hf":
            spec["encoder_model_config"] = self.encoder.model.config.to_dict()
        for name, target_tokenizer in self.target_tokenizers.items():
            # Reloading rebuilds the pretrained generator from its config, with no download.
            decoder = self.router.decoders[name]
            spec["tasks"][name]["decoder_model_config"] = decoder.model.config.to_dict()
            target_tokenizer.save_pretrained(folder / f"{TARGET_TOKENIZER_PREFIX}{name}")
        (folder / CONFIG_FILE).write_text(json.dumps(spec, ensure_ascii=False, indent=2) + "\n")
        # save_model drops the copies of tied weights (a GPT-2 head shares its embedding).
        safetensors.torch.save_model(self, str(folder / WEIGHTS_FILE))
        self.tokenizer.save_pretrained(folder)

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | torch.device = "cpu") -> "MultiTaskModel":
        folder = Path(folder)
        if not (folder / CONFIG_FILE).is_file():
            raise FileNotFoundError(
                f"{folder / CONFIG_FILE} not found: {folder} is not a saved LLMAgentOS model "
                "(a run folder keeps it under model/)"
            )
        spec = json.loads((folder / CONFIG_FILE).read_text())
        target_tokenizers = {
            name: load_tokenizer(str(folder / f"{TARGET_TOKENIZER_PREFIX}{name}"))
            for name, task in spec["tasks"].items()
            if task.get("decoder_model_config") is not None
        }
        model = cls(spec, load_tokenizer(str(folder)), target_tokenizers)
        safetensors.torch.load_model(model, str(folder / WEIGHTS_FILE), device=str(device))
        return model.eval()


def model_spec(cfg: DictConfig, labels: dict[str, list[str]]) -> dict[str, Any]:
    """Extract the parts of a run config that the model's architecture depends on, as plain dicts."""
    tasks = {}
    for name, task in cfg.task.items():
        tasks[name] = {
            "type": task.type,
            "aliases": list(task.aliases),
            "decoder": OmegaConf.to_container(task.decoder, resolve=True),
            "labels": labels.get(name, []),
            "loss_weight": task.loss_weight,
            "source_lang": task.source_lang,
            "target_lang": task.target_lang,
            "lang": task.lang,
            "max_length": task.max_length,
            "stride": task.stride,
            "max_answer_length": task.max_answer_length,
            "generation": OmegaConf.to_container(task.generation, resolve=True),
        }
    return {"encoder": OmegaConf.to_container(cfg.encoder, resolve=True), "tasks": tasks}
