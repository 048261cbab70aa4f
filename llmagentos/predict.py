"""Predict with a trained model from the command line, writing JSON Lines:

    python -m llmagentos.predict outputs/2026-12-05/10-00-00 --task 文本分类 --text "这部电影太棒了！"
    python -m llmagentos.predict RUN --task 机器翻译 --input sentences.jsonl --output out.jsonl
    cat sentences.jsonl | python -m llmagentos.predict RUN --task translation

Each input line is a JSON object with a "text" field, or "question" and "context" fields
for a question-answering task (other fields are copied through), or a JSON string. Each
output line is the input object with a "prediction" field added.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, BinaryIO

from llmagentos.inference import QA_FIELDS, LLMAgentOS
from llmagentos.qa import QuestionTooLong


def bounded(kind: type, low: float, high: float | None = None):
    """Return an argparse type that parses a number of `kind` between `low` and `high`, inclusive."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value < low or (high is not None and value > high):
            limit = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: use a value {limit}")
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m llmagentos.predict",
        description="Predict with a trained LLMAgentOS model; writes one JSON object per line.",
    )
    parser.add_argument("model", help="run folder, or the model/ folder inside it")
    parser.add_argument("--task", required=True, help="task name, alias (文本分类, 机器翻译) or type")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", help="one input text")
    source.add_argument("--input", type=Path, help="JSONL file of inputs (default: standard input)")
    parser.add_argument("--output", type=Path, help="JSONL file to create (default: standard output)")
    parser.add_argument("--batch-size", type=bounded(int, 1), default=32, help="examples per forward pass")
    parser.add_argument("--num-beams", type=bounded(int, 1), help="override the task's beam count")
    parser.add_argument("--max-new-tokens", type=bounded(int, 1), help="override the task's generation length")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ...; default: CUDA when available")
    return parser.parse_args(argv)


def read_records(
    stream: BinaryIO, where: str, fields: tuple[str, ...] = ("text",)
) -> tuple[list[dict[str, Any]], list[int]]:
    """Parse JSONL inputs into objects that hold each of `fields` as a non-empty text.

    A line holding a JSON string stands for ``{"text": <string>}``. Returns the records
    and the line number of each.

    Raises:
        ValueError: naming the line of the first malformed record and the fix.
    """
    expected_fields = " and ".join(f'"{f}"' for f in fields)
    records, numbers = [], []
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{where}:{number}: not valid UTF-8 ({err.reason}); save the file as UTF-8") from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}:{number}: invalid JSON ({err.msg}): {line.strip()[:60]}") from None
        if isinstance(record, str):
            record = {"text": record}
        if not isinstance(record, dict) or not all(_is_text(record.get(f)) for f in fields):
            raise ValueError(
                f"{where}:{number}: expected a JSON object with non-empty text in {expected_fields}; "
                f"got {line.strip()[:60]}"
            )
        records.append(record)
        numbers.append(number)
    return records, numbers


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.output is not None and args.output.exists():
            raise ValueError(f"{args.output} already exists; choose a new --output file")
        if args.input is not None and not args.input.is_file():
            raise ValueError(f"--input {args.input}: no such file")
        model = LLMAgentOS.from_pretrained(args.model, device=args.device)
        task = model.resolve_task(args.task)
        is_qa = model.model.spec["tasks"][task]["type"] == "qa"
        fields = QA_FIELDS if is_qa else ("text",)
        where = "--text"
        if args.text is not None:
            if is_qa:
                raise ValueError("--text gives one text, but a question-answering task needs "
                                 'objects with "question" and "context": use --input or standard input')
            records, numbers = [{"text": args.text}], [1]
        elif args.input is not None:
            where = str(args.input)
            with args.input.open("rb") as stream:
                records, numbers = read_records(stream, where, fields)
        elif sys.stdin is None:
            raise ValueError("no input: give --text, --input, or JSON lines on standard input")
        else:
            where = "<stdin>"
            records, numbers = read_records(sys.stdin.buffer, where, fields)
        if args.output is not None:  # before the work, so a bad folder fails at once
            args.output.parent.mkdir(parents=True, exist_ok=True)
        inputs = [{f: r[f] for f in fields} if is_qa else r["text"] for r in records]
        try:
            predictions = model.predict(
                task, inputs, batch_size=args.batch_size,
                num_beams=args.num_beams, max_new_tokens=args.max_new_tokens,
            )
        except QuestionTooLong as err:
            raise ValueError(f"{where}:{numbers[err.index]}: {err}") from None
        lines = [json.dumps({**r, "prediction": p}, ensure_ascii=False) + "\n" for r, p in zip(records, predictions)]
        if args.output is None:
            sys.stdout.writelines(lines)
        else:
            with args.output.open("x", encoding="utf-8") as out:  # "x": never replace a file
                out.writelines(lines)
    except (ValueError, KeyError, OSError) as err:
        message = err.args[0] if isinstance(err, KeyError) else err
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
