"""Loading task data with `datasets` and turning it into token ids.

Every task's splits are loaded into standard columns, whatever the source calls them:
``text`` and ``label`` (an index into the task's labels) for classification, ``source``
and ``target`` for translation, and ``id``, ``article``, ``question``, ``context`` and
``answers`` (``text`` and ``answer_start`` lists) for question answering. Local files are
checked line by line before `datasets` reads them, so a malformed line fails with its
file and line number rather than a parser traceback; SQuAD-format files name the JSON
path instead. Tokenized splits are cached under a fingerprint of the raw data, the
tokenizer and the task settings, so a second run with the same data skips tokenization.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
from omegaconf import DictConfig

from llmagentos.errors import ConfigError, DataError
from llmagentos.prompt import fit_prompts, resolve_template, task_display_name
from llmagentos.qa import QuestionTooLong, encode_windows
from llmagentos.squad import read_squad
from llmagentos.tokenizer import encode_texts

log = logging.getLogger(__name__)

# The repository's data/ folder: the default data_root.
SHIPPED_DATA = Path(__file__).resolve().parent.parent / "data"

STANDARD_COLUMNS = {"classification": ("text", "label"), "translation": ("source", "target")}
# The columns of each task type that hold text, the input column first.
TEXT_COLUMNS = {"classification": ("text",), "translation": ("source", "target"), "qa": ("question", "context")}
# The column whose equal values stay on one side when validation is held out of train.
GROUP_COLUMNS = {"classification": "text", "translation": "source", "qa": "article"}


@dataclass
class TaskData:
    """One task's tokenized splits, with what evaluation needs to score them."""

    name: str
    type: str
    train: datasets.Dataset
    validation: datasets.Dataset | None
    labels: list[str]
    # The tokenizer of a pretrained generator, which brings its own vocabulary; None
    # when targets use the encoder's tokenizer.
    target_tokenizer: Any = None
    # QA only: the validation examples (contexts, gold answers) that `validation`, one
    # row per window, was cut from; windows point into it by `example_index`.
    validation_examples: datasets.Dataset | None = None
    # The prompt settings in the prompt modes (text_to_text, decoder_only); None in per_task mode.
    prompt: TaskPrompt | None = None


def resolve_data_root(data_root: str | None) -> Path:
    return Path(data_root).expanduser().resolve() if data_root else SHIPPED_DATA


def load_raw_task(
    name: str, task: DictConfig, data_root: Path, cache_dir: str | None = None
) -> tuple[datasets.DatasetDict, list[str]]:
    """Load a task's train and validation splits into its standard columns.

    Returns the splits and, for classification, the label names in index order: the
    task's ``labels``, or the sorted labels of the training split where it lists none.

    Raises:
        DataError: naming the config key, file and line, and how to fix it.
    """
    source = task.data
    splits = {"train": source.train}
    if source.validation:
        splits["validation"] = source.validation
    held_out = not source.validation and source.validation_fraction is not None

    if source.format == "hub":
        raw = datasets.DatasetDict(
            {
                split: datasets.load_dataset(
                    source.path, source.name, split=value, cache_dir=cache_dir
                )
                for split, value in splits.items()
            }
        )
        files = {split: f"{source.path}[{value}]" for split, value in splits.items()}
    else:
        files = {split: str(_local_file(name, split, value, data_root)) for split, value in splits.items()}
        if source.format == "squad":
            raw = datasets.DatasetDict({split: _load_squad(path) for split, path in files.items()})
        else:
            for path in files.values():
                _check_file(Path(path), source.format)
            raw = _load_files(files, source.format, cache_dir)

    # Rows are limited before their values are checked, unless validation is held out of
    # train: then the whole file is split first, so the split does not depend on the limits.
    if not held_out:
        raw = _limit_rows(raw, source)
    labels: list[str] = []
    if task.type == "classification":
        labels = [str(label) for label in task.labels] or _labels_in(task, raw["train"])
    out = {
        split: _standardize(name, task, dataset, files[split], source.format, labels)
        for split, dataset in raw.items()
    }
    if held_out:
        out["train"], out["validation"] = hold_out_validation(
            out["train"], GROUP_COLUMNS[task.type], source.validation_fraction,
            source.validation_seed, where=split_source(name, task, "train", data_root),
        )
        out = _limit_rows(out, source)
        log.info(
            f"Task {name}: held out {len(out['validation'])} validation rows of the training "
            f"file (validation_fraction={source.validation_fraction}, seed {source.validation_seed})"
        )
    return datasets.DatasetDict(out), labels


