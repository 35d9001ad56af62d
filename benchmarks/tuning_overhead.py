"""What a tuning job costs beyond its training scripts, and what two parallel jobs gain.

1. Per-trial overhead: a Random tuning job of N training jobs, one at a time, each running
   benchmarks/scripts/busy.py for --seconds S of CPU work; the same script run directly with
   python N times. Overhead per trial = (tuning job wall time - direct total) / N.
   Goal: under 0.3 s per trial.
2. Parallel speed-up: the same tuning job with MaxParallelTrainingJobs 1 and 2 (CPU-bound
   scripts, this machine's cores). Goal: at least 1.7x on two cores.

    python benchmarks/tuning_overhead.py [--trials N] [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import SCRIPTS, run_tuning, script_definition, use_home


def request(name: str, trials: int, parallel: int, seconds: float, output: Path) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": trials,
                "MaxParallelTrainingJobs": parallel,
            },
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "x", "MinValue": "-1", "MaxValue": "1"}]
            },
            "RandomSeed": 0,
        },
        "TrainingJobDefinition": script_definition(
            "busy.py", output, "objective", r"objective=([0-9.]+)", seconds=str(seconds)
        ),
    }


def direct(trials: int, seconds: float) -> float:
    started = time.perf_counter()
    for _ in range(trials):
        subprocess.run(
            [sys.executable, str(SCRIPTS / "busy.py"), "--seconds", str(seconds), "-x", "0.5"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=1.0)
    options = parser.parse_args()
    trials, seconds = options.trials, options.seconds
    with tempfile.TemporaryDirectory() as scratch:
        use_home(Path(scratch) / "home")
        output = Path(scratch) / "out"
        alone = direct(trials, seconds)
        _, _, one = run_tuning(request("overhead-1", trials, 1, seconds, output))
        _, _, two = run_tuning(request("overhead-2", trials, 2, seconds, output))
    print(f"{trials} training jobs of {seconds:g} s CPU work each, {os.cpu_count()} cores")
    print(f"scripts run directly, one after another: {alone:.2f} s")
    print(f"tuning job, MaxParallelTrainingJobs 1:   {one:.2f} s")
    print(f"tuning job, MaxParallelTrainingJobs 2:   {two:.2f} s")
    print(f"overhead per trial: {(one - alone) / trials:.3f} s (goal: under 0.3 s)")
    print(f"parallel speed-up:  {one / two:.2f}x (goal: at least 1.7x)")


if __name__ == "__main__":
    main()
