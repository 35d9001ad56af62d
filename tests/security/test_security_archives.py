"""Archives and folders that try to write outside their place, through the real job path.

A ``sourcedir.tar.gz`` (local or on S3) with a member that climbs out with ``..``, an absolute
member, or a symbolic or hard link leading outside; checkpoints (a local folder or an S3 prefix)
that would be restored or written back outside their folder; and an output folder reached
through a link. Each job must end Failed with a clear ``FailureReason`` and write nothing outside
the folder it was meant for.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import SCRIPTS, program, training_request, wait_for

from hpjobs.sagemaker.training_jobs import create_training_job

DOWNLOAD = "ClientError: Data download failed: "
UPLOAD = "ClientError: Artifact upload failed: "
#: From a job's code folder (…/hpjobs-home/jobs/<job>/opt/ml/code) up to the test's tmp_path.
UP_TO_TMP = "../" * 6


def _add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_link(tar: tarfile.TarFile, name: str, target: str, kind: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    tar.addfile(info)


def _sourcedir(build: Callable[[tarfile.TarFile], None]) -> bytes:
    """A gzip ``sourcedir.tar.gz`` holding the fixture script, then what ``build`` adds."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        _add_file(tar, "report.py", (SCRIPTS / "report.py").read_bytes())
        build(tar)
    return buffer.getvalue()


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def _outside_job(tmp_path: Path, name: str) -> set[str]:
    """Everything under ``tmp_path`` but the job's own folder (and the store's files)."""
    job = f"hpjobs-home/jobs/{name}"
    return {
        path
        for path in _files(tmp_path)
        if not (path == job or path.startswith(job + "/") or path.startswith("hpjobs-home/hpjobs"))
    }


def _failed_in_download(name: str) -> dict[str, Any]:
    description = wait_for(name)
    assert description["TrainingJobStatus"] == "Failed"
    assert [t["Status"] for t in description["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Failed",
    ]
    return description


# -- sourcedir.tar.gz ----------------------------------------------------------------------------

#: case → (what the archive adds after report.py, the FailureReason after DOWNLOAD)
SOURCEDIRS: dict[str, tuple[Callable[[tarfile.TarFile, Path], None], Callable[[Path], str]]] = {
    "dotdot": (
        lambda tar, tmp: _add_file(tar, UP_TO_TMP + "escaped.txt", b"escaped"),
        lambda tmp: f"member '{UP_TO_TMP}escaped.txt' would land outside the destination",
    ),
    "absolute": (
        lambda tar, tmp: _add_file(tar, str(tmp / "escaped.txt"), b"escaped"),
        lambda tmp: f"member '{tmp / 'escaped.txt'}' would land outside the destination",
    ),
    "symlink": (
        lambda tar, tmp: (
            _add_link(tar, "data", UP_TO_TMP.rstrip("/"), tarfile.SYMTYPE),
            _add_file(tar, "data/escaped.txt", b"escaped"),
        ),
        lambda tmp: "link 'data' points outside the destination",
    ),
    "symlink-absolute": (
        lambda tar, tmp: (
            _add_link(tar, "data", str(tmp), tarfile.SYMTYPE),
            _add_file(tar, "data/escaped.txt", b"escaped"),
        ),
        lambda tmp: "link 'data' points outside the destination",
    ),
    "hardlink": (
        lambda tar, tmp: (
            _add_link(tar, "victim", str(tmp / "victim.txt"), tarfile.LNKTYPE),
            _add_file(tar, "victim", b"overwritten"),
        ),
        lambda tmp: "link 'victim' points outside the destination",
    ),
}


@pytest.mark.parametrize("case", sorted(SOURCEDIRS))
def test_a_local_sourcedir_archive_that_leaves_the_code_folder_fails_the_job(
    case: str, tmp_path: Path, output: Path, home: Path
) -> None:
    build, reason = SOURCEDIRS[case]
    (tmp_path / "victim.txt").write_text("untouched")
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(_sourcedir(lambda tar: build(tar, tmp_path)))
    request = training_request(f"src-{case}", output)
    request["HyperParameters"]["sagemaker_submit_directory"] = f'"{archive.as_uri()}"'
    before = _outside_job(tmp_path, f"src-{case}")

    create_training_job(request)
    description = _failed_in_download(f"src-{case}")

    assert description["FailureReason"] == DOWNLOAD + reason(tmp_path)
    code = home / "jobs" / f"src-{case}" / "opt" / "ml" / "code"
    assert list(code.iterdir()) == []  # not even the harmless member was extracted
    assert (tmp_path / "victim.txt").read_text() == "untouched"
    assert _outside_job(tmp_path, f"src-{case}") == before | {
        "hpjobs-home",
        "hpjobs-home/jobs",
        f"output/src-{case}",
        f"output/src-{case}/output",
        f"output/src-{case}/output/model.tar.gz",
        f"output/src-{case}/output/output.tar.gz",
    }
    log = (home / "jobs" / f"src-{case}" / "logs" / "algo-1.log").read_text()
    assert f"hpjobs: Training job failed: {DOWNLOAD}{reason(tmp_path)}" in log


def test_a_sourcedir_archive_on_s3_with_a_link_outside_fails_the_job(
    s3: tuple[Any, str], tmp_path: Path, output: Path, home: Path
) -> None:
    client, bucket = s3
    body = _sourcedir(
        lambda tar: (
            _add_link(tar, "up", "../../..", tarfile.SYMTYPE),
            _add_file(tar, "up/escaped.txt", b"escaped"),
        )
    )
    client.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=body)
    request = training_request("src-s3", output)
    request["HyperParameters"]["sagemaker_submit_directory"] = (
        f'"s3://{bucket}/code/sourcedir.tar.gz"'
    )
    create_training_job(request)
    description = _failed_in_download("src-s3")
    assert description["FailureReason"] == DOWNLOAD + "link 'up' points outside the destination"
    job = home / "jobs" / "src-s3"
    assert list((job / "opt" / "ml" / "code").iterdir()) == []
    assert not list(home.rglob("escaped.txt"))


