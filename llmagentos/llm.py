"""Pretrained causal language models: finding, loading, freezing and LoRA.

A generator decoder can start from any causal LM that ``transformers`` loads: a hub name,
a local folder, or a GGUF file. GGUF files are dequantized by ``transformers`` and
converted once into a plain model folder under :func:`cache_root`, which later runs
read directly. None of this needs an encoder, so a decoder-only run can use it as is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import logging
import os
import re
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from filelock import FileLock
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

from llmagentos.errors import ConfigError

log = logging.getLogger(__name__)

CACHE_ENV = "LLMAGENTOS_CACHE"


def cache_root() -> Path:
    """Return the folder of converted GGUF checkpoints.

    It is ``$LLMAGENTOS_CACHE`` when set, else ``$XDG_CACHE_HOME/llmagentos``, else
    ``~/.cache/llmagentos``.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "llmagentos"


def is_pretrained(decoder: Any) -> bool:
    """Tell whether a generator config starts from a checkpoint rather than config sizes."""
    return any(decoder.get(key) for key in ("pretrained", "gguf_file"))


def resolve_pretrained(pretrained: str | None, gguf_file: str | None = None) -> str | None:
    """Return a hub name or folder that ``from_pretrained`` loads without ``gguf_file``.

    Args:
        pretrained: hub name or folder of the checkpoint.
        gguf_file: a GGUF file inside `pretrained`, or a path to one when `pretrained`
            is None. It is converted once into the cache (see :func:`convert_gguf`) and
            the converted folder is returned.

    Returns:
        None when both are None: the decoder is built from config sizes.

    Raises:
        ConfigError: for a missing GGUF file.
    """
    source = pretrained
    if not gguf_file:
        return source
    if source is None:
        path = Path(gguf_file).expanduser()
        source, gguf_file = str(path.parent), path.name
    local = Path(source) / gguf_file
    if Path(gguf_file).is_absolute() and not local.is_file():
        raise ConfigError(f"decoder.gguf_file={gguf_file!r}: no such file. Check the path.")
    if local.is_file():
        stat = local.stat()
        target = cache_root() / _local_cache_name(str(local.resolve()), stat.st_size, stat.st_mtime_ns)
    elif Path(source).is_dir():
        present = sorted(p.name for p in Path(source).glob("*.gguf")) or ["none"]
        raise ConfigError(
            f"decoder.gguf_file={gguf_file!r}: not found in {source}. GGUF files there: "
            f"{', '.join(present)}."
        )
    else:  # a hub repository: transformers downloads the file itself
        digest = hashlib.sha256(f"{source}/{gguf_file}".encode()).hexdigest()[:16]
        target = cache_root() / f"{_safe_name(Path(gguf_file).stem)}-{digest}"
    return str(convert_gguf(source, gguf_file, target))


