"""Vocabularies for encoders that have no pretrained tokenizer.

The tokenizer is trained with `tokenizers` on the selected tasks' training text and
wrapped in a `PreTrainedTokenizerFast`, so it saves and loads like any transformers
tokenizer. Chinese characters are split one by one before the vocabulary model reads
them. The decoder restores the spacing of the normalized text (NFKC, runs of whitespace
collapsed), so a generated sentence detokenizes without spaces between Chinese characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from tokenizers.processors import TemplateProcessing
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from llmagentos.errors import ConfigError

SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "bos_token": "[BOS]",
    "eos_token": "[EOS]",
}

# CJK ideographs, CJK punctuation and full-width forms: one pre-token each.
_CJK = r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"


def train_tokenizer(
    texts: Iterable[str], kind: str = "bpe", vocab_size: int = 8000, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train a BPE or WordPiece vocabulary on `texts`.

    Encoding adds [CLS] ... [SEP] around a single text, as BERT-style encoders expect.
    """
    specials = list(SPECIAL_TOKENS.values())
    if kind == "bpe":
        model = models.BPE(unk_token="[UNK]")
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials
        )
        decoder = decoders.Metaspace(prepend_scheme="first")
    elif kind == "wordpiece":
        model = models.WordPiece(unk_token="[UNK]")
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials
        )
        # Metaspace markers already carry every space, so continuation pieces only lose
        # their "##" and all pieces join as they are. The WordPiece decoder would add a
        # space before each whole-word piece, punctuation included.
        # NOTE: a literal "##" inside the text is dropped from the decoded text too.
        decoder = decoders.Sequence([decoders.Replace("##", ""), decoders.Metaspace(prepend_scheme="first")])
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}; use bpe or wordpiece")

    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()]
    )
    # Metaspace marks each space with "▁" so that decoding restores it exactly, and CJK
    # characters, split off first, never receive a marker: "我爱Paris" decodes unspaced.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_CJK), behavior="isolated"),
            pre_tokenizers.Metaspace(prepend_scheme="first"),
            pre_tokenizers.Punctuation(behavior="isolated"),
            pre_tokenizers.Digits(individual_digits=True),
        ]
    )
    tokenizer.decoder = decoder
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[(t, tokenizer.token_to_id(t)) for t in ("[CLS]", "[SEP]")],
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **SPECIAL_TOKENS)


def tokenizer_from_json(state: str) -> PreTrainedTokenizerFast:
    """Rebuild a tokenizer from the JSON that `Tokenizer.to_str` returns."""
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(state), **SPECIAL_TOKENS)


def load_tokenizer(
    name_or_path: str, revision: str | None = None, key: str = "encoder.name",
) -> PreTrainedTokenizerBase:
    """Load a saved or pretrained tokenizer by hub name or folder; `key` is the config
    key that named it, for the error message.

    Raises:
        ConfigError: when neither a folder nor a reachable hub model has that name.
    """
    try:
        return AutoTokenizer.from_pretrained(name_or_path, revision=revision)
    except (OSError, ValueError) as err:  # HFValidationError is a ValueError
        if Path(name_or_path).is_dir():
            raise ConfigError(
                f"{name_or_path}: the folder has no readable tokenizer (tokenizer.json or "
                f"vocab files) ({str(err).splitlines()[0]}). Save one there with save_pretrained."
            ) from err
        raise ConfigError(
            f"tokenizer {name_or_path!r} not found as a local folder or on the Hugging Face hub "
            f"({str(err).splitlines()[0]}). Check the folder path or hub name ({key}); "
            "offline, use a folder saved with save_pretrained."
        ) from err


def generation_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int, int]:
    """Return the (bos, eos, pad) ids a generator uses; BERT-style vocabularies use [CLS]/[SEP]."""
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    if bos is None or eos is None:
        raise ValueError(
            f"tokenizer {tokenizer.name_or_path!r} has neither bos/eos nor cls/sep tokens, "
            "so a generator cannot mark where a target starts and ends"
        )
    return bos, eos, pad


def encode_texts(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int) -> list[list[int]]:
    """Return the encoder input ids of each text, special tokens included, cut at `max_length`.

    Training data and prediction inputs both pass through here, so a model gets the
    same encoding at inference as in training.
    """
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def pad_inputs(sequences: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad encoder inputs to the longest sequence: input_ids and attention_mask (B, T)."""
    longest = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def join_prompts(
    prompts: list[list[int]], outputs: list[list[int]], eos_id: int, pad_id: int
) -> dict[str, torch.Tensor]:
    """Join each prompt with its output and EOS into one right-padded sequence.

    Returns ``input_ids`` and ``attention_mask`` (N, L), and ``labels`` (N, L): the
    output and EOS tokens at their own positions, -100 on the prompt and the padding.
    A causal model predicts ``labels[:, 1:]`` from ``input_ids[:, :-1]``.
    """
    sequences = [[*prompt, *output, eos_id] for prompt, output in zip(prompts, outputs)]
    batch = pad_inputs(sequences, pad_id)
    labels = torch.full_like(batch["input_ids"], -100)
    for row, (prompt, sequence) in enumerate(zip(prompts, sequences)):
        labels[row, len(prompt) : len(sequence)] = torch.tensor(sequence[len(prompt) :])
    return {**batch, "labels": labels}

