"""``local_runner.runner.run`` end to end with tiny inline scripts and a recording ``Events``."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import tarfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil
import pytest

from local_runner import runner
from local_runner.metrics import MetricParser
from local_runner.runner import LocalJob, Outcome, run

JOB = "job-1"


@dataclass
class Recorder:
    """An ``Events`` that remembers every call."""

    stop: Callable[[], bool] = lambda: False
    statuses: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    metrics: list[tuple[str, float, int | None]] = field(default_factory=list)
    metric_times: list[datetime] = field(default_factory=list)
    stop_polls: int = 0

    def status(self, secondary: str, message: str) -> None:
        self.statuses.append(secondary)
        self.messages.append(message)

    def metric(self, name: str, value: float, timestamp: datetime, epoch: int | None) -> None:
        self.metrics.append((name, value, epoch))
        self.metric_times.append(timestamp)

    def stop_requested(self) -> bool:
        self.stop_polls += 1
        return self.stop()


def _code(tmp_path: Path, script: str, name: str = "train.py") -> Path:
    code = tmp_path / "src"
    code.mkdir(exist_ok=True)
    (code / name).write_text(textwrap.dedent(script))
    return code


def _request(output: Path, code: Path, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": JOB,
        "AlgorithmSpecification": {
            "TrainingImage": "hpjobs/pytorch",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "train:loss", "Regex": r"loss=([0-9.]+)"}],
        },
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(str(code)),
        },
        "RoleArn": "arn:aws:iam::123456789012:role/test",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    request.update(overrides)
    return request


def _job(tmp_path: Path, request: dict[str, Any], grace: float = 2.0) -> LocalJob:
    folder = tmp_path / "jobs" / JOB
    return LocalJob(
        name=JOB,
        arn=f"arn:aws:sagemaker:us-west-2:123456789012:training-job/{JOB}",
        region="us-west-2",
        request=request,
        folder=folder,
        log_path=folder / "logs" / "algo-1.log",
        stop_grace_seconds=grace,
    )


def _names(archive: Path) -> list[str]:
    with tarfile.open(archive, "r:gz") as tar:
        return sorted(tar.getnames())


def _read(archive: Path, name: str) -> str:
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read().decode()


def _assert_times(outcome: Outcome, before: datetime, after: datetime) -> None:
    start, end = outcome.training_start_time, outcome.training_end_time
    assert start is not None and end is not None
    assert start.tzinfo is not None and end.tzinfo is not None
    assert before <= start <= end <= after


def _now() -> datetime:
    return datetime.now(timezone.utc)


SUCCESS = """\
    import json, os, sys
    from pathlib import Path
    model = Path(os.environ["SM_MODEL_DIR"])
    (model / "argv.json").write_text(json.dumps(sys.argv[1:]))
    train = Path(os.environ["SM_CHANNEL_TRAIN"])
    (model / "seen.json").write_text(json.dumps(sorted(
        p.relative_to(train).as_posix() for p in train.rglob("*") if p.is_file())))
    for epoch in range(1, 4):
        print(f"epoch={epoch} loss={1 / 2 ** epoch}")
    print("a line without a metric")
    Path(os.environ["SM_OUTPUT_DATA_DIR"], "extra.txt").write_text("extra")
