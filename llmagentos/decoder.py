"""Task decoders: each reads the encoder states of its own task's examples.

Every decoder takes ``hidden`` (N, T, H) and ``mask`` (N, T) for the N examples of its
task in the batch. ``loss`` returns the mean loss over those examples (over their target
tokens, for a generator); ``predict`` returns one prediction per example (per window, for
a span head).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from llmagentos.errors import ConfigError
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    BertGenerationConfig,
    BertGenerationDecoder,
    GPT2Config,
    GPT2LMHeadModel,
)


class ClassificationHead(nn.Module):
    """Dropout and a linear layer over the pooled encoder states."""

    def __init__(self, cfg: DictConfig, hidden_size: int, num_labels: int):
        super().__init__()
        self.pooling = cfg.pooling
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def logits(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:  # masked mean over the real tokens
            weights = mask.unsqueeze(-1).to(hidden.dtype)  # (N, T, 1)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return self.classifier(self.dropout(pooled))  # (N, num_labels)

    def loss(self, hidden: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.logits(hidden, mask).float(), labels)

    @torch.no_grad()
    def predict(self, hidden: torch.Tensor, mask: torch.Tensor, **_) -> list[int]:
        return self.logits(hidden, mask).argmax(dim=-1).tolist()


class SpanHead(nn.Module):
    """Dropout and a linear layer that scores every token as the answer's start and end."""

    def __init__(self, cfg: DictConfig, hidden_size: int):
        super().__init__()
        self.dropout = nn.Dropout(cfg.dropout)
        self.scorer = nn.Linear(hidden_size, 2)

    def logits(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return start and end logits (N, T), float32, with padding at the float minimum."""
        scores = self.scorer(self.dropout(hidden)).float()  # (N, T, 2)
        padding = mask == 0
        start, end = scores.unbind(dim=-1)
        floor = torch.finfo(scores.dtype).min
        return start.masked_fill(padding, floor), end.masked_fill(padding, floor)

    def loss(
        self, hidden: torch.Tensor, mask: torch.Tensor,
        start_positions: torch.Tensor, end_positions: torch.Tensor,
    ) -> torch.Tensor:
        """Mean of the start and end cross-entropies over the N windows."""
        start, end = self.logits(hidden, mask)
        return (F.cross_entropy(start, start_positions) + F.cross_entropy(end, end_positions)) / 2

    @torch.no_grad()
    def predict(self, hidden: torch.Tensor, mask: torch.Tensor, **_) -> list[tuple[list[float], list[float]]]:
        """Return each window's start and end logits over its real tokens (padding cut off).

        llmagentos.qa.pick_best_spans turns them into answers.
        """
        start, end = self.logits(hidden, mask)
        lengths = mask.sum(dim=1).tolist()
        return [
            (start[row, :length].tolist(), end[row, :length].tolist())
            for row, length in enumerate(lengths)
        ]


class Generator(nn.Module):
    """A causal transformer decoder with cross-attention to the encoder states.

    Trained with teacher forcing: the input is [BOS] + target and the labels are
    target + [EOS]. Encoder states are projected when their width differs from the
    decoder's, since cross-attention in GPT-2 expects both to match.
    """

    def __init__(
        self, cfg: DictConfig, encoder_size: int, vocab_size: int,
        bos_token_id: int, eos_token_id: int, pad_token_id: int,
        model_config: dict | None = None,
    ):
        super().__init__()
        self.bos_token_id, self.eos_token_id, self.pad_token_id = bos_token_id, eos_token_id, pad_token_id
        if model_config is not None:
            # A saved model: the architecture from its transformers config, weights loaded later.
            self.model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**model_config))
        else:
            self.model = _build_decoder_model(cfg, vocab_size, bos_token_id, eos_token_id, pad_token_id)
        width = self.model.config.hidden_size
        self.bridge = nn.Linear(encoder_size, width) if encoder_size != width else nn.Identity()

    def loss(
        self, hidden: torch.Tensor, mask: torch.Tensor,
        decoder_input_ids: torch.Tensor, decoder_attention_mask: torch.Tensor,
        labels: torch.Tensor,
    ) -> torch.Tensor:
        logits = self.model(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=self.bridge(hidden),
            encoder_attention_mask=mask,
        ).logits  # (N, L, V)
        return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)

    @torch.no_grad()
    def predict(
        self, hidden: torch.Tensor, mask: torch.Tensor, num_beams: int = 1, max_new_tokens: int = 64
    ) -> list[list[int]]:
        """Decode greedily (num_beams=1) or with beam search; returns token ids without BOS/EOS."""
        start = torch.full((hidden.size(0), 1), self.bos_token_id, device=hidden.device)
        output = self.model.generate(
            input_ids=start,
            attention_mask=torch.ones_like(start),
            encoder_hidden_states=self.bridge(hidden),
            encoder_attention_mask=mask,
            num_beams=num_beams,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
            # BERT-generation decoders fail on the plain cache that generate() would make
            # for them (transformers 5.25); a cache with a cross-attention half serves both.
            cache=EncoderDecoderCache(DynamicCache(), DynamicCache()),
        )
        sequences = []
        for row in output[:, 1:].tolist():
            if self.eos_token_id in row:
                row = row[: row.index(self.eos_token_id)]
            sequences.append(row)
        return sequences


def _build_decoder_model(
    cfg: DictConfig, vocab_size: int, bos: int, eos: int, pad: int
) -> nn.Module:
    if cfg.pretrained:
        # Targets use the checkpoint's own tokenizer (loaded by the trainer), so its
        # vocabulary and special ids fit. Cross-attention layers start untrained.
        try:
            config = AutoConfig.from_pretrained(cfg.pretrained)
            config.add_cross_attention = True
            config.is_decoder = True  # BERT-style checkpoints load as encoders without this flag
            return AutoModelForCausalLM.from_pretrained(cfg.pretrained, config=config)
        except (OSError, ValueError) as err:
            raise ConfigError(
                f"decoder.pretrained={cfg.pretrained!r}: no causal LM found as a local folder "
                f"or on the Hugging Face hub ({str(err).splitlines()[0]})."
            ) from err
    if cfg.architecture == "gpt2":
        config = GPT2Config(
            vocab_size=vocab_size,
            n_positions=cfg.max_positions,
            n_embd=cfg.hidden_size,
            n_layer=cfg.num_layers,
            n_head=cfg.num_heads,
            n_inner=cfg.intermediate_size,
            resid_pdrop=cfg.dropout,
            embd_pdrop=cfg.dropout,
            attn_pdrop=cfg.dropout,
            add_cross_attention=True,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        )
        return GPT2LMHeadModel(config)
    if cfg.architecture == "bert_generation":
        config = BertGenerationConfig(
            vocab_size=vocab_size,
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout,
            max_position_embeddings=cfg.max_positions,
            is_decoder=True,
            add_cross_attention=True,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        )
        return BertGenerationDecoder(config)
    raise ValueError(f"unknown generator architecture {cfg.architecture!r}; use gpt2 or bert_generation")


def build_decoder(
    cfg: DictConfig, encoder_size: int, num_labels: int, tokenizer_ids: tuple[int, int, int],
    vocab_size: int, model_config: dict | None = None,
) -> nn.Module:
    """Build the decoder `cfg.type` names for one task.

    `tokenizer_ids` (bos, eos, pad) and `vocab_size` come from the tokenizer of the
    generator's targets; `model_config`, from a saved model, skips any download.
    """
    if cfg.type == "classifier":
        return ClassificationHead(cfg, encoder_size, num_labels)
    if cfg.type == "generator":
        bos, eos, pad = tokenizer_ids
        return Generator(cfg, encoder_size, vocab_size, bos, eos, pad, model_config)
    if cfg.type == "span":
        return SpanHead(cfg, encoder_size)
    raise ValueError(f"unknown decoder type {cfg.type!r}; use classifier, generator or span")
