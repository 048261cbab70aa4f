"""Per-task metrics: accuracy and macro-F1 for classification, BLEU and chrF for translation."""

from __future__ import annotations

from collections.abc import Sequence

import sacrebleu


def accuracy(predictions: Sequence[int], references: Sequence[int]) -> float:
    if not references:
        return 0.0
    return sum(p == r for p, r in zip(predictions, references)) / len(references)


def macro_f1(predictions: Sequence[int], references: Sequence[int], num_labels: int) -> float:
    """Return F1 averaged over the labels that occur in the predictions or the references."""
    scores = []
    for label in range(num_labels):
        tp = sum(p == label and r == label for p, r in zip(predictions, references))
        fp = sum(p == label and r != label for p, r in zip(predictions, references))
        fn = sum(p != label and r == label for p, r in zip(predictions, references))
        if tp + fp + fn == 0:
            continue  # label absent from both sides: no evidence either way
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def bleu_tokenizer(target_lang: str | None) -> str:
    """sacrebleu tokenizer for a target language: `zh` for Chinese, `13a` otherwise.

    The default 13a tokenizer splits on spaces and punctuation only, so unsegmented
    Chinese would count each sentence as one token and score near 0 BLEU.
    """
    return "zh" if (target_lang or "").lower().startswith(("zh", "cmn")) else "13a"


def translation_scores(
    hypotheses: Sequence[str], references: Sequence[str], target_lang: str | None
) -> dict[str, float]:
    bleu = sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize=bleu_tokenizer(target_lang))
    chrf = sacrebleu.corpus_chrf(list(hypotheses), [list(references)])
    return {"bleu": bleu.score, "chrf": chrf.score}


def classification_scores(
    predictions: Sequence[int], references: Sequence[int], num_labels: int
) -> dict[str, float]:
    return {
        "accuracy": accuracy(predictions, references),
        "macro_f1": macro_f1(predictions, references, num_labels),
    }
