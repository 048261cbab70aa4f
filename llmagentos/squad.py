"""Reading SQuAD-format JSON files into one record per question.

The format is ``{"data": [{"title", "paragraphs": [{"context", "qas": [{"id",
"question", "answers": [{"text", "answer_start"}]}]}]}]}``. Published files carry
answers whose ``answer_start`` is -1 or points at the wrong characters (CMRC 2018's dev
file has 200 of them). Such an answer's offset is recovered by searching its context for
the answer text, taking the occurrence nearest to the given offset. An answer whose text
is not in the context is dropped, and a question left without answers is skipped. A
value of the wrong type or shape fails with the file, the JSON path and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmagentos.errors import DataError


@dataclass
class SquadCounts:
    """Counts of the questions and answers that reading one file kept, repaired and dropped."""

    questions: int = 0  # in the file
    answers: int = 0  # in the file
    recovered: int = 0  # answers whose answer_start was wrong or -1, found in the context
    dropped: int = 0  # answers whose text is not in the context
    skipped: int = 0  # questions left without a usable answer, not returned

    def summary(self) -> str:
        return (
            f"{self.questions} questions, {self.answers} answers; recovered the offset of "
            f"{self.recovered} answer(s) by searching the context, dropped {self.dropped} "
            f"answer(s) not found in it, skipped {self.skipped} question(s) left without an answer"
        )


def read_squad(path: Path) -> tuple[list[dict[str, Any]], SquadCounts]:
    """Read a SQuAD-format file into records with the standard QA columns.

    Returns:
        One record per question that keeps at least one answer, in file order:
        ``id`` (str), ``article`` (the article's title, or its JSON path where it has
        none), ``question``, ``context`` and ``answers`` (``{"text": [...],
        "answer_start": [...]}``, the usable answers with correct offsets). Also the
        counts of recovered and dropped answers and skipped questions.

    Raises:
        DataError: for invalid JSON (with its line), a missing or mistyped key (with
            its JSON path and value), or a question id used twice.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg} at column {err.colno}).") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 ({err.reason}). Re-save the file as UTF-8.") from None
    articles = _field(path, document, "data", list, "", 'the top level must be {"data": [articles]}')

    records: list[dict[str, Any]] = []
    counts = SquadCounts()
    seen_ids: dict[str, str] = {}
    for a, article in enumerate(articles):
        where = f"data[{a}]"
        _expect(path, article, dict, where, "each article is an object with a paragraphs list")
        title = article.get("title")
        group = title if isinstance(title, str) and title.strip() else where
        paragraphs = _field(path, article, "paragraphs", list, where, "list the article's paragraphs")
        for p, paragraph in enumerate(paragraphs):
            paragraph_path = f"{where}.paragraphs[{p}]"
            _expect(path, paragraph, dict, paragraph_path, "each paragraph has a context and qas")
            context = _text(path, paragraph, "context", paragraph_path)
            questions = _field(path, paragraph, "qas", list, paragraph_path, "list the questions")
            for q, question in enumerate(questions):
                record = _read_question(path, question, f"{paragraph_path}.qas[{q}]", context, counts)
                if record is None:
                    continue
                _check_unique_id(path, record["id"], f"{paragraph_path}.qas[{q}]", seen_ids)
                records.append({"id": record["id"], "article": group, **record["fields"]})
    return records, counts


def _read_question(
    path: Path, question: Any, where: str, context: str, counts: SquadCounts
) -> dict[str, Any] | None:
    """Read one question; None when none of its answers is a span of the context."""
    _expect(path, question, dict, where, "each question has an id, a question and answers")
    question_id = question.get("id")
    if isinstance(question_id, bool) or not isinstance(question_id, (str, int)):
        raise DataError(
            f"{path}: {where}.id is {question_id!r}, expected a string or integer id. "
            "Give every question a unique id."
        )
    text = _text(path, question, "question", where)
    answers = _field(path, question, "answers", list, where, "list the gold answers")
    counts.questions += 1
    usable: dict[str, list] = {"text": [], "answer_start": []}
    for n, answer in enumerate(answers):
        counts.answers += 1
        answer_text, start = _read_answer(path, answer, f"{where}.answers[{n}]")
        found = locate_answer(context, answer_text, start)
        if found is None:
            counts.dropped += 1
            continue
        counts.recovered += found != start
        usable["text"].append(answer_text)
        usable["answer_start"].append(found)
    if not usable["text"]:
        counts.skipped += 1
        return None
    fields = {"question": text, "context": context, "answers": usable}
    return {"id": str(question_id), "fields": fields}


def _read_answer(path: Path, answer: Any, where: str) -> tuple[str, int]:
    _expect(path, answer, dict, where, 'each answer is {"text": ..., "answer_start": ...}')
    text = _text(path, answer, "text", where)
    start = answer.get("answer_start")
    if isinstance(start, bool) or not isinstance(start, int):
        raise DataError(
            f"{path}: {where}.answer_start is {start!r}, expected an integer character "
            "offset into the context (-1 where unknown). Fix the value."
        )
    return text, start


def locate_answer(context: str, text: str, start: int) -> int | None:
    """Return the character offset of `text` in `context`.

    `start` is kept when the text is there. Otherwise the occurrence of the text
    nearest to `start` is returned (the first one for a negative `start`), or None
    when the context does not contain the text.
    """
    if 0 <= start and context[start : start + len(text)] == text:
        return start
    occurrences = []
    found = context.find(text)
    while found != -1:
        occurrences.append(found)
        found = context.find(text, found + 1)
    if not occurrences:
        return None
    return min(occurrences, key=lambda offset: abs(offset - max(start, 0)))


def _check_unique_id(path: Path, question_id: str, where: str, seen: dict[str, str]) -> None:
    # Predictions and scores are matched to questions by id.
    if question_id in seen:
        raise DataError(
            f"{path}: {where}.id {question_id!r} is already used at {seen[question_id]}. "
            "Give every question a unique id."
        )
    seen[question_id] = where


def _expect(path: Path, value: Any, kind: type, where: str, fix: str) -> None:
    if not isinstance(value, kind):
        excerpt = json.dumps(value, ensure_ascii=False)[:80]
        raise DataError(
            f"{path}: {where or 'the top level'} is {excerpt} ({type(value).__name__}), expected "
            f"a {'list' if kind is list else 'JSON object'}: {fix}."
        )


def _field(path: Path, node: Any, key: str, kind: type, where: str, fix: str) -> Any:
    full = f"{where}.{key}" if where else key
    if not isinstance(node, dict) or key not in node:
        raise DataError(f"{path}: {full} is missing: {fix}. Is this a SQuAD-format file?")
    _expect(path, node[key], kind, full, fix)
    return node[key]


def _text(path: Path, node: dict, key: str, where: str) -> str:
    value = node.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(
            f"{path}: {where}.{key} is {value!r}, expected a non-empty string. Fill it in or "
            "remove the entry."
        )
    return value