def split_source(name: str, task: DictConfig, split: str, data_root: Path) -> str:
    """Name where a split's rows come from: its config key and file (or hub dataset).

    A validation split held out of the training file names that file.
    """
    source = task.data
    key = split if source.get(split) else "train"
    if source.format == "hub":
        return f"task.{name}.data.{key}={source.path}[{source[key]}]"
    return f"task.{name}.data.{key} ({(data_root / source[key]).resolve()})"


def _local_file(name: str, split: str, value: str, data_root: Path) -> Path:
    path = (data_root / value).resolve()
    if not path.is_file():
        raise DataError(
            f"task.{name}.data.{split}: file not found: {path}. Fix the path, or set "
            f"data_root=<folder> (now {data_root}) to the folder it is relative to."
        )
    return path


def _limit_rows(splits: dict[str, datasets.Dataset], source: DictConfig) -> dict[str, datasets.Dataset]:
    """Keep the first max_train_examples / max_eval_examples rows of each split."""
    limits = {"train": source.max_train_examples, "validation": source.max_eval_examples}
    out = dict(splits)
    for split, limit in limits.items():
        if split in out and limit is not None:
            out[split] = out[split].select(range(min(limit, len(out[split]))))
    return out


def _load_squad(path: str) -> datasets.Dataset:
    records, counts = read_squad(Path(path))
    log.info(f"{path}: {counts.summary()}")
    if not records:
        raise DataError(
            f"{path}: no question has a usable answer ({counts.summary()}). Check that the "
            "answers are spans of their contexts."
        )
    return datasets.Dataset.from_list(records)