# -- checkpoints ---------------------------------------------------------------------------------


def test_a_local_checkpoint_folder_with_a_link_leading_outside_fails_the_job(
    tmp_path: Path, output: Path, home: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.txt").write_text("not for the job")
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "step-1.txt").write_text("1")
    (checkpoints / "elsewhere").symlink_to(outside)
    request = training_request(
        "ckpt-link", output, CheckpointConfig={"S3Uri": checkpoints.as_uri()}
    )
    create_training_job(request)
    description = _failed_in_download("ckpt-link")
    assert description["FailureReason"] == (
        f"{DOWNLOAD}{checkpoints / 'elsewhere'} is a link that leads outside {checkpoints}"
    )
    restored = home / "jobs" / "ckpt-link" / "opt" / "ml" / "checkpoints"
    assert not restored.exists() or list(restored.iterdir()) == []
    assert _files(outside) == {"private.txt"}
    assert (outside / "private.txt").read_text() == "not for the job"
    assert _files(checkpoints) == {"step-1.txt", "elsewhere"}


def test_a_link_put_in_the_checkpoint_folder_while_the_job_runs_is_not_written_through(
    tmp_path: Path, output: Path, home: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    job_checkpoints = home / "jobs" / "ckpt-late" / "opt" / "ml" / "checkpoints"
    request = program(
        training_request(
            "ckpt-late",
            output,
            CheckpointConfig={"S3Uri": checkpoints.as_uri()},
            Environment={"CHECKPOINT_DIR": str(job_checkpoints / "sub")},
        ),
        "report.py",
        seconds="1",
    )
    create_training_job(request)
    wait_for("ckpt-late", lambda d: d["SecondaryStatus"] == "Training")
    (checkpoints / "sub").symlink_to(outside)  # after the restore, before the write-back

    description = wait_for("ckpt-late")
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        f"{UPLOAD}{checkpoints / 'sub' / 'step.txt'} would be written outside {checkpoints} "
        "(through a link)"
    )
    assert (job_checkpoints / "sub" / "step.txt").read_text() == "42"  # the job wrote it
    assert list(outside.iterdir()) == []


def test_a_checkpoint_hard_linked_to_a_file_outside_is_replaced_not_written_through(
    tmp_path: Path, output: Path, home: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("victim")
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "step.txt").hardlink_to(outside / "victim.txt")
    job_checkpoints = home / "jobs" / "ckpt-hard" / "opt" / "ml" / "checkpoints"
    request = training_request(
        "ckpt-hard",
        output,
        CheckpointConfig={"S3Uri": checkpoints.as_uri()},
        Environment={"CHECKPOINT_DIR": str(job_checkpoints)},  # the script writes step.txt
    )
    create_training_job(request)
    description = wait_for("ckpt-hard")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert (checkpoints / "step.txt").read_text() == "42"
    assert (outside / "victim.txt").read_text() == "victim"
    assert (checkpoints / "step.txt").stat().st_ino != (outside / "victim.txt").stat().st_ino


