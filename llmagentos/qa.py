"""Extractive question answering: windows over long contexts, and answers from span scores.

These are pure functions of raw inputs and a fast tokenizer, used by the trainer and
usable on their own for inference:

    windows = encode_windows(tokenizer, questions, contexts, max_length=384, stride=128)
    batch = pad_inputs(windows["input_ids"], tokenizer.pad_token_id)  # llmagentos.tokenizer
    logits = model.predict_batch(task, batch["input_ids"], batch["attention_mask"])
    answers = pick_best_spans(logits, windows, contexts, max_answer_length=30)

A context longer than one window is cut into windows of at most ``max_length`` tokens,
each the question and a part of the context in the tokenizer's pair template, such as
[CLS] question [SEP] context part [SEP]. Consecutive windows share ``stride`` context
tokens, so an answer cut by one window edge lies whole inside the next window when it
is at most ``stride`` tokens long. Every window keeps the character span of each of its
context tokens, which maps token positions back to the original context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

# Where the start and end labels of a window point when the window does not contain the
# whole answer: the first token, [CLS] in BERT-style templates.
NO_ANSWER_POSITION = 0


class QuestionTooLong(ValueError):
    """Raised when a question leaves no more than `stride` context tokens in a window."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index  # the question's position in the list given


@dataclass
class SpanCandidate:
    """The best span inside one window: its score and character span in the context."""

    score: float  # start logit + end logit
    start: int  # character offset in the context, inclusive
    end: int  # character offset in the context, exclusive


@dataclass
class Answer:
    """A predicted answer of one example, as text and characters of its context."""

    text: str
    start: int  # character offset in the context; -1 when no window had a valid span
    score: float


