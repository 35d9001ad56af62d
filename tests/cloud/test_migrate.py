"""Migrating local requests to real SageMaker ones: S3 locations, uploads, the real image, the role.

Most tests go through the hpjobs entry points (:mod:`hpjobs.sagemaker.remote`), which read a
request as a local run does before :mod:`cloud.migrate` changes it; a few call
:mod:`cloud.migrate` directly to reach what hpjobs's own checks would stop first.
"""

from __future__ import annotations

import copy
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.aws import AwsSetupError
from cloud.images import ImageError
from cloud.migrate import (
    LocalImage,
    Migration,
    MigrationError,
    Target,
    Upload,
    migrate_training_request,
    migrate_tuning_request,
    validate_request,
)
from hpjobs import shapes
from hpjobs.algorithms import BUILTINS
from hpjobs.errors import ValidationException
from hpjobs.sagemaker.remote import (
    AwsTarget,
    local_images,
    migrate_training_job,
    migrate_tuning_job,
)

Request = dict[str, Any]

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
SCRIPT_MODE = TEMPLATES / "script-mode"
ALGORITHMS = REPO / "hpjobs" / "algorithms"
TUNING_TEMPLATES = sorted((TEMPLATES / "tuning").glob("*.json"))

ROLE = "arn:aws:iam::123456789012:role/sm"
PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/hpjobs-local"
TARGET = AwsTarget(region="eu-west-1", bucket="my-bucket", role_arn=ROLE)
CPU_IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.8.0-cpu-py312"
GPU_IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.8.0-gpu-py312"
US_EAST_1_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-gpu-py310"
SCRIPT_JOB = "s3://my-bucket/hpjobs/wine-script-mode"
MLP_JOB = "s3://my-bucket/hpjobs/mlp-digits"
SOURCE_MEMBERS = ["data/README.md", "data/wine.csv", "job.json", "train.py"]


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    """The templates name their folders relative to the repository root."""
    monkeypatch.chdir(REPO)


def template(name: str) -> Request:
    loaded: Request = json.loads((TEMPLATES / name).read_text())
    return loaded


def archive_members(upload: Upload) -> list[str]:
    with upload.archive() as path, tarfile.open(path, "r:gz") as archive:
        return sorted(archive.getnames())


def quoted(value: str) -> str:
    return json.dumps(value)


