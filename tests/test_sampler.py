import itertools

import pytest

from llmagentos.sampler import MixedBatchSampler, task_weights


def test_weights_by_strategy():
    assert task_weights([100, 300], "proportional") == pytest.approx([0.25, 0.75])
    assert task_weights([100, 400], "temperature", temperature=2.0) == pytest.approx([1 / 3, 2 / 3])
    assert task_weights([100, 400], "uniform") == pytest.approx([0.5, 0.5])
    assert task_weights([100, 100], "uniform", multipliers=[1.0, 3.0]) == pytest.approx([0.25, 0.75])


def make_sampler(**kwargs):
    lengths = [[5 + i % 7 for i in range(50)], [40 + i % 30 for i in range(80)]]
    options = dict(lengths=lengths, weights=[0.5, 0.5], batch_size=8, pool_batches=5, seed=3)
    options.update(kwargs)
    return MixedBatchSampler(**options), lengths


def padding_fraction(group_by_length: bool) -> float:
    sampler, lengths = make_sampler(group_by_length=group_by_length)
    real = padded = 0
    for batch in itertools.islice(sampler, 40):
        sizes = [lengths[t][i] for t, i in batch]
        real += sum(sizes)
        padded += max(sizes) * len(sizes)
    return 1 - real / padded


def test_length_grouping_cuts_padding():
    grouped = padding_fraction(group_by_length=True)
    mixed = padding_fraction(group_by_length=False)

    assert mixed > 0.4  # short and long tasks share batches
    assert grouped < mixed / 3


def test_token_budget_respected():
    sampler, lengths = make_sampler(max_tokens=200)
    for batch in itertools.islice(sampler, 40):
        longest = max(lengths[t][i] for t, i in batch)
        assert longest * len(batch) <= 200


def test_token_budget_below_longest_example_rejected():
    with pytest.raises(ValueError, match="below the longest example"):
        make_sampler(max_tokens=30)


def test_processes_take_disjoint_shares():
    ranks = [make_sampler(num_processes=2, process_index=r)[0] for r in (0, 1)]
    single, _ = make_sampler()
    stream = [single.next_batch() for _ in range(20)]

    assert [ranks[0].next_batch() for _ in range(10)] == stream[0::2]
    assert [ranks[1].next_batch() for _ in range(10)] == stream[1::2]
    assert ranks[0].examples_drawn == ranks[1].examples_drawn


def test_state_round_trip_continues_stream():
    sampler, _ = make_sampler()
    for _ in range(7):
        sampler.next_batch()
    state = sampler.state_dict()
    expected = [sampler.next_batch() for _ in range(30)]

    restored, _ = make_sampler(seed=99)
    restored.load_state_dict(state)

    assert [restored.next_batch() for _ in range(30)] == expected


def test_every_example_seen_once_per_epoch():
    # One pool of 5 batches of 10 is exactly one pass over the 50 examples of task 0.
    sampler, _ = make_sampler(weights=[1.0, 0.0], batch_size=10)
    seen = [i for batch in itertools.islice(sampler, 5) for t, i in batch]

    assert sorted(seen) == list(range(50))
