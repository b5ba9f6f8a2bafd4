"""Benchmark 4: cold start — importing each function's entry module vs. importing the RAM, STS and SLB clients alone.

A Function Compute cold start pays the interpreter start plus the handler module's imports. The bound is what any
function that talks to RAM, STS and SLB must pay at least if it imports their clients eagerly:
``import alibabacloud_ram20150501.client, alibabacloud_sts20150401.client, alibabacloud_slb20140515.client``.
Goal: each entry module (functions/<name>/index.py, loaded from its file like the runtime does) costs at most 1.1x
that. Each figure is the median wall time of RUNS fresh ``python -c`` processes after one warm-up run (which writes
the bytecode caches, as a deployed package would ship them); ``python -c pass`` is shown for reference.

Run: ``.venv/bin/python bench/bench_cold_start.py`` (part of ``make bench``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 5
GOAL_RATIO = 1.1
REPO = Path(__file__).resolve().parent.parent
BASELINE = "import alibabacloud_ram20150501.client, alibabacloud_sts20150401.client, alibabacloud_slb20140515.client"
LOAD_ENTRY = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('index', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "assert callable(module.handler)\n"
)


def child_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
    return env


def median_seconds(code: str, *args: str) -> float:
    command = [sys.executable, "-c", code, *args]
    subprocess.run(command, check=True, env=child_env(), cwd=REPO)  # warm-up: bytecode caches
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(command, check=True, env=child_env(), cwd=REPO)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    entries = sorted((REPO / "functions").glob("*/index.py"))
    if not entries:
        print("no functions/<name>/index.py found", file=sys.stderr)
        return 1
    empty = median_seconds("pass")
    baseline = median_seconds(BASELINE)
    print(f"cold start, median of {RUNS} fresh processes (after one warm-up)")
    print(f"  {'python -c pass':<38}{empty * 1000:7.1f} ms")
    print(f"  {'RAM + STS + SLB clients (the bound)':<38}{baseline * 1000:7.1f} ms")
    worst = 0.0
    for entry in entries:
        seconds = median_seconds(LOAD_ENTRY, str(entry))
        ratio = seconds / baseline
        worst = max(worst, ratio)
        verdict = "ok" if ratio <= GOAL_RATIO else "over goal"
        print(
            f"  functions/{entry.parent.name + '/index.py':<28}{seconds * 1000:7.1f} ms  {ratio:.2f}x bound  {verdict}"
        )
    print(f"worst ratio {worst:.2f}x (goal <= {GOAL_RATIO}x): {'met' if worst <= GOAL_RATIO else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