def direct_request(**changes: Any) -> Request:
    """A complete CreateTrainingJob request for :mod:`cloud.migrate` itself, all remote."""
    request: Request = {
        "TrainingJobName": "direct",
        "AlgorithmSpecification": {"TrainingImage": US_EAST_1_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://other-bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    request.update(changes)
    return request


# -- script mode --------------------------------------------------------------------------------


def test_script_mode_template_migrates_to_the_exact_request() -> None:
    original = template("script-mode/job.json")
    migration = migrate_training_job(original, TARGET)
    expected = copy.deepcopy(original)
    expected["AlgorithmSpecification"]["TrainingImage"] = CPU_IMAGE
    expected["HyperParameters"]["sagemaker_program"] = '"train.py"'
    expected["HyperParameters"]["sagemaker_submit_directory"] = (
        f'"{SCRIPT_JOB}/source/sourcedir.tar.gz"'
    )
    expected["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
        f"{SCRIPT_JOB}/input/train/"
    )
    expected["OutputDataConfig"] = {"S3OutputPath": "s3://my-bucket/hpjobs"}
    expected["RoleArn"] = ROLE
    expected.update(
        EnableNetworkIsolation=False,
        EnableInterContainerTrafficEncryption=False,
        EnableManagedSpotTraining=False,
    )
    assert migration.request == expected
    assert original == template("script-mode/job.json"), "the caller's request is not changed"


def test_script_mode_uploads_the_packed_source_and_the_channel_folder() -> None:
    migration = migrate_training_job(template("script-mode/job.json"), TARGET)
    assert migration.uploads == [
        Upload(SCRIPT_MODE, f"{SCRIPT_JOB}/source/sourcedir.tar.gz", pack=True),
        Upload(SCRIPT_MODE / "data", f"{SCRIPT_JOB}/input/train/", pack=False),
    ]
    assert all(upload.source.is_absolute() for upload in migration.uploads)
    source, data = migration.uploads
    assert str(source) == (
        f"{SCRIPT_MODE} (packed as sourcedir.tar.gz) -> {SCRIPT_JOB}/source/sourcedir.tar.gz"
    )
    assert str(data) == f"{SCRIPT_MODE / 'data'} -> {SCRIPT_JOB}/input/train/"


def test_source_archive_holds_the_source_folder_relative_to_its_root() -> None:
    source = migrate_training_job(template("script-mode/job.json"), TARGET).uploads[0]
    assert archive_members(source) == SOURCE_MEMBERS
    with source.archive() as path, tarfile.open(path, "r:gz") as archive:
        member = archive.extractfile("train.py")
        assert member is not None
        assert member.read() == (SCRIPT_MODE / "train.py").read_bytes()
        kept = path
    assert not kept.exists(), "the archive is temporary"


def test_channel_folder_upload_lists_each_file_under_the_channel_prefix() -> None:
    data = migrate_training_job(template("script-mode/job.json"), TARGET).uploads[1]
    assert data.files() == [
        (SCRIPT_MODE / "data" / "README.md", f"{SCRIPT_JOB}/input/train/README.md"),
        (SCRIPT_MODE / "data" / "wine.csv", f"{SCRIPT_JOB}/input/train/wine.csv"),
    ]


def test_script_mode_migration_passes_both_models() -> None:
    migrated = migrate_training_job(template("script-mode/job.json"), TARGET).request
    shapes.parse_request("sagemaker", "CreateTrainingJob", migrated)
    validate_request("CreateTrainingJob", migrated)


def test_unquoted_program_is_quoted_and_a_folder_with_a_space_is_found(tmp_path: Path) -> None:
    source = tmp_path / "my code"
    source.mkdir()
    (source / "train.py").write_text("print('hi')\n")
    request = template("script-mode/job.json")
    request["HyperParameters"]["sagemaker_program"] = "train.py"
    request["HyperParameters"]["sagemaker_submit_directory"] = str(source)
    migration = migrate_training_job(request, TARGET)
    hyperparameters = migration.request["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == '"train.py"'
    assert hyperparameters["sagemaker_submit_directory"] == (
        f'"{SCRIPT_JOB}/source/sourcedir.tar.gz"'
    )
    assert migration.uploads[0] == Upload(source, f"{SCRIPT_JOB}/source/sourcedir.tar.gz", True)
    assert archive_members(migration.uploads[0]) == ["train.py"]


def test_a_local_source_archive_is_uploaded_as_it_is(tmp_path: Path) -> None:
    packed = tmp_path / "code.tar.gz"
    with tarfile.open(packed, "w:gz") as archive:
        archive.add(SCRIPT_MODE / "train.py", arcname="train.py")
    request = template("script-mode/job.json")
    request["HyperParameters"]["sagemaker_submit_directory"] = quoted(packed.as_uri())
    migration = migrate_training_job(request, TARGET)
    assert migration.uploads[0] == Upload(packed, f"{SCRIPT_JOB}/source/sourcedir.tar.gz")
    assert migration.uploads[0].files() == [(packed, f"{SCRIPT_JOB}/source/sourcedir.tar.gz")]


def test_a_channel_that_is_one_file_goes_under_the_channel_prefix(tmp_path: Path) -> None:
    data = tmp_path / "wine.csv"
    data.write_text("a,b\n1,2\n")
    request = template("script-mode/job.json")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = data.as_uri()
    migration = migrate_training_job(request, TARGET)
    channel = migration.request["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert channel["S3Uri"] == f"{SCRIPT_JOB}/input/train/"
    assert migration.uploads[1] == Upload(data, f"{SCRIPT_JOB}/input/train/wine.csv")
    assert migration.uploads[1].files() == [(data, f"{SCRIPT_JOB}/input/train/wine.csv")]


# -- built-in algorithms ------------------------------------------------------------------------


def test_builtin_mlp_ships_its_script_and_sample_channels() -> None:
    original = template("training-job.json")
    migration = migrate_training_job(original, TARGET)
    request = migration.request
    assert request["AlgorithmSpecification"]["TrainingImage"] == CPU_IMAGE
    hyperparameters = request["HyperParameters"]
    assert hyperparameters == {
        **original["HyperParameters"],
        "sagemaker_program": '"mlp.py"',
        "sagemaker_submit_directory": f'"{MLP_JOB}/source/sourcedir.tar.gz"',
    }
    assert [
        (c["ChannelName"], c["DataSource"]["S3DataSource"]["S3Uri"], c["ContentType"])
        for c in request["InputDataConfig"]
    ] == [
        ("train", f"{MLP_JOB}/input/train/", "text/csv"),
        ("validation", f"{MLP_JOB}/input/validation/", "text/csv"),
    ]
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://my-bucket/hpjobs"}
    assert request["RoleArn"] == ROLE
    assert migration.uploads == [
        Upload(ALGORITHMS / "mlp.py", f"{MLP_JOB}/source/sourcedir.tar.gz", pack=True),
        Upload(ALGORITHMS / "data/digits/train.csv", f"{MLP_JOB}/input/train/train.csv"),
        Upload(
            ALGORITHMS / "data/digits/validation.csv",
            f"{MLP_JOB}/input/validation/validation.csv",
        ),
    ]
    assert archive_members(migration.uploads[0]) == ["mlp.py"]


def test_builtin_mlp_gets_its_metric_definitions() -> None:
    original = template("training-job.json")
    migrated = migrate_training_job(original, TARGET).request
    definitions = migrated["AlgorithmSpecification"]["MetricDefinitions"]
    expected = BUILTINS["hpjobs/mlp"].metric_definitions(original["HyperParameters"])
    assert definitions == expected
    assert [d["Name"] for d in definitions] == [
        "train:loss",
        "train:accuracy",
        "validation:loss",
        "validation:accuracy",
    ]


def test_builtin_regressor_gets_the_regressor_metrics() -> None:
    request = template("training-job.json")
    request["HyperParameters"]["predictor_type"] = "regressor"
    migrated = migrate_training_job(request, TARGET).request
    names = [d["Name"] for d in migrated["AlgorithmSpecification"]["MetricDefinitions"]]
    assert names == ["train:loss", "train:rmse", "validation:loss", "validation:rmse"]


def test_builtin_migration_passes_both_models() -> None:
    migrated = migrate_training_job(template("training-job.json"), TARGET).request
    shapes.parse_request("sagemaker", "CreateTrainingJob", migrated)
    validate_request("CreateTrainingJob", migrated)


def test_builtin_lm_ships_its_script_and_jargon_channels() -> None:
    migration = migrate_training_job(template("lm-jargon.json"), TARGET)
    job = "s3://my-bucket/hpjobs/jargon-lm"
    assert migration.request["HyperParameters"]["sagemaker_program"] == '"lm.py"'
    assert migration.uploads == [
        Upload(ALGORITHMS / "lm.py", f"{job}/source/sourcedir.tar.gz", pack=True),
        Upload(ALGORITHMS / "data/jargon/train.txt", f"{job}/input/train/train.txt"),
        Upload(ALGORITHMS / "data/jargon/validation.txt", f"{job}/input/validation/validation.txt"),
    ]
    assert archive_members(migration.uploads[0]) == ["lm.py"]
    validate_request("CreateTrainingJob", migration.request)


def test_builtin_on_a_gpu_instance_gets_the_gpu_image() -> None:
    request = template("training-job.json")
    request["ResourceConfig"]["InstanceType"] = "ml.g5.xlarge"
    migrated = migrate_training_job(request, TARGET).request
    assert migrated["AlgorithmSpecification"]["TrainingImage"] == GPU_IMAGE


def test_builtin_with_its_own_channels_keeps_them(tmp_path: Path) -> None:
    data = tmp_path / "mine"
    data.mkdir()
    (data / "rows.csv").write_text("1,2\n")
    request = template("training-job.json")
    request["InputDataConfig"] = [
        {
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.as_uri()}},
        }
    ]
    migration = migrate_training_job(request, TARGET)
    assert [c["ChannelName"] for c in migration.request["InputDataConfig"]] == ["train"]
    assert migration.uploads[1:] == [Upload(data, f"{MLP_JOB}/input/train/")]


def test_local_images_name_the_builtin_scripts() -> None:
    assert local_images() == {
        "hpjobs/pytorch": LocalImage(),
        "hpjobs/mlp": LocalImage(ALGORITHMS / "mlp.py"),
        "hpjobs/lm": LocalImage(ALGORITHMS / "lm.py"),
    }


# -- tuning jobs --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", TUNING_TEMPLATES, ids=[p.name for p in TUNING_TEMPLATES])
def test_every_tuning_template_migrates(path: Path) -> None:
    original: Request = json.loads(path.read_text())
    migration = migrate_tuning_job(original, TARGET)
    request = migration.request
    name = original["HyperParameterTuningJobName"]
    job = f"s3://my-bucket/hpjobs/{name}"
    definition = request["TrainingJobDefinition"]
    builtin = path.name.startswith("mlp-")
    program = "mlp.py" if builtin else "train.py"

    static = definition["StaticHyperParameters"]
    assert static == {
        **original["TrainingJobDefinition"]["StaticHyperParameters"],
        "sagemaker_program": quoted(program),
        "sagemaker_submit_directory": quoted(f"{job}/source/sourcedir.tar.gz"),
    }
    objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    metrics = definition["AlgorithmSpecification"]["MetricDefinitions"]
    assert objective["MetricName"] in {m["Name"] for m in metrics}
    assert definition["AlgorithmSpecification"]["TrainingImage"] == CPU_IMAGE
    assert definition["OutputDataConfig"] == {"S3OutputPath": "s3://my-bucket/hpjobs"}
    assert definition["RoleArn"] == ROLE
    assert request["HyperParameterTuningJobConfig"] == original["HyperParameterTuningJobConfig"]

    if builtin:
        assert metrics == BUILTINS["hpjobs/mlp"].metric_definitions(static)
        assert migration.uploads == [
            Upload(ALGORITHMS / "mlp.py", f"{job}/source/sourcedir.tar.gz", pack=True),
            Upload(ALGORITHMS / "data/digits/train.csv", f"{job}/input/train/train.csv"),
            Upload(
                ALGORITHMS / "data/digits/validation.csv",
                f"{job}/input/validation/validation.csv",
            ),
        ]
    else:
        assert migration.uploads == [
            Upload(SCRIPT_MODE, f"{job}/source/sourcedir.tar.gz", pack=True),
            Upload(SCRIPT_MODE / "data", f"{job}/input/train/"),
        ]
    uris = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in definition["InputDataConfig"]]
    names = ["train", "validation"] if builtin else ["train"]
    assert uris == [f"{job}/input/{name}/" for name in names]

    shapes.parse_request("sagemaker", "CreateHyperParameterTuningJob", request)
    validate_request("CreateHyperParameterTuningJob", request)


def two_definitions() -> Request:
    """script-random.json with definition ``a`` (script mode) and ``b`` (``hpjobs/mlp``)."""
    request = template("tuning/script-random.json")
    config = request["HyperParameterTuningJobConfig"]
    objective = config.pop("HyperParameterTuningJobObjective")
    script = request.pop("TrainingJobDefinition")
    script.update(
        DefinitionName="a",
        TuningObjective=objective,
        HyperParameterRanges=config.pop("ParameterRanges"),
    )
    mlp = template("tuning/mlp-random.json")
    builtin = mlp["TrainingJobDefinition"]
    builtin.update(
        DefinitionName="b",
        TuningObjective=mlp["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"],
        HyperParameterRanges=mlp["HyperParameterTuningJobConfig"]["ParameterRanges"],
    )
    request["TrainingJobDefinitions"] = [script, builtin]
    return request


def test_several_definitions_keep_their_data_in_folders_of_their_own() -> None:
    request = two_definitions()
    name = request["HyperParameterTuningJobName"]
    job = f"s3://my-bucket/hpjobs/{name}"
    migration = migrate_tuning_job(request, TARGET)
    a, b = migration.request["TrainingJobDefinitions"]
    assert migration.uploads == [
        Upload(SCRIPT_MODE, f"{job}/a/source/sourcedir.tar.gz", pack=True),
        Upload(SCRIPT_MODE / "data", f"{job}/a/input/train/"),
        Upload(ALGORITHMS / "mlp.py", f"{job}/b/source/sourcedir.tar.gz", pack=True),
        Upload(ALGORITHMS / "data/digits/train.csv", f"{job}/b/input/train/train.csv"),
        Upload(
            ALGORITHMS / "data/digits/validation.csv",
            f"{job}/b/input/validation/validation.csv",
        ),
    ]
    channels = {"a": ["train"], "b": ["train", "validation"]}
    for definition, program in ((a, "train.py"), (b, "mlp.py")):
        folder = f"{job}/{definition['DefinitionName']}"
        static = definition["StaticHyperParameters"]
        assert static["sagemaker_program"] == quoted(program)
        assert static["sagemaker_submit_directory"] == quoted(f"{folder}/source/sourcedir.tar.gz")
        uris = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in definition["InputDataConfig"]]
        names = channels[definition["DefinitionName"]]
        assert uris == [f"{folder}/input/{name}/" for name in names]
        assert definition["OutputDataConfig"] == {"S3OutputPath": "s3://my-bucket/hpjobs"}
        assert definition["RoleArn"] == ROLE
        assert definition["AlgorithmSpecification"]["TrainingImage"] == CPU_IMAGE
        objective = definition["TuningObjective"]["MetricName"]
        metrics = definition["AlgorithmSpecification"]["MetricDefinitions"]
        assert objective in {m["Name"] for m in metrics}
    shapes.parse_request("sagemaker", "CreateHyperParameterTuningJob", migration.request)


