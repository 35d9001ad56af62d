"""The SageMaker operations hpjobs implements, by AWS operation name (see :mod:`hpjobs.operations`).

Each entry names its function lazily so that listing operations imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["OPERATIONS"]

_TUNING = "hpjobs.sagemaker.tuning_jobs"

OPERATIONS: dict[str, str] = {
    "CreateTrainingJob": "hpjobs.sagemaker.training_jobs:create_training_job",
    "DescribeTrainingJob": "hpjobs.sagemaker.training_jobs:describe_training_job",
    "ListTrainingJobs": "hpjobs.sagemaker.training_jobs:list_training_jobs",
    "StopTrainingJob": "hpjobs.sagemaker.training_jobs:stop_training_job",
    "DeleteTrainingJob": "hpjobs.sagemaker.training_jobs:delete_training_job",
    "CreateHyperParameterTuningJob": f"{_TUNING}:create_hyper_parameter_tuning_job",
    "DescribeHyperParameterTuningJob": f"{_TUNING}:describe_hyper_parameter_tuning_job",
    "ListHyperParameterTuningJobs": f"{_TUNING}:list_hyper_parameter_tuning_jobs",
    "ListTrainingJobsForHyperParameterTuningJob": (
        f"{_TUNING}:list_training_jobs_for_hyper_parameter_tuning_job"
    ),
    "StopHyperParameterTuningJob": f"{_TUNING}:stop_hyper_parameter_tuning_job",
    "DeleteHyperParameterTuningJob": f"{_TUNING}:delete_hyper_parameter_tuning_job",
}
