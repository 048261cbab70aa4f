"""Print a Markdown table of the final metrics and wall time of finished runs.

    python scripts/compare_runs.py outputs/results/mixed outputs/results/chnsenticorp outputs/results/tatoeba

Each argument is a run folder holding results.json. A task that appears in several runs
gets one row per run, so a multi-task run sits next to its single-task baselines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders that contain results.json")
    args = parser.parse_args()

    rows = []
    for run in args.runs:
        path = run / "results.json"
        if not path.is_file():
            parser.error(f"{path} not found: is {run} a finished run folder?")
        results = json.loads(path.read_text(encoding="utf-8"))
        tasks = results["tasks"]
        for task, metrics in tasks.items():
            scores = ", ".join(
                f"{name} {value:.4g}" for name, value in metrics.items() if name != "examples_seen"
            )
            rows.append((task, run.name, "+".join(tasks), scores, metrics["examples_seen"],
                         results.get("wall_time_s")))

    print("| task | run | tasks in run | metrics | examples seen | wall time (min) |")
    print("|---|---|---|---|---|---|")
    for task, run, together, scores, seen, wall in sorted(rows):
        minutes = f"{wall / 60:.1f}" if wall is not None else "n/a"
        print(f"| {task} | {run} | {together} | {scores} | {seen:,} | {minutes} |")


if __name__ == "__main__":
    main()