"""


def test_successful_run(tmp_path: Path, output: Path) -> None:
    data = tmp_path / "data"
    (data / "part").mkdir(parents=True)
    (data / "a.csv").write_text("1\n")
    (data / "part" / "b.csv").write_text("2\n")
    code = _code(tmp_path, SUCCESS)
    request = _request(
        output,
        code,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.as_uri()}},
            }
        ],
    )
    request["HyperParameters"].update({"epochs": "3", "lr": "0.1", "_tuning_objective_metric": "x"})
    events = Recorder()
    before = _now()
    outcome = run(_job(tmp_path, request), events)
    after = _now()

    assert events.statuses == ["Starting", "Downloading", "Training", "Uploading"]
    assert outcome.result == "Completed"
    assert outcome.failure_reason is None
    assert outcome.exit_code == 0
    assert outcome.model_artifacts == f"{output.as_uri()}/{JOB}/output/model.tar.gz"
    _assert_times(outcome, before, after)

    assert events.metrics == [
        ("train:loss", 0.5, 1),
        ("train:loss", 0.25, 2),
        ("train:loss", 0.125, 3),
    ]
    assert all(before <= t <= after for t in events.metric_times)
    assert events.metric_times == sorted(events.metric_times)

    delivered = output / JOB / "output"
    assert sorted(p.name for p in delivered.iterdir()) == ["model.tar.gz", "output.tar.gz"]
    model = delivered / "model.tar.gz"
    assert _names(model) == ["argv.json", "seen.json"]
    assert json.loads(_read(model, "argv.json")) == ["--epochs", "3", "--lr", "0.1"]
    assert json.loads(_read(model, "seen.json")) == ["a.csv", "part/b.csv"]
    assert _names(delivered / "output.tar.gz") == ["extra.txt"]

    config = tmp_path / "jobs" / JOB / "opt" / "ml" / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == request["HyperParameters"]
    assert json.loads((config / "resourceconfig.json").read_text())["current_instance_type"] == (
        "ml.m5.large"
    )
    assert not (config / "checkpointconfig.json").exists()
    log = (tmp_path / "jobs" / JOB / "logs" / "algo-1.log").read_text()
    assert "epoch=2 loss=0.25\n" in log
    assert "a line without a metric\n" in log


@pytest.mark.parametrize("with_failure_file", [False, True])
def test_failing_script(tmp_path: Path, output: Path, with_failure_file: bool) -> None:
    code = _code(
        tmp_path,
        f"""\
        import os, sys
        from pathlib import Path
        print("loss=0.75")
        print("boom: something broke", file=sys.stderr)
        if {with_failure_file}:
            Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("ValueError: bad input\\n")
        sys.exit(3)
        """,
    )
    events = Recorder()
    outcome = run(_job(tmp_path, _request(output, code)), events)
    assert events.statuses == ["Starting", "Downloading", "Training"]
    assert events.metrics == [("train:loss", 0.75, None)]
    assert outcome.result == "Failed"
    assert outcome.exit_code == 3
    if with_failure_file:
        assert outcome.failure_reason == "ValueError: bad input"
    else:
        assert outcome.failure_reason == (
            "AlgorithmError: the training process exited with status 3. Last lines of the log:\n"
            "loss=0.75\nboom: something broke"
        )
    assert outcome.training_end_time is not None


def test_stop_request_stops_the_script_and_still_delivers_the_model(
    tmp_path: Path, output: Path
) -> None:
    marker = tmp_path / "started"
    code = _code(
        tmp_path,
        """\
        import os, time
        from pathlib import Path
        Path(os.environ["SM_MODEL_DIR"], "partial.txt").write_text("partial")
        Path(os.environ["MARKER"]).write_text("started")
        time.sleep(30)
        """,
    )
    events = Recorder(stop=marker.exists)
    request = _request(output, code, Environment={"MARKER": str(marker)})
    started = time.monotonic()
    outcome = run(_job(tmp_path, request), events)
    assert time.monotonic() - started < 10
    assert marker.exists()
    assert events.statuses == ["Starting", "Downloading", "Training"]
    assert outcome.result == "Stopped"
    assert outcome.failure_reason is None
    assert outcome.exit_code == -signal.SIGTERM
    model = output / JOB / "output" / "model.tar.gz"
    assert _names(model) == ["partial.txt"]
    assert _read(model, "partial.txt") == "partial"
    assert (output / JOB / "output" / "output.tar.gz").is_file()


def test_stop_sends_sigkill_after_the_grace_period(tmp_path: Path, output: Path) -> None:
    marker = tmp_path / "started"
    code = _code(
        tmp_path,
        """\
        import os, signal, time
        from pathlib import Path
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        Path(os.environ["MARKER"]).write_text("started")
        time.sleep(30)
        """,
    )
    request = _request(output, code, Environment={"MARKER": str(marker)})
    started = time.monotonic()
    outcome = run(_job(tmp_path, request, grace=0.3), Recorder(stop=marker.exists))
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 10
    assert outcome.result == "Stopped"
    assert outcome.exit_code == -signal.SIGKILL
    assert (output / JOB / "output" / "model.tar.gz").is_file()


def test_stop_before_training_never_starts_the_script(tmp_path: Path, output: Path) -> None:
    ran = tmp_path / "ran"
    code = _code(tmp_path, f"open({str(ran)!r}, 'w').close()\n")
    events = Recorder(stop=lambda: True)
    outcome = run(_job(tmp_path, _request(output, code)), events)
    assert events.statuses == ["Starting", "Downloading"]
    assert outcome.result == "Stopped"
    assert outcome.exit_code is None
    assert not ran.exists()
    assert (output / JOB / "output" / "model.tar.gz").is_file()


def test_max_runtime_exceeded(tmp_path: Path, output: Path) -> None:
    code = _code(
        tmp_path,
        """\
        import os, time
        from pathlib import Path
        Path(os.environ["SM_MODEL_DIR"], "m.txt").write_text("m")
        print("loss=1.0", flush=True)
        time.sleep(30)
        """,
    )
    request = _request(output, code, StoppingCondition={"MaxRuntimeInSeconds": 1})
    events = Recorder()
    started = time.monotonic()
    outcome = run(_job(tmp_path, request), events)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 10
    assert events.statuses == ["Starting", "Downloading", "Training", "Stopping"]
    assert outcome.result == "MaxRuntimeExceeded"
    assert outcome.failure_reason is None
    assert outcome.exit_code == -signal.SIGTERM
    # the file first: it says the program got as far as its print before the deadline
    assert _names(output / JOB / "output" / "model.tar.gz") == ["m.txt"]
    assert events.metrics == [("train:loss", 1.0, None)]


def test_the_program_group_is_killed_while_its_pid_is_still_held(
    tmp_path: Path, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the program ends, its process group is killed (leftovers die with it) while the
    program is still an unreaped zombie: until then no new process can be given its pid, so on a
    machine whose pids wrap the kill cannot reach another job's program."""
    seen: list[tuple[signal.Signals, str]] = []
    signal_group = runner._signal_group

    def spy(pid: int, sig: signal.Signals) -> None:
        seen.append((sig, psutil.Process(pid).status()))  # NoSuchProcess once reaped
        signal_group(pid, sig)

    monkeypatch.setattr(runner, "_signal_group", spy)
    code = _code(tmp_path, 'print("loss=0.5", flush=True)\n')
    outcome = run(_job(tmp_path, _request(output, code)), Recorder())
    assert outcome.result == "Completed", outcome.failure_reason
    assert outcome.exit_code == 0
    assert seen == [(signal.SIGKILL, psutil.STATUS_ZOMBIE)]


