import pytest
import torch
from torch import nn

from llmagentos.metrics import bleu_tokenizer, classification_scores, macro_f1, translation_scores
from llmagentos.router import TaskRouter


def test_accuracy_and_macro_f1_by_hand():
    predictions = [0, 0, 1, 1, 1, 2]
    references = [0, 1, 1, 1, 2, 2]
    # label 0: tp 1 fp 1 fn 0 -> 2/3; label 1: tp 2 fp 1 fn 1 -> 2/3; label 2: tp 1 fp 0 fn 1 -> 2/3
    scores = classification_scores(predictions, references, num_labels=3)

    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["macro_f1"] == pytest.approx(2 / 3)


def test_macro_f1_skips_label_absent_everywhere():
    assert macro_f1([0, 1], [0, 1], num_labels=3) == pytest.approx(1.0)


def test_chinese_targets_use_zh_tokenizer():
    assert bleu_tokenizer("zh") == "zh"
    assert bleu_tokenizer("cmn") == "zh"
    assert bleu_tokenizer("en") == "13a"

    hypotheses = ["我喜欢吃苹果。"]
    references = ["我喜欢吃香蕉。"]
    assert translation_scores(hypotheses, references, "zh")["bleu"] > 30
    assert translation_scores(hypotheses, references, "en")["bleu"] == 0.0


def test_perfect_english_translation():
    scores = translation_scores(["The cat sat on the mat."], ["The cat sat on the mat."], "en")

    assert scores["bleu"] == pytest.approx(100.0)
    assert scores["chrf"] == pytest.approx(100.0)


class MeanHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def loss(self, hidden, mask, labels):
        return ((self.linear(hidden[:, 0]).squeeze(-1) - labels) ** 2).mean()


def test_router_averages_per_task_and_skips_absent():
    torch.manual_seed(0)
    router = TaskRouter({"a": MeanHead(), "b": MeanHead(), "c": MeanHead()}, {"a": 1.0, "b": 2.0, "c": 1.0})
    hidden = torch.randn(5, 3, 4)
    mask = torch.ones(5, 3, dtype=torch.long)
    task_ids = torch.tensor([0, 1, 0, 0, 1])
    targets = {"a": {"labels": torch.zeros(3)}, "b": {"labels": torch.ones(2)}}

    total, losses = router(hidden, mask, task_ids, targets)
    total.backward()

    assert set(losses) == {"a", "b"}
    expected_a = router.decoders["a"].loss(hidden[[0, 2, 3]], mask[[0, 2, 3]], torch.zeros(3))
    assert losses["a"].item() == pytest.approx(expected_a.item())
    assert total.item() == pytest.approx(losses["a"].item() + 2.0 * losses["b"].item())
    absent = router.decoders["c"].linear
    assert absent.weight.grad is not None
    assert torch.count_nonzero(absent.weight.grad) == 0
