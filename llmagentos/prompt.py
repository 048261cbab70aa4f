"""Prompt templates for the prompt modes (router.mode text_to_text or decoder_only).

In these modes every task's input is rendered as one text. A template is a ``str.format``
string with the placeholder ``{input}`` (required), the example's text, and ``{task}``
(optional), the task's display name. A question-answering template has ``{context}`` and
``{question}`` in place of ``{input}``. ``zh`` and ``en`` name the built-in templates of
each task type. Training and inference both render through :func:`render_prompt` (or
:func:`fit_prompts`, which also keeps a prompt within the task's max_length), so a saved
model reads a raw input exactly as it read its training data.
"""

from __future__ import annotations

import re
import string
from typing import Any

from llmagentos.qa import QuestionTooLong

TEMPLATES = {
    "zh": "任务类型: {task}\n输入数据: {input}\n输出数据:",
    "en": "Task: {task}\nInput: {input}\nOutput:",
}
QA_TEMPLATES = {
    "zh": "任务类型: {task}\n上下文: {context}\n问题: {question}\n输出数据:",
    "en": "Task: {task}\nContext: {context}\nQuestion: {question}\nOutput:",
}
# The placeholders each task type's template must have besides the optional {task}. The
# first one is the text that fit_prompts cuts when a prompt is too long.
INPUT_FIELDS = {"classification": ("input",), "translation": ("input",), "qa": ("context", "question")}
PROMPT_MODES = ("text_to_text", "decoder_only")  # router modes that render prompts

# CJK ideographs: a template that contains them is Chinese, for picking a display name.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def resolve_template(value: str, task_type: str = "classification") -> str:
    """Return the template that `value` names: a task type's built-in (zh, en) or the template itself."""
    built_in = QA_TEMPLATES if task_type == "qa" else TEMPLATES
    return built_in.get(value, value)


def template_problem(value: Any, task_type: str = "classification") -> str | None:
    """Describe what makes `value` unusable as a template of `task_type`, or return None
    when it is valid.

    The description names the fault only, and callers add the config key and the fix.
    """
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    template = resolve_template(value, task_type)
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as err:  # an unmatched "{" or "}"
        return f"not a valid format string ({err}). Write a literal brace as {{{{ or }}}}"
    required = INPUT_FIELDS.get(task_type, ("input",))
    allowed = ("task", *required)
    unknown = [field or "{}" for field in fields if field not in allowed]
    if unknown:
        listed = ", ".join(f"{{{name}}}" for name in allowed)
        return f"unknown placeholder(s) {', '.join(unknown)} for a {task_type} task. Allowed: {listed}"
    missing = [f"{{{name}}}" for name in required if name not in fields]
    if missing:
        return f"no {' or '.join(missing)} placeholder, so the example's text would never reach the model"
    return None


def task_display_name(name: str, aliases: list[str], template: str) -> str:
    """Pick the name that fills ``{task}``: the first alias written in the template's language.

    A template with Chinese characters takes the first alias that has them (文本分类), any
    other template the first alias without them (text classification). Without such an
    alias the first alias is used, and without aliases the task's config name.
    """
    chinese = bool(_CJK.search(resolve_template(template)))
    for alias in aliases:
        if bool(_CJK.search(alias)) == chinese:
            return alias
    return aliases[0] if aliases else name


def render_prompt(template: str, task: str, text: str | dict[str, str]) -> str:
    """Fill a template with a task's display name and one input.

    Args:
        template: a template checked by :func:`template_problem`, or a built-in name
            (zh, en), which names the question-answering template for a dict `text`.
        task: the display name, from :func:`task_display_name`.
        text: the raw input, or for question answering a dict with ``question`` and
            ``context``, inserted as they are (braces in them are not placeholders).

    Returns:
        The prompt the model reads.
    """
    fields = {"input": text} if isinstance(text, str) else text
    task_type = "qa" if "context" in fields else "classification"
    return resolve_template(template, task_type).format(task=task, **fields)