def _hold_descriptors(above: int) -> list[int]:
    """Open files until one is numbered above ``above``: the pipes made next are numbered
    higher still. The caller closes them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = above + 64
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"this process may open only {hard} files")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    held: list[int] = []
    while not held or held[-1] <= above:
        held.append(os.open(os.devnull, os.O_RDONLY))
    return held


def test_output_is_read_when_the_runner_holds_over_a_thousand_files(
    tmp_path: Path, output: Path
) -> None:
    """``select`` refuses descriptors numbered 1024 and up. A supervisor forked from a
    long-lived process inherits that process's files, so its pipes can be numbered that high;
    every line and metric must still arrive."""
    code = _code(tmp_path, 'print("loss=0.5", flush=True)\nprint("done", flush=True)\n')
    events = Recorder()
    held = _hold_descriptors(1100)
    try:
        outcome = run(_job(tmp_path, _request(output, code)), events)
    finally:
        for descriptor in held:
            os.close(descriptor)
    assert outcome.result == "Completed", outcome.failure_reason
    assert events.metrics == [("train:loss", 0.5, None)]
    log = (tmp_path / "jobs" / JOB / "logs" / "algo-1.log").read_text().splitlines()
    assert [line for line in log if not line.startswith("hpjobs: ")] == ["loss=0.5", "done"]


def test_output_that_cannot_be_read_fails_the_job(
    tmp_path: Path, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should reading the program's output fail, the program is stopped and the job fails
    with the reason, rather than running on unread and ending Completed with its log and
    metrics lost."""

    def broken(self: MetricParser, line: str) -> list[Any]:
        raise RuntimeError("the parser broke")

    monkeypatch.setattr(MetricParser, "parse", broken)
    code = _code(tmp_path, 'import time\nprint("loss=0.5", flush=True)\ntime.sleep(30)\n')
    started = time.monotonic()
    outcome = run(_job(tmp_path, _request(output, code)), Recorder())
    assert time.monotonic() - started < 10
    assert outcome.result == "Failed"
    assert outcome.exit_code == -signal.SIGTERM
    assert outcome.failure_reason == (
        "InternalServerError: hpjobs could not read the training program's output: "
        "RuntimeError('the parser broke')"
    )


