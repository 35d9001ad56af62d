"""Does the search survive the trip through SageMaker JSON? Branin, 30 trials, 10 seeds.

Runs Branin (benchmarks/scripts/branin.py, minimum 0.397887) as a script-mode training job under
hpjobs tuning jobs with the Bayesian and Random strategies, 30 training jobs each, one at a time,
for 10 values of RandomSeed, and Optuna's GPSampler called directly on the same function with the
same budget and seeds. Prints the median regret (best found − 0.397887) of each and the ratios.
Goal: Bayesian through hpjobs within 2x of GPSampler called directly.

    python benchmarks/tuning_quality.py [--seeds N] [--trials N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import run_tuning, script_definition, use_home
from scripts.branin import branin

MINIMUM = 0.397887
RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "x", "MinValue": "-5", "MaxValue": "10", "ScalingType": "Linear"},
        {"Name": "y", "MinValue": "0", "MaxValue": "15", "ScalingType": "Linear"},
    ]
}


def through_hpjobs(strategy: str, seed: int, trials: int, output: Path) -> float:
    request = {
        "HyperParameterTuningJobName": f"branin-{strategy.lower()}-{seed}",
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "branin"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": RANGES,
            "RandomSeed": seed,
        },
        "TrainingJobDefinition": script_definition(
            "branin.py", output, "branin", r"branin=([-0-9.eE+]+)"
        ),
    }
    description, _, _ = run_tuning(request)
    if "BestTrainingJob" not in description:
        raise SystemExit(f"{request['HyperParameterTuningJobName']}: {description}")
    best = description["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    return float(best) - MINIMUM


def direct(seed: int, trials: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))
    study.optimize(
        lambda t: branin(t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)), trials
    )
    return study.best_value - MINIMUM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=30)
    options = parser.parse_args()
    regrets: dict[str, list[float]] = {
        "hpjobs Bayesian": [],
        "hpjobs Random": [],
        "Optuna GPSampler": [],
    }
    with tempfile.TemporaryDirectory() as scratch:
        use_home(Path(scratch) / "home")
        for seed in range(options.seeds):
            for strategy in ("Bayesian", "Random"):
                regret = through_hpjobs(strategy, seed, options.trials, Path(scratch) / "out")
                regrets[f"hpjobs {strategy}"].append(regret)
            regrets["Optuna GPSampler"].append(direct(seed, options.trials))
            print(
                f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in regrets.items()),
                flush=True,
            )
    medians = {k: statistics.median(v) for k, v in regrets.items()}
    print(f"\nmedian regret after {options.trials} trials over {options.seeds} seeds:")
    for name, value in medians.items():
        print(f"  {name:18s} {value:.4f}")
    bayesian = medians["hpjobs Bayesian"]
    ratio = bayesian / max(medians["Optuna GPSampler"], 1e-12)
    print(f"hpjobs Bayesian / Optuna GPSampler: {ratio:.2f}x (goal: at most 2x)")
    random_ratio = medians["hpjobs Random"] / max(bayesian, 1e-12)
    print(f"hpjobs Random / hpjobs Bayesian:    {random_ratio:.1f}x")


if __name__ == "__main__":
    main()