def encode_windows(
    tokenizer: Any,
    questions: Sequence[str],
    contexts: Sequence[str],
    max_length: int,
    stride: int,
    answer_starts: Sequence[int] | None = None,
    answer_texts: Sequence[str] | None = None,
) -> dict[str, list]:
    """Tokenize question and context pairs into overlapping windows over the context.

    Only the context is truncated. Given answers, each window is labelled with the token
    positions of the answer's first and last characters, or with
    ``NO_ANSWER_POSITION`` twice when the window does not contain the whole answer.

    Args:
        tokenizer: a fast (Rust-backed) transformers tokenizer, needed for offsets.
        questions, contexts: one of each per example.
        max_length: tokens per window, special tokens included.
        stride: context tokens shared by consecutive windows of one example.
        answer_starts, answer_texts: optional, one answer per example: the character
            offset of its start in the context, and its text.

    Returns:
        Columns with one entry per window: ``input_ids``, ``length``,
        ``example_index`` (the example it belongs to) and ``offsets`` (per token, the
        ``[start, end)`` characters in the context, or None for question and special
        tokens). With answers, also ``start_positions`` and ``end_positions``.

    Raises:
        ValueError: for a slow tokenizer.
        QuestionTooLong: a ValueError, for a question too long to leave more than
            `stride` context tokens in a window.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"tokenizer {type(tokenizer).__name__} is not a fast tokenizer, so it has no offset "
            "mappings. Load one with AutoTokenizer.from_pretrained(..., use_fast=True)."
        )
    # Leading spaces in a question take window room and carry nothing.
    questions = [question.strip() for question in questions]
    check_question_room(tokenizer, questions, max_length, stride)
    encoded = tokenizer(
        questions,
        list(contexts),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )

    windows: dict[str, list] = {"input_ids": [], "length": [], "example_index": [], "offsets": []}
    if answer_starts is not None:
        windows["start_positions"], windows["end_positions"] = [], []
    for window, example in enumerate(encoded["overflow_to_sample_mapping"]):
        sequence_ids = encoded.sequence_ids(window)
        offsets = [
            list(span) if sequence == 1 else None
            for span, sequence in zip(encoded["offset_mapping"][window], sequence_ids)
        ]
        windows["input_ids"].append(encoded["input_ids"][window])
        windows["length"].append(len(encoded["input_ids"][window]))
        windows["example_index"].append(example)
        windows["offsets"].append(offsets)
        if answer_starts is not None:
            start = answer_starts[example]
            first, last = answer_token_span(offsets, start, start + len(answer_texts[example]))
            windows["start_positions"].append(first)
            windows["end_positions"].append(last)
    return windows


def check_question_room(tokenizer: Any, questions: list[str], max_length: int, stride: int) -> None:
    """Raise QuestionTooLong for the first question that leaves no more than `stride`
    context tokens in a window.

    The tokenizer would fail on such a question too, but with a message that names neither
    the question nor the fix.
    """
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    lengths = [len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"]]
    for index, length in enumerate(lengths):
        room = max_length - specials - length
        if room <= stride:
            raise QuestionTooLong(
                f"question {questions[index][:60]!r} has {length} tokens, which leaves {room} "
                f"context tokens per window of max_length={max_length}, not more than "
                f"stride={stride}. Shorten the question to at most {max_length - specials - stride - 1} "
                "tokens, or train with a larger max_length or a smaller stride.",
                index,
            )


def answer_token_span(offsets: Sequence[Sequence[int] | None], start: int, end: int) -> tuple[int, int]:
    """Return the first and last token of characters ``[start, end)`` of the context.

    Args:
        offsets: per token of one window, its context characters or None.
        start, end: the answer's characters in the context.

    Returns:
        ``(first, last)`` token positions, both ``NO_ANSWER_POSITION`` when the window's
        context tokens do not cover the whole answer.
    """
    context = [(position, span) for position, span in enumerate(offsets) if span is not None]
    if not context or start < context[0][1][0] or end > context[-1][1][1]:
        return NO_ANSWER_POSITION, NO_ANSWER_POSITION
    # A token may begin with the space before a word (a Metaspace "▁word" token), so the
    # first token is the first one that ends after `start`, not one that begins there.
    first = next(position for position, span in context if span[1] > start)
    last = next(position for position, span in reversed(context) if span[0] < end)
    return first, last


def best_window_span(
    start_logits: Sequence[float],
    end_logits: Sequence[float],
    offsets: Sequence[Sequence[int] | None],
    max_answer_length: int,
) -> SpanCandidate | None:
    """Pick the highest-scoring span of context tokens in one window.

    A span scores ``start_logits[i] + end_logits[j]`` and is valid when both tokens are
    context tokens, ``i <= j`` and it is at most `max_answer_length` tokens long.

    Args:
        start_logits, end_logits: one score per token of the window (padding may be
            left off, so both may be shorter than `offsets`).
        offsets: per token, its context characters or None.
        max_answer_length: maximum span length, in tokens.

    Returns:
        The best span with its character offsets, or None when the window has no
        context token.
    """
    length = min(len(start_logits), len(end_logits), len(offsets))
    is_context = torch.tensor([span is not None for span in offsets[:length]], dtype=torch.bool)
    if not is_context.any():
        return None
    start = torch.as_tensor(start_logits[:length], dtype=torch.float32)
    end = torch.as_tensor(end_logits[:length], dtype=torch.float32)
    scores = start[:, None] + end[None, :]  # (T, T): row = start token, column = end token
    positions = torch.arange(length)
    span_length = positions[None, :] - positions[:, None] + 1
    valid = (span_length >= 1) & (span_length <= max_answer_length)
    valid &= is_context[:, None] & is_context[None, :]
    scores = scores.masked_fill(~valid, float("-inf"))
    best = int(scores.argmax())
    first, last = divmod(best, length)
    return SpanCandidate(float(scores[first, last]), offsets[first][0], offsets[last][1])


def merge_window_spans(
    candidates: Sequence[SpanCandidate | None],
    example_index: Sequence[int],
    contexts: Sequence[str],
) -> list[Answer]:
    """Keep the best-scoring window span of each example and cut its text from the context.

    Args:
        candidates: per window, its best span (from :func:`best_window_span`) or None.
        example_index: per window, the example it belongs to.
        contexts: per example, its context.

    Returns:
        One answer per example, in example order, with surrounding whitespace trimmed.
        An example without any candidate gets an empty answer with start -1.
    """
    best: dict[int, SpanCandidate] = {}
    for candidate, example in zip(candidates, example_index):
        if candidate is not None and (example not in best or candidate.score > best[example].score):
            best[example] = candidate
    answers = []
    for example, context in enumerate(contexts):
        if example not in best:
            answers.append(Answer("", -1, float("-inf")))
            continue
        span = best[example]
        raw = context[span.start : span.end]
        text = raw.strip()
        start = span.start + (len(raw) - len(raw.lstrip()))
        answers.append(Answer(text, start, span.score))
    return answers


def pick_best_spans(
    logits: Sequence[tuple[Sequence[float], Sequence[float]]],
    windows: dict[str, list],
    contexts: Sequence[str],
    max_answer_length: int,
) -> list[Answer]:
    """Turn the span decoder's output for every window into one answer per example.

    Args:
        logits: per window, in the order of `windows`, its ``(start_logits,
            end_logits)``, as the span decoder's ``predict`` returns them.
        windows: the output of :func:`encode_windows`; ``offsets`` and
            ``example_index`` are read.
        contexts: the contexts given to :func:`encode_windows`.
        max_answer_length: maximum answer length, in tokens.

    Returns:
        One :class:`Answer` per context, in order.

    Raises:
        ValueError: when `logits` and `windows` hold different numbers of windows.
    """
    if len(logits) != len(windows["offsets"]):
        raise ValueError(f"{len(logits)} logit pairs for {len(windows['offsets'])} windows")
    candidates = [
        best_window_span(start, end, offsets, max_answer_length)
        for (start, end), offsets in zip(logits, windows["offsets"])
    ]
    return merge_window_spans(candidates, windows["example_index"], contexts)