def _child_pid(tmp_path: Path) -> int:
    log = (tmp_path / "jobs" / JOB / "logs" / "algo-1.log").read_text()
    match = re.search(r"^child=(\d+)$", log, re.MULTILINE)
    assert match is not None, log
    return int(match.group(1))


def _gone(pid: int) -> bool:
    try:
        status: str = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return True
    return status == str(psutil.STATUS_ZOMBIE)


def test_background_child_is_killed_with_the_job(tmp_path: Path, output: Path) -> None:
    code = _code(
        tmp_path,
        """\
        import subprocess
        child = subprocess.Popen(["sleep", "60"])
        print(f"child={child.pid}", flush=True)
        """,
    )
    started = time.monotonic()
    outcome = run(_job(tmp_path, _request(output, code)), Recorder())
    assert time.monotonic() - started < 10
    assert outcome.result == "Completed"
    pid = _child_pid(tmp_path)
    deadline = time.monotonic() + 2
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(pid)


def test_child_in_its_own_session_neither_survives_nor_blocks_the_run(
    tmp_path: Path, output: Path
) -> None:
    code = _code(
        tmp_path,
        """\
        import subprocess
        child = subprocess.Popen(["sleep", "60"], start_new_session=True)
        print(f"child={child.pid}", flush=True)
        """,
    )
    outcomes: list[Outcome] = []
    runner = threading.Thread(
        target=lambda: outcomes.append(run(_job(tmp_path, _request(output, code)), Recorder())),
        daemon=True,
    )
    runner.start()
    runner.join(timeout=2)
    finished = not runner.is_alive()
    pid = _child_pid(tmp_path)
    survived = not _gone(pid)
    if survived:  # clean up the sleep this test started, so run() can end
        psutil.Process(pid).kill()
    runner.join(timeout=10)
    assert finished, "run() was still waiting for the escaped child"
    assert not survived, "the escaped child outlived the job"
    assert outcomes[0].result == "Completed"


