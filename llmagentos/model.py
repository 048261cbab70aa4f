"""The multi-task model: one shared encoder and a router over per-task decoders.

With ``router.mode=text_to_text`` the router sends every task to one shared generator
that reads prompts, and with ``decoder_only`` that generator is the whole model.

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
from typing import TYPE_CHECKING, Any

import safetensors.torch
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from transformers import PreTrainedTokenizerBase

from llmagentos.decoder import ClassificationHead, DecoderOnlyGenerator, build_decoder
from llmagentos.encoder import TransformerEncoder, build_encoder
from llmagentos.errors import ConfigError
from llmagentos.llm import count_parameters, freeze, is_pretrained
from llmagentos.prompt import PROMPT_MODES, fit_prompts, resolve_template
from llmagentos.router import TaskRouter
from llmagentos.tokenizer import encode_texts, generation_ids, load_tokenizer, pad_inputs

if TYPE_CHECKING:  # the data module is training-side; inference does not import it
    from llmagentos.data import TaskPrompt

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "llmagentos.json"
TARGET_TOKENIZER_PREFIX = "target_tokenizer_"  # + task name: a pretrained generator's vocabulary
# text_to_text mode: the vocabulary of a pretrained shared generator, which every task writes with.
SHARED_TARGET_TOKENIZER = "generator_tokenizer"


class MultiTaskModel(nn.Module):
    """Encoder plus task router, or in decoder_only mode the router's shared generator alone.

    Args:
        spec: ``{"encoder": {...}, "tasks": {name: {...}}}``, plain dicts. Each task
            contains its ``type``, ``decoder`` config, ``labels`` and ``loss_weight``.
            The prompt modes add ``mode``, ``shared_decoder``, ``label_scoring`` and a
            ``prompt`` per task (see :func:`model_spec`).
        tokenizer: the encoder's tokenizer, also used for generator targets. In
            decoder_only mode, the generator's own (for a pretrained one, its checkpoint's).
        target_tokenizers: per task, the tokenizer of a pretrained generator, which
            brings its own vocabulary. In text_to_text mode with a pretrained shared
            generator, every task maps to that generator's tokenizer.
    """

    def __init__(
        self, spec: dict[str, Any], tokenizer: PreTrainedTokenizerBase,
        target_tokenizers: dict[str, PreTrainedTokenizerBase] | None = None,
    ):
        super().__init__()
        self.spec = spec
        self.tokenizer = tokenizer
        self.target_tokenizers = dict(target_tokenizers or {})
        weights = {name: float(task.get("loss_weight", 1.0)) for name, task in spec["tasks"].items()}
        if self.decoder_only:
            self.encoder = None
        else:
            self.encoder = self._build_encoder()
        if self.text_to_text:
            self.router = TaskRouter({}, weights, shared_decoder=self._build_shared_generator())
            # Token ids of each classification task's label names, the candidates that
            # label_scores ranks, tokenized once as the training targets were.
            self.label_token_ids = {
                name: self.target_tokenizer(name)(task["labels"], add_special_tokens=False)["input_ids"]
                for name, task in spec["tasks"].items() if task["type"] == "classification"
            }
        else:
            self.router = TaskRouter(self._build_task_decoders(), weights)

    def _build_encoder(self) -> nn.Module:
        if self.spec.get("encoder_model_config") is not None:
            # Loading a saved run: the architecture comes from the saved transformers
            # config and the weights from model.safetensors, with no download.
            encoder = TransformerEncoder.from_model_config(self.spec["encoder_model_config"])
        else:
            encoder_cfg = OmegaConf.create(self.spec["encoder"])
            encoder = build_encoder(encoder_cfg, len(self.tokenizer), self.tokenizer.pad_token_id)
        if self.spec["encoder"].get("freeze"):
            freeze(encoder)
        return encoder

    def _build_shared_generator(self) -> nn.Module:
        """Build the one generator that writes every task's output.

        It writes in the run's vocabulary, or a pretrained generator in its checkpoint's.
        """
        cfg = OmegaConf.create(self.spec["shared_decoder"])
        model_config = self.spec.get("shared_decoder_model_config")
        try:
            if self.decoder_only:
                bos, eos, pad = generation_ids(self.tokenizer)
                return DecoderOnlyGenerator(cfg, len(self.tokenizer), bos, eos, pad, model_config)
            tokenizer = self.target_tokenizer(next(iter(self.spec["tasks"])))
            return build_decoder(
                cfg, self.encoder.hidden_size, 0, generation_ids(tokenizer), len(tokenizer), model_config
            )
        except ConfigError as err:  # its message names decoder.<key>, without the router
            raise ConfigError(f"router.{err}") from err

    def _build_task_decoders(self) -> dict[str, nn.Module]:
        decoders = {}
        for name, task in self.spec["tasks"].items():
            target_tokenizer = self.target_tokenizer(name)
            try:
                decoders[name] = build_decoder(
                    OmegaConf.create(task["decoder"]), self.encoder.hidden_size,
                    len(task.get("labels") or []), generation_ids(target_tokenizer),
                    len(target_tokenizer), task.get("decoder_model_config"),
                )
            except ConfigError as err:  # its message names decoder.<key>, without the task
                raise ConfigError(f"task.{name}.{err}") from err
        self._init_poolers(decoders)
        return decoders

    def _init_poolers(self, decoders: dict[str, nn.Module]) -> None:
        """Start each ``pooling: pooler`` head from the pretrained encoder's own pooler.

        An encoder without a pooler (the BERT built from config sizes, the LSTM) leaves
        the heads' dense layers randomly initialized. When a saved model loads, its
        weights replace these copies.
        """
        if not isinstance(self.encoder, TransformerEncoder) or self.encoder.pooler_dense() is None:
            return
        for decoder in decoders.values():
            if isinstance(decoder, ClassificationHead) and decoder.pooler_dense is not None:
                decoder.init_pooler(self.encoder.pooler_dense())

    @property
    def text_to_text(self) -> bool:
        """Whether one shared generator reads prompts for every task (router.mode is
        text_to_text or decoder_only)."""
        return self.spec.get("mode", "per_task") in PROMPT_MODES

    @property
    def decoder_only(self) -> bool:
        """Whether the model has no encoder, the generator reading prompt and output as one sequence."""
        return self.spec.get("mode", "per_task") == "decoder_only"

    @property
    def reads_prompt(self) -> bool:
        """Whether the text_to_text generator reads the prompt in its own vocabulary too
        (``router.decoder.reads_prompt``), so that inputs come as two encodings."""
        return self.spec.get("mode") == "text_to_text" and bool(self.spec["shared_decoder"].get("reads_prompt"))

    def target_tokenizer(self, task: str) -> PreTrainedTokenizerBase:
        """Return the tokenizer of a task's generator targets."""
        return self.target_tokenizers.get(task, self.tokenizer)

    @property
    def task_names(self) -> list[str]:
        return self.router.task_names

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        hidden = None  # decoder_only: the targets contain the whole prompt + output sequences
        if self.encoder is not None:
            hidden = self.encoder(batch["input_ids"], batch["attention_mask"])  # (B, T, H)
        return self.router(hidden, batch["attention_mask"], batch["task_ids"], batch["targets"])

    @torch.no_grad()
    def predict_batch(
        self, task: str, input_ids: torch.Tensor, attention_mask: torch.Tensor,
        generator_ids: torch.Tensor | None = None, generator_mask: torch.Tensor | None = None,
        **generation,
    ) -> list:
        """Predict for a batch of one task: label indices, generated token ids, or per
        window the start and end logits of a span head (see llmagentos.qa).

        In text-to-text mode the inputs must be rendered prompts (see :meth:`prompt_inputs`),
        and a classification label is the one the shared generator scores highest
        (:meth:`label_scores`). A generator that reads the prompt (:attr:`reads_prompt`)
        needs it in its own vocabulary too, as `generator_ids` and `generator_mask`
        (B, P). `generation` (num_beams, max_new_tokens) applies to generated outputs only.
        """
        if self.text_to_text and self.spec["tasks"][task]["type"] == "classification":
            scores = self.label_scores(task, input_ids, attention_mask, generator_ids, generator_mask)
            return scores.argmax(dim=-1).tolist()
        if self.decoder_only:
            return self.router.decoder(task).predict(input_ids, attention_mask, **generation)
        hidden = self.encoder(input_ids, attention_mask)
        prompt = self._generator_prompt(generator_ids, generator_mask)
        return self.router.decoder(task).predict(hidden, attention_mask, **prompt, **generation)

    @torch.no_grad()
    def label_scores(
        self, task: str, input_ids: torch.Tensor, attention_mask: torch.Tensor,
        generator_ids: torch.Tensor | None = None, generator_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Score every label of a classification task under the shared generator.

        Each label's name is tokenized as in training, and its score is the sum of its
        token log-probabilities given the prompt (``label_scoring: mean`` divides by the
        token count). The arguments are those of :meth:`predict_batch`. Returns scores
        (B, number of labels) in the order of the task's labels.
        """
        candidates = self.label_token_ids[task]
        mean = self.spec.get("label_scoring", "sum") == "mean"
        generator = self.router.decoder(task)
        if self.decoder_only:
            return generator.score_candidates(input_ids, attention_mask, candidates, mean)
        hidden = self.encoder(input_ids, attention_mask)
        prompt = self._generator_prompt(generator_ids, generator_mask)
        return generator.score_candidates(hidden, attention_mask, candidates, mean, **prompt)

    def _generator_prompt(self, ids: torch.Tensor | None, mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Return the generator's own prompt arguments, which only :attr:`reads_prompt` takes."""
        if not self.reads_prompt:
            return {}
        if ids is None or mask is None:
            raise ValueError(
                "this model's generator reads the prompt (router.decoder.reads_prompt=true): pass "
                "generator_ids and generator_mask, as prompt_inputs returns them"
            )
        return {"prompt_ids": ids, "prompt_mask": mask}

    def encode_inputs(self, task: str, texts: list[str]) -> list[list[int]]:
        """Encoder input ids of raw texts, encoded as in training.

        In the prompt modes each text is first rendered through the task's saved prompt
        template, cut so that the prompt fits the task's max_length.
        """
        task_spec = self.spec["tasks"][task]
        max_length = task_spec["max_length"]
        if self.text_to_text:
            prompt = task_spec["prompt"]
            texts = fit_prompts(self.tokenizer, prompt["template"], prompt["task"], texts, max_length)
        return encode_texts(self.tokenizer, texts, max_length)

    def generator_prompts(self, task: str, texts: list) -> list[list[int]] | None:
        """The generator's own prompt ids of raw texts, rendered and cut as in training,
        where the generator reads the prompt (:attr:`reads_prompt`); else None."""
        if not self.reads_prompt:
            return None
        prompt, max_length = self.spec["tasks"][task]["prompt"], self.spec["tasks"][task]["max_length"]
        tokenizer = self.target_tokenizer(task)
        return encode_texts(
            tokenizer, fit_prompts(tokenizer, prompt["template"], prompt["task"], texts, max_length), max_length
        )

    def prompt_inputs(self, task: str, texts: list) -> dict[str, torch.Tensor]:
        """Render raw texts through a task's saved prompt and tokenize them as in training.

        Returns right-padded ``input_ids`` and ``attention_mask`` (B, T) for
        :meth:`predict_batch`, plus ``generator_ids`` and ``generator_mask`` (B, P) where
        the generator reads the prompt. Raises KeyError for a task the model was not
        trained on, and ValueError outside text-to-text mode, where inputs are not prompts.
        """
        if not self.text_to_text:
            raise ValueError("prompt_inputs: this model was trained with router.mode=per_task, "
                             "so it reads raw texts. Tokenize them with model.tokenizer.")
        inputs = pad_inputs(self.encode_inputs(task, texts), self.tokenizer.pad_token_id)
        generator_prompts = self.generator_prompts(task, texts)
        if generator_prompts is not None:
            inputs.update(self._pad_generator_prompts(task, generator_prompts))
        return inputs

    def _pad_generator_prompts(self, task: str, prompts: list[list[int]]) -> dict[str, torch.Tensor]:
        """Right-pad generator prompt ids into the ``generator_ids`` and ``generator_mask``
        arguments of :meth:`predict_batch`."""
        padded = pad_inputs(prompts, self.target_tokenizer(task).pad_token_id)
        return {"generator_ids": padded["input_ids"], "generator_mask": padded["attention_mask"]}

    @torch.no_grad()
    def predict_sequences(
        self, task: str, sequences: list[list[int]], batch_size: int,
        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
        generator_prompts: list[list[int]] | None = None,
        **generation,
    ) -> list:
        """Predict for encoder input ids of any number of examples of one task.

        Examples are batched in order of length, so that each batch pads little, and the
        predictions come back in the order of `sequences`. `autocast` wraps each forward
        pass (the trainer passes accelerate's mixed-precision context).
        `generator_prompts` are the same examples' prompts in the generator's vocabulary,
        which a generator that reads the prompt needs (see :meth:`generator_prompts`).
        """
        device = next(self.parameters()).device
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        predictions: list = [None] * len(sequences)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = pad_inputs([sequences[i] for i in chunk], self.tokenizer.pad_token_id)
            prompt = {}
            if generator_prompts is not None:
                padded = self._pad_generator_prompts(task, [generator_prompts[i] for i in chunk])
                prompt = {key: value.to(device) for key, value in padded.items()}
            with autocast():
                output = self.predict_batch(
                    task, batch["input_ids"].to(device), batch["attention_mask"].to(device),
                    **prompt, **generation,
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
        counts = {}
        if self.encoder is not None:
            counts["encoder"] = count_parameters(self.encoder)
        if self.router.shared is not None:
            counts["decoder[shared]"] = count_parameters(self.router.shared)
        for name, decoder in self.router.decoders.items():
            counts[f"decoder[{name}]"] = count_parameters(decoder)
        return counts

    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        spec = copy.deepcopy(self.spec)
        if spec["encoder"]["type"] == "hf" and self.encoder is not None:
            spec["encoder_model_config"] = self.encoder.model.config.to_dict()
        # Reloading rebuilds a pretrained generator from its config, with no download.
        if self.router.shared is not None:
            if is_pretrained(spec["shared_decoder"]) or "shared_decoder_model_config" in spec:
                spec["shared_decoder_model_config"] = self.router.shared.model.config.to_dict()
            if self.target_tokenizers:  # text_to_text: one vocabulary for every task's output
                next(iter(self.target_tokenizers.values())).save_pretrained(folder / SHARED_TARGET_TOKENIZER)
        else:
            for name, target_tokenizer in self.target_tokenizers.items():
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
        try:
            spec = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{folder / CONFIG_FILE} is damaged ({err}); save the model again") from None
        target_tokenizers = {
            name: load_tokenizer(str(folder / f"{TARGET_TOKENIZER_PREFIX}{name}"))
            for name, task in spec["tasks"].items()
            if task.get("decoder_model_config") is not None
        }
        if (folder / SHARED_TARGET_TOKENIZER).is_dir():
            shared = load_tokenizer(str(folder / SHARED_TARGET_TOKENIZER))
            target_tokenizers = dict.fromkeys(spec["tasks"], shared)
        model = cls(spec, load_tokenizer(str(folder)), target_tokenizers)
        try:
            safetensors.torch.load_model(model, str(folder / WEIGHTS_FILE), device=str(device))
        except (safetensors.SafetensorError, OSError) as err:
            raise ValueError(f"{folder / WEIGHTS_FILE} cannot be read ({err}); save the model again") from None
        return model.eval()


def model_spec(
    cfg: DictConfig, labels: dict[str, list[str]], prompts: dict[str, TaskPrompt] | None = None,
) -> dict[str, Any]:
    """Extract the parts of a run config that the model's architecture depends on, as plain dicts.

    `prompts` (the prompt modes) are stored per task as ``prompt`` ({"template", "task"}),
    with the template written out in full, so that a saved model renders inputs the same
    way even if a built-in template changes later.
    """
    shared = cfg.router.get("mode") in PROMPT_MODES
    tasks = {}
    for name, task in cfg.task.items():
        tasks[name] = {
            "type": task.type,
            "aliases": list(task.aliases),
            # In the prompt modes the task's own decoder is not built.
            "decoder": None if shared else OmegaConf.to_container(task.decoder, resolve=True),
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
        if shared:
            prompt = prompts[name]
            tasks[name]["prompt"] = {"template": resolve_template(prompt.template), "task": prompt.task}
    spec = {"encoder": OmegaConf.to_container(cfg.encoder, resolve=True), "tasks": tasks}
    if shared:
        spec["mode"] = cfg.router.mode
        spec["shared_decoder"] = OmegaConf.to_container(cfg.router.decoder, resolve=True)
        spec["label_scoring"] = cfg.router.label_scoring
    return spec
