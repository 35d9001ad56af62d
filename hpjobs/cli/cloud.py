"""Sending jobs and requests to AWS from the command line: ``hpjobs migrate``, and what
``--target aws`` does on ``hpjobs run``, the create commands, the Bedrock runtime commands and
``hpjobs chat``.

Problems with the set-up (no credentials, no region, no bucket or role, a bucket or role that does
not exist) are printed as one line starting ``Error:`` and exit with 253, as the AWS CLI exits for
configuration problems; errors AWS answers with are printed as the AWS CLI prints them (254).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from hpjobs.cli.aws import aws_errors, call_operation
from hpjobs.cli.render import counted_interrupts

__all__ = [
    "SETUP_ERROR_EXIT",
    "aws_target_options",
    "migrate",
    "setup_errors",
    "submit_and_watch",
]

SETUP_ERROR_EXIT = 253
_FINISHED = {"Completed", "Failed", "Stopped"}

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def setup_errors() -> Iterator[None]:
    """Print a set-up problem met on the way to AWS as one line and exit 253."""
    from cloud.aws import AwsSetupError
    from cloud.images import ImageError
    from cloud.migrate import MigrationError
    from cloud.s3 import S3Error

    try:
        yield
    except (AwsSetupError, MigrationError, ImageError, S3Error) as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(SETUP_ERROR_EXIT)


def region_option(function: F) -> F:
    return click.option(
        "--region",
        default=None,
        help="AWS region (default: boto3's, from AWS_REGION or the profile).",
    )(function)


def target_option(function: F) -> F:
    return click.option(
        "--target",
        type=click.Choice(["local", "aws"]),
        default="local",
        show_default=True,
        help="Run here, or send the request to AWS through boto3.",
    )(function)


def bucket_options(function: F, role: bool = True) -> F:
    function = click.option(
        "--prefix",
        default="hpjobs",
        show_default=True,
        help="Key prefix for uploaded data and output in the bucket.",
    )(function)
    function = click.option(
        "--framework-version",
        default=None,
        help="PyTorch version of the training image (default: the newest hpjobs knows).",
    )(function)
    if role:
        function = click.option(
            "--role",
            envvar="HPJOBS_AWS_ROLE",
            default=None,
            help="IAM role ARN SageMaker assumes (env HPJOBS_AWS_ROLE; default: the request's).",
        )(function)
    return click.option(
        "--bucket",
        envvar="HPJOBS_AWS_BUCKET",
        default=None,
        help="S3 bucket for local data and output (env HPJOBS_AWS_BUCKET).",
    )(function)


def aws_target_options(function: F) -> F:
    """``--target``, ``--region``, ``--bucket``, ``--role``, ``--prefix``,
    ``--framework-version``."""
    return target_option(region_option(bucket_options(function)))


def make_target(options: dict[str, Any]) -> Any:
    """The :class:`~hpjobs.sagemaker.remote.AwsTarget` the options describe (consumed)."""
    from hpjobs.sagemaker.remote import AwsTarget

    return AwsTarget(
        region=options.pop("region", None),
        bucket=options.pop("bucket", None),
        role_arn=options.pop("role", None),
        prefix=options.pop("prefix", "hpjobs"),
        framework_version=options.pop("framework_version", None),
    )


def _operation(request: dict[str, Any]) -> tuple[str, Callable[..., Any], Callable[..., Any]]:
    """The create operation ``request`` is for, its migrate function and its submit function."""
    from hpjobs.cli.watch import is_tuning_request
    from hpjobs.sagemaker import remote

    if is_tuning_request(request):
        return (
            "CreateHyperParameterTuningJob",
            remote.migrate_tuning_job,
            remote.submit_tuning_job,
        )
    return "CreateTrainingJob", remote.migrate_training_job, remote.submit_training_job


@click.command()
@click.argument("job_json")
@click.option("--upload", is_flag=True, help="Upload the local data now (else only list it).")
@click.option("--region", default=None, help="AWS region (default: boto3's).")
@bucket_options
def migrate(job_json: str, upload: bool, **options: Any) -> None:
    """Print JOB_JSON as a request real SageMaker accepts.

    JOB_JSON (a path, file://path or inline JSON) is a CreateTrainingJob or
    CreateHyperParameterTuningJob request that runs here. Local channels, source folders,
    checkpoints and output become s3:// URIs in --bucket; hpjobs/pytorch and the built-in
    algorithms become the PyTorch training image of the region (built-ins travel as their
    script in sourcedir.tar.gz); --role becomes the RoleArn. The uploads are listed on stderr,
    and done with --upload. The output can be given to
    'aws sagemaker create-training-job --cli-input-json file://...' as it is.
    """
    from hpjobs.cli.watch import load_request

    request = load_request(job_json)
    target = make_target(options)
    operation, migrate_job, _ = _operation(request)
    with setup_errors(), aws_errors(operation):
        migration = migrate_job(request, target)
        for item in migration.uploads:
            if upload:
                item.perform()
            click.echo(f"{'uploaded' if upload else 'to upload'}: {item}", err=True)
    click.echo(json.dumps(migration.request, indent=4))


def submit(request: dict[str, Any], target: Any) -> dict[str, Any]:
    """Create the training or tuning job in ``request`` on AWS; AWS's response."""
    operation, _, submit_job = _operation(request)
    with setup_errors(), aws_errors(operation):
        result: dict[str, Any] = submit_job(request, target)
        return result
    raise AssertionError("unreachable")


def submit_and_watch(request: dict[str, Any], target: Any, console: Console, detach: bool) -> None:
    """``hpjobs run --target aws``: submit, then follow the job on AWS to its end."""
    from hpjobs.cli.watch import is_tuning_request

    response = submit(request, target)
    arn = next(iter(response.values()))
    console.print(f"Created {arn}")
    if detach:
        return
    with setup_errors():
        if is_tuning_request(request):
            description = _watch_tuning(request["HyperParameterTuningJobName"], arn, console)
        else:
            description = _watch_training(request["TrainingJobName"], arn, console)
    if description is None:
        console.print("Left the job running on AWS.")
        raise SystemExit(1)
    status = description.get("TrainingJobStatus") or description["HyperParameterTuningJobStatus"]
    raise SystemExit(0 if status == "Completed" else 1)


def poll_seconds() -> float:
    from hpjobs.config import settings

    return settings().aws_poll_seconds


def _watch_training(name: str, arn: str, console: Console) -> dict[str, Any] | None:
    """Print a training job's status changes and CloudWatch log lines until it ends."""
    from cloud.sagemaker import LogReader
    from hpjobs.cli.watch import summary
    from hpjobs.sagemaker.remote import region_of
    from hpjobs.sagemaker.training_jobs import describe_training_job, stop_training_job

    reader = LogReader(name, region_of(arn))
    printed: set[tuple[str, str]] = set()
    stop_sent = False
    with counted_interrupts() as interrupts:
        while True:
            description = call_operation(
                describe_training_job, "DescribeTrainingJob", {"TrainingJobName": name}
            )
            for entry in description.get("SecondaryStatusTransitions", []):
                key = (entry["Status"], entry.get("StatusMessage", ""))
                if key not in printed:
                    printed.add(key)
                    console.print(
                        Text(f"{entry['StartTime']:%Y-%m-%d %H:%M:%S} {key[0]} - {key[1]}")
                    )
            for event in reader.read():
                console.print(Text(event.message))
            if description["TrainingJobStatus"] in _FINISHED:
                console.print(summary(description))
                return description
            time.sleep(poll_seconds())
            if interrupts.new():
                if stop_sent:
                    return None
                stop_sent = True
                console.print("Stopping the training job (Ctrl-C again to leave it running)")
                call_operation(stop_training_job, "StopTrainingJob", {"TrainingJobName": name})


def _watch_tuning(name: str, arn: str, console: Console) -> dict[str, Any] | None:
    """Print a tuning job's progress and its training jobs' status changes until it ends."""
    from hpjobs.cli.tune_watch import announce, headline, tuning_summary
    from hpjobs.sagemaker.remote import region_of
    from hpjobs.sagemaker.tuning_jobs import (
        describe_hyper_parameter_tuning_job,
        stop_hyper_parameter_tuning_job,
        tuning_job_children,
    )

    region = region_of(arn)

    def artifact(best: dict[str, Any]) -> str:
        return _remote_artifact(best, region)

    started = time.monotonic()
    seen: dict[str, str] = {}
    last = ""
    stop_sent = False
    request = {"HyperParameterTuningJobName": name}
    with counted_interrupts() as interrupts:
        while True:
            description = call_operation(
                describe_hyper_parameter_tuning_job, "DescribeHyperParameterTuningJob", request
            )
            with aws_errors("ListTrainingJobsForHyperParameterTuningJob"):
                children = tuning_job_children(name)
            for child in children:
                announce(console, child, seen)
            line = headline(description, started)
            if line.plain.rsplit("  ", 1)[0] != last:
                last = line.plain.rsplit("  ", 1)[0]
                console.print(line)
            if description["HyperParameterTuningJobStatus"] in _FINISHED:
                console.print(tuning_summary(description, artifact=artifact))
                return description
            time.sleep(poll_seconds())
            if interrupts.new():
                if stop_sent:
                    return None
                stop_sent = True
                console.print("Stopping the tuning job (Ctrl-C again to leave it running)")
                call_operation(
                    stop_hyper_parameter_tuning_job, "StopHyperParameterTuningJob", request
                )


def _remote_artifact(best: dict[str, Any], region: str) -> str:
    """A tuning child's model artifact on AWS (children are not in the local store)."""
    from hpjobs.sagemaker.remote import remote_call

    described = remote_call(
        "DescribeTrainingJob", {"TrainingJobName": best["TrainingJobName"]}, region
    )
    return str(described.get("ModelArtifacts", {}).get("S3ModelArtifacts", "-"))


def forwarded_operation(
    service: str, operation: str, options: dict[str, Any]
) -> Callable[[Any], dict[str, Any]]:
    """The AWS-shaped command's operation sent to AWS (``--target aws``); ``options`` holds the
    command's target options and loses them."""
    if service == "sagemaker":
        target = make_target(options)

        def create(request: Any) -> dict[str, Any]:
            return submit(dict(request), target)

        return create
    region = options.pop("region", None)

    def invoke(request: Any) -> dict[str, Any]:
        from hpjobs.bedrock.remote import invoke_bedrock

        with setup_errors():
            return invoke_bedrock(operation, request, region)
        raise AssertionError("unreachable")

    return invoke
