"""Prompt templates for the prompt modes (router.mode text_to_text or decoder_only).

In these modes every task's input is rendered as one text. A template is a ``str.format``
string with two placeholders: ``{input}`` (required), the example's text, and ``{task}``
(optional), the task's display name. ``zh`` and ``en`` name the two built-in templates.
Training and inference both render through :func:`render_prompt` (or
:func:`fit_prompts`, which also keeps a prompt within the task's max_length), so a saved
model reads a raw input exactly as it read its training data.
"""

from __future__ import annotations

import re
import string
from typing import Any

TEMPLATES = {
    "zh": "任务类型: {task}\n输入数据: {input}\n输出数据:",
    "en": "Task: {task}\nInput: {input}\nOutput:",
}
PLACEHOLDERS = ("task", "input")
PROMPT_MODES = ("text_to_text", "decoder_only")  # router modes that render prompts

# CJK ideographs: a template that contains them is Chinese, for picking a display name.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def resolve_template(value: str) -> str:
    """Return the template that `value` names: a built-in name (zh, en) or the template itself."""
    return TEMPLATES.get(value, value)


def template_problem(value: Any) -> str | None:
    """Describe what makes `value` unusable as a template, or return None when it is valid.

    The description names the fault only, and callers add the config key and the fix.
    """
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    template = resolve_template(value)
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as err:  # an unmatched "{" or "}"
        return f"not a valid format string ({err}). Write a literal brace as {{{{ or }}}}"
    unknown = [field or "{}" for field in fields if field not in PLACEHOLDERS]
    if unknown:
        return f"unknown placeholder(s) {', '.join(unknown)}. Allowed: {{task}}, {{input}}"
    if "input" not in fields:
        return "no {input} placeholder, so the example's text would never reach the model"
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


def render_prompt(template: str, task: str, text: str) -> str:
    """Fill a template with a task's display name and one input text.

    Args:
        template: a template or a built-in name (zh, en), checked by :func:`template_problem`.
        task: the display name, from :func:`task_display_name`.
        text: the raw input, inserted as it is (braces in it are not placeholders).

    Returns:
        The prompt the encoder reads.
    """
    return resolve_template(template).format(task=task, input=text)


def fit_prompts(
    tokenizer: Any, template: str, task: str, texts: list[str], max_length: int
) -> list[str]:
    """Render prompts whose tokenization fits in `max_length`, cutting the inputs, not the template.

    Plain truncation would cut the end of the prompt, which is where the template's
    output marker sits. Each input is instead cut at a token boundary, found with the
    fast tokenizer's offsets, so that its tokens plus the template's own (special tokens
    included) come to `max_length` at most. Tokens may merge differently across the
    input's edges once it sits in the template, so a prompt still too long loses as many
    more input tokens as it has too many, until it fits.

    Returns:
        One prompt per text, each `max_length` tokens or fewer when tokenized.

    Raises:
        ValueError: when the template alone needs `max_length` tokens or more.
    """
    overhead = len(tokenizer(render_prompt(template, task, ""))["input_ids"])
    budget = max_length - overhead
    if budget < 1:
        raise ValueError(
            f"the prompt template takes {overhead} tokens, which leaves no room for the input "
            f"within max_length={max_length}"
        )
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    keeps = [min(len(spans), budget) for spans in offsets]
    prompts = [
        render_prompt(template, task, _first_tokens(text, spans, keep))
        for text, spans, keep in zip(texts, offsets, keeps)
    ]
    lengths = [len(ids) for ids in tokenizer(prompts)["input_ids"]]
    for i, length in enumerate(lengths):
        keep = keeps[i]
        while length > max_length:
            # keep = 0 leaves the bare template, which fits because budget >= 1.
            keep = max(keep - (length - max_length), 0)
            prompts[i] = render_prompt(template, task, _first_tokens(texts[i], offsets[i], keep))
            length = len(tokenizer(prompts[i])["input_ids"])
    return prompts


def _first_tokens(text: str, offsets: list[tuple[int, int]], keep: int) -> str:
    """Return the part of `text` that its first `keep` tokens cover (character offsets)."""
    if keep >= len(offsets):
        return text
    return text[: offsets[keep - 1][1]] if keep > 0 else ""
