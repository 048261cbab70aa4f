"""Mixed batches: which task each example comes from, and which examples share a batch.

:class:`MixedBatchSampler` draws a pool of examples, each from a task picked by the task
weights. It sorts the pool by length, so that short sentences are not padded to the
length of long reviews, and cuts it into batches of ``batch_size`` examples or of at most
``max_tokens`` padded tokens, in shuffled order. Every process builds the same global
stream from the same seed and takes every ``num_processes``-th batch. The processes thus
see disjoint batches without communicating, and the sampler state is the same on all of
them. The state (generator, per-task position, pending batches) is saved in checkpoints,
so a resumed run draws exactly the batches the stopped run would have.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

# (task index, example index) pairs
Batch = list[tuple[int, int]]


def task_weights(
    sizes: Sequence[int], sampler: str, temperature: float = 1.0,
    multipliers: Sequence[float] | None = None,
) -> list[float]:
    """Return the probability of drawing each task.

    ``proportional`` gives p ~ n, ``temperature`` gives p ~ n ** (1 / T) and ``uniform``
    gives the same share to every task. Each share is then multiplied by the task's
    ``sampling_weight`` and the result normalized.
    """
    if sampler == "proportional":
        raw = [float(n) for n in sizes]
    elif sampler == "temperature":
        if temperature <= 0:
            raise ValueError(f"data.temperature must be > 0, got {temperature}")
        raw = [float(n) ** (1.0 / temperature) for n in sizes]
    elif sampler == "uniform":
        raw = [1.0 for _ in sizes]
    else:
        raise ValueError(f"unknown sampler {sampler!r}; use proportional, temperature or uniform")
    if multipliers is not None:
        raw = [r * m for r, m in zip(raw, multipliers)]
    total = sum(raw)
    if total <= 0:
        raise ValueError(f"task weights sum to {total}; every sampling_weight is 0?")
    return [r / total for r in raw]


class MixedBatchSampler:
    """An endless stream of mixed-task batches for one process.

    Args:
        lengths: per task, the encoder length of each training example.
        weights: per task, the probability of drawing it.
        batch_size: examples per batch; ignored when ``max_tokens`` is set.
        max_tokens: cap on ``examples * longest length`` per batch.
        group_by_length: sort each pool by length before cutting it into batches.
        pool_batches: pool size in batches.
        seed: the same on every process.
        num_processes, process_index: this process's share of the global stream.
    """

    def __init__(
        self,
        lengths: Sequence[Sequence[int]],
        weights: Sequence[float],
        batch_size: int,
        max_tokens: int | None = None,
        group_by_length: bool = True,
        pool_batches: int = 50,
        seed: int = 0,
        num_processes: int = 1,
        process_index: int = 0,
    ):
        longest = max(max(l) for l in lengths if len(l))
        if max_tokens is not None and max_tokens < longest:
            raise ValueError(
                f"data.max_tokens={max_tokens} is below the longest example ({longest} tokens); "
                f"raise it to at least {longest} or lower the tasks' max_length"
            )
        self.lengths = [torch.as_tensor(l, dtype=torch.long) for l in lengths]
        self.weights = torch.as_tensor(weights, dtype=torch.double)
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.group_by_length = group_by_length
        self.pool_batches = pool_batches
        self.num_processes = num_processes
        self.process_index = process_index

        self.generator = torch.Generator().manual_seed(seed)
        self.orders = [torch.randperm(len(l), generator=self.generator) for l in self.lengths]
        self.cursors = [0] * len(self.lengths)
        self.pending: list[Batch] = []
        self.batches_drawn = 0  # global count, over all processes
        self.examples_drawn = [0] * len(self.lengths)  # global count, per task

    def __iter__(self) -> Iterator[Batch]:
        while True:
            yield self.next_batch()

    def next_batch(self) -> Batch:
        """Return this process's batch of the next round of one batch per process.

        Drawing the whole round keeps the state, and the examples counted, identical on
        every process.
        """
        round_ = [self._draw() for _ in range(self.num_processes)]
        return round_[self.process_index]

    def _draw(self) -> Batch:
        if not self.pending:
            self._refill()
        batch = self.pending.pop()
        self.batches_drawn += 1
        for task, _ in batch:
            self.examples_drawn[task] += 1
        return batch

    def _refill(self) -> None:
        pool_size = self.pool_batches * self._mean_batch_examples()
        tasks = torch.multinomial(self.weights, pool_size, replacement=True, generator=self.generator)
        pool: list[tuple[int, int]] = []
        for task in tasks.tolist():
            pool.append((task, self._next_example(task)))

        if self.group_by_length:
            pool.sort(key=lambda item: int(self.lengths[item[0]][item[1]]))
        batches = self._cut(pool)
        order = torch.randperm(len(batches), generator=self.generator).tolist()
        # pop() takes from the end, so the shuffled order is reversed once here.
        self.pending = [batches[i] for i in reversed(order)]

    def _next_example(self, task: int) -> int:
        if self.cursors[task] == len(self.orders[task]):
            self.orders[task] = torch.randperm(len(self.orders[task]), generator=self.generator)
            self.cursors[task] = 0
        index = int(self.orders[task][self.cursors[task]])
        self.cursors[task] += 1
        return index

    def _mean_batch_examples(self) -> int:
        if self.max_tokens is None:
            return self.batch_size
        mean_length = sum(
            float(w) * float(l.float().mean()) for w, l in zip(self.weights, self.lengths) if len(l)
        )
        return max(1, int(self.max_tokens / max(mean_length, 1.0)))

    def _cut(self, pool: list[tuple[int, int]]) -> list[Batch]:
        if self.max_tokens is None:
            return [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        batches: list[Batch] = []
        current: Batch = []
        longest = 0
        for item in pool:
            length = int(self.lengths[item[0]][item[1]])
            if current and (len(current) + 1) * max(longest, length) > self.max_tokens:
                batches.append(current)
                current, longest = [], 0
            current.append(item)
            longest = max(longest, length)
        if current:
            batches.append(current)
        return batches

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.get_state(),
            "orders": list(self.orders),
            "cursors": torch.tensor(self.cursors),
            "pending": [torch.tensor(b, dtype=torch.long) for b in self.pending],
            "batches_drawn": self.batches_drawn,
            "examples_drawn": torch.tensor(self.examples_drawn),
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.orders = list(state["orders"])
        self.cursors = state["cursors"].tolist()
        self.pending = [[tuple(pair) for pair in b.tolist()] for b in state["pending"]]
        self.batches_drawn = int(state["batches_drawn"])
        self.examples_drawn = state["examples_drawn"].tolist()
