"""Shared text encoders: every task's input passes through the same one.

An encoder maps ``input_ids`` and ``attention_mask`` of shape (B, T) to hidden states
(B, T, H) and exposes ``hidden_size`` (H) for the decoders to size themselves by.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn
from transformers import AutoConfig, AutoModel, BertConfig, BertModel


class TransformerEncoder(nn.Module):
    """A BERT-style encoder, built from config sizes or loaded pretrained with AutoModel."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.hidden_size = model.config.hidden_size

    @classmethod
    def from_sizes(cls, cfg: DictConfig, vocab_size: int, pad_token_id: int) -> "TransformerEncoder":
        config = BertConfig(
            vocab_size=vocab_size,
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout,
            max_position_embeddings=cfg.max_positions,
            pad_token_id=pad_token_id,
        )
        return cls(BertModel(config, add_pooling_layer=False))

    @classmethod
    def from_pretrained(cls, name: str, revision: str | None = None) -> "TransformerEncoder":
        return cls(AutoModel.from_pretrained(name, revision=revision))

    @classmethod
    def from_model_config(cls, config: dict) -> "TransformerEncoder":
        """Rebuild the architecture from a saved transformers config, without weights."""
        model_config = AutoConfig.for_model(**config)
        return cls(AutoModel.from_config(model_config))

    def pooler_dense(self) -> nn.Linear | None:
        """Return the dense layer of the model's pooler (BERT-family models loaded with
        AutoModel have one), or None when the model has no such pooler."""
        dense = getattr(getattr(self.model, "pooler", None), "dense", None)
        if isinstance(dense, nn.Linear) and dense.weight.shape == (self.hidden_size, self.hidden_size):
            return dense
        return None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class LSTMEncoder(nn.Module):
    """A bidirectional LSTM over learned embeddings; each direction has hidden_size / 2 units."""

    def __init__(self, cfg: DictConfig, vocab_size: int, pad_token_id: int):
        super().__init__()
        if cfg.hidden_size % 2:
            raise ValueError(f"encoder.hidden_size must be even for a BiLSTM, got {cfg.hidden_size}")
        self.hidden_size = cfg.hidden_size
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_size, padding_idx=pad_token_id)
        self.lstm = nn.LSTM(
            cfg.embedding_size,
            cfg.hidden_size // 2,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
            bidirectional=True,
            batch_first=True,
        )
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        embedded = self.dropout(self.embedding(input_ids))  # (B, T, E)
        lengths = attention_mask.sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            embedded, lengths, batch_first=True, enforce_sorted=False
        )
        output, _ = self.lstm(packed)
        hidden, _ = nn.utils.rnn.pad_packed_sequence(
            output, batch_first=True, total_length=input_ids.size(1)
        )
        return self.dropout(hidden)  # (B, T, H)


def build_encoder(cfg: DictConfig, vocab_size: int, pad_token_id: int) -> nn.Module:
    """Build the encoder that `cfg.type` names (transformer, lstm or hf)."""
    if cfg.type == "transformer":
        return TransformerEncoder.from_sizes(cfg, vocab_size, pad_token_id)
    if cfg.type == "lstm":
        return LSTMEncoder(cfg, vocab_size, pad_token_id)
    if cfg.type == "hf":
        return TransformerEncoder.from_pretrained(cfg.name, cfg.revision)
    raise ValueError(f"unknown encoder type {cfg.type!r}; use transformer, lstm or hf")