def test_compression_none_delivers_the_model_folder_uncompressed(
    tmp_path: Path, output: Path
) -> None:
    code = _code(
        tmp_path,
        """\
        import os
        from pathlib import Path
        model = Path(os.environ["SM_MODEL_DIR"])
        (model / "sub").mkdir()
        (model / "weights.bin").write_bytes(b"\\x00\\x01\\x02")
        (model / "sub" / "config.json").write_text("{}")
        """,
    )
    request = _request(
        output, code, OutputDataConfig={"S3OutputPath": output.as_uri(), "CompressionType": "NONE"}
    )
    events = Recorder()
    outcome = run(_job(tmp_path, request), events)
    assert outcome.result == "Completed"
    assert events.statuses == ["Starting", "Downloading", "Training", "Uploading"]
    assert outcome.model_artifacts == f"{output.as_uri()}/{JOB}/output/model/"
    delivered = output / JOB / "output"
    assert sorted(p.relative_to(delivered).as_posix() for p in delivered.rglob("*")) == [
        "model",
        "model/sub",
        "model/sub/config.json",
        "model/weights.bin",
        "output.tar.gz",
    ]
    assert (delivered / "model" / "weights.bin").read_bytes() == b"\x00\x01\x02"
    assert (delivered / "model" / "sub" / "config.json").read_text() == "{}"


def test_checkpoints_are_restored_and_synced_back(tmp_path: Path, output: Path) -> None:
    checkpoints = tmp_path / "ckpt-store"
    checkpoints.mkdir()
    (checkpoints / "old.txt").write_text("from before")
    code = _code(
        tmp_path,
        """\
        import os
        from pathlib import Path
        folder = Path(os.environ["SAGEMAKER_BASE_DIR"], "checkpoints")
        (folder / "new.txt").write_text((folder / "old.txt").read_text() + " and now")
        """,
    )
    request = _request(output, code, CheckpointConfig={"S3Uri": checkpoints.as_uri()})
    outcome = run(_job(tmp_path, request), Recorder())
    assert outcome.result == "Completed", outcome.failure_reason
    assert (checkpoints / "new.txt").read_text() == "from before and now"
    config = tmp_path / "jobs" / JOB / "opt" / "ml" / "input" / "config"
    assert json.loads((config / "checkpointconfig.json").read_text()) == {
        "S3Uri": checkpoints.as_uri()
    }


def test_missing_channel_fails_in_downloading(tmp_path: Path, output: Path) -> None:
    code = _code(tmp_path, "print('never runs')\n")
    missing = tmp_path / "no-such-data"
    request = _request(
        output,
        code,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(missing)}},
            }
        ],
    )
    events = Recorder()
    outcome = run(_job(tmp_path, request), events)
    assert events.statuses == ["Starting", "Downloading"]
    assert outcome.result == "Failed"
    assert outcome.exit_code is None
    assert outcome.failure_reason == f"ClientError: Data download failed: {missing} does not exist"


def test_no_entry_point_fails(tmp_path: Path, output: Path) -> None:
    code = _code(tmp_path, "print('never runs')\n")
    request = _request(output, code)
    del request["HyperParameters"]["sagemaker_program"]
    outcome = run(_job(tmp_path, request), Recorder())
    assert outcome.result == "Failed"
    assert outcome.failure_reason is not None
    assert outcome.failure_reason.startswith("ClientError: No entry point")


def test_nul_byte_in_checkpoint_local_path_fails_the_job(tmp_path: Path, output: Path) -> None:
    code = _code(tmp_path, "print('never runs')\n")
    request = _request(
        output,
        code,
        CheckpointConfig={"S3Uri": (tmp_path / "ckpt").as_uri(), "LocalPath": "/opt/ml/a\x00b"},
    )
    outcome = run(_job(tmp_path, request), Recorder())
    assert outcome.result == "Failed"


def test_upload_to_a_missing_bucket_fails_the_job(
    tmp_path: Path, output: Path, moto_s3: Any
) -> None:
    code = _code(tmp_path, "print('ok')\n")
    request = _request(
        output, code, OutputDataConfig={"S3OutputPath": "s3://hpjobs-no-such-bucket-x1/out"}
    )
    outcome = run(_job(tmp_path, request), Recorder())
    assert outcome.result == "Failed"
    assert outcome.failure_reason is not None
    assert outcome.failure_reason.startswith("ClientError: Artifact upload failed")
