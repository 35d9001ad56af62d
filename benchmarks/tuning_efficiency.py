"""What Hyperband and Auto early stopping save on hpjobs/mlp, against Random with the same budget.

For each seed, three tuning jobs on the built-in hpjobs/mlp (digits sample, static epochs 27) with
the same ranges and 16 training jobs, two at a time: Random, Hyperband (MinResource 1, MaxResource
27) and Random with TrainingJobEarlyStoppingType Auto. All three sample their configurations with
the same RandomSeed, so they try the same configurations. Prints the epochs each ran in total
(from the epochs the jobs logged), the best validation:loss, and the ratios against Random.
Goals: Hyperband at most a third of Random's epochs with its best within 1%; Auto early stopping
fewer epochs with its best within 1%.

    python benchmarks/tuning_efficiency.py [--seeds N] [--jobs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import run_tuning, use_home

EPOCHS = 27
RANGES = {
    "ContinuousParameterRanges": [
        {
            "Name": "learning_rate",
            "MinValue": "0.0001",
            "MaxValue": "0.1",
            "ScalingType": "Logarithmic",
        },
        {"Name": "dropout", "MinValue": "0.0", "MaxValue": "0.7", "ScalingType": "Linear"},
    ],
    "IntegerParameterRanges": [
        {"Name": "hidden_size", "MinValue": "4", "MaxValue": "128", "ScalingType": "Logarithmic"}
    ],
}


def request(
    name: str, strategy: str, seed: int, jobs: int, output: Path, **config: Any
) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {
                "Type": "Minimize",
                "MetricName": "validation:loss",
            },
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": RANGES,
            "RandomSeed": seed,
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": str(EPOCHS), "seed": "1", "batch_size": "128"},
            "AlgorithmSpecification": {"TrainingImage": "hpjobs/mlp", "TrainingInputMode": "File"},
            "RoleArn": "arn:aws:iam::000000000000:role/benchmark",
            "OutputDataConfig": {"S3OutputPath": output.as_uri()},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }


def measure(body: dict[str, Any]) -> tuple[int, float, float]:
    """(epochs run in total, best objective, seconds) of one tuning job."""
    from hpjobs.sagemaker.training_jobs import training_job_epoch

    description, children, elapsed = run_tuning(body)
    epochs = sum(training_job_epoch(c["TrainingJobName"]) or 0 for c in children)
    best = description["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    return epochs, float(best), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=16)
    options = parser.parse_args()
    variants = {
        "Random": ("Random", {}),
        "Hyperband": (
            "Hyperband",
            {
                "StrategyConfig": {
                    "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": EPOCHS}
                }
            },
        ),
        "Random + Auto early stopping": ("Random", {"TrainingJobEarlyStoppingType": "Auto"}),
    }
    results: dict[str, list[tuple[int, float, float]]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as scratch:
        use_home(Path(scratch) / "home")
        for seed in range(options.seeds):
            for index, (label, (strategy, config)) in enumerate(variants.items()):
                body = request(
                    f"eff-{seed}-{index}",
                    strategy,
                    seed,
                    options.jobs,
                    Path(scratch) / "out",
                    **config,
                )
                results[label].append(measure(body))
                epochs, best, seconds = results[label][-1]
                print(
                    f"seed {seed} {label}: {epochs} epochs, best {best:.5f}, {seconds:.0f} s",
                    flush=True,
                )
    base_epochs = statistics.mean(r[0] for r in results["Random"])
    print(f"\n{options.jobs} training jobs per tuning job, {options.seeds} seeds (means):")
    for label, runs in results.items():
        epochs = statistics.mean(r[0] for r in runs)
        gaps = [
            (run[1] - base[1]) / base[1] * 100
            for run, base in zip(runs, results["Random"], strict=True)
        ]
        best = statistics.mean(r[1] for r in runs)
        print(
            f"  {label:30s} epochs {epochs:7.1f} ({epochs / base_epochs:.2f}x Random)  "
            f"best {best:.5f} ({statistics.mean(gaps):+.2f}% vs Random, per seed "
            f"{', '.join(f'{g:+.1f}%' for g in gaps)})  "
            f"time {statistics.mean(r[2] for r in runs):.0f} s"
        )
    print("goals: Hyperband <= 0.33x Random's epochs and within 1%;")
    print("       Auto early stopping < 1x Random's epochs and within 1%")


if __name__ == "__main__":
    main()
