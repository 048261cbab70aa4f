"""Task decoders: each reads the encoder states of its own task's examples.

Every decoder takes ``hidden`` (N, T, H) and ``mask`` (N, T) for the N examples of its
task in the batch. ``loss`` returns the mean loss over those examples (over their target
tokens, for a generator); ``predict`` returns one prediction per example (per window, for
a span head). The exception is :class:`DecoderOnlyGenerator` (``router.mode=decoder_only``),
which has no encoder states and reads whole prompt + output sequences instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from llmagentos.llm import add_lora, freeze, is_pretrained, load_causal_lm, resolve_pretrained
from llmagentos.tokenizer import join_prompts
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    BertGenerationConfig,
    BertGenerationDecoder,
    GPT2Config,
    GPT2LMHeadModel,
)


class ClassificationHead(nn.Module):
    """Dropout and a linear layer over the pooled encoder states.

    ``cfg.pooling`` sets the pooled vector: ``mean`` averages the states of the real
    tokens, ``cls`` takes the first token's state, and ``pooler`` passes that state
    through a dense layer and tanh, as BERT's pooler does. Only ``pooler`` maps exactly
    onto transformers' BertForSequenceClassification (see llmagentos.export).
    """

    def __init__(self, cfg: DictConfig, hidden_size: int, num_labels: int):
        super().__init__()
        self.pooling = cfg.pooling
        self.pooler_dense = nn.Linear(hidden_size, hidden_size) if self.pooling == "pooler" else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    @torch.no_grad()
    def init_pooler(self, dense: nn.Linear) -> None:
        """Copy the weights of a pretrained encoder's pooler into the head's dense layer."""
        self.pooler_dense.weight.copy_(dense.weight)
        self.pooler_dense.bias.copy_(dense.bias)

    def logits(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "mean":  # masked mean over the real tokens
            weights = mask.unsqueeze(-1).to(hidden.dtype)  # (N, T, 1)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        else:
            pooled = hidden[:, 0]  # (N, H)
            if self.pooler_dense is not None:
                pooled = torch.tanh(self.pooler_dense(pooled))
        return self.classifier(self.dropout(pooled))  # (N, num_labels)

    def loss(self, hidden: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.logits(hidden, mask).float(), labels)

    @torch.no_grad()
    def predict(self, hidden: torch.Tensor, mask: torch.Tensor, **_) -> list[int]:
        return self.logits(hidden, mask).argmax(dim=-1).tolist()


class SpanHead(nn.Module):
    """Dropout and a linear layer that scores every token as the answer's start and end."""

    def __init__(self, cfg: DictConfig, hidden_size: int):
        super().__init__()
        self.dropout = nn.Dropout(cfg.dropout)
        self.scorer = nn.Linear(hidden_size, 2)

    def logits(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return start and end logits (N, T), float32, with padding at the float minimum."""
        scores = self.scorer(self.dropout(hidden)).float()  # (N, T, 2)
        padding = mask == 0
        start, end = scores.unbind(dim=-1)
        floor = torch.finfo(scores.dtype).min
        return start.masked_fill(padding, floor), end.masked_fill(padding, floor)

    def loss(
        self, hidden: torch.Tensor, mask: torch.Tensor,
        start_positions: torch.Tensor, end_positions: torch.Tensor,
    ) -> torch.Tensor:
        """Mean of the start and end cross-entropies over the N windows."""
        start, end = self.logits(hidden, mask)
        return (F.cross_entropy(start, start_positions) + F.cross_entropy(end, end_positions)) / 2

    @torch.no_grad()
    def predict(self, hidden: torch.Tensor, mask: torch.Tensor, **_) -> list[tuple[list[float], list[float]]]:
        """Return each window's start and end logits over its real tokens (padding cut off).

        llmagentos.qa.pick_best_spans turns them into answers.
        """
        start, end = self.logits(hidden, mask)
        lengths = mask.sum(dim=1).tolist()
        return [
            (start[row, :length].tolist(), end[row, :length].tolist())
            for row, length in enumerate(lengths)
        ]


class Generator(nn.Module):
    """A causal transformer decoder that reads the encoder states through a bridge.

    Trained with teacher forcing: the input is [BOS] + target and the labels are
    target + [EOS]. ``cfg.bridge`` sets how the decoder sees the encoder states:

    - ``cross_attention``: cross-attention layers in the decoder (GPT-2, BERT generation)
      attend to them. They are projected when their width differs from the decoder's,
      since cross-attention in GPT-2 expects both to match.
    - ``prefix``: a learned projection maps them to the decoder width and they are
      prepended to the token embeddings, so any causal LM (LLaMA-style ones have no
      cross-attention) reads them as a soft prompt.

    With ``cfg.reads_prompt`` (text_to_text mode), the input starts with the rendered
    prompt in the decoder's own vocabulary instead of [BOS]: prompt + target, labelled
    from the prompt's last token on. The decoder then reads the task's words as well as
    the encoder states.

    A pretrained decoder can be frozen (``cfg.freeze``) or trained through LoRA adapters
    (``cfg.lora``). Either way the bridge and any newly added cross-attention layers train.
    """

    def __init__(
        self, cfg: DictConfig, encoder_size: int, vocab_size: int,
        bos_token_id: int, eos_token_id: int, pad_token_id: int,
        model_config: dict | None = None,
    ):
        super().__init__()
        self.bos_token_id, self.eos_token_id, self.pad_token_id = bos_token_id, eos_token_id, pad_token_id
        # Models saved before the bridge key existed all used cross-attention.
        self.prefix = cfg.get("bridge", "cross_attention") == "prefix"
        self.reads_prompt = bool(cfg.get("reads_prompt", False))
        self.model, added = _causal_lm(
            cfg, vocab_size, (bos_token_id, eos_token_id, pad_token_id), model_config,
            cross_attention=not self.prefix,
        )
        width = self.model.config.hidden_size
        if self.prefix or encoder_size != width:
            self.bridge = nn.Linear(encoder_size, width)
        else:
            self.bridge = nn.Identity()
        _adapt(self.model, cfg, added)

    def loss(
        self, hidden: torch.Tensor, mask: torch.Tensor,
        decoder_input_ids: torch.Tensor, decoder_attention_mask: torch.Tensor,
        labels: torch.Tensor,
    ) -> torch.Tensor:
        """Mean cross-entropy over the labelled tokens; inputs and labels (N, L) are aligned."""
        logits, labels = self._labelled_logits(hidden, mask, decoder_input_ids, decoder_attention_mask, labels)
        return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)

    def _labelled_logits(
        self, hidden: torch.Tensor, mask: torch.Tensor, input_ids: torch.Tensor,
        attention_mask: torch.Tensor, labels: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the decoder and return the logits (N, L', V) and labels (N, L') of the token
        positions from the first labelled one of the batch on.

        Positions before it (a prompt the decoder reads, and a prefix) have no labels, and
        logits over a 50k vocabulary there would cost time and dominate the memory.
        """
        first = int((labels != -100).int().argmax(dim=1).min())
        offset = hidden.size(1) if self.prefix else 0  # the prefix positions come first
        scored = torch.arange(offset + first, offset + input_ids.size(1), device=input_ids.device)
        if self.prefix:
            inputs = self._prefixed_inputs(hidden, mask, input_ids, attention_mask)
        else:
            inputs = {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "encoder_hidden_states": self.bridge(hidden),
                "encoder_attention_mask": mask,
            }
        return self.model(**inputs, logits_to_keep=scored).logits, labels[:, first:]

    def _prefixed_inputs(
        self, hidden: torch.Tensor, mask: torch.Tensor,
        input_ids: torch.Tensor, attention_mask: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Build the model inputs of [projected encoder states; token embeddings].

        The sequence is (N, T + L): encoder positions, padding included, then tokens.
        Positions count only unmasked entries, the same rule ``generate`` applies, so a
        token sits at the same position in training and in decoding.
        """
        tokens = self.model.get_input_embeddings()(input_ids)  # (N, L, D)
        prefix = self.bridge(hidden).to(tokens.dtype)  # (N, T, D)
        full_mask = torch.cat([mask, attention_mask], dim=1).long()  # (N, T + L)
        positions = (full_mask.cumsum(dim=1) - 1).masked_fill(full_mask == 0, 0)
        return {
            "inputs_embeds": torch.cat([prefix, tokens], dim=1),
            "attention_mask": full_mask,
            "position_ids": positions,
        }

    def _start(
        self, hidden: torch.Tensor, prompt_ids: torch.Tensor | None, prompt_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the tokens that the output follows, left-padded, and their mask (N, P).

        They are the prompt (given right-padded) for a decoder that reads it, else [BOS].
        """
        if self.reads_prompt:
            return _pad_left(prompt_ids, prompt_mask, self.pad_token_id)
        start = torch.full((hidden.size(0), 1), self.bos_token_id, device=hidden.device)
        return start, torch.ones_like(start)

    @torch.no_grad()
    def predict(
        self, hidden: torch.Tensor, mask: torch.Tensor, num_beams: int = 1, max_new_tokens: int = 64,
        prompt_ids: torch.Tensor | None = None, prompt_mask: torch.Tensor | None = None,
    ) -> list[list[int]]:
        """Decode greedily (num_beams=1) or with beam search; returns the new token ids
        without EOS. A decoder that reads the prompt continues `prompt_ids` (N, P, right-padded)."""
        start, start_mask = self._start(hidden, prompt_ids, prompt_mask)
        settings = dict(
            num_beams=num_beams,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
        )
        if self.prefix:
            # Started from embeddings alone, generate() returns only the new tokens.
            generated = self.model.generate(
                **self._prefixed_inputs(hidden, mask, start, start_mask), **settings
            )
        else:
            generated = self.model.generate(
                input_ids=start,
                attention_mask=start_mask,
                encoder_hidden_states=self.bridge(hidden),
                encoder_attention_mask=mask,
                # BERT-generation decoders fail on the plain cache that generate() would make
                # for them (transformers 5.25); a cache with a cross-attention half serves both.
                cache=EncoderDecoderCache(DynamicCache(), DynamicCache()),
                **settings,
            )[:, start.size(1):]  # without the BOS or prompt
        return cut_at_eos(generated.tolist(), self.eos_token_id)

    @torch.no_grad()
    def score_candidates(
        self, hidden: torch.Tensor, mask: torch.Tensor, candidates: list[list[int]],
        length_normalize: bool = False,
        prompt_ids: torch.Tensor | None = None, prompt_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Score each candidate output under the decoder, for every example.

        A candidate's score is log p(candidate + [EOS] | encoder states), the sum of its
        token log-probabilities. The EOS term matters when one candidate is a prefix of
        another. With `length_normalize`, the sum is divided by the token count (EOS
        included).

        Args:
            hidden: encoder states (N, T, H); mask: their attention mask (N, T).
            candidates: K token-id sequences without BOS or EOS, such as label names.
            prompt_ids, prompt_mask: (N, P), right-padded, the prompts that a decoder
                with ``reads_prompt`` reads before the candidate.

        Returns:
            Scores (N, K), float32.
        """
        n, k = hidden.size(0), len(candidates)
        start, start_mask = self._start(hidden, prompt_ids, prompt_mask)
        if self.prefix:
            # [prefix; start] is read once for all K candidates.
            prompt = self._prefixed_inputs(hidden, mask, start, start_mask)
            return _score_after_prompt(
                self.model, prompt, candidates, self.eos_token_id, self.pad_token_id, length_normalize
            )

        # Cross-attention: row i * K + j pairs example i with candidate j, (N * K, L) against
        # (N * K, T, H), each sequence read in full.
        lengths = start_mask.sum(dim=1).tolist()
        prompts = [row[start.size(1) - length :] for row, length in zip(start.tolist(), lengths)]
        joined = join_prompts(
            [prompt for prompt in prompts for _ in candidates], candidates * n, self.eos_token_id, self.pad_token_id
        )
        # Aligned as in training: the token at t + 1 is the label of position t.
        joined = {key: value.to(hidden.device) for key, value in joined.items()}
        logits, labels = self._labelled_logits(
            hidden.repeat_interleave(k, dim=0), mask.repeat_interleave(k, dim=0),
            joined["input_ids"][:, :-1], joined["attention_mask"][:, :-1], joined["labels"][:, 1:],
        )
        return _label_log_probs(logits, labels, length_normalize).view(n, k)


class DecoderOnlyGenerator(nn.Module):
    """A causal transformer that reads the prompt and writes the output in one sequence.

    There is no encoder: each training sequence is prompt + target + [EOS], and the loss
    covers the target and EOS positions only. Generation continues the prompt.
    """

    def __init__(
        self, cfg: DictConfig, vocab_size: int, bos_token_id: int, eos_token_id: int,
        pad_token_id: int, model_config: dict | None = None,
    ):
        super().__init__()
        self.eos_token_id, self.pad_token_id = eos_token_id, pad_token_id
        self.model, _ = _causal_lm(
            cfg, vocab_size, (bos_token_id, eos_token_id, pad_token_id), model_config,
            cross_attention=False,
        )
        _adapt(self.model, cfg)

    def loss(
        self, hidden: None, mask: torch.Tensor, input_ids: torch.Tensor,
        attention_mask: torch.Tensor, labels: torch.Tensor,
    ) -> torch.Tensor:
        """Return the mean loss over the output tokens of prompt + output sequences.

        Args:
            hidden: None (there are no encoder states), kept for the router's interface.
            mask: unused, the encoder mask of the same rows.
            input_ids, attention_mask: right-padded sequences (N, L).
            labels: (N, L), the token at each output position and -100 elsewhere.
        """
        # The logits at position t predict the token at t + 1. Only positions from the
        # earliest output in the batch on get logits: the LM head over a 50k vocabulary
        # costs as much as several layers, and prompt positions have no labels.
        first = int((labels != -100).int().argmax(dim=1).min()) - 1
        kept = torch.arange(first, input_ids.size(1) - 1, device=input_ids.device)
        logits = self.model(
            input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=kept
        ).logits  # (N, L - 1 - first, V)
        return F.cross_entropy(
            logits.float().flatten(0, 1), labels[:, first + 1 :].flatten(), ignore_index=-100
        )

    @torch.no_grad()
    def predict(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, num_beams: int = 1,
        max_new_tokens: int = 64,
    ) -> list[list[int]]:
        """Continue right-padded prompts (N, T) and return the new token ids, without EOS."""
        input_ids, attention_mask = _pad_left(input_ids, attention_mask, self.pad_token_id)
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            num_beams=num_beams,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
        )
        return cut_at_eos(output[:, input_ids.size(1):].tolist(), self.eos_token_id)

    @torch.no_grad()
    def score_candidates(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, candidates: list[list[int]],
        length_normalize: bool = False,
    ) -> torch.Tensor:
        """Score log p(candidate + [EOS] | prompt) for every prompt and candidate.

        Args:
            input_ids, attention_mask: right-padded prompts (N, T).
            candidates: K token-id sequences without EOS, such as label names.
            length_normalize: divide each sum by its token count (EOS included).

        Returns:
            Scores (N, K), float32.
        """
        prompt_ids, prompt_mask = _pad_left(input_ids, attention_mask, self.pad_token_id)
        prompt = {
            "input_ids": prompt_ids,
            "attention_mask": prompt_mask,
            "position_ids": (prompt_mask.cumsum(dim=1) - 1).clamp(min=0),
        }
        return _score_after_prompt(self.model, prompt, candidates, self.eos_token_id, self.pad_token_id, length_normalize)


@torch.no_grad()
def _score_after_prompt(
    model: nn.Module, prompt: dict[str, torch.Tensor], candidates: list[list[int]], eos_id: int,
    pad_id: int, length_normalize: bool,
) -> torch.Tensor:
    """Score log p(candidate + [EOS] | prompt) for N prompts and K candidates, reading each
    prompt once.

    Args:
        model: a causal LM.
        prompt: its inputs for the N prompts (``input_ids`` or ``inputs_embeds``,
            ``attention_mask`` (N, T) and ``position_ids``), left-padded so that every
            prompt ends at the last position.
        candidates: K token-id sequences without EOS.
        length_normalize: divide each sum by its token count (EOS included).

    Returns:
        Scores (N, K), float32.
    """
    prompt_mask = prompt["attention_mask"]
    n, k = prompt_mask.size(0), len(candidates)
    device = prompt_mask.device
    # The logits at the prompt's last position score every candidate's first token, and
    # the prompt's cache, repeated K times, serves the candidates' remaining tokens in
    # one more pass.
    output = model(**prompt, use_cache=True, logits_to_keep=1)
    first_log_probs = output.logits[:, -1].float().log_softmax(dim=-1)  # (N, V)

    # Candidate j + [EOS] is the output: its first token is scored above, and the
    # candidate's own tokens are the inputs that predict the rest (labels).
    outputs = [[*candidate, eos_id] for candidate in candidates]
    first_tokens = torch.tensor([output[0] for output in outputs], device=device)
    scores = first_log_probs[:, first_tokens].reshape(n * k)  # row i * K + j: prompt i, candidate j
    longest = max(len(candidate) for candidate in candidates)
    if longest > 0:
        tokens = torch.full((k, longest), pad_id, dtype=torch.long)
        labels = torch.full((k, longest), -100, dtype=torch.long)
        for row, candidate_output in enumerate(outputs):
            tokens[row, : len(candidate_output) - 1] = torch.tensor(candidate_output[:-1])
            labels[row, : len(candidate_output) - 1] = torch.tensor(candidate_output[1:])
        tokens, labels = tokens.repeat(n, 1).to(device), labels.repeat(n, 1).to(device)
        cache = output.cache
        cache.batch_repeat_interleave(k)
        prompt_lengths = prompt_mask.sum(dim=1).repeat_interleave(k)  # (N * K,) real positions
        logits = model(
            input_ids=tokens,
            attention_mask=torch.cat([prompt_mask.repeat_interleave(k, dim=0), (labels != -100).long()], dim=1),
            position_ids=prompt_lengths[:, None] + torch.arange(longest, device=device),
            cache=cache,
        ).logits  # (N * K, longest, V)
        scores = scores + _label_log_probs(logits, labels, length_normalize=False)
    if length_normalize:
        scores = scores / torch.tensor([len(output) for output in outputs], device=device).repeat(n)
    return scores.view(n, k)


def _label_log_probs(logits: torch.Tensor, labels: torch.Tensor, length_normalize: bool) -> torch.Tensor:
    """Sum (or average) the log-probabilities of the labelled tokens: logits (M, L, V), labels (M, L)."""
    log_probs = logits.float().log_softmax(dim=-1)
    real = labels != -100
    token_scores = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * real
    scores = token_scores.sum(dim=-1)
    if length_normalize:
        scores = scores / real.sum(dim=-1)
    return scores  # (M,)


def cut_at_eos(rows: list[list[int]], eos: int) -> list[list[int]]:
    """Drop the first EOS of each generated row and everything after it (padding)."""
    return [row[: row.index(eos)] if eos in row else row for row in rows]


def _pad_left(input_ids: torch.Tensor, attention_mask: torch.Tensor, pad_id: int):
    """Move right padding to the left, as batched generation with a causal model needs."""
    lengths = attention_mask.sum(dim=1)
    width = input_ids.size(1)
    left_ids = torch.full_like(input_ids, pad_id)
    left_mask = torch.zeros_like(attention_mask)
    for row, length in enumerate(lengths.tolist()):
        left_ids[row, width - length :] = input_ids[row, :length]
        left_mask[row, width - length :] = 1
    return left_ids, left_mask


def _causal_lm(
    cfg: DictConfig, vocab_size: int, tokenizer_ids: tuple[int, int, int],
    model_config: dict | None, cross_attention: bool,
) -> tuple[nn.Module, set[nn.Parameter]]:
    """Build or load a generator's causal LM; returns it and its newly initialized parameters.

    A saved model (`model_config`) is rebuilt from its transformers config, weights loaded
    later, so neither the checkpoint nor a GGUF cache is read. A pretrained one keeps its
    own vocabulary, so its tokenizer (loaded by the trainer) must encode the targets.
    Cross-attention layers added to a pretrained model are the new parameters.
    """
    if model_config is not None:
        return AutoModelForCausalLM.from_config(AutoConfig.for_model(**model_config)), set()
    if is_pretrained(cfg):
        source = resolve_pretrained(cfg.pretrained, cfg.get("gguf_file"))
        return load_causal_lm(source, cross_attention=cross_attention)
    bos, eos, pad = tokenizer_ids
    return _build_decoder_model(cfg, vocab_size, bos, eos, pad, cross_attention=cross_attention), set()


def _adapt(model: nn.Module, cfg: DictConfig, added: set[nn.Parameter] = frozenset()) -> None:
    """Add LoRA adapters (``cfg.lora``) or freeze the weights (``cfg.freeze``) of `model`.

    The `added` parameters (new cross-attention layers) train either way.
    """
    lora = cfg.get("lora") or {}
    if lora.get("enabled"):
        add_lora(model, lora["rank"], lora["alpha"], lora["dropout"], lora.get("target_modules"))
        for parameter in added:
            parameter.requires_grad_(True)
    elif cfg.get("freeze"):
        freeze(model, keep=added)


def _build_decoder_model(
    cfg: DictConfig, vocab_size: int, bos: int, eos: int, pad: int, cross_attention: bool = True
) -> nn.Module:
    """Build a randomly initialized GPT-2 or BERT-generation decoder from the config sizes."""
    if cfg.architecture == "gpt2":
        config = GPT2Config(
            vocab_size=vocab_size,
            n_positions=cfg.max_positions,
            n_embd=cfg.hidden_size,
            n_layer=cfg.num_layers,
            n_head=cfg.num_heads,
            n_inner=cfg.intermediate_size,
            resid_pdrop=cfg.dropout,
            embd_pdrop=cfg.dropout,
            attn_pdrop=cfg.dropout,
            add_cross_attention=cross_attention,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        )
        return GPT2LMHeadModel(config)
    if cfg.architecture == "bert_generation":
        config = BertGenerationConfig(
            vocab_size=vocab_size,
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout,
            max_position_embeddings=cfg.max_positions,
            is_decoder=True,
            add_cross_attention=cross_attention,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        )
        return BertGenerationDecoder(config)
    raise ValueError(f"unknown generator architecture {cfg.architecture!r}; use gpt2 or bert_generation")


def build_decoder(
    cfg: DictConfig, encoder_size: int, num_labels: int, tokenizer_ids: tuple[int, int, int],
    vocab_size: int, model_config: dict | None = None,
) -> nn.Module:
    """Build the decoder `cfg.type` names for one task.

    `tokenizer_ids` (bos, eos, pad) and `vocab_size` come from the tokenizer of the
    generator's targets; `model_config`, from a saved model, skips any download.
    """
    if cfg.type == "classifier":
        return ClassificationHead(cfg, encoder_size, num_labels)
    if cfg.type == "generator":
        bos, eos, pad = tokenizer_ids
        return Generator(cfg, encoder_size, vocab_size, bos, eos, pad, model_config)
    if cfg.type == "span":
        return SpanHead(cfg, encoder_size)
    raise ValueError(f"unknown decoder type {cfg.type!r}; use classifier, generator or span")