def fit_prompts(
    tokenizer: Any, template: str, task: str, inputs: list[str] | list[dict[str, str]], max_length: int
) -> list[str]:
    """Render prompts whose tokenization fits in `max_length`, cutting the inputs, not the template.

    Plain truncation would cut the end of the prompt, which is where the template's
    output marker sits. Each input text (a question-answering input's context) is instead
    cut at a token boundary, found with the fast tokenizer's offsets, so that its tokens
    plus the rest of the prompt (special tokens included) come to `max_length` at most.
    Tokens may merge differently across the cut text's edges once it sits in the
    template, so a prompt still too long loses as many more tokens as it has too many,
    until it fits.

    Returns:
        One prompt per input, each `max_length` tokens or fewer when tokenized.

    Raises:
        ValueError: when the template alone needs `max_length` tokens or more.
        QuestionTooLong: when the template and a question leave no room for its context.
    """
    fields = [{"input": item} if isinstance(item, str) else dict(item) for item in inputs]
    if not fields:
        return []
    cut = "context" if "context" in fields[0] else "input"
    overheads = prompt_overheads(tokenizer, template, task, inputs, max_length)

    texts = [item[cut] for item in fields]
    offsets = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    # A template may place the text more than once, and every copy grows with it.
    resolved = resolve_template(template, "qa" if cut == "context" else "classification")
    copies = sum(field == cut for _, field, _, _ in string.Formatter().parse(resolved))

    def render(index: int, keep: int) -> str:
        return render_prompt(template, task, {**fields[index], cut: _first_tokens(texts[index], offsets[index], keep)})

    keeps = [min(len(spans), (max_length - overhead) // copies) for spans, overhead in zip(offsets, overheads)]
    prompts = [render(index, keep) for index, keep in enumerate(keeps)]
    lengths = [len(ids) for ids in tokenizer(prompts)["input_ids"]]
    for index, length in enumerate(lengths):
        keep = keeps[index]
        while length > max_length:
            # keep = 0 leaves the bare prompt, which fits because its overhead < max_length.
            keep = max(keep - -(-(length - max_length) // copies), 0)  # ceil of excess / copies
            prompts[index] = render(index, keep)
            length = len(tokenizer(prompts[index])["input_ids"])
    return prompts


def prompt_overheads(
    tokenizer: Any, template: str, task: str, inputs: list[str] | list[dict[str, str]], max_length: int
) -> list[int]:
    """Return the tokens of each prompt without its cut text (a question-answering input's
    context), and check that every prompt leaves room for that text within `max_length`.

    Only the short prompts without that text are tokenized, so callers can check inputs
    cheaply before :func:`fit_prompts` renders them.

    Raises:
        ValueError: when the template alone needs `max_length` tokens or more.
        QuestionTooLong: when the template and a question leave no room for its context.
    """
    fields = [{"input": item} if isinstance(item, str) else dict(item) for item in inputs]
    cut = "context" if fields and "context" in fields[0] else "input"
    bare = [render_prompt(template, task, {**item, cut: ""}) for item in fields]
    overheads = [len(ids) for ids in tokenizer(bare)["input_ids"]] if bare else []
    for index, overhead in enumerate(overheads):
        if overhead < max_length:
            continue
        if cut == "input":
            raise ValueError(
                f"the prompt template takes {overhead} tokens, which leaves no room for the input "
                f"within max_length={max_length}"
            )
        question = fields[index]["question"]
        raise QuestionTooLong(
            f"question {question[:60]!r}: the prompt template and the question take {overhead} "
            f"tokens, which leaves no room for the context within max_length={max_length}. "
            "Shorten the question, or train with a larger max_length.",
            index,
        )
    return overheads


def _first_tokens(text: str, offsets: list[tuple[int, int]], keep: int) -> str:
    """Return the part of `text` that its first `keep` tokens cover (character offsets)."""
    if keep >= len(offsets):
        return text
    return text[: offsets[keep - 1][1]] if keep > 0 else ""