def test_tuning_resource_config_picks_the_image_from_its_first_instance() -> None:
    request = template("tuning/mlp-random.json")
    definition = request["TrainingJobDefinition"]
    del definition["ResourceConfig"]
    definition["HyperParameterTuningResourceConfig"] = {
        "InstanceConfigs": [
            {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        ],
        "AllocationStrategy": "Prioritized",
    }
    migrated = migrate_tuning_job(request, TARGET).request
    image = migrated["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"]
    assert image == GPU_IMAGE
    validate_request("CreateHyperParameterTuningJob", migrated)


def test_tuning_definition_without_a_role_is_refused_directly() -> None:
    request = migrate_tuning_job(template("tuning/script-grid.json"), TARGET).request
    del request["TrainingJobDefinition"]["RoleArn"]
    with pytest.raises(MigrationError) as caught:
        migrate_tuning_request(request, Target("eu-west-1", "my-bucket"), local_images())
    assert str(caught.value) == (
        "wine-grid needs an IAM role SageMaker can assume: give --role ARN"
    )


# -- what is already remote ---------------------------------------------------------------------


def remote_script_request() -> Request:
    request = template("script-mode/job.json")
    request["AlgorithmSpecification"]["TrainingImage"] = US_EAST_1_IMAGE
    request["HyperParameters"]["sagemaker_submit_directory"] = quoted(
        "s3://code-bucket/wine/sourcedir.tar.gz"
    )
    channel = request["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    channel["S3Uri"] = "s3://data-bucket/wine/train/"
    request["OutputDataConfig"] = {"S3OutputPath": "s3://out-bucket/models"}
    return request


def test_remote_locations_are_left_alone_and_need_no_bucket() -> None:
    request = remote_script_request()
    migration = migrate_training_job(request, AwsTarget(region="us-east-1", role_arn=ROLE))
    assert migration.uploads == []
    migrated = migration.request
    assert migrated["AlgorithmSpecification"]["TrainingImage"] == US_EAST_1_IMAGE
    assert migrated["HyperParameters"] == {
        **request["HyperParameters"],
        "sagemaker_submit_directory": '"s3://code-bucket/wine/sourcedir.tar.gz"',
    }
    channel = migrated["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert channel["S3Uri"] == "s3://data-bucket/wine/train/"
    assert migrated["OutputDataConfig"] == {"S3OutputPath": "s3://out-bucket/models"}
    assert migrated["RoleArn"] == ROLE


def test_a_pytorch_image_of_another_region_is_rehomed_keeping_its_tag() -> None:
    migrated = migrate_training_job(remote_script_request(), TARGET).request
    assert migrated["AlgorithmSpecification"]["TrainingImage"] == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.1.0-gpu-py310"
    )


def test_a_pytorch_image_of_another_region_to_an_unknown_region_is_refused() -> None:
    # ImageError, where an image of a local alias gives MigrationError; the CLI reports both.
    with pytest.raises(
        (ImageError, MigrationError), match=r"^no SageMaker PyTorch training image .* xx-west-9;"
    ):
        migrate_training_request(direct_request(), Target("xx-west-9"), {})


def test_other_images_are_left_alone() -> None:
    xgboost = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    request = direct_request(
        AlgorithmSpecification={"TrainingImage": xgboost, "TrainingInputMode": "File"}
    )
    migrated = migrate_training_request(request, Target("eu-west-1"), local_images()).request
    assert migrated["AlgorithmSpecification"]["TrainingImage"] == xgboost


def test_an_empty_prefix_gives_no_prefix_segment() -> None:
    target = AwsTarget(region="eu-west-1", bucket="my-bucket", role_arn=ROLE, prefix="")
    migration = migrate_training_job(template("script-mode/job.json"), target)
    migrated = migration.request
    source = "s3://my-bucket/wine-script-mode/source/sourcedir.tar.gz"
    assert migrated["HyperParameters"]["sagemaker_submit_directory"] == quoted(source)
    channel = migrated["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert channel["S3Uri"] == "s3://my-bucket/wine-script-mode/input/train/"
    assert migrated["OutputDataConfig"] == {"S3OutputPath": "s3://my-bucket"}
    assert [u.uri for u in migration.uploads] == [
        source,
        "s3://my-bucket/wine-script-mode/input/train/",
    ]
    validate_request("CreateTrainingJob", migrated)


def test_a_prefix_with_slashes_is_one_clean_segment() -> None:
    target = AwsTarget(region="eu-west-1", bucket="my-bucket", role_arn=ROLE, prefix="/team/x/")
    migrated = migrate_training_job(template("script-mode/job.json"), target).request
    channel = migrated["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert channel["S3Uri"] == "s3://my-bucket/team/x/wine-script-mode/input/train/"
    assert migrated["OutputDataConfig"] == {"S3OutputPath": "s3://my-bucket/team/x"}


def test_framework_version_alias_picks_its_image() -> None:
    target = AwsTarget(
        region="eu-west-1", bucket="my-bucket", role_arn=ROLE, framework_version="2.5"
    )
    migrated = migrate_training_job(template("script-mode/job.json"), target).request
    assert migrated["AlgorithmSpecification"]["TrainingImage"] == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.5.1-cpu-py311"
    )


def test_region_with_an_account_of_its_own() -> None:
    target = AwsTarget(region="eu-south-1", bucket="my-bucket", role_arn=ROLE)
    migrated = migrate_training_job(template("training-job.json"), target).request
    assert migrated["AlgorithmSpecification"]["TrainingImage"] == (
        "692866216735.dkr.ecr.eu-south-1.amazonaws.com/pytorch-training:2.8.0-cpu-py312"
    )


def _no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def test_without_a_region_the_default_region_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_aws_config(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    target = AwsTarget(bucket="my-bucket", role_arn=ROLE)
    migrated = migrate_training_job(template("script-mode/job.json"), target).request
    assert migrated["AlgorithmSpecification"]["TrainingImage"] == (
        "763104351884.dkr.ecr.ap-southeast-2.amazonaws.com/pytorch-training:2.8.0-cpu-py312"
    )


def test_without_a_region_aws_region_comes_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_aws_config(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    target = AwsTarget(bucket="my-bucket", role_arn=ROLE)
    migrated = migrate_training_job(template("script-mode/job.json"), target).request
    assert migrated["AlgorithmSpecification"]["TrainingImage"] == (
        "763104351884.dkr.ecr.eu-central-1.amazonaws.com/pytorch-training:2.8.0-cpu-py312"
    )


def test_without_any_region_the_migration_stops(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_aws_config(monkeypatch, tmp_path)
    with pytest.raises(AwsSetupError) as caught:
        migrate_training_job(template("script-mode/job.json"), AwsTarget(bucket="b"))
    assert str(caught.value).startswith("no AWS region: give --region, or set AWS_REGION")


# -- what cannot be migrated --------------------------------------------------------------------


def test_local_data_without_a_bucket_is_refused() -> None:
    target = AwsTarget(region="eu-west-1", role_arn=ROLE)
    with pytest.raises(MigrationError) as caught:
        migrate_training_job(template("script-mode/job.json"), target)
    assert str(caught.value) == (
        "wine-script-mode has local data to upload: give an S3 bucket (--bucket)"
    )
    with pytest.raises(MigrationError, match=r"^mlp-digits has local data .*\(--bucket\)$"):
        migrate_training_job(template("training-job.json"), target)


def test_only_a_local_output_path_still_needs_a_bucket() -> None:
    request = remote_script_request()
    request["OutputDataConfig"] = {"S3OutputPath": "file://hpjobs-output"}
    with pytest.raises(MigrationError, match=r"give an S3 bucket \(--bucket\)"):
        migrate_training_job(request, AwsTarget(region="us-east-1", role_arn=ROLE))


def test_no_role_anywhere_is_refused() -> None:
    request = direct_request()
    del request["RoleArn"]
    with pytest.raises(MigrationError) as caught:
        migrate_training_request(request, Target("eu-west-1", "my-bucket"), local_images())
    assert str(caught.value) == ("direct needs an IAM role SageMaker can assume: give --role ARN")


def test_the_templates_placeholder_role_is_refused() -> None:
    target = AwsTarget(region="eu-west-1", bucket="my-bucket")
    with pytest.raises(MigrationError) as caught:
        migrate_training_job(template("script-mode/job.json"), target)
    assert str(caught.value) == (
        f"the role {PLACEHOLDER_ROLE} is a local placeholder, not a real role: give --role ARN"
    )


def test_a_placeholder_role_given_as_the_target_is_refused() -> None:
    role = "arn:aws:iam::000000000000:role/x"
    target = AwsTarget(region="eu-west-1", bucket="my-bucket", role_arn=role)
    with pytest.raises(MigrationError) as caught:
        migrate_tuning_job(template("tuning/mlp-grid.json"), target)
    assert str(caught.value) == (
        f"the role {role} is a local placeholder, not a real role: give --role ARN"
    )


def test_the_requests_own_real_role_is_kept() -> None:
    request = template("script-mode/job.json")
    request["RoleArn"] = "arn:aws:iam::210987654321:role/own"
    target = AwsTarget(region="eu-west-1", bucket="my-bucket")
    migrated = migrate_training_job(request, target).request
    assert migrated["RoleArn"] == "arn:aws:iam::210987654321:role/own"


def test_a_missing_channel_folder_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    request = template("script-mode/job.json")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = str(missing)
    with pytest.raises(MigrationError) as caught:
        migrate_training_job(request, TARGET)
    assert str(caught.value) == f"channel train: {missing.as_uri()} does not exist"


def test_a_missing_source_folder_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "code"
    request = template("script-mode/job.json")
    request["HyperParameters"]["sagemaker_submit_directory"] = quoted(missing.as_uri())
    with pytest.raises(MigrationError) as caught:
        migrate_training_job(request, TARGET)
    assert str(caught.value) == f"source directory {missing.as_uri()} does not exist"


def test_an_unknown_hpjobs_image_is_a_validation_exception() -> None:
    request = template("training-job.json")
    request["AlgorithmSpecification"]["TrainingImage"] = "hpjobs/xyz"
    with pytest.raises(ValidationException) as caught:
        migrate_training_job(request, TARGET)
    assert caught.value.message == (
        "The training image 'hpjobs/xyz' cannot run on this machine: hpjobs runs training jobs "
        "without Docker. Supported images: hpjobs/pytorch, hpjobs/lm, hpjobs/mlp, "
        "<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training:<tag>."
    )


def test_a_request_the_model_refuses_is_a_validation_exception() -> None:
    request = template("script-mode/job.json")
    request["TrainingJobName"] = "not_a_valid_name"
    with pytest.raises(ValidationException, match="trainingJobName"):
        migrate_training_job(request, TARGET)


def test_an_unknown_framework_version_is_a_migration_error() -> None:
    target = AwsTarget(
        region="eu-west-1", bucket="my-bucket", role_arn=ROLE, framework_version="1.13"
    )
    with pytest.raises(MigrationError) as caught:
        migrate_training_job(template("script-mode/job.json"), target)
    assert str(caught.value) == (
        "PyTorch framework version 1.13 has no training image in hpjobs's table; choose one of "
        "2.3.0, 2.4.0, 2.5.1, 2.6.0, 2.7.1, 2.8.0"
    )


def test_a_request_botocore_refuses_after_migration() -> None:
    request = direct_request()
    request["ResourceConfig"]["InstanceCount"] = "1"
    with pytest.raises(MigrationError) as caught:
        migrate_training_request(request, Target("eu-west-1", "my-bucket"), local_images())
    assert str(caught.value) == (
        "the migrated CreateTrainingJob request is not valid: Invalid type for parameter "
        "ResourceConfig.InstanceCount, value: 1, type: <class 'str'>, valid types: <class 'int'>"
    )


def test_validate_request_lists_every_problem() -> None:
    with pytest.raises(MigrationError) as caught:
        validate_request("CreateTrainingJob", {"TrainingJobName": "x"})
    message = str(caught.value)
    assert message.startswith("the migrated CreateTrainingJob request is not valid: ")
    assert message == (
        "the migrated CreateTrainingJob request is not valid: "
        'Missing required parameter in input: "RoleArn" '
        'Missing required parameter in input: "OutputDataConfig"'
    )
    assert "\n" not in message
    validate_request("CreateTrainingJob", direct_request())


def test_requests_without_a_name_are_refused() -> None:
    with pytest.raises(MigrationError, match=r"^the request has no TrainingJobName$"):
        migrate_training_request({}, Target("eu-west-1"), {})
    with pytest.raises(MigrationError, match=r"^the request has no HyperParameterTuningJobName$"):
        migrate_tuning_request({}, Target("eu-west-1"), {})


def test_resource_defaults_are_filled_directly() -> None:
    request = direct_request(ResourceConfig={"InstanceType": "ml.m5.large"})
    migrated = migrate_training_request(request, Target("us-east-1"), {}).request
    assert migrated["ResourceConfig"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
    }


# -- checkpoints --------------------------------------------------------------------------------


def with_checkpoints(location: str) -> Request:
    request = template("script-mode/job.json")
    request["CheckpointConfig"] = {"S3Uri": location, "LocalPath": "/opt/ml/checkpoints"}
    return request


def test_local_checkpoints_are_uploaded(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "epoch-3.pt").write_bytes(b"weights")
    migration = migrate_training_job(with_checkpoints(folder.as_uri()), TARGET)
    assert migration.request["CheckpointConfig"] == {
        "S3Uri": f"{SCRIPT_JOB}/checkpoints/",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert migration.uploads[2:] == [Upload(folder, f"{SCRIPT_JOB}/checkpoints/")]
    assert migration.uploads[2].files() == [
        (folder / "epoch-3.pt", f"{SCRIPT_JOB}/checkpoints/epoch-3.pt")
    ]
    validate_request("CreateTrainingJob", migration.request)


@pytest.mark.parametrize("make", [True, False], ids=["empty", "missing"])
def test_empty_or_missing_checkpoints_only_move_the_uri(tmp_path: Path, make: bool) -> None:
    folder = tmp_path / "checkpoints"
    if make:
        folder.mkdir()
    migration = migrate_training_job(with_checkpoints(folder.as_uri()), TARGET)
    assert migration.request["CheckpointConfig"]["S3Uri"] == f"{SCRIPT_JOB}/checkpoints/"
    assert [u.uri for u in migration.uploads] == [
        f"{SCRIPT_JOB}/source/sourcedir.tar.gz",
        f"{SCRIPT_JOB}/input/train/",
    ]


def test_s3_checkpoints_are_left_alone() -> None:
    migration = migrate_training_job(with_checkpoints("s3://ckpt-bucket/wine/"), TARGET)
    assert migration.request["CheckpointConfig"]["S3Uri"] == "s3://ckpt-bucket/wine/"
    assert len(migration.uploads) == 2


# -- uploading ----------------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """moto's in-process S3 with a bucket ``my-bucket``."""
    import boto3
    from moto import mock_aws

    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="my-bucket")
        yield client


def bucket_keys(client: Any) -> list[str]:
    listed = client.list_objects_v2(Bucket="my-bucket")
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_uploads_write_exactly_the_objects_the_request_names(s3: Any, tmp_path: Path) -> None:
    migration = migrate_training_job(template("script-mode/job.json"), TARGET)
    written = migration.perform_uploads()
    assert written == [
        f"{SCRIPT_JOB}/source/sourcedir.tar.gz",
        f"{SCRIPT_JOB}/input/train/README.md",
        f"{SCRIPT_JOB}/input/train/wine.csv",
    ]
    assert bucket_keys(s3) == [
        "hpjobs/wine-script-mode/input/train/README.md",
        "hpjobs/wine-script-mode/input/train/wine.csv",
        "hpjobs/wine-script-mode/source/sourcedir.tar.gz",
    ]
    wine = s3.get_object(Bucket="my-bucket", Key="hpjobs/wine-script-mode/input/train/wine.csv")
    assert wine["Body"].read() == (SCRIPT_MODE / "data" / "wine.csv").read_bytes()

    downloaded = tmp_path / "sourcedir.tar.gz"
    s3.download_file("my-bucket", "hpjobs/wine-script-mode/source/sourcedir.tar.gz", downloaded)
    with tarfile.open(downloaded, "r:gz") as archive:
        assert sorted(archive.getnames()) == SOURCE_MEMBERS
        member = archive.extractfile("train.py")
        assert member is not None
        assert member.read() == (SCRIPT_MODE / "train.py").read_bytes()


def test_each_upload_reports_what_it_wrote(s3: Any, tmp_path: Path) -> None:
    migration = migrate_training_job(template("training-job.json"), TARGET)
    performed = [upload.perform() for upload in migration.uploads]
    assert performed == [
        [f"{MLP_JOB}/source/sourcedir.tar.gz"],
        [f"{MLP_JOB}/input/train/train.csv"],
        [f"{MLP_JOB}/input/validation/validation.csv"],
    ]
    assert bucket_keys(s3) == [
        "hpjobs/mlp-digits/input/train/train.csv",
        "hpjobs/mlp-digits/input/validation/validation.csv",
        "hpjobs/mlp-digits/source/sourcedir.tar.gz",
    ]
    downloaded = tmp_path / "sourcedir.tar.gz"
    s3.download_file("my-bucket", "hpjobs/mlp-digits/source/sourcedir.tar.gz", downloaded)
    with tarfile.open(downloaded, "r:gz") as archive:
        assert archive.getnames() == ["mlp.py"]


def test_a_migration_without_uploads_writes_nothing(s3: Any) -> None:
    migration = Migration(direct_request())
    assert migration.perform_uploads() == []
    assert bucket_keys(s3) == []
