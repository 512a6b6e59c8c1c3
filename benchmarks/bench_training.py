"""Time of each training task on this machine (reference solutions), median of N runs.

    python benchmarks/bench_training.py [--repeat 3] [--seed 0]

Tasks: §39 ``train_reversal_attention`` (graded; limit 15 s on 2 idle cores), §42
``train_sorting_gpt`` (dense, and MoE with the load-balancing loss; bonus, 20 s), §37
``train_char_lm`` (graded through ``rnn_generate``; 20 s). Each run is
in this process with one PyTorch thread (as the training functions set themselves). Printed per
task: median wall time, median CPU time of the process (less sensitive to other people's jobs on a
shared machine), the score of the last run, and the load average before and after.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.sections import SOLUTIONS  # noqa: E402
from grader.targets import load_module_file  # noqa: E402


def load_given(section: str, name: str):
    folder = str(SOLUTIONS / section)
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)


def tasks(seed: int):
    attention_math = load_module_file(SOLUTIONS / "sec39_attention_math" / "attention_math.py", "attention_math")
    tiny_gpt = load_given("sec42_gpt", "tiny_gpt")
    char_lm = load_given("sec37_rnn", "char_lm")
    held_out = attention_math.make_reversal_data(1000, seed=seed + 1000)

    def reversal():
        r = attention_math.train_reversal_attention(seed=seed)
        s = attention_math.evaluate_reversal(r["weights"], held_out)
        return f"accuracy {s['accuracy']:.3f}, anti-diagonal {s['anti_diagonal']:.3f}"

    def gpt_dense():
        r = tiny_gpt.train_sort_gpt(seed=seed)
        return f"sort exact match {tiny_gpt.sort_accuracy(r['params']):.3f}"

    def gpt_moe():
        r = tiny_gpt.train_sort_gpt(seed=seed, moe=True, router_skew=4.0)
        load = ", ".join(f"{x:.2f}" for x in r["expert_load"])
        return f"sort exact match {tiny_gpt.sort_accuracy(r['params']):.3f}, expert load [{load}]"

    def char_rnn():
        lm = char_lm.train_char_lm(seed=seed)
        return f"next char {char_lm.next_char_accuracy(lm):.3f}, verbs {char_lm.verb_accuracy(lm):.3f}"

    return [
        ("§39 train_reversal_attention", 15.0, reversal),
        ("§42 tiny GPT (dense)", 20.0, gpt_dense),
        ("§42 tiny GPT (MoE + aux loss)", 20.0, gpt_moe),
        ("§37 character RNN", 20.0, char_rnn),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"{'task':32} {'wall s':>7} {'cpu s':>7} {'limit':>6}  score (last run)")
    total = 0.0
    for name, limit, run in tasks(args.seed):
        walls, cpus = [], []
        for _ in range(args.repeat):
            w, c = time.perf_counter(), time.process_time()
            score = run()
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        total += wall
        print(f"{name:32} {wall:7.1f} {cpu:7.1f} {limit:6.0f}  {score}", flush=True)
    print(f"{'total (medians)':32} {total:7.1f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