@lru_cache(maxsize=None)
def _local_cache_name(path: str, size: int, mtime_ns: int) -> str:
    """Name a converted folder by the GGUF file's content, so a replaced file converts again.

    The size and modification time only key the memo, so the trainer and the model, which
    both resolve the file, hash it once per process.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"{_safe_name(Path(path).stem)}-{digest.hexdigest()[:16]}"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def convert_gguf(source: str, gguf_file: str, target: Path) -> Path:
    """Dequantize a GGUF checkpoint into a plain model and tokenizer folder at `target`.

    Returns `target` at once when an earlier run converted it. A file lock lets one
    process convert while others wait, and the folder is written under a temporary name
    and renamed when complete, so a killed conversion never leaves a partial `target`.

    Raises:
        ConfigError: when the ``gguf`` package is missing or the file cannot be read.
    """
    if (target / "config.json").is_file():
        return target
    if importlib.util.find_spec("gguf") is None:
        raise ConfigError(
            f"decoder.gguf_file={gguf_file!r}: reading GGUF files needs the gguf package. "
            'Install it with `pip install gguf` (or `pip install -e ".[llm]"`).'
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"decoder.gguf_file={gguf_file!r}: cannot create the cache folder {target.parent} "
            f"({err.strerror}). Point ${CACHE_ENV} at a writable folder."
        ) from None
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():  # converted by another process while we waited
            return target
        log.info("Converting %s from %s once into %s", gguf_file, source, target)
        partial = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file)
            tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
            _drop_quantization(model)
            model.save_pretrained(partial)
            tokenizer.save_pretrained(partial)
            partial.rename(target)
        except (OSError, ValueError) as err:
            raise ConfigError(
                f"decoder.gguf_file={gguf_file!r}: conversion from {source} failed "
                f"({str(err).splitlines()[0]})."
            ) from err
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target


def _drop_quantization(model: PreTrainedModel) -> None:
    """Mark a GGUF-loaded model as plain, since its weights are already dequantized.

    transformers 5.25 keeps the GGUF quantizer on the model and its settings in the
    config, and ``save_pretrained`` rejects a model whose quantizer cannot serialize.
    """
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def local_model_type(pretrained: str | None, gguf_file: str | None = None) -> str | None:
    """Read the model type of a local checkpoint without loading it.

    A folder's ``config.json`` gives ``model_type``, and a GGUF file its
    ``general.architecture`` (the same name for the LLaMA, Qwen and GPT-2 families).
    Returns None for a hub name, a missing file, or a GGUF file without the gguf package.
    """
    if gguf_file:
        path = Path(pretrained) / gguf_file if pretrained else Path(gguf_file).expanduser()
        if not path.is_file() or importlib.util.find_spec("gguf") is None:
            return None
        from gguf import GGUFReader

        field = GGUFReader(path).fields.get("general.architecture")
        return None if field is None else bytes(field.parts[field.data[0]]).decode()
    config = Path(pretrained or "") / "config.json"
    if not pretrained or not config.is_file():
        return None
    return json.loads(config.read_text(encoding="utf-8")).get("model_type")


def supports_cross_attention(config: Any) -> bool:
    """Tell whether the causal LM class for a transformers `config` can attend to an encoder."""
    model_class = MODEL_FOR_CAUSAL_LM_MAPPING.get(type(config), None)
    if model_class is None:
        return False
    return "encoder_hidden_states" in inspect.signature(model_class.forward).parameters


def load_causal_lm(source: str, cross_attention: bool) -> tuple[PreTrainedModel, set[nn.Parameter]]:
    """Load a pretrained causal LM, adding cross-attention layers when asked.

    Returns:
        The model and its newly initialized parameters (the added cross-attention
        layers), which stay trainable when the pretrained weights are frozen.

    Raises:
        ConfigError: when nothing loads from `source`, or when `cross_attention` is asked
            of an architecture without cross-attention layers.
    """
    try:
        config = AutoConfig.from_pretrained(source)
        if cross_attention:
            if not supports_cross_attention(config):
                raise ConfigError(
                    f"decoder.bridge=cross_attention: {source} is a {config.model_type} model, "
                    "which has no cross-attention layers. Set decoder.bridge=prefix."
                )
            config.add_cross_attention = True
            config.is_decoder = True  # BERT-style checkpoints load as encoders without this flag
        model, info = AutoModelForCausalLM.from_pretrained(source, config=config, output_loading_info=True)
    except ConfigError:
        raise
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"decoder.pretrained={source!r}: no causal LM found as a local folder "
            f"or on the Hugging Face hub ({str(err).splitlines()[0]})."
        ) from err
    new = {p for name, p in model.named_parameters() if name in info["missing_keys"]}
    return model, new


def freeze(module: nn.Module, keep: set[nn.Parameter] = frozenset()) -> None:
    """Turn off gradients for every parameter of `module` except those in `keep`."""
    for parameter in module.parameters():
        parameter.requires_grad_(parameter in keep)


def add_lora(model: nn.Module, rank: int, alpha: float, dropout: float,
             target_modules: list[str] | None) -> None:
    """Insert LoRA adapters into `model` in place and freeze everything else in it.

    The model keeps its class, so ``generate`` and ``save_pretrained`` work as before,
    and its state dict gains ``lora_A``/``lora_B`` entries beside ``base_layer`` weights.
    With `target_modules` None, peft picks its default layers for the model type.

    Raises:
        ConfigError: when peft is missing or the target modules are not in the model.
    """
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as err:
        raise ConfigError(
            'decoder.lora.enabled=true needs peft. Install it with `pip install peft` '
            '(or `pip install -e ".[llm]"`).'
        ) from err
    config = LoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=dropout,
        target_modules=list(target_modules) if target_modules else None,
        # GPT-2 stores its linear layers transposed (Conv1D); peft would otherwise warn
        # on every load and set this itself.
        fan_in_fan_out=getattr(getattr(model, "config", None), "model_type", None) == "gpt2",
    )
    try:
        inject_adapter_in_model(config, model)
    except ValueError as err:
        raise ConfigError(
            f"decoder.lora.target_modules={target_modules}: {str(err).splitlines()[0]} "
            "Name linear layers of the model, such as q_proj and v_proj for LLaMA."
        ) from err


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """Return the (trainable, total) parameter counts of `module`; tied weights count once."""
    parameters = list(module.parameters())  # parameters() yields a shared tensor once
    trainable = sum(p.numel() for p in parameters if p.requires_grad)
    return trainable, sum(p.numel() for p in parameters)