def hold_out_validation(
    dataset: datasets.Dataset, group_column: str, fraction: float, seed: int, where: str = "train"
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Split a validation part off `dataset`, keeping rows with equal `group_column` together.

    Groups are shuffled with `seed` and taken in that order until they hold at least
    `fraction` of the rows, so the validation part may be somewhat larger than asked.

    Args:
        dataset: the training rows, in standard columns.
        group_column: rows sharing a value of it land on the same side.
        fraction: share of rows to hold out, between 0 and 1.
        seed: seeds the shuffle of the groups; the same seed gives the same split.
        where: the config key and file, for the error message.

    Returns:
        The remaining training rows and the held-out validation rows, each in file order.

    Raises:
        DataError: when every group would be held out, leaving nothing to train on.
    """
    keys = dataset[group_column]
    sizes = Counter(keys)
    order = list(sizes)  # first-appearance order, so the shuffle alone decides the split
    random.Random(seed).shuffle(order)
    held_groups: set = set()
    held_rows = 0
    for group in order:
        if held_rows >= fraction * len(keys):
            break
        held_groups.add(group)
        held_rows += sizes[group]
    if len(held_groups) == len(sizes):
        raise DataError(
            f"{where}: holding out {fraction} of {len(keys)} rows takes all {len(sizes)} "
            f"distinct {group_column!r} value(s), leaving nothing to train on. Lower "
            "validation_fraction, add rows, or set a validation file."
        )
    train_rows = [row for row, key in enumerate(keys) if key not in held_groups]
    validation_rows = [row for row, key in enumerate(keys) if key in held_groups]
    return dataset.select(train_rows), dataset.select(validation_rows)


def _load_files(files: dict[str, str], fmt: str, cache_dir: str | None) -> datasets.DatasetDict:
    # One builder call per split: published splits may differ in their columns
    # (ChnSentiCorp's dev file has a qid column that train lacks).
    builder, options = "json", {}
    if fmt in ("csv", "tsv"):
        builder, options = "csv", {"keep_default_na": False, "na_filter": False}
        if fmt == "tsv":
            # Texts contain quotes, so a tab-separated file is read without quote handling.
            options.update(sep="\t", quoting=csv.QUOTE_NONE)
    loaded = {}
    for split, path in files.items():
        try:
            loaded[split] = datasets.load_dataset(
                builder, data_files=path, split="train", cache_dir=cache_dir, **options
            )
        except Exception as err:  # the line checks passed, so this is about types or layout
            cause = err.__cause__ or err
            raise DataError(
                f"{path}: datasets could not read the file: {str(cause).strip()[:500]}"
            ) from err
    return datasets.DatasetDict(loaded)


# -- line-by-line checks ---------------------------------------------------------------


def _check_file(path: Path, fmt: str) -> None:
    """Fail on the first malformed line of a local file, naming file and line."""
    lines = _record_lines(path, fmt)
    if not lines:
        what = "a header and no rows" if fmt in ("csv", "tsv") else "no records"
        raise DataError(f"{path}: the file has {what}. Add examples or remove the split from the config.")


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig drops a byte order mark, which datasets accepts too.
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not valid UTF-8 ({err.reason}). Re-save the file as UTF-8."
        ) from None


def _record_lines(path: Path, fmt: str) -> list[int]:
    """Return the 1-based line where each record starts, checking every record on the way.

    Raises:
        DataError: at the first line that is not a valid record.
    """
    text = _read_text(path)
    if fmt == "jsonl":
        return _jsonl_lines(path, text)
    if fmt == "json":
        try:
            records = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg}).") from None
        # A JSON file contains one list of records, which have no lines of their own.
        return list(range(1, len(records) + 1)) if isinstance(records, list) else [1]
    return _csv_lines(path, text, fmt)


def _jsonl_lines(path: Path, text: str) -> list[int]:
    starts = []
    # JSON Lines separates records by "\n" only: U+2028 and other Unicode line breaks
    # may occur inside strings, so str.splitlines() would cut records apart.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_pairs_hook=_reject_duplicate_keys)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path}:{number}: invalid JSON ({err.msg} at column {err.colno}). "
                "Each line of a .jsonl file must be one JSON object."
            ) from None
        except _DuplicateKey as err:
            raise DataError(
                f"{path}:{number}: key {err.args[0]!r} appears twice in one object. Keep one."
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{path}:{number}: expected a JSON object, got {type(record).__name__}. "
                "Each line of a .jsonl file must be one JSON object."
            )
        starts.append(number)
    return starts


class _DuplicateKey(Exception):
    pass


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = {}
    for key, value in pairs:
        if key in record:
            raise _DuplicateKey(key)
        record[key] = value
    return record


def _csv_lines(path: Path, text: str, fmt: str) -> list[int]:
    options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if fmt == "tsv" else {}
    reader = csv.reader(io.StringIO(text, newline=""), **options)
    try:
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}:1: empty file; expected a header row of column names.")
        starts = []
        # A quoted CSV field may span lines, so the reader's own line count is used.
        start = reader.line_num + 1
        for row in reader:
            if row and len(row) != len(header):
                cause = "stray tabs" if fmt == "tsv" else "stray commas or an unclosed quote"
                raise DataError(
                    f"{path}:{start}: {len(row)} fields, but the header has {len(header)} "
                    f"({', '.join(header)}). Check for {cause} in the text."
                )
            if row:
                starts.append(start)
            start = reader.line_num + 1
    except csv.Error as err:
        raise DataError(f"{path}:{reader.line_num}: malformed {fmt.upper()} ({err}).") from None
    return starts


def _where(path: str, fmt: str, row: int) -> str:
    """Name the file and line of a 0-based dataset row, for error messages."""
    if fmt == "hub":
        return f"{path} row {row}"
    lines = _record_lines(Path(path), fmt)
    return f"{path}:{lines[row] if row < len(lines) else row + 1}"


# -- standard columns ------------------------------------------------------------------


def _standardize(
    name: str, task: DictConfig, dataset: datasets.Dataset, path: str, fmt: str,
    labels: list[str],
) -> datasets.Dataset:
    """Rename the mapped columns to the standard ones and turn labels into indices."""
    if fmt == "squad":
        return dataset  # read_squad writes the standard columns and checks every value
    columns = dict(task.data.columns)
    wanted = STANDARD_COLUMNS[task.type]
    for field in wanted:
        column = columns.get(field, field)
        if column not in dataset.column_names:
            raise DataError(
                f"{path}: column {column!r} not found (task.{name}.data.columns.{field}). "
                f"Available columns: {', '.join(dataset.column_names)}. "
                f"Set task.{name}.data.columns.{field}=<column>."
            )
    selected = {columns.get(field, field): field for field in wanted}
    dataset = dataset.select_columns(list(selected)).rename_columns(
        {old: new for old, new in selected.items() if old != new}
    )

    text_fields = TEXT_COLUMNS[task.type]
    for field in text_fields:
        values = dataset[field]
        column = columns.get(field, field)
        for row, value in enumerate(values):
            if value is None or (isinstance(value, str) and not value.strip()):
                raise DataError(
                    f"{_where(path, fmt, row)}: empty {field!r} (column {column!r}). "
                    "Remove the line or fill in the text."
                )
            # Numbers pass as text (a CSV cell of digits is read as a number); a JSON
            # object, list or boolean is not a text.
            if isinstance(value, (dict, list, bool)):
                raise DataError(
                    f"{_where(path, fmt, row)}: {field!r} (column {column!r}) is a "
                    f"{type(value).__name__}, not a text: {str(value)[:60]}"
                )
        if not all(isinstance(v, str) for v in values):
            dataset = dataset.cast_column(field, datasets.Value("string"))

    if task.type == "classification":
        dataset = _encode_labels(name, task, dataset, path, fmt, labels)
    return dataset


def _encode_labels(
    name: str, task: DictConfig, dataset: datasets.Dataset, path: str, fmt: str,
    labels: list[str],
) -> datasets.Dataset:
    label_map = {str(k): str(v) for k, v in task.label_map.items()}
    index = {label: i for i, label in enumerate(labels)}
    encoded = []
    for row, raw in enumerate(dataset["label"]):
        label = label_map.get(str(raw), str(raw))
        if label not in index:
            raise DataError(
                f"{_where(path, fmt, row)}: label {raw!r} is not one of task.{name}.labels "
                f"({', '.join(labels)}). Add it to task.{name}.labels, or map it with "
                f"task.{name}.label_map."
            )
        encoded.append(index[label])
    return dataset.remove_columns("label").add_column("label", encoded)


def _labels_in(task: DictConfig, raw_train: datasets.Dataset) -> list[str]:
    """Sorted label names seen in the training split, for tasks that list none."""
    label_map = {str(k): str(v) for k, v in task.label_map.items()}
    column = task.data.columns.get("label", "label")
    if column not in raw_train.column_names:
        return []  # _standardize reports the missing column
    return sorted({label_map.get(str(v), str(v)) for v in raw_train[column]})


# -- tokenization ----------------------------------------------------------------------


def tokenize_split(
    dataset: datasets.Dataset, task: DictConfig, tokenizer: Any, desc: str,
    target_tokenizer: Any = None, prompt: TaskPrompt | None = None, reads_prompt: bool = False,
    where: str | None = None,
) -> datasets.Dataset:
    """Add ``input_ids`` and ``length`` (and ``target_ids`` for translation).

    Targets are tokenized with `target_tokenizer` where given, else with `tokenizer`.
    With a `prompt` (router.mode text_to_text or decoder_only), ``input_ids`` are the
    input rendered through the prompt template, and every task gets ``target_ids``, a
    classification target being its label's name and a question's its first answer.
    With `reads_prompt` (``router.decoder.reads_prompt``) the prompt is also rendered
    for the generator, as ``generator_prompt_ids``: cut to max_length tokens of
    `target_tokenizer`, which may cut an input elsewhere than the encoder's cut.
    Question answering then also gets ``answer_in_prompt``, false where cutting the
    context to max_length lost the answer from either prompt. Without a prompt, question answering is cut
    into windows for a span head (see :func:`_tokenize_qa`). The result is cached under a
    fingerprint of the split, the tokenizers' vocabularies, the prompt and the length
    limits, so an unchanged run reads it back instead of re-tokenizing. `desc` labels
    the progress, and `where` (the config key and file of the split) starts error
    messages, `desc` where it is None.

    Raises:
        DataError: for a question that leaves no room for its context.
    """
    where = where or desc
    target_tokenizer = target_tokenizer or tokenizer
    settings = json.dumps(
        [dataset._fingerprint, _tokenizer_digest(tokenizer), _tokenizer_digest(target_tokenizer),
         task.type, task.max_length, task.get("max_target_length"), task.get("stride"),
         dataclasses.asdict(prompt) if prompt else None, reads_prompt]
    )
    fingerprint = hashlib.sha256(settings.encode()).hexdigest()[:32]
    if task.type == "qa" and prompt is None:
        return _tokenize_qa(dataset, task, tokenizer, desc, fingerprint, where)

    def encode(batch: dict[str, list]) -> dict[str, list]:
        out = {}
        if prompt is None:
            texts = batch[TEXT_COLUMNS[task.type][0]]
        else:
            texts = render(tokenizer, batch)
        out["input_ids"] = encode_texts(tokenizer, texts, task.max_length)
        if reads_prompt and target_tokenizer is tokenizer:  # one vocabulary: the same prompt
            generator_texts, out["generator_prompt_ids"] = texts, out["input_ids"]
        elif reads_prompt:
            generator_texts = render(target_tokenizer, batch)
            out["generator_prompt_ids"] = encode_texts(target_tokenizer, generator_texts, task.max_length)
        out["length"] = [len(ids) for ids in out["input_ids"]]
        if task.type == "translation" or prompt is not None:
            outputs = output_texts(task.type, batch, prompt)
            # One position is kept for the EOS token that the generator appends.
            targets = target_tokenizer(
                outputs, add_special_tokens=False, truncation=True, max_length=task.max_target_length - 1,
            )
            out["target_ids"] = targets["input_ids"]
            if task.type == "qa":
                # A cut context is a prefix of the context, so the answer survives the cut
                # when the context up to the answer's end is in the prompt. Looking for the
                # answer text alone would also find it in the question or the template.
                kept_until = [
                    context[: answers["answer_start"][0] + len(answers["text"][0])]
                    for context, answers in zip(batch["context"], batch["answers"])
                ]
                prompt_sets = [texts, generator_texts] if reads_prompt else [texts]
                out["answer_in_prompt"] = [
                    all(kept in prompts[row] for prompts in prompt_sets) for row, kept in enumerate(kept_until)
                ]
        return out

    def render(reader: Any, batch: dict[str, list]) -> list[str]:
        """Render the batch's prompts, cut to max_length tokens of the `reader` tokenizer."""
        try:
            return fit_prompts(
                reader, prompt.template, prompt.task, prompt_inputs(task.type, batch), task.max_length
            )
        except QuestionTooLong as err:
            raise DataError(f"{where}: question id {batch['id'][err.index]!r}: {err}") from None

    return dataset.map(encode, batched=True, new_fingerprint=fingerprint, desc=desc)


def _tokenize_qa(
    dataset: datasets.Dataset, task: DictConfig, tokenizer: Any, desc: str, fingerprint: str, where: str,
) -> datasets.Dataset:
    """Cut every example into windows (see llmagentos.qa), one row per window.

    Windows are labelled with the example's first answer. ``example_index`` is the
    example's row in `dataset`.
    """

    def encode(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        try:
            windows = encode_windows(
                tokenizer, batch["question"], batch["context"], task.max_length, task.stride,
                answer_starts=[answers["answer_start"][0] for answers in batch["answers"]],
                answer_texts=[answers["text"][0] for answers in batch["answers"]],
            )
        except QuestionTooLong as err:
            raise DataError(f"{where}: question id {batch['id'][err.index]!r}: {err}") from None
        windows["example_index"] = [indices[i] for i in windows["example_index"]]
        return windows

    return dataset.map(
        encode, batched=True, with_indices=True, remove_columns=dataset.column_names,
        new_fingerprint=fingerprint, desc=desc,
    )


@dataclass(frozen=True)
class TaskPrompt:
    """The prompt settings of one task in the prompt modes (text_to_text, decoder_only)."""

    template: str  # the complete template, built-in names resolved (see llmagentos.prompt)
    task: str  # the display name that fills {task}
    labels: tuple[str, ...] = ()  # classification: the output text of each label index


def output_texts(task_type: str, batch: dict[str, list], prompt: TaskPrompt | None) -> list[str]:
    """Return the text a generator learns to write for each example of a batch.

    A translation's output is its ``target``. In the prompt modes, a classification's is
    the name of its ``label`` (an index into ``prompt.labels``), and a question's is the
    first of its answers.
    """
    if task_type == "translation":
        return batch["target"]
    if task_type == "qa":
        return [answers["text"][0] for answers in batch["answers"]]
    return [prompt.labels[index] for index in batch["label"]]


def prompt_inputs(task_type: str, batch: Any) -> list[str] | list[dict[str, str]]:
    """Return what fills each example's prompt: its text, or a question and its context.

    `batch` is a batch dict or a Dataset, both indexed by column name.
    """
    if task_type == "qa":
        return [{"question": q, "context": c} for q, c in zip(batch["question"], batch["context"])]
    return list(batch[TEXT_COLUMNS[task_type][0]])


def task_prompt(name: str, task: DictConfig, default_template: str, labels: list[str]) -> TaskPrompt:
    """Build a task's prompt settings: its own template, or else the run's default.

    A built-in name (zh, en) is resolved to the template for the task's type here, so
    that everything downstream renders with a complete template.
    """
    template = resolve_template(task.get("prompt_template") or default_template, task.type)
    display = task_display_name(name, [str(a) for a in task.aliases], template)
    return TaskPrompt(template, display, tuple(labels))


def check_prompt_fits(name: str, prompt: TaskPrompt, tokenizer: Any, max_length: int) -> None:
    """Check that a task's prompt template leaves room for its input within max_length.

    Raises:
        ConfigError: naming task.<name>.max_length and the template's own token count.
    """
    sample = {"question": "x", "context": "x"} if "{context}" in prompt.template else "x"
    try:
        fit_prompts(tokenizer, prompt.template, prompt.task, [sample], max_length)
    except ValueError as err:
        raise ConfigError(
            f"task.{name}.max_length={max_length}: {err}. Raise task.{name}.max_length or "
            f"shorten task.{name}.prompt_template."
        ) from err


def _tokenizer_digest(tokenizer: Any) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        state = repr(sorted(tokenizer.get_vocab().items()))
    else:
        # Calling the tokenizer with truncation=True stores truncation settings in its
        # state; they are per call, not part of the vocabulary.
        parsed = json.loads(backend.to_str())
        parsed.pop("truncation", None)
        parsed.pop("padding", None)
        state = json.dumps(parsed, sort_keys=True)
    return hashlib.sha256(state.encode()).hexdigest()
