"""Run the acceptance checks on real data and print each figure against its target:

    python scripts/acceptance.py sst2 predict          # chosen checks, in order
    python scripts/acceptance.py --list                # what each check runs
    python scripts/acceptance.py squad --override trainer.max_steps=300   # a shorter run

Each check trains with `python -m llmagentos.train` in a fresh run folder under
outputs/acceptance/, times the whole command, reads the run's results.json and prints
one line per figure: the value, the target and PASS or FAIL. The script exits 1 when a
figure misses its target. The datasets come from ../shared/data (data_root=).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@dataclass
class Check:
    """A training command and the targets its results must meet."""

    overrides: list[str]
    # (task, metric) -> minimum value, read from results.json
    minimums: dict[tuple[str, str], float] = field(default_factory=dict)
    reported: list[tuple[str, str]] = field(default_factory=list)  # figures without a target
    max_minutes: float | None = None  # wall time of the whole command, start-up included
    # Tasks whose last logged training loss must be below their first.
    falling_loss: tuple[str, ...] = ()
    uses_shared_data: bool = True


CHECKS = {
    "sst2": Check(
        ["task=sst2", "encoder=minilm"],
        minimums={("sst2", "accuracy"): 0.85},
        max_minutes=20,
    ),
    # The quick start's run, then a prediction through the public API.
    "predict": Check(["task=classification+translation"], uses_shared_data=False),
    # Question answering on a held-out part of each dev file; the target is to train and
    # report, so the figures are printed without one.
    "squad": Check(["task=squad", "encoder=minilm"], reported=[("squad", "exact_match"), ("squad", "f1")]),
    "cmrc2018": Check(["task=cmrc2018"], reported=[("cmrc2018", "exact_match"), ("cmrc2018", "f1")]),
    # SmolLM2 alone (decoder_only mode, LoRA) on both real tasks rendered as prompts.
    "smollm2": Check(
        ["task=chnsenticorp+tatoeba_zh_en", "+experiment=smollm2_cpu"],
        minimums={("chnsenticorp", "accuracy"): 0.7},
        reported=[("tatoeba_zh_en", "bleu"), ("tatoeba_zh_en", "chrf")],
        max_minutes=20,
        falling_loss=("chnsenticorp", "tatoeba_zh_en"),
    ),
    # The small encoder plus SmolLM2 (text_to_text mode, prefix and prompt, LoRA).
    "smollm2_text_to_text": Check(
        ["task=chnsenticorp+tatoeba_zh_en", "+experiment=smollm2_text_to_text_cpu"],
        minimums={("chnsenticorp", "accuracy"): 0.7},
        reported=[("tatoeba_zh_en", "bleu"), ("tatoeba_zh_en", "chrf")],
        max_minutes=20,
        falling_loss=("chnsenticorp", "tatoeba_zh_en"),
    ),
}


def run_check(name: str, check: Check, extra: list[str]) -> bool:
    run_dir = REPO / "outputs" / "acceptance" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    command = [sys.executable, "-m", "llmagentos.train", *check.overrides, *extra, f"hydra.run.dir={run_dir}"]
    if check.uses_shared_data:
        command.append(f"data_root={SHARED_DATA}")
    print(f"[{name}] {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    cpu_before = _children_cpu_seconds()
    finished = subprocess.run(command, cwd=REPO)
    minutes = (time.perf_counter() - started) / 60
    # CPU time of the training process: on a shared machine, wall time also counts the
    # time other programs held the cores, CPU time does not.
    cpu_minutes = (_children_cpu_seconds() - cpu_before) / 60
    print(f"[{name}] wall time {minutes:.1f} min, CPU time {cpu_minutes:.1f} min (user + system, all threads)")
    if finished.returncode != 0:
        print(f"[{name}] FAIL: the training command exited with status {finished.returncode}")
        return False

    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    passed = True
    for (task, metric), minimum in check.minimums.items():
        value = results["tasks"][task][metric]
        passed &= report(name, f"{task} {metric}", value, f">= {minimum}", value >= minimum)
    for task, metric in check.reported:
        print(f"[{name}] {task} {metric}: {results['tasks'][task][metric]:.4f}")
    for task in check.falling_loss:
        first, last = training_losses(run_dir, task)
        passed &= report(name, f"{task} training loss, last logged", last, f"< first logged {first:.4f}", last < first)
    if check.max_minutes is not None:
        passed &= report(name, "wall time (min)", minutes, f"<= {check.max_minutes}", minutes <= check.max_minutes)
    if name == "predict":
        passed &= check_prediction(run_dir)
    print(f"[{name}] run folder: {run_dir}")
    return passed


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def training_losses(run_dir: Path, task: str) -> tuple[float, float]:
    """Return the first and last training loss that metrics.jsonl records for `task`."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    losses = [r["loss"] for r in records if r.get("split") == "train" and r.get("task") == task]
    return losses[0], losses[-1]


def check_prediction(run_dir: Path) -> bool:
    sys.path.insert(0, str(REPO))
    from llmagentos import LLMAgentOS

    answer = LLMAgentOS.from_pretrained(run_dir).predict("文本分类", "这部电影太棒了！")
    return report("predict", 'predict("文本分类", "这部电影太棒了！")', answer, "== 正面", answer == "正面")


def report(check: str, figure: str, value, target: str, passed: bool) -> bool:
    text = f"{value:.4f}" if isinstance(value, float) else str(value)
    print(f"[{check}] {figure}: {text} (target {target}) {'PASS' if passed else 'FAIL'}", flush=True)
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checks", nargs="*", help=f"checks to run: {', '.join(CHECKS)} (default: all)")
    parser.add_argument("--list", action="store_true", help="print each check's overrides and exit")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra override for every check's command (repeatable)")
    args = parser.parse_args()
    if args.list:
        for name, check in CHECKS.items():
            print(f"{name}: {' '.join(check.overrides)}")
        return 0
    names = args.checks or list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        parser.error(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    if any(CHECKS[n].uses_shared_data for n in names) and not SHARED_DATA.is_dir():
        print(f"error: {SHARED_DATA} not found; the real-data checks read their datasets there")
        return 2
    results = {name: run_check(name, CHECKS[name], args.override) for name in names}
    print("summary: " + ", ".join(f"{n} {'PASS' if ok else 'FAIL'}" for n, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
