"""Per-task metrics: accuracy and macro-F1 for classification, BLEU and chrF for
translation, exact match and F1 for extractive question answering.

Accuracy and macro-F1 are fractions in [0, 1]. BLEU, chrF and the QA scores are
percentages in [0, 100], as sacrebleu and the official SQuAD and CMRC 2018 evaluation
scripts report them, so that they compare directly with published figures.
"""

from __future__ import annotations

import re
import string
from collections import Counter
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


def is_chinese(lang: str | None) -> bool:
    """Return whether a language code names Chinese (zh, zh-CN, cmn, ...)."""
    return (lang or "").lower().startswith(("zh", "cmn"))


def bleu_tokenizer(target_lang: str | None) -> str:
    """sacrebleu tokenizer for a target language: `zh` for Chinese, `13a` otherwise.

    The default 13a tokenizer splits on spaces and punctuation only, so unsegmented
    Chinese would count each sentence as one token and score near 0 BLEU.
    """
    return "zh" if is_chinese(target_lang) else "13a"


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


# -- extractive question answering -----------------------------------------------------


def qa_scores(
    predictions: Sequence[str], references: Sequence[Sequence[str]], lang: str | None
) -> dict[str, float]:
    """Score predicted answers against each question's gold answers, in percent.

    Chinese (`lang` zh or cmn) follows the CMRC 2018 evaluation script, every other
    language the SQuAD v1.1 script. Each question scores the maximum over its gold
    answers, and the result is the mean over questions times 100.

    Args:
        predictions: one answer text per question.
        references: per question, one or more gold answer texts.
        lang: the language of the contexts.

    Returns:
        ``{"exact_match": ..., "f1": ...}``, each in [0, 100]; 0 for no questions.

    Raises:
        ValueError: when the lengths differ or a question has no gold answer.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} questions")
    exact, f1 = (cmrc_exact_match, cmrc_f1) if is_chinese(lang) else (squad_exact_match, squad_f1)
    totals = {"exact_match": 0.0, "f1": 0.0}
    for index, (prediction, golds) in enumerate(zip(predictions, references)):
        if not golds:
            raise ValueError(f"question {index} has no gold answer to score against")
        totals["exact_match"] += max(exact(prediction, gold) for gold in golds)
        totals["f1"] += max(f1(prediction, gold) for gold in golds)
    count = max(len(predictions), 1)
    return {name: 100.0 * total / count for name, total in totals.items()}


def _overlap_f1(overlap: int, predicted: int, gold: int) -> float:
    """F1 of `overlap` shared tokens between a prediction and a gold answer of these lengths."""
    if overlap == 0:
        return 0.0
    precision, recall = overlap / predicted, overlap / gold
    return 2 * precision * recall / (precision + recall)


# SQuAD v1.1: lowercase, drop ASCII punctuation and the articles a, an, the, then split
# on whitespace. F1 counts the tokens the two answers share, as a multiset.

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCTUATION = set(string.punctuation)


def squad_normalize(text: str) -> str:
    """Normalize an answer as the SQuAD v1.1 evaluation script does."""
    text = "".join(char for char in text.lower() if char not in _ASCII_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact_match(prediction: str, gold: str) -> float:
    return float(squad_normalize(prediction) == squad_normalize(gold))


def squad_f1(prediction: str, gold: str) -> float:
    predicted, expected = squad_normalize(prediction).split(), squad_normalize(gold).split()
    overlap = sum((Counter(predicted) & Counter(expected)).values())
    return _overlap_f1(overlap, len(predicted), len(expected))


# CMRC 2018 (the official cmrc2018_evaluate.py, SQuAD-style data): lowercase and strip,
# drop the punctuation below, and split into segments: each CJK character alone, each run
# of other characters into words. F1 takes the longest common *contiguous* run of
# segments, which that script calls LCS, as the overlap, so a prediction that shares two
# separate pieces with the gold answer gets credit only for the longer piece.
#
# The script's list also contains "……" as one entry. It compares single characters with
# the list, so that entry never matches and "…" is kept; the set below keeps that.
_CMRC_PUNCTUATION = set("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")
_CMRC_HAN = re.compile(r"[\u4e00-\u9fa5]")  # the script's CJK range


def cmrc_segments(text: str) -> list[str]:
    """Split an answer into the segments that CMRC 2018 F1 counts, punctuation removed.

    NOTE: the official script splits runs of non-CJK characters with
    nltk.word_tokenize, which also cuts punctuation and contractions off words. Here
    they are split on whitespace, so "paris," stays one segment where nltk makes two.
    """
    segments: list[str] = []
    run = ""
    for char in text.lower().strip():
        if char in _CMRC_PUNCTUATION:
            continue
        if _CMRC_HAN.match(char):
            segments.extend(run.split())
            segments.append(char)
            run = ""
        else:
            run += char
    segments.extend(run.split())
    return segments


def _longest_common_run(first: list[str], second: list[str]) -> int:
    """Return the length of the longest contiguous run of segments found in both lists."""
    best = 0
    # previous[j]: length of the common run ending at the previous item of `first` and at
    # second[j - 1]; current[j], the same for `item`.
    previous = [0] * (len(second) + 1)
    for item in first:
        current = [0] * (len(second) + 1)
        for j, other in enumerate(second, start=1):
            if item == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def cmrc_exact_match(prediction: str, gold: str) -> float:
    def strip(text: str) -> str:
        return "".join(char for char in text.lower().strip() if char not in _CMRC_PUNCTUATION)

    return float(strip(prediction) == strip(gold))


def cmrc_f1(prediction: str, gold: str) -> float:
    predicted, expected = cmrc_segments(prediction), cmrc_segments(gold)
    return _overlap_f1(_longest_common_run(expected, predicted), len(predicted), len(expected))
