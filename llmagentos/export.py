"""Export one task of a trained model as a plain transformers model folder:

    python -m llmagentos.export outputs/2026-12-05/10-00-00 --task 文本分类 --output exported/sentiment
    python -m llmagentos.export outputs/2026-12-05/10-00-00 --task 机器翻译 --output exported/zh-en

A classification task becomes a ``BertForSequenceClassification``, a span-head question
answering task a ``BertForQuestionAnswering``, and a translation task an
``EncoderDecoderModel`` of the shared encoder and the task's GPT-2 or BERT-generation
decoder, with any LoRA adapters merged into the decoder's weights. The folder loads with
transformers alone. Before anything is written, the exported model
runs beside the LLMAgentOS model on a sample batch, and the export fails if their logits
or greedy outputs differ. A task whose settings have no exact transformers counterpart
is rejected with the blocking config key and what to retrain with.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn
from transformers import (
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertModel,
    EncoderDecoderConfig,
    EncoderDecoderModel,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from llmagentos.decoder import ClassificationHead, Generator, SpanHead, cut_at_eos
from llmagentos.encoder import TransformerEncoder
from llmagentos.errors import ExportError
from llmagentos.inference import LLMAgentOS
from llmagentos.model import MultiTaskModel
from llmagentos.qa import encode_windows
from llmagentos.tokenizer import pad_inputs

DECODER_TOKENIZER_FOLDER = "decoder_tokenizer"  # a pretrained generator's own vocabulary
# Texts of the sample batch that compares the exported model with the LLMAgentOS one.
# Two lengths, so that padding and attention masks take part.
SAMPLE_TEXTS = ["这部电影太棒了！ I loved this film.", "谢谢"]
# A question whose context is long enough to be cut into several windows.
SAMPLE_QUESTION = ("谁写了这本书？ Who wrote it?", "这本书是一位老师写的。 A teacher wrote this book. " * 12)
SAMPLE_NEW_TOKENS = 8
LOGITS_TOLERANCE = 1e-4  # absolute and relative, for float32 logits
# Decoder model types that EncoderDecoderModel runs exactly as the Generator does.
EXPORTED_DECODERS = ("gpt2", "bert-generation")


def export_task(model: LLMAgentOS | MultiTaskModel, task: str, folder: str | Path) -> Path:
    """Write one task of a trained model as a transformers model folder.

    The folder contains ``config.json``, ``model.safetensors`` and the tokenizer, whose
    ``model_max_length`` is the task's ``max_length`` so that ``truncation=True`` encodes
    inputs as LLMAgentOS does. A translation folder adds ``generation_config.json`` and,
    when the generator was pretrained with its own vocabulary, that tokenizer under
    ``decoder_tokenizer/``. The model is put in eval mode.

    Args:
        model: a loaded model (``LLMAgentOS.from_pretrained``) or the module itself.
        task: task name, alias or type, resolved as ``LLMAgentOS.predict`` resolves it.
        folder: the folder to create. It may exist only if it is empty.

    Returns:
        The folder written.

    Raises:
        KeyError: for an unknown or ambiguous task.
        ExportError: when the task's settings cannot be exported exactly, naming the
            config key, its value and the setting to retrain with, or when the exported
            model's logits or greedy output differ from the LLMAgentOS model's.
        FileExistsError: when `folder` exists and is not empty.
    """
    predictor = model if isinstance(model, LLMAgentOS) else LLMAgentOS(model)
    multitask = predictor.model.eval()
    name = predictor.resolve_task(task)
    check_exportable(multitask, name)
    # A link to an empty folder is written through: the export replaces the folder it names.
    folder = Path(folder).expanduser().resolve()
    _check_output_folder(folder)

    task_type = multitask.spec["tasks"][name]["type"]
    if task_type == "classification":
        exported = _classification_model(multitask, name)
        _compare_classification(multitask, name, exported)
    elif task_type == "qa":
        exported = _qa_model(multitask, name)
        _compare_qa(multitask, name, exported)
    else:
        exported = _translation_model(multitask, name)
        _compare_translation(multitask, name, exported)
    _write_folder(folder, exported, _tokenizers(multitask, name))
    return folder


def check_exportable(model: MultiTaskModel, task: str) -> None:
    """Raise ExportError unless `task` maps exactly onto a transformers model class.

    The export covers these tasks of a ``router.mode=per_task`` model: classification
    heads with ``pooling: pooler`` and span heads, both on a BERT encoder, and GPT-2 or
    BERT-generation decoders with ``bridge: cross_attention`` on any transformer encoder. The error
    lists every blocking setting at once.
    """
    if model.text_to_text:
        _reject(task, [
            f"router.mode={model.spec['mode']} trains one generator that reads a prompt for every "
            "task, and no transformers model class renders that prompt. Retrain with router=task "
            "(router.mode=per_task, the default), or predict with LLMAgentOS."
        ])
    problems = []
    if not isinstance(model.encoder, TransformerEncoder):
        problems.append(
            f"encoder.type={model.spec['encoder']['type']} has no transformers model class. "
            "Retrain with encoder=transformer or encoder=hf."
        )
    task_type = model.spec["tasks"][task]["type"]
    decoder = model.router.decoder(task)
    if task_type == "classification" and isinstance(decoder, ClassificationHead):
        problems += _classification_problems(model, task, decoder)
    elif task_type == "qa" and isinstance(decoder, SpanHead):
        problems += _bert_encoder_problems(model, "BertForQuestionAnswering")
    elif task_type == "translation" and isinstance(decoder, Generator):
        problems += _translation_problems(model, task, decoder)
    else:
        problems.append(
            f"task.{task}.decoder.type={model.spec['tasks'][task]['decoder']['type']} "
            f"({task_type} task) has no exported form: only classifier decoders of classification "
            "tasks, span decoders of qa tasks and generator decoders of translation tasks are "
            "exported. Predict with LLMAgentOS or python -m llmagentos.predict."
        )
    if problems:
        _reject(task, problems)


def _reject(task: str, problems: list[str]) -> None:
    listing = "\n".join(f"  - {problem}" for problem in problems)
    raise ExportError(f"task {task!r} cannot be exported, {len(problems)} problem(s):\n{listing}")


def _classification_problems(model: MultiTaskModel, task: str, head: ClassificationHead) -> list[str]:
    problems = []
    if head.pooling != "pooler":
        key = f"task.{task}.decoder.pooling"
        problems.append(
            f"{key}={head.pooling} has no counterpart in BertForSequenceClassification, which "
            f"classifies the first token's state after a dense layer and tanh. Retrain with {key}=pooler."
        )
    return problems + _bert_encoder_problems(model, "BertForSequenceClassification")


def _bert_encoder_problems(model: MultiTaskModel, exported_class: str) -> list[str]:
    """Report an encoder other than BERT, for the task heads exported onto BERT classes."""
    encoder = getattr(model.encoder, "model", None)
    if encoder is None or isinstance(encoder, BertModel):
        return []
    return [
        f"encoder.name={model.spec['encoder'].get('name')} is a {encoder.config.model_type} "
        f"model, and this task is exported only as {exported_class}. Retrain with "
        "encoder=transformer or a BERT checkpoint (encoder=hf encoder.name=<BERT model>)."
    ]


def _translation_problems(model: MultiTaskModel, task: str, generator: Generator) -> list[str]:
    problems = []
    key = f"task.{task}.decoder"
    if generator.prefix:
        problems.append(
            f"{key}.bridge=prefix prepends the encoder states to the decoder's input embeddings, "
            "and EncoderDecoderModel passes them to cross-attention only. Retrain with "
            f"{key}.bridge=cross_attention and a GPT-2 or BERT-generation decoder."
        )
    model_type = generator.model.config.model_type
    if model_type not in EXPORTED_DECODERS:
        settings = model.spec["tasks"][task]["decoder"]
        setting = (
            f"pretrained={settings['pretrained']}" if settings.get("pretrained")
            else f"architecture={settings.get('architecture')}"
        )
        problems.append(
            f"{key}.{setting} is a {model_type} decoder, and only {' and '.join(EXPORTED_DECODERS)} "
            f"decoders are exported. Retrain with {key}.architecture=gpt2 or a GPT-2 checkpoint."
        )
    return problems


def _check_output_folder(folder: Path) -> None:
    if folder.is_dir() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} already exists and is not empty; export into a new or empty folder")
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} already exists and is a file; export into a new or empty folder")


def _classification_model(model: MultiTaskModel, task: str) -> BertForSequenceClassification:
    """Build a BertForSequenceClassification with the encoder's weights and the task's head.

    The head's dense layer becomes BERT's pooler, so a pretrained encoder's own pooler
    is replaced by the one trained for this task.
    """
    encoder = model.encoder.model
    head = model.router.decoder(task)
    labels = model.spec["tasks"][task]["labels"]
    config = copy.deepcopy(encoder.config)
    config.architectures = ["BertForSequenceClassification"]
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: index for index, label in enumerate(labels)}
    config.problem_type = "single_label_classification"  # the head trained with cross-entropy
    config.classifier_dropout = head.dropout.p
    exported = BertForSequenceClassification(config)

    state = {f"bert.{key}": value for key, value in encoder.state_dict().items()}
    state.update(_prefixed("bert.pooler.dense.", head.pooler_dense))
    state.update(_prefixed("classifier.", head.classifier))
    exported.load_state_dict(state, strict=True)
    return exported.eval()


def _qa_model(model: MultiTaskModel, task: str) -> BertForQuestionAnswering:
    """Build a BertForQuestionAnswering with the encoder's weights and the span head's scorer.

    BERT's question-answering class has no pooler, so a pretrained encoder's is left out.
    LLMAgentOS passes no segment ids, so every window is encoded as segment 0; every row
    of the exported segment embeddings is that row, so the segment ids a tokenizer
    returns for question and context pairs change nothing.
    """
    encoder = model.encoder.model
    config = copy.deepcopy(encoder.config)
    config.architectures = ["BertForQuestionAnswering"]
    exported = BertForQuestionAnswering(config)
    state = {f"bert.{key}": value for key, value in encoder.state_dict().items() if not key.startswith("pooler.")}
    segments = state["bert.embeddings.token_type_embeddings.weight"]
    state["bert.embeddings.token_type_embeddings.weight"] = segments[:1].expand_as(segments).clone()
    state.update(_prefixed("qa_outputs.", model.router.decoder(task).scorer))
    exported.load_state_dict(state, strict=True)
    return exported.eval()


def _translation_model(model: MultiTaskModel, task: str) -> EncoderDecoderModel:
    """Build an EncoderDecoderModel of the shared encoder and the task's generator.

    The generator's bridge, a Linear layer where the encoder and decoder widths differ,
    becomes ``enc_to_dec_proj``, which EncoderDecoderModel adds in exactly that case.
    """
    encoder = model.encoder.model
    generator = model.router.decoder(task)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(
        copy.deepcopy(encoder.config), copy.deepcopy(generator.model.config)
    )
    bos, eos, pad = generator.bos_token_id, generator.eos_token_id, generator.pad_token_id
    config.decoder_start_token_id, config.bos_token_id = bos, bos
    config.eos_token_id, config.pad_token_id = eos, pad
    exported = EncoderDecoderModel(config=config)
    generation = model.spec["tasks"][task].get("generation") or {}
    exported.generation_config = GenerationConfig(
        decoder_start_token_id=bos, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad,
        num_beams=generation.get("num_beams", 1), max_new_tokens=generation.get("max_new_tokens", 64),
    )

    state = {f"encoder.{key}": value for key, value in encoder.state_dict().items()}
    decoder = generator.model
    if (model.spec["tasks"][task]["decoder"].get("lora") or {}).get("enabled"):
        decoder = _merge_lora(decoder)
    state.update({f"decoder.{key}": value for key, value in decoder.state_dict().items()})
    if isinstance(generator.bridge, nn.Linear):
        state.update(_prefixed("enc_to_dec_proj.", generator.bridge))
    missing, unexpected = exported.load_state_dict(state, strict=False)
    # EncoderDecoderModel builds a BERT encoder with a pooler, whose output it never uses.
    # An encoder built from config sizes has no pooler, so the exported one keeps its
    # initial weights. They are saved so that loading reports no missing weights.
    missing = [key for key in missing if not key.startswith("encoder.pooler.")]
    if missing or unexpected:
        raise ExportError(
            f"task {task!r}: internal error, the EncoderDecoderModel weights do not match "
            f"the LLMAgentOS model (missing {missing}, unexpected {unexpected})"
        )
    return exported.eval()


def _merge_lora(decoder: PreTrainedModel) -> PreTrainedModel:
    """Return a copy of `decoder` with each LoRA adapter merged into its layer's weight
    (W + alpha / rank * B A) and the plain layer in place of peft's wrapper."""
    from peft.tuners.tuners_utils import BaseTunerLayer  # loading a LoRA model needed peft

    merged = copy.deepcopy(decoder)
    for name, module in list(merged.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent, _, child = name.rpartition(".")
            setattr(merged.get_submodule(parent), child, module.get_base_layer())
    return merged


def _prefixed(prefix: str, layer: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}{key}": value for key, value in layer.state_dict().items()}


def _encode_sample(model: MultiTaskModel, task: str) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Encode SAMPLE_TEXTS as LLMAgentOS encodes a task's inputs.

    Returns the right-padded batch (input_ids and attention_mask, (B, T), on CPU) for
    the exported model, and the encoder states (B, T, H) and the attention mask on the
    LLMAgentOS model's device.
    """
    batch = pad_inputs(model.encode_inputs(task, SAMPLE_TEXTS), model.tokenizer.pad_token_id)
    device = next(model.parameters()).device
    mask = batch["attention_mask"].to(device)
    return batch, model.encoder(batch["input_ids"].to(device), mask), mask


@torch.no_grad()
def _compare_classification(model: MultiTaskModel, task: str, exported: PreTrainedModel) -> None:
    batch, hidden, mask = _encode_sample(model, task)
    expected = model.router.decoder(task).logits(hidden, mask).cpu()
    _check_close(task, "classification logits", expected, exported(**batch).logits)


@torch.no_grad()
def _compare_qa(model: MultiTaskModel, task: str, exported: PreTrainedModel) -> None:
    """Compare start and end logits over the real tokens of the windows of a sample question."""
    spec = model.spec["tasks"][task]
    question, context = SAMPLE_QUESTION
    windows = encode_windows(model.tokenizer, [question], [context], spec["max_length"], spec["stride"])
    batch = pad_inputs(windows["input_ids"], model.tokenizer.pad_token_id)
    device = next(model.parameters()).device
    mask = batch["attention_mask"].to(device)
    start, end = model.router.decoder(task).logits(model.encoder(batch["input_ids"].to(device), mask), mask)
    # Segment 1 everywhere: the exported model must ignore the segment ids, as LLMAgentOS does.
    output = exported(**batch, token_type_ids=torch.ones_like(batch["input_ids"]))
    real = batch["attention_mask"].bool()  # the head puts padding at the float minimum
    _check_close(task, "start logits", start.cpu()[real], output.start_logits[real])
    _check_close(task, "end logits", end.cpu()[real], output.end_logits[real])


@torch.no_grad()
def _compare_translation(model: MultiTaskModel, task: str, exported: PreTrainedModel) -> None:
    batch, hidden, mask = _encode_sample(model, task)
    generator = model.router.decoder(task)
    target_ids = model.target_tokenizer(task)(SAMPLE_TEXTS[0], add_special_tokens=False)["input_ids"]
    decoder_input_ids = torch.tensor([[generator.bos_token_id, *target_ids[:SAMPLE_NEW_TOKENS]]] * len(SAMPLE_TEXTS))
    expected = generator.model(
        input_ids=decoder_input_ids.to(hidden.device), encoder_hidden_states=generator.bridge(hidden),
        encoder_attention_mask=mask,
    ).logits.cpu()
    actual = exported(**batch, decoder_input_ids=decoder_input_ids).logits
    _check_close(task, "teacher-forced logits", expected, actual)

    predicted = generator.predict(hidden, mask, num_beams=1, max_new_tokens=SAMPLE_NEW_TOKENS)
    generated = exported.generate(**batch, num_beams=1, max_new_tokens=SAMPLE_NEW_TOKENS)
    rows = cut_at_eos(generated[:, 1:].tolist(), generator.eos_token_id)  # without the start token
    if rows != predicted:
        raise ExportError(
            f"task {task!r} cannot be exported exactly: greedy generation of the exported "
            f"model gives {rows}, the LLMAgentOS model {predicted}"
        )


def _check_close(task: str, what: str, expected: torch.Tensor, actual: torch.Tensor) -> None:
    if not torch.allclose(expected.float(), actual.float(), atol=LOGITS_TOLERANCE, rtol=LOGITS_TOLERANCE):
        difference = (expected.float() - actual.float()).abs().max().item()
        raise ExportError(
            f"task {task!r} cannot be exported exactly: the {what} of the exported model differ "
            f"from the LLMAgentOS model's by up to {difference:.3g}"
        )


def _tokenizers(model: MultiTaskModel, task: str) -> dict[str, PreTrainedTokenizerBase]:
    """Return the tokenizers to save, by subfolder ("" is the folder itself).

    The input tokenizer truncates at the task's max_length, as LLMAgentOS does.
    """
    tokenizer = copy.deepcopy(model.tokenizer)
    tokenizer.model_max_length = model.spec["tasks"][task]["max_length"]
    tokenizers = {"": tokenizer}
    if task in model.target_tokenizers:
        tokenizers[DECODER_TOKENIZER_FOLDER] = model.target_tokenizers[task]
    return tokenizers


def _write_folder(folder: Path, exported: PreTrainedModel, tokenizers: dict[str, PreTrainedTokenizerBase]) -> None:
    """Save the model and tokenizers under a temporary name, then rename it to `folder`,
    so that a failed export leaves no partial folder."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        exported.save_pretrained(partial)
        for subfolder, tokenizer in tokenizers.items():
            tokenizer.save_pretrained(partial / subfolder)
        _check_output_folder(folder)  # another process may have written it meanwhile
        if folder.exists():
            folder.rmdir()
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m llmagentos.export",
        description="Export one task of a trained LLMAgentOS model as a plain transformers model folder.",
    )
    parser.add_argument("model", help="run folder, or the model/ folder inside it")
    parser.add_argument("--task", required=True, help="task name, alias (文本分类, 机器翻译) or type")
    parser.add_argument("--output", required=True, type=Path, help="folder to write; it must be new or empty")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        _check_output_folder(args.output)  # before loading the model, so a bad folder fails at once
        model = LLMAgentOS.from_pretrained(args.model, device="cpu")
        folder = export_task(model, args.task, args.output)
    except (ValueError, KeyError, OSError) as err:
        message = err.args[0] if isinstance(err, KeyError) else err
        print(f"error: {message}", file=sys.stderr)
        return 2
    print(f"Exported task {model.resolve_task(args.task)} to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
