"""How much time hpjobs adds to a training job.

Runs a no-op script-mode job through ``hpjobs run`` (create, supervisor, /opt/ml tree, staging,
the script, packing, watching to the end) and the same script directly with ``python``, several
times each, and prints both medians and their difference. Goal: under 0.5 s of overhead
(SageMaker spends about two minutes before a job starts).

    python benchmarks/job_overhead.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOOP = "print('epoch=1 loss=0.0')\n"


def _timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _request(name: str, code: Path, output: Path) -> dict[str, object]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "hpjobs/pytorch", "TrainingInputMode": "File"},
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(str(code)),
        },
        "RoleArn": "arn:aws:iam::000000000000:role/benchmark",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        code = root / "code"
        code.mkdir()
        (code / "train.py").write_text(NOOP)
        env = {**os.environ, "HPJOBS_HOME": str(root / "home")}
        env.pop("HPJOBS_DATABASE_URL", None)
        direct: list[float] = []
        through: list[float] = []
        _timed([sys.executable, "-m", "hpjobs", "jobs"], env, root)  # create the store once
        for run in range(runs):
            direct.append(_timed([sys.executable, "train.py"], env, code))
            job = root / f"job-{run}.json"
            job.write_text(json.dumps(_request(f"noop-{run}", code, root / "output")))
            through.append(_timed([sys.executable, "-m", "hpjobs", "run", str(job)], env, root))
        direct_median = statistics.median(direct)
        through_median = statistics.median(through)
    print(f"runs: {runs} each")
    print(f"python train.py  median {direct_median:.3f} s")
    print(f"hpjobs run       median {through_median:.3f} s")
    print(f"overhead         {through_median - direct_median:.3f} s (goal: under 0.5 s)")
    print(f"ratio            {through_median / direct_median:.1f}x")


if __name__ == "__main__":
    main()
