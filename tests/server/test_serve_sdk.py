"""The SageMaker Python SDK (v2) against the real ``hpjobs serve``, with S3 on moto's server.

The SDK packs the entry point's folder to S3, creates the training job, polls
DescribeTrainingJob until the job ends (every 5 s, the SDK's own pace); the server's job
downloads the code from S3 and uploads ``model.tar.gz`` back. The tuner does the same with
CreateHyperParameterTuningJob and DescribeHyperParameterTuningJob.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from typing import Any

import boto3
import pytest
from helpers import SCRIPTS

sagemaker = pytest.importorskip("sagemaker", reason="the SageMaker Python SDK is not installed")

BUCKET = "sdk-bucket"
ROLE = "arn:aws:iam::123456789012:role/test"
ARN = "arn:aws:sagemaker:us-west-2:000000000000:training-job/"


@pytest.fixture
def sdk_session(moto_s3: Any, start_server: Any, make_client: Any, monkeypatch: Any) -> Any:
    """A ``sagemaker.Session`` whose SageMaker calls go to hpjobs and whose S3 (and STS, which
    the SDK asks for the bucket owner) goes to moto; the server runs in moto's environment."""
    moto_url = os.environ["AWS_ENDPOINT_URL_S3"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_url)
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    moto_s3.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    server = start_server()
    boto_session = boto3.Session(
        region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return sagemaker.Session(
        boto_session=boto_session,
        sagemaker_client=make_client("sagemaker", server.url),
        default_bucket=BUCKET,
        sagemaker_config={
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        },
    )


def _members(s3: Any, key: str) -> dict[str, bytes]:
    data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {
            m.name: archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        }


def test_estimator_fit_and_tuner(sdk_session: Any, moto_s3: Any) -> None:
    from sagemaker.estimator import Estimator
    from sagemaker.tuner import CategoricalParameter, HyperparameterTuner

    estimator = Estimator(
        image_uri="hpjobs/pytorch",
        entry_point="report.py",
        source_dir=str(SCRIPTS),
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={"behaviour": "ok", "lr": 0.5},
        base_job_name="sdk-report",
        sagemaker_session=sdk_session,
    )
    estimator.fit(wait=True, logs=False)

    job = estimator.latest_training_job.describe()
    name = job["TrainingJobName"]
    assert name.startswith("sdk-report-")
    assert job["TrainingJobArn"] == ARN + name
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert estimator.model_data == f"s3://{BUCKET}/{name}/output/model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == estimator.model_data
    hyperparameters = job["HyperParameters"]
    assert json.loads(hyperparameters["sagemaker_program"]) == "report.py"
    submitted = json.loads(hyperparameters["sagemaker_submit_directory"])
    assert submitted == f"s3://{BUCKET}/{name}/source/sourcedir.tar.gz"

    # what the script saw and saved went through moto's S3
    model = _members(moto_s3, f"{name}/output/model.tar.gz")
    report = json.loads(model["report.json"])
    assert report["argv"][report["argv"].index("--behaviour") + 1] == "ok"
    assert report["argv"][report["argv"].index("--lr") + 1] == "0.5"
    assert report["env"]["SM_MODEL_DIR"].endswith("/model")
    assert report["env"]["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(report["env"]["SM_HPS"])["lr"] == 0.5

    tuned = Estimator(
        image_uri="hpjobs/pytorch",
        entry_point="objective.py",
        source_dir=str(SCRIPTS),
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={"y": "-1", "epochs": "2"},
        sagemaker_session=sdk_session,
    )
    tuner = HyperparameterTuner(
        tuned,
        objective_metric_name="objective",
        hyperparameter_ranges={"x": CategoricalParameter(["1", "2"])},
        metric_definitions=[{"Name": "objective", "Regex": "objective=([0-9.]+)"}],
        strategy="Grid",
        objective_type="Minimize",
        max_jobs=2,  # the SDK sends None when it is left out, which botocore refuses
        max_parallel_jobs=2,
        base_tuning_job_name="sdk-grid",
    )
    tuner.fit(wait=True)
    best = tuner.best_training_job()
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 2
    assert best == described["BestTrainingJob"]["TrainingJobName"]
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"x": "2"}
    assert described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"][
        "Value"
    ] == pytest.approx(5.0)
    best_job = sdk_session.sagemaker_client.describe_training_job(TrainingJobName=best)
    assert best_job["TrainingJobStatus"] == "Completed"
    assert best_job["TuningJobArn"] == described["HyperParameterTuningJobArn"]

    # analytics() reads ListTrainingJobsForHyperParameterTuningJob into a table
    frame = tuner.analytics().dataframe().sort_values("FinalObjectiveValue")
    assert list(frame["x"]) == [2.0, 1.0]  # the SDK turns numeric-looking values into floats
    assert list(frame["FinalObjectiveValue"]) == [pytest.approx(5.0), pytest.approx(6.0)]
    assert list(frame["TrainingJobStatus"]) == ["Completed", "Completed"]
    assert frame["TrainingJobName"].iloc[0] == best