def test_a_checkpoint_prefix_on_s3_with_a_key_that_climbs_out_fails_the_job(
    s3: tuple[Any, str], tmp_path: Path, output: Path, home: Path
) -> None:
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="ckpt/step-1.txt", Body=b"1")
    client.put_object(Bucket=bucket, Key="ckpt/../../../escaped.txt", Body=b"escaped")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="ckpt/")["Contents"]]
    assert "ckpt/../../../escaped.txt" in keys  # the key is stored as written
    request = training_request(
        "ckpt-s3", output, CheckpointConfig={"S3Uri": f"s3://{bucket}/ckpt/"}
    )
    create_training_job(request)
    description = _failed_in_download("ckpt-s3")
    assert description["FailureReason"] == (
        f"{DOWNLOAD}object key 'ckpt/../../../escaped.txt' would be written outside the "
        "destination folder"
    )
    restored = home / "jobs" / "ckpt-s3" / "opt" / "ml" / "checkpoints"
    assert list(restored.iterdir()) == []  # every key is checked before the first download
    assert not list(tmp_path.rglob("escaped.txt"))


# -- the output folder ---------------------------------------------------------------------------


def test_artifacts_are_not_written_through_a_link_out_of_the_output_folder(
    tmp_path: Path, output: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (output / "out-link").symlink_to(outside)
    create_training_job(training_request("out-link", output))
    description = wait_for("out-link")
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        f"{UPLOAD}{output / 'out-link' / 'output' / 'model.tar.gz'} would be written outside "
        f"{output} (through a link)"
    )
    assert list(outside.iterdir()) == []
    # the program itself ran to its end: only the delivery was refused
    assert [t["Status"] for t in description["SecondaryStatusTransitions"]][2:] == [
        "Training",
        "Uploading",
        "Failed",
    ]


# -- a model archive -----------------------------------------------------------------------------

BASE_ID = "amazon.titan-text-lite-v1:0:4k"


def _tiny_base(home: Path, folder: Path) -> None:
    """A tiny untrained hpjobs/lm model registered as ``BASE_ID`` (training it takes a moment)."""
    import json
    from dataclasses import asdict

    import torch

    from hpjobs.algorithms.lm import ByteTransformer, ModelConfig

    folder.mkdir()
    torch.manual_seed(0)
    model = ByteTransformer(ModelConfig(context_length=32, width=16, depth=1, heads=2))
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / "config.json").write_text(json.dumps(asdict(model.config)))
    entry = {"name": "Tiny", "provider": "Amazon", "family": "titan", "path": str(folder)}
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.json").write_text(json.dumps({"models": {BASE_ID: entry}}))


@pytest.mark.slow
def test_a_trained_model_archive_that_leaves_its_folder_is_never_registered(
    tmp_path: Path, home: Path
) -> None:
    from hpjobs.bedrock.customization import (
        create_model_customization_job,
        get_custom_model,
        get_model_customization_job,
    )
    from hpjobs.errors import ResourceNotFoundException

    _tiny_base(home, tmp_path / "base")
    train = tmp_path / "train.jsonl"
    train.write_text('{"prompt": "a", "completion": "b"}\n' * 4)
    out = tmp_path / "out"
    arn = create_model_customization_job(
        {
            "jobName": "unsafe-model",
            "customModelName": "unsafe-model",
            "roleArn": "arn:aws:iam::123456789012:role/bedrock",
            "baseModelIdentifier": BASE_ID,
            "trainingDataConfig": {"s3Uri": str(train)},
            "outputDataConfig": {"s3Uri": out.as_uri()},
            "hyperParameters": {"epochCount": "1", "batchSize": "4"},
        }
    )["jobArn"]
    suffix = arn.rsplit("/", 1)[1]
    training = wait_for(f"bedrock-{suffix}", timeout=120)
    assert training["TrainingJobStatus"] == "Completed", training.get("FailureReason")

    # The archive is replaced before the customization job is next read (which registers it).
    archive = out / f"bedrock-{suffix}" / "output" / "model.tar.gz"
    with tarfile.open(archive) as tar:
        good = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert sorted(good) == ["config.json", "model.pt"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in good.items():
            _add_file(tar, name, data)
        _add_file(tar, "../../../escaped.txt", b"escaped")
    archive.write_bytes(buffer.getvalue())

    job = get_model_customization_job({"jobIdentifier": arn})
    assert job["status"] == "Failed"
    assert job["failureMessage"] == (
        "The trained model could not be registered: member '../../../escaped.txt' would land "
        "outside the destination"
    )
    with pytest.raises(ResourceNotFoundException):
        get_custom_model({"modelIdentifier": "unsafe-model"})
    models = home / "custom-models"
    assert list(models.iterdir()) == []  # no model folder, no scratch left behind
    assert not list(tmp_path.rglob("escaped.txt"))
