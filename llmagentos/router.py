"""The task router: splits a mixed batch by task and sends each part to its decoder."""

from __future__ import annotations

import torch
from torch import nn


class TaskRouter(nn.Module):
    """Holds one decoder per task and turns a mixed batch into per-task losses.

    Each task's loss is the mean over that task's own examples in the batch, so a task
    with 3 examples in a batch of 32 is not diluted by the other 29. A task absent from
    the batch gets no loss entry. Its decoder still joins the graph with a zero-valued
    term, so DistributedDataParallel finds a gradient (zero) for every trainable parameter
    and needs no ``find_unused_parameters``.

    With a `shared_decoder` (text-to-text mode), every task's rows go to that one module,
    registered once as ``shared`` so that its weights are stored once. `decoders` is
    then empty, and the task order is that of `loss_weights`.
    """

    def __init__(
        self, decoders: dict[str, nn.Module], loss_weights: dict[str, float],
        shared_decoder: nn.Module | None = None,
    ):
        super().__init__()
        self.decoders = nn.ModuleDict(decoders)
        self.shared = shared_decoder
        self.task_names = list(loss_weights) if shared_decoder is not None else list(decoders)
        self.loss_weights = dict(loss_weights)

    def decoder(self, task: str) -> nn.Module:
        """Return the decoder that reads `task`'s rows: its own, or the shared one."""
        return self.shared if self.shared is not None else self.decoders[task]

    def forward(
        self, hidden: torch.Tensor | None, mask: torch.Tensor, task_ids: torch.Tensor,
        targets: dict[str, dict[str, torch.Tensor]],
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return the weighted total loss and each present task's mean loss.

        Args:
            hidden: encoder states (B, T, H) of the whole mixed batch, or None in
                decoder_only mode, where the targets contain the whole sequences.
            mask: encoder attention mask (B, T).
            task_ids: (B,) index into ``task_names`` of each example.
            targets: per present task, its decoder's target tensors, rows in batch order.
        """
        losses: dict[str, torch.Tensor] = {}
        total = mask.new_zeros((), dtype=torch.float32)
        for index, name in enumerate(self.task_names):
            decoder = self.decoder(name)
            rows = (task_ids == index).nonzero(as_tuple=True)[0]
            if rows.numel() == 0:
                # A shared decoder gets its gradient from the tasks that are present.
                if self.shared is None:
                    trainable = [p for p in decoder.parameters() if p.requires_grad]
                    total = total + sum(p.sum() for p in trainable) * 0.0
                continue
            states = hidden[rows] if hidden is not None else None  # None: no encoder
            losses[name] = decoder.loss(states, mask[rows], **targets[name])
            total = total + self.loss_weights[name] * losses[name]
        return total, losses
